// for_each_index on cuda: a grid-stride kernel on the context's stream. f must be a device-callable functor
// (a struct with an ATTRACTOR_HOST_DEVICE operator()).
#pragma once

#include <algorithm>
#include <cstddef>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/for_each.hpp"

namespace attractor {

namespace detail {

template <class F>
__global__ void for_each_index_kernel(std::size_t n, F f) {
  const std::size_t stride = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

/// Enough blocks to fill the GPU a few times over, no more: the grid-stride loop covers the rest.
inline unsigned grid_for(const context<cuda>& ctx, std::size_t n, unsigned block) {
  const std::size_t wanted = (n + block - 1) / block;
  const std::size_t cap = static_cast<std::size_t>(ctx.multiprocessors()) * 32;
  return static_cast<unsigned>(std::max<std::size_t>(1, std::min(wanted, cap)));
}

}  // namespace detail

template <class F>
void for_each_index(context<cuda>& ctx, std::size_t n, F f) {
  if (n == 0) return;
  constexpr unsigned block = 256;
  detail::for_each_index_kernel<<<detail::grid_for(ctx, n, block), block, 0, ctx.stream()>>>(n, f);
  ATTRACTOR_CUDA_CHECK(cudaGetLastError());
}

/// On cuda every iteration is a thread already: the same as for_each_index.
template <class F>
void for_each_index_coarse(context<cuda>& ctx, std::size_t n, F f) {
  for_each_index(ctx, n, f);
}

}  // namespace attractor
