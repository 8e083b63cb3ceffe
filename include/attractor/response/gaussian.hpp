// The Gaussian (quasi-Gaussian) response R(tau) = C(tau) C(0)^-1 (spec §5): exact for a linear system with Gaussian
// statistics, the classical approximation otherwise.
//
//   gaussian        any state, x of shape T x n or members x T x n: the lag covariances (lag_correlation.hpp), then a
//                   Cholesky of C(0) in double. (lags + 1) x n x n, [tau][i][j] = R_ij(tau).
//   gaussian_field  a periodic n_side x n_side field, u of shape T x (n_side n_side) or members x T x (n_side n_side):
//                   the field covariance c(d, tau), then the Fourier ratio C_hat(k, tau) / C_hat(k, 0) in place of
//                   the (n_side^2)^2 inverse (spec §12), exact under translation invariance. The column of a kick at
//                   pixel `kick` (0: the paper's pixel (1, 1)): (lags + 1) x (n_side n_side), [tau][i] = R_i,kick(tau).
//
// Each also comes from covariances already computed (gaussian_from_covariance, gaussian_field_from_covariance).
// A C(0) that is not positive definite, or a Fourier mode of C(0) that vanishes, throws attractor::error, as do the
// lag covariances' own checks.
#pragma once

#include <cstddef>

#include "attractor/response/lag_correlation.hpp"
#include "attractor/response/normalise.hpp"

namespace attractor::response {

/// R(tau) = C(tau) C(0)^-1 from lag covariances C of shape (lags + 1) x n x n: (lags + 1) x n x n.
inline tensor<double, cpu> gaussian_from_covariance(const_tensor_view<double, cpu> C) {
  return divide_by_lag0(C, lag0_kind::covariance, "response::gaussian_from_covariance");
}

/// The Gaussian response of the states x (T x n or members x T x n): (lags + 1) x n x n, [tau][i][j] = R_ij(tau).
template <class Backend, series_on<Backend> X>
tensor<double, cpu> gaussian(context<Backend>& ctx, const X& x, std::size_t lags, const lag_options& options = {}) {
  using S = attractor::detail::value_of<X>;
  const auto C = detail::lag_covariance<S, Backend>(ctx, const_tensor_view<S, Backend>(as_view(x)),
                                                    const_tensor_view<S, Backend>(as_view(x)), lags, options,
                                                    "response::gaussian");
  return divide_by_lag0(C, lag0_kind::covariance, "response::gaussian");
}

/// The column of a kick at pixel `kick` of R(tau) = C(tau) C(0)^-1 for the circulant C whose kernel is the field
/// covariance c(d, tau) of shape (lags + 1) x (n_side n_side) (field_lag_covariance): (lags + 1) x (n_side n_side).
template <class Backend>
tensor<double, cpu> gaussian_field_from_covariance(context<Backend>& ctx, const_tensor_view<double, cpu> c,
                                                   std::size_t kick = 0) {
  return circulant_divide_by_lag0(ctx, c, kick, lag0_kind::covariance, "response::gaussian_field_from_covariance");
}

/// The Gaussian response of the periodic field u (T x (n_side n_side) or members x T x (n_side n_side)) to a kick at
/// pixel `kick`: (lags + 1) x (n_side n_side), [tau][i] = R_i,kick(tau).
template <class Backend, series_on<Backend> U>
tensor<double, cpu> gaussian_field(context<Backend>& ctx, const U& u, std::size_t lags, std::size_t kick = 0,
                                   const lag_options& options = {}) {
  using S = attractor::detail::value_of<U>;
  constexpr std::string_view fn = "response::gaussian_field";
  const auto view = const_tensor_view<S, Backend>(as_view(u));
  // The kick is checked before the work.
  const std::size_t frame = view.rank() >= 2 ? view.extent(view.rank() - 1) : 0;
  require(kick < frame || frame == 0, fn, attractor::detail::text("a kick pixel < ", frame), kick);
  const auto c = detail::field_lag_covariance<S, Backend>(ctx, view, view, lags, options, fn);
  return circulant_divide_by_lag0(ctx, c, kick, lag0_kind::covariance, fn);
}

}  // namespace attractor::response
