// The update of a deterministic run from an external ensemble (spec §7, enoi.py, after Schraff et al. 2016), and
// EnOI built on it.
//
// For each experiment, an ensemble E (Nx x N) is drawn around the deterministic run x_det by an ensemble source
// (da/sources.hpp). The perturbations are about the ensemble's own mean, X = E - Ebar 1^T, and the innovation is about
// the deterministic run, d = (y - H x_det) / sigma_o. With S = (H X / sigma_o)^T and the ETKF weights at rho = 1
// (f = N - 1), the deterministic analysis is
//   x_det + X w = x_det + B_e H^T (H B_e H^T + R)^-1 (y - H x_det),   B_e = X X^T / (N - 1),
// and the ensemble analysis, if asked for, x_a 1^T + X T. The spec's code uses y - x_det, valid for H = I only; here
// H is any linear operator. Only x_det is propagated by the cycled method.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attractor/backend/for_each.hpp"
#include "attractor/da/analysis.hpp"
#include "attractor/da/ensemble.hpp"
#include "attractor/da/sources.hpp"

namespace attractor::da {

namespace detail {

template <class Scalar>
struct external_update_batch {
  std::vector<ensemble_workspace<Scalar>> work;

  void resize(std::size_t experiments, std::size_t Nx, std::size_t N, std::size_t Ny) {
    resize_workspaces(work, experiments, Nx, N, Ny);
  }

  /// Experiment e: x (Nx, in place) from its ensemble block (Nx x N) and Ny observations; `out`, if not null,
  /// receives the ensemble analysis. Non-finite input gives a NaN analysis (a diverged experiment).
  void one(std::size_t e, Scalar* x, const Scalar* block, const Scalar* y, const observation_model<Scalar>& obs,
           analysis_diagnostics<Scalar>* diag, Scalar* out) {
    auto& w = work[e];
    const auto Nx = static_cast<std::size_t>(w.Nx), N = static_cast<std::size_t>(w.N);
    bool finite = true;
    for (std::size_t k = 0; k < Nx * N && finite; ++k) finite = std::isfinite(block[k]);
    for (std::size_t i = 0; i < Nx && finite; ++i) finite = std::isfinite(x[i]);
    if (!finite) {
      for (std::size_t i = 0; i < Nx; ++i) x[i] = std::numeric_limits<Scalar>::quiet_NaN();
      return;
    }
    const Scalar f = Scalar(N - 1);
    w.load(block, obs);
    w.innovation(y, x, obs);
    if (out != nullptr) {
      w.transform(f);
      w.write_ensemble(Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(x, w.Nx), out);
      if (diag != nullptr) w.mean_weights(f, true);
    } else {
      w.mean_weights(f, diag != nullptr);
    }
    if (diag != nullptr) {
      Scalar* mean = diag->mean_of(e);
      Scalar* an = diag->an_var_of(e);
      for (Eigen::Index i = 0; i < w.Nx; ++i) {
        mean[i] = w.xbar[i];
        an[i] = w.an_var[i];
      }
      w.background_variance(diag->bg_var_of(e));
    }
    w.xa.noalias() = w.X * w.w;
    for (Eigen::Index i = 0; i < w.Nx; ++i) x[i] += w.xa[i];
  }

