// transfer_learning: the scores of surrogate roll-outs (spec §6, surrogate_test.py, downstream.py::test_step), in
// normalised space:
//   - nRMSE by lead: sqrt of the mean over roll-outs and the d variables of (prediction - truth)^2 at that lead (the
//     RMSE normalised by the training climatology's std per variable). Table 3's columns are leads 1 (0.1 time
//     units) and 10 (1 time unit) for iterations of 10 steps of 0.01.
//   - the Hellinger distance between the histograms (70^3 cubes over [-3.5, 3.5]^3 by default) of the predictions
//     and of the truth at leads 51..100 (5.1-10 time units), counts summed over every roll-out; states outside the
//     grid, and here predictions that are NaN or Inf, are not counted. NaN where no prediction falls inside.
// lead_scores accumulates them from any source of (prediction, truth) pairs by lead; score_rollouts rolls a
// surrogate out from starts along true trajectories and scores it, chunk by chunk.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "attractor/backend/for_each.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/metrics/hellinger.hpp"
#include "attractor/metrics/histogram.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/tensor.hpp"
#include "attractor/transfer/rollout.hpp"
#include "attractor/transfer/row_map.hpp"

namespace attractor::transfer_learning {

namespace kernels {

/// e[i] = double(p[i] - t[i])^2.
template <class S>
struct squared_error {
  double* e;
  const S* p;
  const S* t;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const auto d = static_cast<double>(p[i] - t[i]);
    e[i] = d * d;
  }
};

/// y[i] = x[i] where finite, else `outside` (a value outside the histogram's grid).
template <class S>
struct finite_or {
  S* y;
  const S* x;
  S outside;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const S v = x[i];
    y[i] = v - v == S(0) ? v : outside;
  }
};

/// out[r, k] = traj[member, t, k] for the r-th start of a chunk: start s = first + r is (member, (s % per_member)
/// stride), and t adds `offset` steps.
template <class S>
struct gather_truth {
  S* out;
  const S* traj;
  std::size_t first, per_member, stride, steps, offset, d;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / d, k = i % d, s = first + r, member = s / per_member;
    const std::size_t t = (s % per_member) * stride + offset;
    out[i] = traj[(member * steps + t) * d + k];
  }
};

}  // namespace kernels

struct rollout_scores {
  std::vector<double> nrmse;       ///< by lead 0..iterations
  double hellinger = 0;            ///< over the Hellinger leads; NaN where no prediction fell inside the grid
  std::uint64_t rollouts = 0;      ///< roll-outs scored
  std::uint64_t in_range = 0;      ///< predicted states counted in the histogram
  std::uint64_t out_of_range = 0;  ///< predicted states outside it (or NaN / Inf) at the Hellinger leads
};

/// Squared errors by lead and the two histograms, accumulated over chunks of roll-outs.
template <floating_scalar Scalar, class Backend>
class lead_scores {
public:
  /// Leads 0..iterations; the Hellinger histograms take leads first..last (1 <= first <= last <= iterations).
  lead_scores(std::size_t iterations, std::size_t dimension = 3, std::size_t first = 51, std::size_t last = 100,
              const metrics::cube_grid& grid = {})
      : sums_(iterations + 1, 0.0),
        counts_(iterations + 1, 0),
        first_(first),
        last_(last),
        dimension_(dimension),
        predicted_(dimension, grid),
        truth_(dimension, grid) {
    constexpr const char* fn = "transfer_learning::lead_scores";
    require(iterations >= 1, fn, "at least one iteration", iterations);
    require(first >= 1 && first <= last && last <= iterations, fn,
            attractor::detail::text("Hellinger leads 1 <= first <= last <= ", iterations),
            attractor::detail::text(first, " to ", last));
  }

  [[nodiscard]] std::size_t iterations() const { return sums_.size() - 1; }

  /// Adds the predictions and the truth (n x d each, on Backend) at `lead`. Throws on a wrong shape or lead, or a
  /// non-finite truth; non-finite predictions make that lead's nRMSE NaN or Inf and are left out of the histogram.
  void add(context<Backend>& ctx, std::size_t lead, const_tensor_view<Scalar, Backend> predicted,
           const_tensor_view<Scalar, Backend> truth) {
    constexpr const char* fn = "transfer_learning::lead_scores::add";
    require(lead <= iterations(), fn, attractor::detail::text("a lead in [0, ", iterations(), "]"), lead);
    detail::require_row_shapes(predicted, truth, dimension_, dimension_, fn);
    require_finite(ctx, truth, fn, "the truth");
    const std::size_t size = predicted.size();
    if (errors_.size() < size) errors_ = tensor<double, Backend>(shape{size});
    for_each_index(ctx, size, kernels::squared_error<Scalar>{errors_.data(), predicted.data(), truth.data()});
    sums_[lead] += reduce(ctx, reduction::sum, static_cast<const double*>(errors_.data()), size);
    counts_[lead] += size;
    if (lead < first_ || lead > last_) return;
    if (finite_.size() < size) finite_ = tensor<Scalar, Backend>(shape{size});
    const auto outside =
        static_cast<Scalar>(2 * std::max(std::abs(predicted_.grid().low), std::abs(predicted_.grid().high)) + 1);
    for_each_index(ctx, size, kernels::finite_or<Scalar>{finite_.data(), predicted.data(), outside});
    predicted_.add(ctx, const_tensor_view<Scalar, Backend>(finite_.data(), predicted.shape()));
    truth_.add(ctx, truth);
  }

