// The dynamical ("ground truth") response of spec §6, over any stepper (systems/stepper.hpp): perturbed ensembles
// integrated beside unperturbed ones with common random numbers.
//
// From a spun-up ensemble theta (Nx x N, one member per column), every `steps_between_resets` model steps:
//   1. theta_delta = theta + delta v, with v the kick (the unit vector of a pixel or component j, or any vector);
//   2. theta and theta_delta advance `steps_per_lag` steps at a time, `lags` times, with identical noise: theta with
//      gen, theta_delta with a copy of gen taken just before (so a stepper must draw as many numbers for either);
//   3. after each, the member mean of (theta_delta - theta) / delta is lag l's estimate (lag 0: the kick itself, v up
//      to rounding);
//   4. theta alone advances the rest of the interval.
// The estimates are averaged over `resets` kicks. For a linear model the difference is exactly A^l v delta whatever
// the noise, so the response is exact to rounding; for a nonlinear one it is linear response as delta -> 0.
// delta defaults to 2 dt, the paper's 0.0625 for dt = 1/32: set `dt` (or `delta` itself) in the options.
//
// theta is advanced in place by resets x steps_between_resets steps, and gen with it. Bad input (theta not Nx x N,
// NaN or Inf in theta or v, a kick outside the state, a zero v, options that fail validate()) and a stepper that
// draws differently for the two ensembles throw attractor::error naming the function.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/response/lag_correlation.hpp"
#include "attractor/systems/stepper.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::response {

struct dynamical_options {
  /// Lags after the kick, each `steps_per_lag` model steps apart: lags + 1 rows in the result.
  std::size_t lags = 1;
  std::size_t steps_per_lag = 1;
  /// Model steps from one kick to the next, at least lags x steps_per_lag; 0 means exactly that.
  std::size_t steps_between_resets = 0;
  /// Kicks averaged.
  std::size_t resets = 1;
  /// The model's time step: the kick size is 2 dt unless `delta` is set.
  double dt = 0;
  /// The kick size; 0 means 2 dt.
  double delta = 0;

  /// The kick size these options give.
  [[nodiscard]] double kick_size() const { return delta > 0 ? delta : 2 * dt; }
  /// Model steps from one kick to the next.
  [[nodiscard]] std::size_t interval() const {
    return steps_between_resets == 0 ? lags * steps_per_lag : steps_between_resets;
  }

  /// Throws attractor::error naming `fn` on counts of 0, an interval shorter than the lags, or a kick size that is
  /// not finite and positive.
  void validate(std::string_view fn = "response::dynamical_options") const {
    require(lags >= 1, fn, "lags >= 1", lags);
    require(steps_per_lag >= 1, fn, "steps_per_lag >= 1", steps_per_lag);
    require(resets >= 1, fn, "resets >= 1", resets);
    const std::size_t span = checked_product(lags, steps_per_lag, fn, "lags x steps_per_lag");
    require(steps_between_resets == 0 || steps_between_resets >= span, fn,
            attractor::detail::text("steps_between_resets >= lags x steps_per_lag = ", span, " (or 0)"),
            steps_between_resets);
    require(std::isfinite(dt) && dt >= 0, fn, "a finite dt >= 0", dt);
    require(std::isfinite(delta) && delta >= 0, fn, "a finite kick size delta >= 0 (0: 2 dt)", delta);
    require(kick_size() > 0, fn, "a positive kick size: delta > 0, or dt > 0 for delta = 2 dt",
            attractor::detail::text("delta = ", delta, ", dt = ", dt));
  }
};

/// The response, (lags + 1) x Nx, [l][i] = the mean over resets of lag l's estimate; its standard error over resets
/// (the standard deviation of the resets' estimates over sqrt(resets); NaN where resets is 1).
struct dynamical_result {
  tensor<double, cpu> response;
  tensor<double, cpu> standard_error;
};

namespace detail {

/// theta_delta[i N + m] = theta[i N + m] + kick[i].
template <class S>
struct kick_members {
  const S* theta;
  const S* kick;
  S* theta_delta;
  std::size_t members;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const { theta_delta[idx] = theta[idx] + kick[idx / members]; }
};

/// out[i] = the mean over members m of (theta_delta[i N + m] - theta[i N + m]) / delta, in double.
template <class S>
struct member_mean_difference {
  const S* theta;
  const S* theta_delta;
  double* out;
  std::size_t members;
  double delta;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    double s = 0;
    for (std::size_t m = 0; m < members; ++m)
      s += static_cast<double>(theta_delta[i * members + m]) - static_cast<double>(theta[i * members + m]);
    out[i] = s / (static_cast<double>(members) * delta);
  }
};

