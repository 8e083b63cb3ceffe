// segment_sum on cuda, deterministic: rows are stably sorted by key, then one thread per (segment, column) adds
// its segment's rows in their original order. No atomics, so results do not depend on scheduling.
#pragma once

#include <thrust/binary_search.h>
#include <thrust/execution_policy.h>
#include <thrust/extrema.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>

#include <cstddef>
#include <cstdint>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/for_each.cuh"
#include "attractor/backend/segment_sum.hpp"

namespace attractor {

template <floating_scalar Scalar, segment_key Key>
void segment_sum(context<cuda>& ctx, const Key* keys, const Scalar* x, std::size_t rows, std::size_t cols,
                 std::size_t segments, Scalar* out) {
  constexpr const char* fn = "segment_sum";
  require(rows < (std::size_t{1} << 32), fn, "fewer than 2^32 rows", rows);
  if (segments * cols == 0) return;
  auto policy = thrust::cuda::par(ctx.thrust_allocator()).on(ctx.stream());
  if (rows > 0) {
    const auto [lo, hi] = thrust::minmax_element(policy, keys, keys + rows);
    Key range[2];
    ATTRACTOR_CUDA_CHECK(cudaMemcpyAsync(&range[0], lo, sizeof(Key), cudaMemcpyDeviceToHost, ctx.stream()));
    ATTRACTOR_CUDA_CHECK(cudaMemcpyAsync(&range[1], hi, sizeof(Key), cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize();
    if (range[0] < 0 || static_cast<std::size_t>(range[1]) >= segments) {
      fail(fn, detail::concat("keys in [0, ", segments, ")"), detail::concat("keys from ", range[0], " to ", range[1]));
    }
  }
  // Scratch: sorted keys, row order, segment offsets.
  const std::size_t key_bytes = (rows * sizeof(Key) + 255) / 256 * 256;
  const std::size_t order_bytes = (rows * sizeof(std::uint32_t) + 255) / 256 * 256;
  auto* base = static_cast<char*>(ctx.scratch(key_bytes + order_bytes + (segments + 1) * sizeof(Key)));
  auto* sorted_keys = reinterpret_cast<Key*>(base);
  auto* order = reinterpret_cast<std::uint32_t*>(base + key_bytes);
  auto* offsets = reinterpret_cast<Key*>(base + key_bytes + order_bytes);
  if (rows > 0) {
    ATTRACTOR_CUDA_CHECK(
        cudaMemcpyAsync(sorted_keys, keys, rows * sizeof(Key), cudaMemcpyDeviceToDevice, ctx.stream()));
    thrust::sequence(policy, order, order + rows);
    thrust::stable_sort_by_key(policy, sorted_keys, sorted_keys + rows, order);
  }
  thrust::lower_bound(policy, sorted_keys, sorted_keys + rows, thrust::counting_iterator<Key>(0),
                      thrust::counting_iterator<Key>(static_cast<Key>(segments + 1)), offsets);
  segment_sum_sorted(ctx, order, offsets, x, cols, segments, out);
}

}  // namespace attractor
