// for_each_index: the loop primitive every element-wise kernel is built from. f(i) is called once for each i in
// [0, n), in parallel, in no particular order; f must not throw. The cuda overload is in cuda/for_each.cuh.
#pragma once

#include <cstddef>

#include "attractor/backend/context.hpp"

namespace attractor {

namespace detail {
/// Below this many iterations a parallel region costs more than it saves.
inline constexpr std::size_t parallel_grain = 16384;
/// Below this much work (flops, roughly) in all, for_each_index_coarse runs on the calling thread.
inline constexpr std::size_t coarse_grain = std::size_t{1} << 20;
}  // namespace detail

// Each loop below enters its OpenMP region only when it will run on two or more threads. A region with if(false)
// still goes through libgomp, which, once a pool of threads exists, wakes or releases them with futex calls: a
// one-thread kernel called every cycle spent a fifth of its time there.

template <class F>
void for_each_index(context<cpu>& ctx, std::size_t n, F f) {
  const auto count = static_cast<std::ptrdiff_t>(n);
  [[maybe_unused]] const int threads = n >= detail::parallel_grain ? ctx.threads() : 1;
  if (threads > 1) {
    // firstprivate: each thread calls its own copy of f. A shared f is reached through a pointer, so every store
    // through one of its array members might change its members, which then reload each iteration: no vectorising.
    ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads) firstprivate(f))
    for (std::ptrdiff_t i = 0; i < count; ++i) f(static_cast<std::size_t>(i));
    return;
  }
  for (std::ptrdiff_t i = 0; i < count; ++i) f(static_cast<std::size_t>(i));
}

/// for_each_index over a rows x cols array by (row, column): f(r, c) once for each, in parallel, in no particular
/// order. For kernels that read a per-row or per-column vector (a bias, a row's statistics), so that no flat index
/// is divided: on cpu each thread takes whole rows and the columns run in an inner loop the compiler vectorises.
template <class F>
void for_each_row_col(context<cpu>& ctx, std::size_t rows, std::size_t cols, F f) {
  const auto count = static_cast<std::ptrdiff_t>(rows);
  [[maybe_unused]] const int threads = rows >= 2 && rows * cols >= detail::parallel_grain ? ctx.threads() : 1;
  if (threads > 1) {
    ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads))
    for (std::ptrdiff_t r = 0; r < count; ++r) {
      ATTRACTOR_OMP(simd)
      for (std::size_t c = 0; c < cols; ++c) f(static_cast<std::size_t>(r), c);
    }
    return;
  }
  for (std::ptrdiff_t r = 0; r < count; ++r) {
    ATTRACTOR_OMP(simd)
    for (std::size_t c = 0; c < cols; ++c) f(static_cast<std::size_t>(r), c);
  }
}

/// for_each_index for few, heavy iterations (one per ensemble member integrating many steps, one per tile), with
/// dynamic scheduling since iterations may differ in cost. `work_per_index` estimates each iteration's arithmetic
/// (in flops, roughly); the loop runs in parallel only when there are two or more iterations and n * work_per_index
/// reaches detail::coarse_grain. Each parallel region costs a fork and a barrier: a few microseconds on an idle
/// machine, but a scheduler time slice or more on a loaded one, where a thread of the team may not be running.
/// A cycle written by hand that forecasts a 10-member Lorenz-63 ensemble 25 steps at a time opened one region per
/// cycle around microseconds of work, and ran hundreds of times slower on a busy machine than on one thread.
/// The default work counts each iteration as heavy enough on its own.
template <class F>
void for_each_index_coarse(context<cpu>& ctx, std::size_t n, F f, std::size_t work_per_index = detail::coarse_grain) {
  const auto count = static_cast<std::ptrdiff_t>(n);
  const bool enough_work =
      n >= 2 && (work_per_index >= detail::coarse_grain || n * work_per_index >= detail::coarse_grain);
  [[maybe_unused]] const int threads = enough_work ? ctx.threads() : 1;
  if (threads > 1) {
    ATTRACTOR_OMP(parallel for schedule(dynamic, 1) num_threads(threads))
    for (std::ptrdiff_t i = 0; i < count; ++i) f(static_cast<std::size_t>(i));
    return;
  }
  for (std::ptrdiff_t i = 0; i < count; ++i) f(static_cast<std::size_t>(i));
}

}  // namespace attractor