template <class S, class Backend, class Stepper>
dynamical_result dynamical(context<Backend>& ctx, const Stepper& model, tensor_view<S, Backend> theta,
                           std::span<const double> v, const dynamical_options& o, philox& gen, std::string_view fn) {
  o.validate(fn);
  const std::size_t Nx = model.dimension();
  require(theta.rank() == 2 && theta.extent(0) == Nx && theta.extent(1) >= 1, fn,
          attractor::detail::text("an ensemble theta of shape ", Nx, " x N (N >= 1)"), theta.shape());
  require(v.size() == Nx, fn, attractor::detail::text("a kick vector of ", Nx, " values"), v.size());
  require_finite(v.data(), v.size(), fn, "the kick vector");
  require(std::any_of(v.begin(), v.end(), [](double a) { return a != 0; }), fn, "a non-zero kick vector", "all zeros");
  require_finite(ctx, const_tensor_view<S, Backend>(theta), fn, "theta");

  const std::size_t N = theta.extent(1), rows = o.lags + 1, frame = rows * Nx;
  const double delta = o.kick_size();
  std::vector<S> scaled(Nx);
  for (std::size_t i = 0; i < Nx; ++i) scaled[i] = static_cast<S>(delta * v[i]);
  const auto kick = upload(ctx, scaled.data(), Nx);
  tensor<S, Backend> theta_delta(theta.shape());
  tensor<double, Backend> estimate(shape{frame});
  std::vector<double> mean(frame, 0.0), m2(frame, 0.0);  // Welford over resets

  for (std::size_t r = 0; r < o.resets; ++r) {
    for_each_index(ctx, Nx * N, kick_members<S>{theta.data(), kick.data(), theta_delta.data(), N});
    auto difference = [&](std::size_t lag) {
      for_each_index(ctx, Nx,
                     member_mean_difference<S>{theta.data(), theta_delta.data(), estimate.data() + lag * Nx, N, delta});
    };
    difference(0);
    for (std::size_t lag = 1; lag < rows; ++lag) {
      philox same = gen;
      model.advance(ctx, theta, o.steps_per_lag, gen);
      model.advance(ctx, theta_delta.view(), o.steps_per_lag, same);
      require(same == gen, fn, "a stepper that draws the same numbers for both ensembles (common random numbers)",
              "a generator that advanced differently for the kicked ensemble");
      difference(lag);
    }
    const std::size_t rest = o.interval() - o.lags * o.steps_per_lag;
    if (rest > 0) model.advance(ctx, theta, rest, gen);
    const std::vector<double> e = download(ctx, estimate.data(), frame);
    const double count = static_cast<double>(r + 1);
    for (std::size_t k = 0; k < frame; ++k) {
      const double d = e[k] - mean[k];
      mean[k] += d / count;
      m2[k] += d * (e[k] - mean[k]);
    }
  }
  dynamical_result out{tensor<double, cpu>(shape{rows, Nx}), tensor<double, cpu>(shape{rows, Nx})};
  const double resets = static_cast<double>(o.resets);
  for (std::size_t k = 0; k < frame; ++k) {
    out.response[k] = mean[k];
    out.standard_error[k] =
        o.resets > 1 ? std::sqrt(m2[k] / (resets - 1) / resets) : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

}  // namespace detail

/// The dynamical response of `model` to kicks along the vector v (Nx values) of size options.kick_size(), from the
/// spun-up ensemble theta (Nx x N, advanced in place): (lags + 1) x Nx and its standard error. The header's comment
/// gives the procedure.
template <class Backend, tensor_like E, class Stepper>
requires floating_scalar<attractor::detail::value_of<E>> &&
    systems::stepper<Stepper, attractor::detail::value_of<E>, Backend>
        dynamical_result dynamical(context<Backend>& ctx, const Stepper& model, E&& theta, std::span<const double> v,
                                   const dynamical_options& options, philox& gen) {
  using S = attractor::detail::value_of<E>;
  return detail::dynamical<S, Backend>(ctx, model, tensor_view<S, Backend>(as_view(theta)), v, options, gen,
                                       "response::dynamical");
}

/// The dynamical response to kicks at component (pixel) j: v is the unit vector e_j.
template <class Backend, tensor_like E, class Stepper>
requires floating_scalar<attractor::detail::value_of<E>> &&
    systems::stepper<Stepper, attractor::detail::value_of<E>, Backend>
        dynamical_result dynamical(context<Backend>& ctx, const Stepper& model, E&& theta, std::size_t j,
                                   const dynamical_options& options, philox& gen) {
  using S = attractor::detail::value_of<E>;
  const std::size_t Nx = model.dimension();
  require(j < Nx, "response::dynamical", attractor::detail::text("a kicked component < ", Nx), j);
  std::vector<double> v(Nx, 0.0);
  v[j] = 1;
  return detail::dynamical<S, Backend>(ctx, model, tensor_view<S, Backend>(as_view(theta)), v, options, gen,
                                       "response::dynamical");
}

}  // namespace attractor::response
