// Copies that involve the cuda backend, queued on the context's stream. A copy to the host waits for its data,
// so the host may read it at once.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "attractor/backend/copy.hpp"
#include "attractor/backend/cuda/context.cuh"

namespace attractor {

template <>
struct transfer<cpu, cuda> {
  template <class T>
  static void run(context<cuda>& ctx, const T* src, T* dst, std::size_t n) {
    if (n == 0) return;
    ATTRACTOR_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, ctx.stream()));
  }
};

template <>
struct transfer<cuda, cpu> {
  template <class T>
  static void run(context<cuda>& ctx, const T* src, T* dst, std::size_t n) {
    if (n == 0) return;
    ATTRACTOR_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize();
  }
};

template <>
struct transfer<cuda, cuda> {
  template <class T>
  static void run(context<cuda>& ctx, const T* src, T* dst, std::size_t n) {
    if (n == 0 || src == dst) return;
    ATTRACTOR_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, ctx.stream()));
  }
};

}  // namespace attractor
