// The score-based response of the generalised fluctuation-dissipation theorem (spec §7):
//
//   R_ij(tau) = -<x_i(t + tau) s_j(x(t))>,
//
// s the score (the gradient of the log-density) of the invariant distribution, given as a callable evaluated on every
// frame of the data, in batches:
//
//   score(ctx, const_tensor_view<Scalar, Backend> frames /* B x n */, tensor_view<Scalar, Backend> out /* B x n */)
//
// an analytic score, or a learned one (a network at diffusion time 0). The averages are the lag covariances of
// lag_correlation.hpp between x and s(x): zero-padded and unbiased by default, circular (the paper's code) as an
// option, means removed unless asked not to. Two results:
//   raw         -<x(t + tau) s^T> itself, whose lag 0 is I in theory (integration by parts): a check of the score's
//               normalisation (the paper's "no hack");
//   normalised  H(tau) H(0)^-1 with H the raw response, so that R(0) = I exactly (the paper's "hack"): removes scale
//               errors of a learned score.
//
//   score_based        any state, x of shape T x n or members x T x n: (lags + 1) x n x n each, [tau][i][j].
//   score_based_field  a periodic n_side x n_side field (pixel p = iy n_side + ix), u of shape T x (n_side n_side) or
//                      members x T x (n_side n_side), averaged over translations: the column of a kick at pixel
//                      `kick`, (lags + 1) x (n_side n_side) each, [tau][i] = R_i,kick(tau); the normalisation is the
//                      Fourier ratio H_hat(k, tau) / H_hat(k, 0).
//
// The scores of all frames are held at once (a tensor of x's shape on Backend). Bad input (x as for the lag
// covariances, a batch of 0, a kick outside the frame), a score that writes NaN or Inf, and a singular H(0) throw
// attractor::error naming the function.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <string_view>

#include "attractor/response/lag_correlation.hpp"
#include "attractor/response/normalise.hpp"
#include "attractor/tensor/checks.hpp"

namespace attractor::response {

/// A score on frames of Scalar on Backend: score(ctx, frames (B x n), out (B x n)) writes s(frame) into each row.
template <class F, class Scalar, class Backend>
concept score_function = std::invocable < F&,
        context<Backend>
&, const_tensor_view<Scalar, Backend>, tensor_view < Scalar, Backend >> ;

struct score_options {
  lag_options lag;
  /// Frames per call of the score.
  std::size_t batch = 256;
};

/// The raw response -<x(t + tau) s^T> and its normalisation H(tau) H(0)^-1 (the header's comment).
struct score_response {
  tensor<double, cpu> raw;
  tensor<double, cpu> normalised;
};

namespace detail {

/// The score of every frame of x (rank 2 or 3, frames along the last axis), `batch` frames per call: a tensor of x's
/// shape on Backend, checked finite.
template <class S, class Backend, class Score>
tensor<S, Backend> evaluate_score(context<Backend>& ctx, const_tensor_view<S, Backend> x, Score& score,
                                  std::size_t batch, std::string_view fn) {
  const std::size_t n = x.extent(x.rank() - 1), frames = x.size() / n;
  tensor<S, Backend> s(x.shape());
  const auto in = x.reshape(shape{frames, n});
  const auto out = s.reshape(shape{frames, n});
  for (std::size_t b = 0; b < frames; b += batch) {
    const std::size_t e = std::min(frames, b + batch);
    score(ctx, in.rows(b, e), out.rows(b, e));
  }
  require_finite(ctx, s.view(), fn, "the score's values");
  return s;
}

/// -m, element by element, on the host.
inline tensor<double, cpu> negated(tensor<double, cpu> m) {
  for (double& v : m) v = -v;
  return m;
}

}  // namespace detail

/// The score-based response of the states x (T x n or members x T x n) for the score `score`: raw and normalised,
/// (lags + 1) x n x n each, [tau][i][j] = R_ij(tau).
template <class Backend, series_on<Backend> X, score_function<attractor::detail::value_of<X>, Backend> Score>
score_response score_based(context<Backend>& ctx, const X& x, Score&& score, std::size_t lags,
                           const score_options& options = {}) {
  using S = attractor::detail::value_of<X>;
  constexpr std::string_view fn = "response::score_based";
  const auto view = const_tensor_view<S, Backend>(as_view(x));
  require(options.batch >= 1, fn, "a score batch of at least 1 frame", options.batch);
  detail::check_series(ctx, view, lags, fn, "x");
  const auto s = detail::evaluate_score(ctx, view, score, options.batch, fn);
  score_response r;
  r.raw = detail::negated(
      detail::lag_covariance<S, Backend>(ctx, view, const_tensor_view<S, Backend>(s.view()), lags, options.lag, fn));
  r.normalised = divide_by_lag0(r.raw, lag0_kind::general, fn);
  return r;
}

/// The score-based response of the periodic field u (T x (n_side n_side) or members x T x (n_side n_side)) to a kick
/// at pixel `kick`, averaged over translations: raw and normalised, (lags + 1) x (n_side n_side) each, [tau][i] =
/// R_i,kick(tau).
template <class Backend, series_on<Backend> U, score_function<attractor::detail::value_of<U>, Backend> Score>
score_response score_based_field(context<Backend>& ctx, const U& u, Score&& score, std::size_t lags,
                                 std::size_t kick = 0, const score_options& options = {}) {
  using S = attractor::detail::value_of<U>;
  constexpr std::string_view fn = "response::score_based_field";
  const auto view = const_tensor_view<S, Backend>(as_view(u));
  require(options.batch >= 1, fn, "a score batch of at least 1 frame", options.batch);
  const detail::series_shape shape_of = detail::check_series(ctx, view, lags, fn, "u");
  detail::field_side(shape_of.n, fn);
  require(kick < shape_of.n, fn, attractor::detail::text("a kick pixel < ", shape_of.n), kick);
  const auto s = detail::evaluate_score(ctx, view, score, options.batch, fn);
  const auto h = detail::negated(detail::field_lag_covariance<S, Backend>(
      ctx, view, const_tensor_view<S, Backend>(s.view()), lags, options.lag, fn));
  score_response r;
  r.raw = circulant_column(h, kick, fn);
  r.normalised = circulant_divide_by_lag0(ctx, h, kick, lag0_kind::general, fn);
  return r;
}

}  // namespace attractor::response
