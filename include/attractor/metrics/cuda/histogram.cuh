// cube_histogram on cuda: one thread per state finds its cube and adds 1 to a device count with an integer atomic,
// so the counts are exact and do not depend on scheduling. The chunk's counts are then copied to the host and added
// there, after checking that no coordinate was NaN or infinite.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/copy.cuh"
#include "attractor/backend/cuda/for_each.cuh"
#include "attractor/backend/cuda/memory.cuh"
#include "attractor/metrics/histogram.hpp"

namespace attractor::metrics::detail {

/// tally[0]: out of range, tally[1]: not finite.
template <class Scalar>
struct cube_count_kernel {
  cube_layout layout;
  const Scalar* x;
  unsigned long long* counts;
  unsigned long long* tally;
  __device__ void operator()(std::size_t i) const {
    const std::int64_t c = layout.cube_of(x + i * layout.dimension);
    if (c >= 0) {
      atomicAdd(counts + c, 1ull);
    } else {
      atomicAdd(tally + (c == cube_out_of_range ? 0 : 1), 1ull);
    }
  }
};

template <>
struct cube_counter<cuda> {
  template <floating_scalar Scalar>
  static cube_tally count(context<cuda>& ctx, const cube_layout& layout, const Scalar* x, std::size_t n,
                          std::uint64_t* counts, std::size_t cells) {
    static_assert(sizeof(unsigned long long) == sizeof(std::uint64_t));
    buffer<unsigned long long, cuda> device(cells + 2);
    fill(ctx, cells + 2, device.data(), 0ull);
    for_each_index(ctx, n, cube_count_kernel<Scalar>{layout, x, device.data(), device.data() + cells});
    std::vector<unsigned long long> host(cells + 2);
    transfer<cuda, cpu>::run(ctx, device.data(), host.data(), cells + 2);  // waits for the kernel
    cube_tally tally{host[cells], host[cells + 1]};
    if (tally.not_finite > 0) return tally;
    for (std::size_t c = 0; c < cells; ++c) counts[c] += host[c];
    return tally;
  }
};

}  // namespace attractor::metrics::detail
