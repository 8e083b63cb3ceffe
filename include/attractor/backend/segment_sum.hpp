// segment_sum: out[key[r], :] += x[r, :] over the rows of a rows x cols array, with out (segments x cols) zeroed
// first. Rows may come in any key order. The result is deterministic: it does not depend on thread timing.
// The cuda overload is in cuda/segment_sum.cuh.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor {

template <class Key>
concept segment_key = std::is_same_v<Key, std::int32_t> || std::is_same_v<Key, std::int64_t>;

template <segment_key Key>
void validate_segment_keys(const Key* keys, std::size_t rows, std::size_t segments, const char* function) {
  for (std::size_t r = 0; r < rows; ++r) {
    if (keys[r] < 0 || static_cast<std::size_t>(keys[r]) >= segments) {
      fail(function, detail::concat("keys in [0, ", segments, ")"), detail::concat(keys[r], " at row ", r));
    }
  }
}

template <floating_scalar Scalar, segment_key Key>
void segment_sum(context<cpu>& ctx, const Key* keys, const Scalar* x, std::size_t rows, std::size_t cols,
                 std::size_t segments, Scalar* out) {
  validate_segment_keys(keys, rows, segments, "segment_sum");
  std::fill(out, out + segments * cols, Scalar(0));
  if (rows == 0 || cols == 0) return;
  const int threads = ctx.threads();
  if (threads <= 1 || rows * cols < 16384) {
    for (std::size_t r = 0; r < rows; ++r) {
      Scalar* dst = out + static_cast<std::size_t>(keys[r]) * cols;
      const Scalar* src = x + r * cols;
      ATTRACTOR_OMP(simd)
      for (std::size_t c = 0; c < cols; ++c) dst[c] += src[c];
    }
    return;
  }
  // Each thread owns a contiguous range of columns and walks every row in order: no races, fixed order of
  // additions. Narrow arrays would leave threads idle, so they split rows instead, into per-thread partial
  // sums added up in thread order afterwards.
  if (cols >= static_cast<std::size_t>(threads) * 16) {
    ATTRACTOR_OMP(parallel num_threads(threads)) {
      const auto t = static_cast<std::size_t>(detail::omp_thread_index());
      const auto nt = static_cast<std::size_t>(detail::omp_team_size());
      const std::size_t c0 = cols * t / nt, c1 = cols * (t + 1) / nt;
      for (std::size_t r = 0; r < rows; ++r) {
        Scalar* dst = out + static_cast<std::size_t>(keys[r]) * cols;
        const Scalar* src = x + r * cols;
        ATTRACTOR_OMP(simd)
        for (std::size_t c = c0; c < c1; ++c) dst[c] += src[c];
      }
    }
    return;
  }
  const std::size_t nt = static_cast<std::size_t>(threads);
  auto* partial = static_cast<Scalar*>(ctx.scratch(nt * segments * cols * sizeof(Scalar)));
  std::fill(partial, partial + nt * segments * cols, Scalar(0));
  ATTRACTOR_OMP(parallel num_threads(threads)) {
    const auto t = static_cast<std::size_t>(detail::omp_thread_index());
    const std::size_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    Scalar* mine = partial + t * segments * cols;
    for (std::size_t r = r0; r < r1; ++r) {
      Scalar* dst = mine + static_cast<std::size_t>(keys[r]) * cols;
      const Scalar* src = x + r * cols;
      for (std::size_t c = 0; c < cols; ++c) dst[c] += src[c];
    }
  }
  for (std::size_t t = 0; t < nt; ++t) {
    const Scalar* mine = partial + t * segments * cols;
    for (std::size_t i = 0; i < segments * cols; ++i) out[i] += mine[i];
  }
}

namespace detail {

/// One index per (segment, column): adds its segment's rows in their order. order lists row indices grouped by
/// segment; segment s spans order[offsets[s] .. offsets[s + 1]).
template <class Scalar, class Key>
struct sorted_segment_sum_kernel {
  const Scalar* x;
  const std::uint32_t* order;
  const Key* offsets;
  std::size_t cols;
  Scalar* out;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t s = i / cols, c = i % cols;
    Scalar acc = 0;
    for (Key j = offsets[s]; j < offsets[s + 1]; ++j) acc += x[static_cast<std::size_t>(order[j]) * cols + c];
    out[i] = acc;
  }
};

}  // namespace detail

/// segment_sum with the rows already grouped by key (a plan computed once and reused, e.g. for every layer of a
/// network that shares the keys): out[s, :] = sum of x[order[j], :] for j in [offsets[s], offsets[s + 1]).
/// Written once for every backend; the plan is trusted, so build it with make_segment_plan.
template <class Backend, floating_scalar Scalar, segment_key Key>
void segment_sum_sorted(context<Backend>& ctx, const std::uint32_t* order, const Key* offsets, const Scalar* x,
                        std::size_t cols, std::size_t segments, Scalar* out) {
  for_each_index(ctx, segments * cols, detail::sorted_segment_sum_kernel<Scalar, Key>{x, order, offsets, cols, out});
}

/// The plan of segment_sum_sorted, on the host: a stable counting sort of the rows by key. Validates the keys.
template <segment_key Key>
void make_segment_plan(const Key* keys, std::size_t rows, std::size_t segments, std::uint32_t* order, Key* offsets) {
  validate_segment_keys(keys, rows, segments, "make_segment_plan");
  std::fill(offsets, offsets + segments + 1, Key(0));
  for (std::size_t r = 0; r < rows; ++r) ++offsets[static_cast<std::size_t>(keys[r]) + 1];
  for (std::size_t s = 0; s < segments; ++s) offsets[s + 1] += offsets[s];
  std::vector<Key> next(offsets, offsets + segments);
  for (std::size_t r = 0; r < rows; ++r)
    order[next[static_cast<std::size_t>(keys[r])]++] = static_cast<std::uint32_t>(r);
}

}  // namespace attractor
