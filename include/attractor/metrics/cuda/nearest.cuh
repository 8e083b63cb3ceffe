// nearest_search on cuda: an exhaustive search over every (query, reference) pair, tiled like a GEMM. Each block
// holds 256 x Q queries in registers (Q per thread) and streams the reference through shared memory in tiles of 256
// states; each thread keeps the running minimum of its queries. Large reference sets are split across blockIdx.y so
// that even a few queries fill the GPU; the partial minima are combined with an integer atomicMin on the bits of
// the non-negative distances, which orders them as the numbers they encode. A minimum does not depend on the order
// of its terms, so the result is deterministic.
//
// The squared distance is accumulated as sum_k (q_k - r_k)^2 in Scalar, not as |q|^2 + |r|^2 - 2 q.r: for d = 3
// the direct form costs the same, never goes negative, and keeps full relative precision for the tiny distances
// between a state and its nearest neighbour (about 1e-5 here), which the expanded form loses to cancellation
// against |q|^2 ~ 1 in float.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/copy.cuh"
#include "attractor/backend/cuda/for_each.cuh"
#include "attractor/backend/cuda/memory.cuh"
#include "attractor/backend/cuda/reduce.cuh"
#include "attractor/metrics/nearest.hpp"

namespace attractor::metrics {

namespace detail {

/// The unsigned integer of Scalar's width, whose order matches that of non-negative Scalars' bits.
template <class Scalar>
using distance_bits = std::conditional_t<std::is_same_v<Scalar, float>, unsigned int, unsigned long long>;

inline constexpr unsigned nearest_threads = 256;
inline constexpr unsigned nearest_tile = 256;

template <class Scalar, unsigned D, unsigned Q>
__global__ void __launch_bounds__(nearest_threads)
    nearest_tile_kernel(const Scalar* __restrict__ queries, std::size_t m, const Scalar* __restrict__ reference,
                        std::size_t n, std::size_t per_split, distance_bits<Scalar>* out) {
  __shared__ Scalar tile[D][nearest_tile];
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * nearest_threads * Q + threadIdx.x;
  Scalar q[Q][D];
  Scalar best[Q];
#pragma unroll
  for (unsigned a = 0; a < Q; ++a) {
    const std::size_t i = first + a * nearest_threads;
#pragma unroll
    for (unsigned k = 0; k < D; ++k) q[a][k] = i < m ? queries[i * D + k] : Scalar(0);
    best[a] = std::numeric_limits<Scalar>::infinity();
  }
  const std::size_t begin = static_cast<std::size_t>(blockIdx.y) * per_split;
  const std::size_t end = begin + per_split < n ? begin + per_split : n;
  for (std::size_t t = begin; t < end; t += nearest_tile) {
    const std::size_t remaining = end - t;
    const unsigned count = remaining < nearest_tile ? static_cast<unsigned>(remaining) : nearest_tile;
    __syncthreads();  // the previous tile is no longer read
    for (unsigned j = threadIdx.x; j < count * D; j += nearest_threads) tile[j % D][j / D] = reference[t * D + j];
    __syncthreads();
    for (unsigned j = 0; j < count; ++j) {
      Scalar r[D];
#pragma unroll
      for (unsigned k = 0; k < D; ++k) r[k] = tile[k][j];
#pragma unroll
      for (unsigned a = 0; a < Q; ++a) {
        Scalar d2 = 0;
#pragma unroll
        for (unsigned k = 0; k < D; ++k) {
          const Scalar diff = q[a][k] - r[k];
          d2 += diff * diff;
        }
        best[a] = d2 < best[a] ? d2 : best[a];
      }
    }
  }
#pragma unroll
  for (unsigned a = 0; a < Q; ++a) {
    const std::size_t i = first + a * nearest_threads;
    if (i < m) {
      if constexpr (std::is_same_v<Scalar, float>) {
        atomicMin(out + i, __float_as_uint(best[a]));
      } else {
        atomicMin(out + i, static_cast<unsigned long long>(__double_as_longlong(best[a])));
      }
    }
  }
}

/// Launches the search for D dimensions: out (m, on the device) receives the minima.
template <class Scalar, unsigned D>
void launch_nearest(context<cuda>& ctx, const Scalar* queries, std::size_t m, const Scalar* reference, std::size_t n,
                    Scalar* out) {
  constexpr unsigned Q = D <= 3 ? 4 : 2;
  attractor::fill(ctx, m, out, std::numeric_limits<Scalar>::infinity());
  const std::size_t per_block = std::size_t{nearest_threads} * Q;
  const std::size_t blocks = (m + per_block - 1) / per_block;
  // Enough blocks to fill the GPU several times over, splitting the reference where the queries alone do not.
  const std::size_t wanted = static_cast<std::size_t>(ctx.multiprocessors()) * 8;
  const std::size_t tiles = (n + nearest_tile - 1) / nearest_tile;
  std::size_t splits = std::max<std::size_t>(1, std::min<std::size_t>({(wanted + blocks - 1) / blocks, tiles, 65535}));
  const std::size_t per_split = (tiles + splits - 1) / splits * nearest_tile;
  splits = (n + per_split - 1) / per_split;
  require(blocks <= 0x7fffffffu, "metrics::nearest_search<cuda>", "fewer than 2^31 blocks of queries", blocks);
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(splits));
  nearest_tile_kernel<Scalar, D, Q><<<grid, nearest_threads, 0, ctx.stream()>>>(
      queries, m, reference, n, per_split, reinterpret_cast<distance_bits<Scalar>*>(out));
  ATTRACTOR_CUDA_CHECK(cudaGetLastError());
}

/// nearest_search's kernel on cuda, for 1 to 4 dimensions.
template <floating_scalar Scalar>
class nearest_kernel<Scalar, cuda> {
public:
  nearest_kernel(context<cuda>&, const_tensor_view<Scalar, cuda> reference) : reference_(reference) {
    require(reference.extent(1) <= 4, "metrics::nearest_search", "states of 1 to 4 dimensions on cuda",
            reference.extent(1));
  }

  void sq_distances(context<cuda>& ctx, const Scalar* queries, std::size_t m, Scalar* out) const {
    run(ctx, queries, m, out);
  }

  [[nodiscard]] double sum_sq_distances(context<cuda>& ctx, const Scalar* queries, std::size_t m) const {
    constexpr std::size_t chunk = std::size_t{1} << 20;
    const std::size_t d = reference_.extent(1);
    buffer<Scalar, cuda> minima(std::min(chunk, m));
    double total = 0;
    for (std::size_t begin = 0; begin < m; begin += chunk) {
      const std::size_t count = std::min(chunk, m - begin);
      run(ctx, queries + begin * d, count, minima.data());
      total += static_cast<double>(reduce(ctx, reduction::sum, static_cast<const Scalar*>(minima.data()), count));
    }
    return total;
  }

private:
  void run(context<cuda>& ctx, const Scalar* queries, std::size_t m, Scalar* out) const {
    const Scalar* r = reference_.data();
    const std::size_t n = reference_.extent(0);
    switch (reference_.extent(1)) {
      case 1: launch_nearest<Scalar, 1>(ctx, queries, m, r, n, out); break;
      case 2: launch_nearest<Scalar, 2>(ctx, queries, m, r, n, out); break;
      case 3: launch_nearest<Scalar, 3>(ctx, queries, m, r, n, out); break;
      default: launch_nearest<Scalar, 4>(ctx, queries, m, r, n, out); break;
    }
  }

  const_tensor_view<Scalar, cuda> reference_;
};

}  // namespace detail

}  // namespace attractor::metrics