  /// strict: throw on a non-finite x_det or E (the public function); otherwise an experiment with non-finite input
  /// gets a NaN analysis, which the cycled runner reports as divergence.
  void run(context<cpu>& ctx, tensor_view<Scalar, cpu> x_det, const_tensor_view<Scalar, cpu> E,
           const_tensor_view<Scalar, cpu> y, const observation_model<Scalar>& obs, analysis_diagnostics<Scalar>* diag,
           tensor_view<Scalar, cpu> E_analysis, bool strict) {
    constexpr const char* fn = "da::external_ensemble_update";
    const std::size_t Nx = obs.Nx(), Ny = obs.Ny();
    const std::size_t experiments = check_ensemble<Scalar>(E, Nx, fn);
    const std::size_t N = E.extent(2);
    require(x_det.shape() == shape{experiments, Nx}, fn,
            attractor::detail::text("deterministic runs of shape ", shape{experiments, Nx}), x_det.shape());
    check_observations<Scalar>(y, experiments, Ny, fn);
    check_diagnostics(diag, experiments, Nx, fn);
    const bool want_ensemble = E_analysis.data() != nullptr;
    if (want_ensemble)
      require(E_analysis.shape() == E.shape(), fn, attractor::detail::text("an analysis ensemble of shape ", E.shape()),
              E_analysis.shape());
    if (strict) {
      require_finite(x_det.data(), x_det.size(), fn, "the deterministic runs x_det");
      require_finite(E.data(), E.size(), fn, "the ensemble E");
    }
    resize(experiments, Nx, N, Ny);
    for_each_index_coarse(ctx, experiments, [&](std::size_t e) {
      one(e, x_det.data() + e * Nx, E.data() + e * Nx * N, y.data() + e * Ny, obs, diag,
          want_ensemble ? E_analysis.data() + e * Nx * N : nullptr);
    });
  }
};

}  // namespace detail

/// The update of the deterministic runs x_det (experiments x Nx, in place) from the ensembles E (experiments x Nx x
/// N, N >= 2) drawn around them, with observations y (experiments x Ny) under obs. If E_analysis views memory it
/// receives the ensemble analysis (same shape as E). Fills `diag` if given (bg_mean: the ensemble mean). Throws
/// attractor::error on mismatched shapes, fewer than 2 members, or any value of x_det, E or y that is not finite.
template <floating_scalar Scalar>
void external_ensemble_update(context<cpu>& ctx, tensor_view<Scalar, cpu> x_det, input_view<Scalar> E,
                              input_view<Scalar> y, const observation_model<Scalar>& obs,
                              analysis_diagnostics<Scalar>* diag = nullptr,
                              tensor_view<std::type_identity_t<Scalar>, cpu> E_analysis = {}) {
  // The workspaces live on between calls (one set per calling thread), so that a cycle written by hand around this
  // function allocates nothing after its first call, as the cycled method's own workspaces do.
  thread_local detail::external_update_batch<Scalar> batch;
  batch.run(ctx, x_det, E, y, obs, diag, E_analysis, true);
}

/// EnOI with an external ensemble as a cycled method: at each analysis, `source` draws N members around each
/// deterministic run and the run is updated from them; only the run is propagated (members() == 1). With
/// static_b_source this is the paper's EnOI Diag/Full; with sigma_point_source it is 3D-Var; the diffusion sampler
/// plugs in the same way. It is a batched_method for any source, and also an experiment_method when the source can
/// draw for one experiment (experiment_source), which lets the runner keep experiments apart between cycles.
template <floating_scalar Scalar, ensemble_source<Scalar> Source>
class enoi {
public:
  enoi(Source source, std::size_t N, std::string label = "enoi")
      : source_(std::move(source)), N_(N), label_(std::move(label)) {
    require(N >= 2, "da::enoi", "at least 2 members", N);
  }

  [[nodiscard]] std::string_view name() const { return label_; }
  [[nodiscard]] std::size_t members() const { return 1; }
  [[nodiscard]] std::size_t ensemble_size() const { return N_; }
  [[nodiscard]] Source& source() { return source_; }

  /// Allocates, and calls the source once on one zero state with a throwaway generator, so that a source that
  /// does not accept this N or state size throws here rather than in the middle of a run.
  void prepare(context<cpu>& ctx, const observation_model<Scalar>& obs, std::size_t experiments) {
    E_.resize({experiments, obs.Nx(), N_});
    batch_.resize(experiments, obs.Nx(), N_, obs.Ny());
    tensor<Scalar, cpu> zero({1, obs.Nx()}), trial({1, obs.Nx(), N_});
    for (auto& v : zero) v = Scalar(0);
    philox throwaway(0);
    source_(ctx, const_tensor_view<Scalar, cpu>(zero.view()), trial.view(), throwaway);
  }

  /// All experiments at once (batched_method).
  void analyse(context<cpu>& ctx, const observation_model<Scalar>& obs, tensor_view<Scalar, cpu> state,
               const_tensor_view<Scalar, cpu> y, philox& gen, analysis_diagnostics<Scalar>& diag) {
    require(state.rank() == 3 && state.extent(2) == 1, "da::enoi::analyse", "a state of shape experiments x Nx x 1",
            state.shape());
    const std::size_t experiments = state.extent(0);
    const tensor_view<Scalar, cpu> x_det = state.reshape({experiments, state.extent(1)});
    E_.resize({experiments, obs.Nx(), N_});
    source_(ctx, const_tensor_view<Scalar, cpu>(x_det), E_.view(), gen);
    batch_.run(ctx, x_det, E_.view(), y, obs, &diag, {}, false);
  }

  /// One experiment (experiment_method), for a source that can draw per experiment.
  void analyse_one(const observation_model<Scalar>& obs, std::size_t e, Scalar* state, const Scalar* y, philox& gen,
                   analysis_diagnostics<Scalar>& diag) requires experiment_source<Source, Scalar> {
    Scalar* block = E_.data() + e * obs.Nx() * N_;
    source_.draw(state, block, N_, gen);
    batch_.one(e, state, block, y, obs, &diag, nullptr);
  }

private:
  Source source_;
  std::size_t N_;
  std::string label_;
  tensor<Scalar, cpu> E_;
  detail::external_update_batch<Scalar> batch_;
};

}  // namespace attractor::da
