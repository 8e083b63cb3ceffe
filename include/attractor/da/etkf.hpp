// The ensemble transform Kalman filter in the symmetric square-root form of the spec (§7, etkf.py, etkf_core.py):
// multiplicative prior inflation rho enters as f = (N - 1) / rho, the mean weights are w = (S S^T + f I)^-1 S d and
// the transform T = sqrt(N - 1) (S S^T + f I)^-1/2, with S = (H X / sigma_o)^T and d = (y - H xbar) / sigma_o; then
// E_a = (xbar + X w) 1^T + X T. The analysis mean and covariance are those of a Kalman filter whose prior is the
// ensemble's mean and rho times its sample covariance. No localisation (the spec has none).
//
// Optionally the transform is followed by a random mean-preserving rotation (DAPPER's genOG_1): T <- T Q with Q
// orthogonal and Q 1 = 1, which leaves the analysis mean and covariance unchanged.
//
// Batched over experiments: E is experiments x Nx x N, y experiments x Ny; experiments run in parallel.
#pragma once

#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

#include "attractor/backend/for_each.hpp"
#include "attractor/da/analysis.hpp"
#include "attractor/da/ensemble.hpp"

namespace attractor::da {

namespace detail {

/// Workspaces for a batch of ETKF analyses, reused from cycle to cycle.
template <class Scalar>
struct etkf_batch {
  std::vector<ensemble_workspace<Scalar>> work;
  std::vector<rotation_maker<Scalar>> rotations;
  tensor<Scalar, cpu> normals;

  void resize(std::size_t experiments, std::size_t Nx, std::size_t N, std::size_t Ny, bool rotate) {
    resize_workspaces(work, experiments, Nx, N, Ny);
    if (rotate) {
      rotations.resize(experiments);
      for (auto& r : rotations) r.resize(N);
      normals.resize({experiments, (N - 1) * (N - 1)});
    }
  }

  /// Experiment e: the ensemble block (Nx x N) in place from its Ny observations; `rotation_normals`, if not
  /// null, holds the (N - 1)^2 normals of its random rotation.
  void one(std::size_t e, Scalar* block, const Scalar* y, const observation_model<Scalar>& obs, Scalar f,
           const Scalar* rotation_normals, analysis_diagnostics<Scalar>* diag) {
    auto& w = work[e];
    w.load(block, obs);
    w.innovation(y, w.xbar.data(), obs);
    w.transform(f);
    if (rotation_normals != nullptr) w.T = w.T * rotations[e].make(rotation_normals);
    if (diag != nullptr) {
      Scalar* mean = diag->mean_of(e);
      for (Eigen::Index i = 0; i < w.Nx; ++i) mean[i] = w.xbar[i];
      w.background_variance(diag->bg_var_of(e));
    }
    w.write_ensemble(w.xbar, block);
    if (diag != nullptr) {
      // The analysis ensemble is at hand: its variance per variable.
      const Eigen::Map<const typename ensemble_workspace<Scalar>::matrix> Ea(block, w.Nx, w.N);
      Scalar* an = diag->an_var_of(e);
      for (Eigen::Index i = 0; i < w.Nx; ++i)
        an[i] = (Ea.row(i).array() - Ea.row(i).mean()).square().sum() / Scalar(w.N - 1);
    }
  }

  void run(context<cpu>& ctx, tensor_view<Scalar, cpu> E, const_tensor_view<Scalar, cpu> y,
           const observation_model<Scalar>& obs, Scalar infl, philox* rotation, analysis_diagnostics<Scalar>* diag) {
    constexpr const char* fn = "da::etkf_analysis";
    const std::size_t Nx = obs.Nx(), Ny = obs.Ny();
    const std::size_t experiments = check_ensemble<Scalar>(E, Nx, fn);
    const std::size_t N = E.extent(2);
    check_observations<Scalar>(y, experiments, Ny, fn);
    require_finite(E.data(), E.size(), fn, "the ensemble E");
    require(std::isfinite(infl) && infl > 0, fn, "a finite inflation factor > 0", infl);
    check_diagnostics(diag, experiments, Nx, fn);
    resize(experiments, Nx, N, Ny, rotation != nullptr);
    if (rotation != nullptr) fill_normal(ctx, *rotation, normals);
    const Scalar f = Scalar(N - 1) / infl;
    const std::size_t per_rotation = (N - 1) * (N - 1);
    for_each_index_coarse(ctx, experiments, [&](std::size_t e) {
      one(e, E.data() + e * Nx * N, y.data() + e * Ny, obs, f,
          rotation != nullptr ? normals.data() + e * per_rotation : nullptr, diag);
    });
  }
};

}  // namespace detail

/// ETKF analysis of every experiment's ensemble, in place: E (experiments x Nx x N, N >= 2) from y
/// (experiments x Ny) under obs, with multiplicative prior inflation `infl` (rho; 1 = none). With `rotation`, each
/// transform is followed by a random mean-preserving rotation drawn from that generator (experiments x (N-1)^2
/// normals per call). Fills `diag` if given. Throws attractor::error on mismatched shapes, fewer than 2 members,
/// an ensemble or observations that are not finite, or an inflation that is not finite and > 0.
template <floating_scalar Scalar>
void etkf_analysis(context<cpu>& ctx, tensor_view<Scalar, cpu> E, input_view<Scalar> y,
                   const observation_model<Scalar>& obs, std::type_identity_t<Scalar> infl = Scalar(1),
                   philox* rotation = nullptr, analysis_diagnostics<Scalar>* diag = nullptr) {
  // The workspaces live on between calls (one set per calling thread), so that a cycle written by hand around this
  // function allocates nothing after its first call, as the cycled method's own workspaces do.
  thread_local detail::etkf_batch<Scalar> batch;
  batch.run(ctx, E, y, obs, infl, rotation, diag);
}

/// The ETKF as a cycled method (an experiment_method): N members, inflation rho, optional random rotations drawn
/// from each experiment's generator at each analysis.
template <floating_scalar Scalar = double>
class etkf {
public:
  explicit etkf(std::size_t N, Scalar infl = Scalar(1), bool rotate = false) : N_(N), infl_(infl), rotate_(rotate) {
    require(N >= 2, "da::etkf", "at least 2 members", N);
    require(std::isfinite(infl) && infl > 0, "da::etkf", "a finite inflation factor > 0", infl);
  }

  [[nodiscard]] std::string_view name() const { return "etkf"; }
  [[nodiscard]] std::size_t members() const { return N_; }
  [[nodiscard]] Scalar inflation() const { return infl_; }

  void prepare(context<cpu>&, const observation_model<Scalar>& obs, std::size_t experiments) {
    batch_.resize(experiments, obs.Nx(), N_, obs.Ny(), rotate_);
  }

  /// One experiment's analysis (experiment_method): state is its Nx x N block; rotations draw from gen.
  void analyse_one(const observation_model<Scalar>& obs, std::size_t e, Scalar* state, const Scalar* y, philox& gen,
                   analysis_diagnostics<Scalar>& diag) {
    const Scalar* rotation = nullptr;
    if (rotate_) {
      Scalar* normals = batch_.normals.data() + e * (N_ - 1) * (N_ - 1);
      detail::draw_normals(gen, normals, (N_ - 1) * (N_ - 1));
      rotation = normals;
    }
    batch_.one(e, state, y, obs, Scalar(N_ - 1) / infl_, rotation, &diag);
  }

private:
  std::size_t N_;
  Scalar infl_;
  bool rotate_;
  detail::etkf_batch<Scalar> batch_;
};

}  // namespace attractor::da
