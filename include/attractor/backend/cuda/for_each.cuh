// for_each_index on cuda: a grid-stride kernel on the context's stream. f must be a device-callable functor
// (a struct with an ATTRACTOR_HOST_DEVICE operator()).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/for_each.hpp"

namespace attractor {

namespace detail {

template <class F>
__global__ void for_each_index_kernel(std::size_t n, F f) {
  const std::size_t stride = static_cast<std::size_t>(blockDim.x) * gridDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

/// for_each_row_col's kernel: the flat grid-stride loop, each index split into (row, column).
template <class Index, class F>
__global__ void for_each_row_col_kernel(Index n, Index cols, F f) {
  const Index stride = static_cast<Index>(blockDim.x) * gridDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    f(static_cast<std::size_t>(i / cols), static_cast<std::size_t>(i % cols));
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

/// for_each_row_col on cuda: one thread per element, as for_each_index. The index arithmetic is 32-bit wherever the
/// loop cannot wrap (n + stride < 2^32), since 64-bit division costs several times more.
template <class F>
void for_each_row_col(context<cuda>& ctx, std::size_t rows, std::size_t cols, F f) {
  const std::size_t n = rows * cols;
  if (n == 0) return;
  constexpr unsigned block = 256;
  const unsigned grid = detail::grid_for(ctx, n, block);
  if (n <= std::numeric_limits<std::uint32_t>::max() / 2) {
    detail::for_each_row_col_kernel<std::uint32_t>
        <<<grid, block, 0, ctx.stream()>>>(static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(cols), f);
  } else {
    detail::for_each_row_col_kernel<std::size_t><<<grid, block, 0, ctx.stream()>>>(n, cols, f);
  }
  ATTRACTOR_CUDA_CHECK(cudaGetLastError());
}

/// On cuda every iteration is a thread already: the same as for_each_index (the work estimate is unused).
template <class F>
void for_each_index_coarse(context<cuda>& ctx, std::size_t n, F f, std::size_t /*work_per_index*/ = 0) {
  for_each_index(ctx, n, f);
}

}  // namespace attractor
