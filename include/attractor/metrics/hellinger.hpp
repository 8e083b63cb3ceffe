// The Hellinger distance between two sets of states on a grid of cubes (spec §5), and its floor: the distance that n
// i.i.d. states of the true system reach, which is what a generated set of n states should be judged against.
//
//   H(p, q) = || sqrt(p) - sqrt(q) ||_2 / sqrt(2),  p, q the histograms normalised to sum 1,
//
// so H = 0 for equal histograms and 1 for histograms with no cube in common. The floor is far from 0 at the sample
// sizes used (issue 4: near 0.09 at 1e5 states, 0.057 at 2.6e5 and 0.031 at 1e6 against a 1.6e7-state test set),
// so report it beside every distance.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "attractor/core/error.hpp"
#include "attractor/metrics/histogram.hpp"
#include "attractor/metrics/sample.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::metrics {

/// H between two histograms of one grid, each normalised to sum 1, in double. Throws unless both are on the same
/// grid and each has at least one state in range.
inline double hellinger_distance(const cube_histogram& p, const cube_histogram& q) {
  constexpr const char* fn = "metrics::hellinger_distance";
  p.require_same_grid(q, fn);
  require(p.in_range() > 0 && q.in_range() > 0, fn, "histograms with at least one state inside the grid each",
          attractor::detail::text(p.in_range(), " and ", q.in_range(), " states in range"));
  const double np = static_cast<double>(p.in_range());
  const double nq = static_cast<double>(q.in_range());
  const auto& a = p.counts();
  const auto& b = q.counts();
  double sum = 0;
  for (std::size_t c = 0; c < a.size(); ++c) {
    if ((a[c] | b[c]) == 0) continue;
    const double diff = std::sqrt(static_cast<double>(a[c]) / np) - std::sqrt(static_cast<double>(b[c]) / nq);
    sum += diff * diff;
  }
  return std::sqrt(sum) / std::sqrt(2.0);
}

/// H between two sets of states, (n x d) and (m x d) tensors or views on one backend, on `grid`. Throws on a wrong
/// shape, an empty set, a NaN or infinite coordinate, or a set with no state inside the grid.
template <class Backend, tensor_like X, tensor_like Y>
double hellinger_distance(context<Backend>& ctx, const X& x, const Y& y, const cube_grid& grid = {}) {
  constexpr const char* fn = "metrics::hellinger_distance";
  auto vx = as_view(x);
  auto vy = as_view(y);
  require(vx.rank() == 2 && vx.extent(0) > 0 && vx.extent(1) > 0, fn, "a non-empty first set of shape (n, d)",
          vx.shape());
  require(vy.rank() == 2 && vy.extent(0) > 0 && vy.extent(1) == vx.extent(1), fn,
          attractor::detail::text("a non-empty second set of shape (m, ", vx.extent(1), ")"), vy.shape());
  cube_histogram p(vx.extent(1), grid), q(vx.extent(1), grid);
  p.add(ctx, vx);
  q.add(ctx, vy);
  return hellinger_distance(p, q);
}

/// The Hellinger floor: H between `reference` and the histogram of n states drawn i.i.d. (uniformly, with
/// replacement) from the rows of `source`, a tensor of true states whose last axis holds the dimension (for
/// example validation or train trajectories, members x steps x d: a set disjoint from the reference). Draws come
/// from `gen` (advancing it), in chunks of `chunk` rows, on the backend of `source`.
template <class Backend, tensor_like Source>
double hellinger_floor(context<Backend>& ctx, const cube_histogram& reference, const Source& source, std::size_t n,
                       philox& gen, std::size_t chunk = std::size_t{1} << 18) {
  constexpr const char* fn = "metrics::hellinger_floor";
  require(n > 0, fn, "a sample count n > 0", n);
  cube_histogram drawn(reference.dimension(), reference.grid());
  for_each_drawn_chunk(ctx, source, reference.dimension(), n, gen, chunk, fn, [&](auto rows) { drawn.add(ctx, rows); });
  return hellinger_distance(reference, drawn);
}

}  // namespace attractor::metrics
