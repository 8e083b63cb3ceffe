// 3D-Var with a static B: the exact optimal-interpolation analysis x_a = x_b + K (y - H x_b) with the gain
// K = B H^T (H B H^T + R)^-1, R = sigma_o^2 I and B = cov_inf^2 B0 (the paper's cov_inf scales perturbations, spec
// §7). The spec's 6 sigma points (sigma_point_source) give the same mean; this computes it directly, with K formed
// once for a whole run.
#pragma once

#include "attractor/core/eigen.hpp"

#include <cmath>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>

#include "attractor/backend/for_each.hpp"
#include "attractor/da/analysis.hpp"
#include "attractor/da/covariance.hpp"

namespace attractor::da {

/// The optimal-interpolation gain K (Nx x Ny) and the analysis covariance's diagonal for B = cov_inf^2 B0.
template <floating_scalar Scalar>
struct oi_gain {
  eigen_matrix<Scalar> K;
  std::vector<Scalar> bg_var, an_var;

  oi_gain(const static_covariance<Scalar>& B0, Scalar cov_inf, const observation_model<Scalar>& obs) {
    constexpr const char* fn = "da::oi_gain";
    require(std::isfinite(cov_inf) && cov_inf > 0, fn, "a finite cov_inf > 0", cov_inf);
    require(B0.Nx() == obs.Nx(), fn, attractor::detail::text("B of size ", obs.Nx(), " (the state size)"), B0.Nx());
    const eigen_matrix<Scalar> B = B0.matrix() * (cov_inf * cov_inf);
    const eigen_matrix<Scalar> H = obs.H.matrix();
    const eigen_matrix<Scalar> BHt = B * H.transpose();
    eigen_matrix<Scalar> S = H * BHt;
    S.diagonal().array() += obs.sigma_o * obs.sigma_o;
    const Eigen::LLT<eigen_matrix<Scalar>> llt(S);
    require(llt.info() == Eigen::Success, fn, "a positive-definite H B H^T + R", "a failed factorisation");
    K = llt.solve(BHt.transpose()).transpose();  // K = B H^T S^-1, S symmetric
    const eigen_matrix<Scalar> A = B - K * BHt.transpose();
    bg_var.resize(B0.Nx());
    an_var.resize(B0.Nx());
    for (std::size_t i = 0; i < B0.Nx(); ++i) {
      const auto k = static_cast<Eigen::Index>(i);
      bg_var[i] = B(k, k);
      an_var[i] = A(k, k);
    }
  }
};

namespace detail {

/// x += K (y - H x) for one experiment; fills row e of diag if given.
template <class Scalar>
void apply_oi_one(const oi_gain<Scalar>& gain, const observation_model<Scalar>& obs, std::size_t e, Scalar* x,
                  const Scalar* y, analysis_diagnostics<Scalar>* diag) {
  const std::size_t Nx = obs.Nx(), Ny = obs.Ny();
  if (diag != nullptr) {
    Scalar* mean = diag->mean_of(e);
    Scalar* bg = diag->bg_var_of(e);
    Scalar* an = diag->an_var_of(e);
    for (std::size_t i = 0; i < Nx; ++i) {
      mean[i] = x[i];
      bg[i] = gain.bg_var[i];
      an[i] = gain.an_var[i];
    }
  }
  // The innovation d = y - H x, then x += K d, row by row of K (Nx x Ny, row-major).
  constexpr std::size_t stack = 64;
  Scalar small[stack];
  std::vector<Scalar> large(Ny > stack ? Ny : 0);
  Scalar* d = Ny > stack ? large.data() : small;
  obs.H.apply(x, 1, d);
  for (std::size_t r = 0; r < Ny; ++r) d[r] = y[r] - d[r];
  for (std::size_t i = 0; i < Nx; ++i) {
    const Scalar* k = gain.K.data() + i * Ny;
    Scalar sum = 0;
    for (std::size_t r = 0; r < Ny; ++r) sum += k[r] * d[r];
    x[i] += sum;
  }
}

}  // namespace detail

/// 3D-Var analysis of every experiment's state x (experiments x Nx, in place) from y (experiments x Ny) with
/// B = cov_inf^2 B0. Throws attractor::error on mismatched shapes or observations that are not finite.
template <floating_scalar Scalar>
void var3d_analysis(context<cpu>& ctx, tensor_view<Scalar, cpu> x, input_view<Scalar> y,
                    const observation_model<Scalar>& obs, const static_covariance<Scalar>& B0,
                    std::type_identity_t<Scalar> cov_inf = Scalar(1), analysis_diagnostics<Scalar>* diag = nullptr) {
  constexpr const char* fn = "da::var3d_analysis";
  require(x.rank() == 2 && x.extent(1) == obs.Nx(), fn,
          attractor::detail::text("states of shape experiments x ", obs.Nx()), x.shape());
  const std::size_t experiments = x.extent(0);
  detail::check_observations<Scalar>(y, experiments, obs.Ny(), fn);
  detail::check_diagnostics(diag, experiments, obs.Nx(), fn);
  const oi_gain<Scalar> gain(B0, cov_inf, obs);
  for_each_index(ctx, experiments, [&](std::size_t e) {
    detail::apply_oi_one(gain, obs, e, x.data() + e * obs.Nx(), y.data() + e * obs.Ny(), diag);
  });
}

/// 3D-Var as a cycled method (an experiment_method, members() == 1): the gain is formed once in prepare.
template <floating_scalar Scalar = double>
class var3d {
public:
  var3d(static_covariance<Scalar> B0, Scalar cov_inf) : B0_(std::move(B0)), cov_inf_(cov_inf) {
    require(std::isfinite(cov_inf) && cov_inf > 0, "da::var3d", "a finite cov_inf > 0", cov_inf);
  }

  [[nodiscard]] std::string_view name() const { return "3dvar"; }
  [[nodiscard]] std::size_t members() const { return 1; }

  void prepare(context<cpu>&, const observation_model<Scalar>& obs, std::size_t) { gain_.emplace(B0_, cov_inf_, obs); }

  /// One experiment (experiment_method): state is its Nx x 1 block.
  void analyse_one(const observation_model<Scalar>& obs, std::size_t e, Scalar* state, const Scalar* y, philox&,
                   analysis_diagnostics<Scalar>& diag) {
    detail::apply_oi_one(*gain_, obs, e, state, y, &diag);
  }

private:
  static_covariance<Scalar> B0_;
  Scalar cov_inf_;
  std::optional<oi_gain<Scalar>> gain_;
};

}  // namespace attractor::da
