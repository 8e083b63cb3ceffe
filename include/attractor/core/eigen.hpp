// Eigen's core module, included by every attractor header that uses Eigen, before any other Eigen module.
//
// GCC 12 (Debian 12's g++ 12.2) raises -Wmaybe-uninitialized and -Wuninitialized inside its own AVX-512 intrinsics
// (GCC PR 105593: `__m512 __Y = __Y;` in avx512fintrin.h) wherever Eigen's AVX-512 kernels are inlined, hundreds of
// times per translation unit with -march=native on a CPU that has AVX-512. GCC decides whether to report such a warning
// by the pragma state at the intrinsic's own line, so the warnings are silenced here, where <immintrin.h> is first read
// through Eigen, and only there: the same warning in our own code is still reported (and fails a -Werror build).
// A program that includes Eigen (or <immintrin.h>) before any attractor header gets GCC's default behaviour.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
