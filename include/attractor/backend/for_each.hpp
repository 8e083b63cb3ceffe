// for_each_index: the loop primitive every element-wise kernel is built from. f(i) is called once for each i in
// [0, n), in parallel, in no particular order; f must not throw. The cuda overload is in cuda/for_each.cuh.
#pragma once

#include <cstddef>

#include "attractor/backend/context.hpp"

namespace attractor {

namespace detail {
/// Below this many iterations a parallel region costs more than it saves.
inline constexpr std::size_t parallel_grain = 16384;
}  // namespace detail

template <class F>
void for_each_index(context<cpu>& ctx, std::size_t n, F f) {
  const auto count = static_cast<std::ptrdiff_t>(n);
  [[maybe_unused]] const int threads = n >= detail::parallel_grain ? ctx.threads() : 1;
  // firstprivate: each thread calls its own copy of f. A shared f is reached through a pointer, so every store
  // through one of its array members might change its members, which then reload each iteration: no vectorising.
  ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads) if (threads > 1) firstprivate(f))
  for (std::ptrdiff_t i = 0; i < count; ++i) f(static_cast<std::size_t>(i));
}

/// for_each_index over a rows x cols array by (row, column): f(r, c) once for each, in parallel, in no particular
/// order. For kernels that read a per-row or per-column vector (a bias, a row's statistics), so that no flat index
/// is divided: on cpu each thread takes whole rows and the columns run in an inner loop the compiler vectorises.
template <class F>
void for_each_row_col(context<cpu>& ctx, std::size_t rows, std::size_t cols, F f) {
  const auto count = static_cast<std::ptrdiff_t>(rows);
  [[maybe_unused]] const int threads = rows >= 2 && rows * cols >= detail::parallel_grain ? ctx.threads() : 1;
  ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads) if (threads > 1))
  for (std::ptrdiff_t r = 0; r < count; ++r) {
    ATTRACTOR_OMP(simd)
    for (std::size_t c = 0; c < cols; ++c) f(static_cast<std::size_t>(r), c);
  }
}

/// for_each_index for few, heavy iterations (one per ensemble member integrating many steps, one per tile): runs in
/// parallel whenever there are two or more, with dynamic scheduling since iterations may differ in cost.
template <class F>
void for_each_index_coarse(context<cpu>& ctx, std::size_t n, F f) {
  const auto count = static_cast<std::ptrdiff_t>(n);
  [[maybe_unused]] const int threads = n >= 2 ? ctx.threads() : 1;
  ATTRACTOR_OMP(parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1))
  for (std::ptrdiff_t i = 0; i < count; ++i) f(static_cast<std::size_t>(i));
}

}  // namespace attractor
