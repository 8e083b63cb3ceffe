// What every analysis reports besides its result, and the two interfaces the cycled runner (da/twin.hpp) drives.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attractor/backend/context.hpp"
#include "attractor/da/observations.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::da {

/// Per-experiment diagnostics of one analysis, each experiments x Nx: the mean of the background ensemble the
/// analysis used (the forecast ensemble's mean for an ETKF, the drawn ensemble's mean for an EnOI, the background
/// state itself for 3D-Var), its variance per variable (unbiased over members; 3D-Var: the diagonal of B) and the
/// analysis variance per variable.
template <floating_scalar Scalar = double>
struct analysis_diagnostics {
  tensor<Scalar, cpu> bg_mean, bg_var, an_var;

  analysis_diagnostics() = default;
  analysis_diagnostics(std::size_t experiments, std::size_t Nx)
      : bg_mean({experiments, Nx}), bg_var({experiments, Nx}), an_var({experiments, Nx}), Nx_(Nx) {}
  /// Experiment e's rows (unchecked: for the analyses' inner loops).
  [[nodiscard]] Scalar* mean_of(std::size_t e) { return bg_mean.data() + e * Nx_; }
  [[nodiscard]] Scalar* bg_var_of(std::size_t e) { return bg_var.data() + e * Nx_; }
  [[nodiscard]] Scalar* an_var_of(std::size_t e) { return an_var.data() + e * Nx_; }

private:
  std::size_t Nx_ = 0;
};

/// The common part of a method the twin-experiment runner cycles. Its state is experiments x Nx x members(): the
/// members an ETKF propagates, or the single deterministic run of EnOI and 3D-Var (members() == 1). The runner
/// forecasts every member with the model and calls an analysis at each observation time.
///   m.name()                          a short label for reports;
///   m.members()                       the number of columns per experiment the runner propagates;
///   m.prepare(ctx, obs, experiments)  once before the first cycle (precompute gains, allocate workspaces).
template <class Method, class Scalar>
concept method_base = requires(Method& m, const Method& cm, context<cpu>& ctx, const observation_model<Scalar>& obs,
                               std::size_t experiments) {
  { cm.name() } -> std::convertible_to<std::string_view>;
  { cm.members() } -> std::convertible_to<std::size_t>;
  m.prepare(ctx, obs, experiments);
};

/// A method whose analysis treats each experiment on its own (ETKF, 3D-Var, EnOI with a static B):
///   m.analyse_one(obs, e, state, y, gen, diag)
/// analyses experiment e in place: state is its Nx x members() block (row-major, one member per column), y its Ny
/// observations, gen the experiment's own generator; it fills row e of diag. Calls for different experiments may run
/// concurrently, so whatever they write must be per experiment. The runner then runs every experiment through
/// many cycles on its own thread, with no synchronisation between cycles, and the result does not depend on the
/// number of threads.
template <class Method, class Scalar>
concept experiment_method = method_base<Method, Scalar> &&
    requires(Method& m, const observation_model<Scalar>& obs, std::size_t e, Scalar* state, const Scalar* y,
             philox& gen, analysis_diagnostics<Scalar>& diag) {
  m.analyse_one(obs, e, state, y, gen, diag);
};

/// A method whose analysis takes every experiment at once (an external ensemble source such as the diffusion
/// sampler, which draws for the whole batch in one call):
///   m.analyse(ctx, obs, state, y, gen, diag)
/// analyses state (experiments x Nx x members()) in place from y (experiments x Ny), drawing from gen. The runner
/// synchronises all experiments at every cycle for it.
template <class Method, class Scalar>
concept batched_method = method_base<Method, Scalar> &&
    requires(Method& m, context<cpu>& ctx, const observation_model<Scalar>& obs, tensor_view<Scalar, cpu> state,
             const_tensor_view<Scalar, cpu> y, philox& gen, analysis_diagnostics<Scalar>& diag) {
  m.analyse(ctx, obs, state, y, gen, diag);
};

/// Either kind. A method that is both is run per experiment. Analyses may throw attractor::error on bad input
/// (observations with NaN, mismatched shapes), never on a state that diverged: the runner detects divergence itself
/// and keeps finite states in front of the method, and a method may leave NaN in an experiment's state to report
/// that the experiment failed.
template <class Method, class Scalar>
concept assimilation_method = experiment_method<Method, Scalar> || batched_method<Method, Scalar>;

namespace detail {

/// Checks an ensemble batch: experiments x Nx x N with N >= 2 members.
template <class Scalar>
std::size_t check_ensemble(const const_tensor_view<Scalar, cpu>& E, std::size_t Nx, const char* fn) {
  require(E.rank() == 3 && E.extent(1) == Nx, fn,
          attractor::detail::text("an ensemble of shape experiments x ", Nx, " x N"), E.shape());
  require(E.extent(2) >= 2, fn, "at least 2 members", E.extent(2));
  return E.extent(0);
}

/// Checks diagnostics (if any) against experiments x Nx.
template <class Scalar>
void check_diagnostics(const analysis_diagnostics<Scalar>* diag, std::size_t experiments, std::size_t Nx,
                       const char* fn) {
  if (diag == nullptr) return;
  const shape s{experiments, Nx};
  require(diag->bg_mean.shape() == s && diag->bg_var.shape() == s && diag->an_var.shape() == s, fn,
          attractor::detail::text("diagnostics of shape ", s), diag->bg_mean.shape());
}

}  // namespace detail

}  // namespace attractor::da