  [[nodiscard]] rollout_scores result() const {
    rollout_scores s;
    s.nrmse.resize(sums_.size());
    for (std::size_t l = 0; l < sums_.size(); ++l)
      s.nrmse[l] = counts_[l] > 0 ? std::sqrt(sums_[l] / static_cast<double>(counts_[l]))
                                  : std::numeric_limits<double>::quiet_NaN();
    s.rollouts = counts_[0] / dimension_;
    s.in_range = predicted_.in_range();
    s.out_of_range = predicted_.out_of_range();
    s.hellinger = predicted_.in_range() > 0 && truth_.in_range() > 0 ? metrics::hellinger_distance(predicted_, truth_)
                                                                     : std::numeric_limits<double>::quiet_NaN();
    return s;
  }

private:
  std::vector<double> sums_;
  std::vector<std::uint64_t> counts_;
  std::size_t first_, last_, dimension_;
  metrics::cube_histogram predicted_, truth_;
  tensor<double, Backend> errors_;
  tensor<Scalar, Backend> finite_;
};

struct rollout_score_options {
  std::size_t iterations = 100;      ///< surrogate steps per roll-out (10 time units at 0.1)
  std::size_t lead = 10;             ///< trajectory steps per surrogate step
  std::size_t hellinger_first = 51;  ///< Hellinger over leads hellinger_first..hellinger_last
  std::size_t hellinger_last = 100;
  metrics::cube_grid grid{};
  std::size_t start_stride = 1;  ///< steps between consecutive starts along a trajectory (1: every start, as spec)
  std::size_t chunk = 16384;     ///< roll-outs at once
  /// Called after each chunk with the roll-outs done and the total; may be empty.
  std::function<void(std::size_t done, std::size_t total)> progress;
};

/// The number of starts per member of trajectories of `steps` steps: every t = 0, stride, ... with
/// t + iterations * lead <= steps - 1 (999,000 per member for the paper's 1,000,001 steps).
inline std::size_t starts_per_member(std::size_t steps, const rollout_score_options& o) {
  const std::size_t span = o.iterations * o.lead;
  return steps > span ? (steps - 1 - span) / o.start_stride + 1 : 0;
}

/// Rolls g out from every start along `trajectories` (members x steps x d, normalised, on Backend) and scores it
/// against the trajectories at the same leads. Throws on a wrong shape, trajectories too short, NaN or Inf in
/// them, or bad options.
template <floating_scalar Scalar, class Backend, class Map>
requires row_map<Map, Scalar, Backend> rollout_scores score_rollouts(context<Backend>& ctx, Map& g,
                                                                     const_tensor_view<Scalar, Backend> trajectories,
                                                                     const rollout_score_options& options = {}) {
  constexpr const char* fn = "transfer_learning::score_rollouts";
  const auto& t = trajectories;
  const rollout_score_options& o = options;
  require(o.iterations >= 1 && o.lead >= 1 && o.start_stride >= 1 && o.chunk >= 1, fn,
          "iterations, lead, start_stride and chunk >= 1",
          attractor::detail::text(o.iterations, ", ", o.lead, ", ", o.start_stride, ", ", o.chunk));
  require(t.rank() == 3 && t.extent(0) > 0 && t.extent(2) == g.inputs() && g.inputs() == g.outputs(), fn,
          attractor::detail::text("trajectories of shape (members, steps, ", g.inputs(), ") and a map from d to d"),
          attractor::detail::text(t.shape(), " and ", g.inputs(), " -> ", g.outputs()));
  const std::size_t per_member = starts_per_member(t.extent(1), o);
  require(per_member > 0, fn, attractor::detail::text("more than ", o.iterations * o.lead, " steps per trajectory"),
          t.extent(1));
  require_finite(ctx, t, fn, "the trajectories");
  const std::size_t d = t.extent(2), steps = t.extent(1);
  const std::size_t total = checked_product(t.extent(0), per_member, fn, "roll-outs");
  lead_scores<Scalar, Backend> scores(o.iterations, d, o.hellinger_first, o.hellinger_last, o.grid);
  const std::size_t chunk = std::min(o.chunk, total);
  tensor<Scalar, Backend> state(shape{chunk, d}), truth(shape{chunk, d}), increment(shape{chunk, d});
  for (std::size_t first = 0; first < total; first += chunk) {
    const std::size_t count = std::min(chunk, total - first);
    auto x = state.rows(0, count), x_true = truth.rows(0, count);
    auto gather = [&](std::size_t lead) {
      for_each_index(ctx, count * d,
                     kernels::gather_truth<Scalar>{x_true.data(), t.data(), first, per_member, o.start_stride, steps,
                                                   lead * o.lead, d});
    };
    gather(0);
    copy(ctx, const_tensor_view<Scalar, Backend>(x_true), x);
    scores.add(ctx, 0, x, x_true);
    rollout(ctx, g, x, o.iterations, increment.rows(0, count),
            [&](std::size_t k, const_tensor_view<Scalar, Backend> predicted) {
              gather(k);
              scores.add(ctx, k, predicted, x_true);
            });
    if (o.progress) o.progress(first + count, total);
  }
  return scores.result();
}

}  // namespace attractor::transfer_learning
