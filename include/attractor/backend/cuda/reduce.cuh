// Reductions on cuda. Sums of float accumulate in double, as on cpu, so both backends agree to float rounding.
#pragma once

#include <thrust/execution_policy.h>
#include <thrust/transform_reduce.h>
#include <cub/device/device_reduce.cuh>

#include <cstddef>
#include <limits>
#include <type_traits>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/for_each.cuh"
#include "attractor/backend/reduce.hpp"

namespace attractor {

namespace detail {

/// The accumulator type of a reduction: double for sums, the scalar itself for max.
template <reduction Op, class Scalar>
using reduce_accumulator = std::conditional_t<Op == reduction::max, Scalar, double>;

template <reduction Op, class Scalar>
struct reduce_transform {
  ATTRACTOR_HOST_DEVICE reduce_accumulator<Op, Scalar> operator()(Scalar x) const {
    if constexpr (Op == reduction::sum_squares) {
      return static_cast<double>(x) * static_cast<double>(x);
    } else {
      return x;
    }
  }
};

template <reduction Op, class Acc>
struct reduce_combine {
  ATTRACTOR_HOST_DEVICE Acc operator()(Acc a, Acc b) const {
    if constexpr (Op == reduction::max) {
      return a > b ? a : b;
    } else {
      return a + b;
    }
  }
};

template <reduction Op, class Scalar>
Scalar reduce_all_cuda(context<cuda>& ctx, const Scalar* x, std::size_t n) {
  using acc = reduce_accumulator<Op, Scalar>;
  const acc init = Op == reduction::max ? -std::numeric_limits<acc>::infinity() : acc(0);
  const acc result = thrust::transform_reduce(thrust::cuda::par(ctx.thrust_allocator()).on(ctx.stream()), x, x + n,
                                              reduce_transform<Op, Scalar>{}, init, reduce_combine<Op, acc>{});
  return static_cast<Scalar>(result);
}

template <class Scalar, class Acc>
struct store_converted {
  Scalar* out;
  const Acc* in;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t) const { out[0] = static_cast<Scalar>(in[0]); }
};

/// A device-wide CUB reduction into a device scalar; temporaries come from the context's block cache.
template <reduction Op, class Scalar>
void reduce_to_cuda(context<cuda>& ctx, const Scalar* x, std::size_t n, Scalar* out) {
  using acc = reduce_accumulator<Op, Scalar>;
  const acc init = Op == reduction::max ? -std::numeric_limits<acc>::infinity() : acc(0);
  auto alloc = ctx.thrust_allocator();
  char* result = alloc.allocate(sizeof(acc));
  std::size_t temp_bytes = 0;
  ATTRACTOR_CUDA_CHECK(cub::DeviceReduce::TransformReduce(nullptr, temp_bytes, x, reinterpret_cast<acc*>(result), n,
                                                          reduce_combine<Op, acc>{}, reduce_transform<Op, Scalar>{},
                                                          init, ctx.stream()));
  char* temp = alloc.allocate(static_cast<std::ptrdiff_t>(std::max<std::size_t>(temp_bytes, 1)));
  ATTRACTOR_CUDA_CHECK(cub::DeviceReduce::TransformReduce(temp, temp_bytes, x, reinterpret_cast<acc*>(result), n,
                                                          reduce_combine<Op, acc>{}, reduce_transform<Op, Scalar>{},
                                                          init, ctx.stream()));
  for_each_index(ctx, 1, store_converted<Scalar, acc>{out, reinterpret_cast<const acc*>(result)});
  // Returned to the cache; the stream orders any later reuse after this work.
  alloc.deallocate(temp, temp_bytes);
  alloc.deallocate(result, sizeof(acc));
}

/// One warp per row: lanes stride along the row, then combine through shuffles.
template <reduction Op, class Scalar>
__global__ void reduce_rows_kernel(const Scalar* x, std::size_t rows, std::size_t cols, Scalar* out) {
  using acc = reduce_accumulator<Op, Scalar>;
  const std::size_t warp = (static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const unsigned lane = threadIdx.x % 32;
  if (warp >= rows) return;
  const Scalar* row = x + warp * cols;
  acc a = Op == reduction::max ? -std::numeric_limits<acc>::infinity() : acc(0);
  const reduce_transform<Op, Scalar> transform;
  const reduce_combine<Op, acc> combine;
  for (std::size_t c = lane; c < cols; c += 32) a = combine(a, transform(row[c]));
  for (int offset = 16; offset > 0; offset /= 2) a = combine(a, __shfl_down_sync(0xffffffffu, a, offset));
  if (lane == 0) out[warp] = static_cast<Scalar>(a);
}

}  // namespace detail

template <floating_scalar Scalar>
Scalar reduce(context<cuda>& ctx, reduction op, const Scalar* x, std::size_t n) {
  if (op == reduction::max) require(n > 0, "reduce(max)", "at least one element", n);
  switch (op) {
    case reduction::sum: return detail::reduce_all_cuda<reduction::sum>(ctx, x, n);
    case reduction::max: return detail::reduce_all_cuda<reduction::max>(ctx, x, n);
    case reduction::sum_squares: return detail::reduce_all_cuda<reduction::sum_squares>(ctx, x, n);
  }
  fail("reduce", "a known reduction", static_cast<int>(op));
}

template <floating_scalar Scalar>
void reduce_to(context<cuda>& ctx, reduction op, const Scalar* x, std::size_t n, Scalar* out) {
  if (op == reduction::max) require(n > 0, "reduce_to(max)", "at least one element", n);
  switch (op) {
    case reduction::sum: return detail::reduce_to_cuda<reduction::sum>(ctx, x, n, out);
    case reduction::max: return detail::reduce_to_cuda<reduction::max>(ctx, x, n, out);
    case reduction::sum_squares: return detail::reduce_to_cuda<reduction::sum_squares>(ctx, x, n, out);
  }
}

template <floating_scalar Scalar>
void reduce_rows(context<cuda>& ctx, reduction op, const Scalar* x, std::size_t rows, std::size_t cols, Scalar* out) {
  if (op == reduction::max) require(cols > 0 || rows == 0, "reduce_rows(max)", "at least one column", cols);
  if (rows == 0) return;
  constexpr unsigned block = 256;
  const auto grid = static_cast<unsigned>((rows * 32 + block - 1) / block);
  switch (op) {
    case reduction::sum:
      detail::reduce_rows_kernel<reduction::sum><<<grid, block, 0, ctx.stream()>>>(x, rows, cols, out);
      break;
    case reduction::max:
      detail::reduce_rows_kernel<reduction::max><<<grid, block, 0, ctx.stream()>>>(x, rows, cols, out);
      break;
    case reduction::sum_squares:
      detail::reduce_rows_kernel<reduction::sum_squares><<<grid, block, 0, ctx.stream()>>>(x, rows, cols, out);
      break;
  }
  ATTRACTOR_CUDA_CHECK(cudaGetLastError());
}

}  // namespace attractor
