// Configuration macros shared by every layer.
#pragma once

#define ATTRACTOR_VERSION_MAJOR 0
#define ATTRACTOR_VERSION_MINOR 1
#define ATTRACTOR_VERSION_PATCH 0

// Marks a function callable from host and device code. Only nvcc (or clang in CUDA mode) sees the
// attributes, so the same header compiles with g++ alone.
#if defined(__CUDACC__)
#define ATTRACTOR_HOST_DEVICE __host__ __device__
#define ATTRACTOR_DEVICE __device__
#else
#define ATTRACTOR_HOST_DEVICE
#define ATTRACTOR_DEVICE
#endif

#define ATTRACTOR_INLINE inline

// Inlines a function into its callers before they are optimised, for a kernel body shared by callers that must round
// alike: with -ffp-contract=fast (g++'s default) which multiply is fused into an add depends on the inlining context.
#if defined(__CUDACC__)
#define ATTRACTOR_FORCE_INLINE __forceinline__
#elif defined(__GNUC__)
#define ATTRACTOR_FORCE_INLINE [[gnu::always_inline]] inline
#else
#define ATTRACTOR_FORCE_INLINE inline
#endif

// OpenMP is optional: without -fopenmp the CPU kernels run on one thread, and ATTRACTOR_OMP(directive) expands
// to nothing, so the headers stay warning-free (no unknown pragmas) in a build without it.
#if defined(_OPENMP)
#define ATTRACTOR_HAS_OPENMP 1
#define ATTRACTOR_PRAGMA(text) _Pragma(#text)
#define ATTRACTOR_OMP(directive) ATTRACTOR_PRAGMA(omp directive)
#else
#define ATTRACTOR_HAS_OPENMP 0
#define ATTRACTOR_OMP(directive)
#endif
