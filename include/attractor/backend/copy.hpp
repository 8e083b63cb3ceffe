// Copies within and between backends. transfer<Src, Dst> moves n elements; the pairs that involve cuda are
// defined in cuda/copy.cuh and take the cuda context, whose stream orders the copy.
#pragma once

#include <cstddef>
#include <cstring>

#include "attractor/backend/context.hpp"

namespace attractor {

template <class Src, class Dst>
struct transfer;

template <>
struct transfer<cpu, cpu> {
  template <class T>
  static void run(context<cpu>&, const T* src, T* dst, std::size_t n) {
    if (n > 0 && src != dst) std::memmove(dst, src, n * sizeof(T));
  }
};

}  // namespace attractor
