// Cycled twin experiments (spec §7, assimilate.py): a truth, synthetic observations of it every obs_every model
// steps, a forecast model and an assimilation method, run for burn_in + cycles analyses over any number of
// independent experiments batched together; and a sweep helper that tunes one factor over a grid. The model is any
// stepper (systems/stepper.hpp): RK4 over Lorenz-63 or Lorenz-96, or a user's own model of any size; the overloads
// taking (System, dt) wrap a right-hand side in systems::rk4_stepper.
//
// A cycle: from the current analysis (lead 0), every member of every experiment is forecast obs_every model steps
// (the truth likewise, unless it is stored); observations y = H x_true + sigma_o xi are drawn at the end; the method
// analyses. Over the scored cycles (those after burn_in), per experiment, lead l and variable k, the runner keeps the
// time-mean squared error MSE_lk of the member mean (the deterministic run for EnOI and 3D-Var) against the truth,
// l = 0 (the previous analysis) .. obs_every (the background at the observation time). Then
//   nRMSE_l = sqrt(mean_k MSE_lk / scale_k^2)     per experiment (scale: the climatological standard deviation),
// and reports are the mean and unbiased standard deviation over experiments: Table 5's "analysis" is lead 0 and its
// "background" lead obs_every. The spreads are sqrt(mean_k mean_t var_k / scale_k^2) of the background ensemble the
// analysis used and of the analysis, both from the method's diagnostics.
//
// Two summaries of the analysis error are kept, because the literature uses both: nRMSE_0 above is the square root
// of the time-mean squared error (Finn et al.'s Table 5), while DAPPER's rmse.a is the time mean of the instantaneous
// RMSE, sqrt(mean_k err_k^2 / scale_k^2) at each scored analysis (twin_result::rmse_time_mean; rmse.f likewise at the
// background). By Jensen's inequality the first is the larger, and much larger when the error is intermittent.
//
// Divergence: an experiment whose state becomes NaN or Inf, or whose member mean strays further than
// blow_up * scale_k from the truth in any variable, is marked diverged at that cycle, its state is reset to the truth
// (so that the batch goes on with finite numbers), and it is left out of every score from then on. Its per-experiment
// nRMSE is +Inf, and the summaries over experiments count it as diverged rather than averaging it in. A filter can
// also lose the truth without blowing up (Lorenz-96 under too little inflation wanders on the attractor, as far from
// the truth as a random state), which no blow_up in absolute units catches when no scale is given: so an experiment
// whose time-mean analysis squared error, averaged over the variables, is no smaller than the truth's own variance
// over the run (the error of always answering the truth's time mean) has lost the truth, and is counted and scored
// as diverged too (twin_result::lost; twin_options::flag_lost, after at least lost_min_cycles scored analyses).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "attractor/backend/for_each.hpp"
#include "attractor/da/analysis.hpp"
#include "attractor/da/observations.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/rk4.hpp"
#include "attractor/systems/stepper.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::da {

/// A mean and unbiased standard deviation over the finite values of a set; `count` values were used and
/// `excluded` were not finite (diverged experiments). std_dev is NaN for fewer than 2 values, mean for none.
struct mean_std {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std_dev = std::numeric_limits<double>::quiet_NaN();
  std::size_t count = 0;
  std::size_t excluded = 0;
};

/// mean_std of the finite values among n values at `values`, `stride` apart.
inline mean_std summarise(const double* values, std::size_t n, std::size_t stride = 1) {
  mean_std s;
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = values[i * stride];
    if (std::isfinite(v)) {
      sum += v;
      ++s.count;
    } else {
      ++s.excluded;
    }
  }
  if (s.count == 0) return s;
  s.mean = sum / double(s.count);
  if (s.count < 2) return s;
  double squares = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = values[i * stride];
    if (std::isfinite(v)) squares += (v - s.mean) * (v - s.mean);
  }
  s.std_dev = std::sqrt(squares / double(s.count - 1));
  return s;
}

struct twin_options {
  std::size_t obs_every = 10;  ///< model steps between analyses
  std::size_t burn_in = 5000;  ///< analyses run before scoring starts
  std::size_t cycles = 50000;  ///< scored analyses
  /// Per-variable scale of the normalised errors (the climatological standard deviation); empty means 1.
  std::vector<double> scale;
  /// An experiment diverges when a value is not finite or its mean strays further than blow_up * scale_k.
  double blow_up = 1e3;
  /// Judge whether an experiment lost the truth (see the top of this file) when at least lost_min_cycles analyses
  /// were scored.
  bool flag_lost = true;
  std::size_t lost_min_cycles = 100;
  /// Keep the analysis nRMSE of every cycle (burn-in included) per experiment in twin_result::series.
  bool record_series = false;
  /// Called with (analyses done, analyses in total) every progress_every analyses and at the end; may be empty.
  /// An experiment_method runs progress_every cycles of each experiment between synchronisations.
  std::function<void(std::size_t, std::size_t)> progress;
  std::size_t progress_every = 1000;
};

/// What a twin experiment measured. Tensors are double whatever the state's scalar.
struct twin_result {
  std::string method;
  std::size_t experiments = 0, Nx = 0, members = 0, obs_every = 0, burn_in = 0, cycles = 0;
  /// experiments x (obs_every + 1) x Nx: the time-mean squared error of the member mean per lead and variable.
  tensor<double, cpu> mse;
  /// experiments x (obs_every + 1): nRMSE per lead; +Inf for a diverged experiment.
  tensor<double, cpu> nrmse;
  /// experiments x 3: background spread, analysis spread, and the nRMSE of the background ensemble's mean at the
  /// observation time (the forecast mean for an ETKF, the drawn ensemble's mean for EnOI); +Inf if diverged.
  tensor<double, cpu> ensemble;
  /// experiments x 2: the time mean over the scored cycles of the instantaneous RMSE (normalised by scale, if given)
  /// of the analysis and of the background, DAPPER's rmse.a and rmse.f; +Inf if diverged.
  tensor<double, cpu> rmse_time_mean;
  /// Per experiment: the analysis index (burn-in counted) at which it diverged, or -1.
  std::vector<std::int64_t> diverged_at;
  /// Per experiment: it lost the truth without blowing up (see the top of this file); counted as diverged.
  std::vector<bool> lost;
  /// experiments x (burn_in + cycles): the instantaneous analysis nRMSE per cycle (record_series), else empty.
  tensor<double, cpu> series;
  double wall_seconds = 0;

  [[nodiscard]] std::size_t leads() const { return obs_every + 1; }
  /// Experiments that blew up or lost the truth.
  [[nodiscard]] std::size_t diverged() const {
    std::size_t n = 0;
    for (std::size_t e = 0; e < diverged_at.size(); ++e) n += diverged_at[e] >= 0 || (e < lost.size() && lost[e]);
    return n;
  }
  /// nRMSE at lead l, over experiments.
  [[nodiscard]] mean_std lead(std::size_t l) const {
    require(l < leads(), "da::twin_result::lead", attractor::detail::text("a lead <= ", obs_every), l);
    return summarise(nrmse.data() + l, experiments, leads());
  }
  /// The analysis nRMSE, sqrt(time-mean MSE) (Table 5's), over experiments.
  [[nodiscard]] mean_std analysis() const { return lead(0); }
  [[nodiscard]] mean_std background() const { return lead(obs_every); }
  /// The time-mean instantaneous RMSE of the analysis (DAPPER's rmse.a) and of the background (rmse.f).
  [[nodiscard]] mean_std analysis_rmse_time_mean() const { return summarise(rmse_time_mean.data(), experiments, 2); }
  [[nodiscard]] mean_std background_rmse_time_mean() const {
    return summarise(rmse_time_mean.data() + 1, experiments, 2);
  }
  [[nodiscard]] mean_std background_spread() const { return summarise(ensemble.data(), experiments, 3); }
  [[nodiscard]] mean_std analysis_spread() const { return summarise(ensemble.data() + 1, experiments, 3); }
  [[nodiscard]] mean_std ensemble_mean_background() const { return summarise(ensemble.data() + 2, experiments, 3); }
};

namespace detail {

/// Blocks of the generator's sequence reserved for each experiment of a twin run (see run_twin).
inline constexpr std::uint64_t experiment_blocks = std::uint64_t{1} << 40;

/// The state of a twin run and the work of one cycle for one experiment, shared by the per-experiment and the
/// batched schedules.
template <class Stepper, class Scalar>
struct twin_run {
  const Stepper& model;
  std::size_t Nx;
  const observation_model<Scalar>& obs;
  std::size_t experiments, members, k, burn_in, total;
  double blow_up;
  bool record_series;
  std::vector<double> inv_scale;
  // Stored truth (experiments x T x Nx), or on-the-fly truth states (experiments x Nx).
  const Scalar* stored = nullptr;
  std::size_t stored_steps = 0;
  tensor<Scalar, cpu> truth_now;
  // Per experiment: the window's truth and member means, (k + 1) x Nx each; the observations and a scratch row.
  tensor<Scalar, cpu> truth_window, mean_window, y, hx, state;
  analysis_diagnostics<Scalar> diag;
  std::vector<philox> gens;                   // one generator per experiment
  std::vector<context<cpu>> serial;           // one one-thread context per experiment, for the model
  std::vector<double> sse, var_sum, ens_sse;  // experiments x (k+1) x Nx; experiments x 2; experiments
  std::vector<double> rmse_sum;               // experiments x 2: instantaneous analysis and background RMSE
  std::vector<double> truth_sum, truth_sq;    // experiments x Nx: the truth at every analysis time, and its square
  std::vector<std::int64_t> diverged_at;
  double* series = nullptr;  // experiments x total, or null

  twin_run(const Stepper& m, const observation_model<Scalar>& o, std::size_t n_experiments, std::size_t n_members,
           const twin_options& opt)
      : model(m),
        Nx(static_cast<std::size_t>(m.dimension())),
        obs(o),
        experiments(n_experiments),
        members(n_members),
        k(opt.obs_every),
        burn_in(opt.burn_in),
        total(opt.burn_in + opt.cycles),
        blow_up(opt.blow_up),
        record_series(opt.record_series),
        inv_scale(Nx, 1.0),
        truth_window({experiments, k + 1, Nx}),
        mean_window({experiments, k + 1, Nx}),
        y({experiments, o.Ny()}),
        hx({experiments, o.Ny()}),
        state({experiments, Nx, members}),
        diag(experiments, Nx),
        sse(experiments * (k + 1) * Nx, 0.0),
        var_sum(experiments * 2, 0.0),
        ens_sse(experiments, 0.0),
        rmse_sum(experiments * 2, 0.0),
        truth_sum(experiments * Nx, 0.0),
        truth_sq(experiments * Nx, 0.0),
        diverged_at(experiments, -1) {
    for (std::size_t i = 0; i < opt.scale.size(); ++i) inv_scale[i] = 1.0 / opt.scale[i];
    serial.reserve(experiments);
    for (std::size_t e = 0; e < experiments; ++e) serial.emplace_back(1);
  }

  /// RK4 over a fixed-size system without model noise is stepped here, member by member in registers, as this
  /// runner did before steppers. The arithmetic is rk4_step's either way, but g++ (-ffp-contract=fast) chooses which
  /// multiply to fuse into an add per inlining context, so another path could round Lorenz-63's x y - beta z
  /// differently: this one keeps earlier runs' results to the last bit, and saves a call per step.
  static constexpr bool fixed_rk4 = systems::is_fixed_size_rk4<Stepper>;
  [[nodiscard]] bool in_registers() const {
    if constexpr (fixed_rk4)
      return model.noise_std() == 0;
    else
      return false;
  }

  Scalar* state_of(std::size_t e) { return state.data() + e * Nx * members; }
  const Scalar* truth_at_obs(std::size_t e) const { return truth_window.data() + (e * (k + 1) + k) * Nx; }

  /// Forecasts experiment e (and its truth) through the window of `cycle`; true if it stays finite and within
  /// blow_up of the truth.
  bool forecast(std::size_t e, std::size_t cycle) {
    Scalar* tw = truth_window.data() + e * (k + 1) * Nx;
    Scalar* mw = mean_window.data() + e * (k + 1) * Nx;
    if (stored != nullptr) {
      const Scalar* from = stored + (e * stored_steps + cycle * k) * Nx;
      for (std::size_t i = 0; i < (k + 1) * Nx; ++i) tw[i] = from[i];
    } else if (in_registers()) {
      if constexpr (fixed_rk4) {
        constexpr std::size_t d = Stepper::system_type::dimension;
        Scalar x[d];
        Scalar* t = truth_now.data() + e * d;
        for (std::size_t i = 0; i < d; ++i) tw[i] = x[i] = t[i];
        for (std::size_t s = 1; s <= k; ++s) {
          systems::rk4_step(model.system(), x, model.dt());
          for (std::size_t i = 0; i < d; ++i) tw[s * d + i] = x[i];
        }
        for (std::size_t i = 0; i < d; ++i) t[i] = x[i];
      }
    } else {
      Scalar* t = truth_now.data() + e * Nx;
      const tensor_view<Scalar, cpu> truth_state(t, shape{Nx, 1});
      for (std::size_t i = 0; i < Nx; ++i) tw[i] = t[i];
      for (std::size_t s = 1; s <= k; ++s) {
        model.advance(serial[e], truth_state, 1, gens[e]);
        for (std::size_t i = 0; i < Nx; ++i) tw[s * Nx + i] = t[i];
      }
    }
    // One step of every member at a time, for the member means at every lead.
    Scalar* block = state_of(e);
    const tensor_view<Scalar, cpu> members_view(block, shape{Nx, members});
    const auto accumulate = [&](std::size_t lead) {
      for (std::size_t i = 0; i < Nx; ++i) {
        Scalar sum = 0;
        for (std::size_t j = 0; j < members; ++j) sum += block[i * members + j];
        mw[lead * Nx + i] = sum;
      }
    };
    accumulate(0);
    for (std::size_t s = 1; s <= k; ++s) {
      if (in_registers()) {
        if constexpr (fixed_rk4) {
          // Step-major over the members: each step's loop over members is independent straight-line code on
          // contiguous rows, which the compiler can vectorise across members.
          constexpr std::size_t d = Stepper::system_type::dimension;
          for (std::size_t j = 0; j < members; ++j) {
            Scalar x[d];
            for (std::size_t i = 0; i < d; ++i) x[i] = block[i * members + j];
            systems::rk4_step(model.system(), x, model.dt());
            for (std::size_t i = 0; i < d; ++i) block[i * members + j] = x[i];
          }
        }
      } else {
        model.advance(serial[e], members_view, 1, gens[e]);
      }
      accumulate(s);
    }
    const Scalar inv_members = Scalar(1) / static_cast<Scalar>(members);
    bool ok = true;
    for (std::size_t i = 0; i < (k + 1) * Nx; ++i) {
      mw[i] *= inv_members;
      const double err = std::abs(double(mw[i]) - double(tw[i])) * inv_scale[i % Nx];
      ok = ok && err <= blow_up;  // false for NaN too
    }
    for (std::size_t i = 0; i < Nx * members && ok; ++i) ok = std::isfinite(block[i]);
    return ok;
  }

  /// Resets experiment e's state to the truth at the observation time (after a divergence).
  void reset(std::size_t e) {
    const Scalar* t = truth_at_obs(e);
    Scalar* block = state_of(e);
    for (std::size_t i = 0; i < Nx; ++i)
      for (std::size_t j = 0; j < members; ++j) block[i * members + j] = t[i];
  }

  /// The first half of a cycle: forecast, divergence check, scores by lead, and the observations.
  void before_analysis(std::size_t e, std::size_t cycle) {
    const bool ok = forecast(e, cycle);
    if (diverged_at[e] < 0) {
      if (!ok) {
        diverged_at[e] = static_cast<std::int64_t>(cycle);
      } else if (cycle >= burn_in) {
        const Scalar* tw = truth_window.data() + e * (k + 1) * Nx;
        const Scalar* mw = mean_window.data() + e * (k + 1) * Nx;
        double* acc = sse.data() + e * (k + 1) * Nx;
        double background = 0;
        for (std::size_t i = 0; i < (k + 1) * Nx; ++i) {
          const double err = double(mw[i]) - double(tw[i]);
          acc[i] += err * err;
          if (i >= k * Nx) background += err * err * inv_scale[i % Nx] * inv_scale[i % Nx];
        }
        rmse_sum[e * 2 + 1] += std::sqrt(background / double(Nx));
      }
    }
    if (diverged_at[e] >= 0) reset(e);
    observe_one(obs, truth_at_obs(e), gens[e], y.data() + e * obs.Ny(), hx.data() + e * obs.Ny());
  }

  /// The second half: divergence check of the analysis, spreads and the ensemble-mean error, the series.
  void after_analysis(std::size_t e, std::size_t cycle) {
    const Scalar* t = truth_at_obs(e);
    const Scalar* block = state_of(e);
    for (std::size_t i = 0; i < Nx; ++i) {
      truth_sum[e * Nx + i] += double(t[i]);
      truth_sq[e * Nx + i] += double(t[i]) * double(t[i]);
    }
    double sum = 0;
    bool ok = true;
    for (std::size_t i = 0; i < Nx; ++i) {
      double mean = 0;
      for (std::size_t j = 0; j < members; ++j) mean += double(block[i * members + j]);
      mean /= double(members);
      const double err = std::abs(mean - double(t[i])) * inv_scale[i];
      ok = ok && err <= blow_up;
      sum += err * err;
    }
    if (diverged_at[e] < 0 && !ok) diverged_at[e] = static_cast<std::int64_t>(cycle);
    if (series != nullptr)
      series[e * total + cycle] = diverged_at[e] >= 0 ? std::numeric_limits<double>::quiet_NaN() : std::sqrt(sum / Nx);
    if (diverged_at[e] >= 0) {
      reset(e);
      return;
    }
    if (cycle < burn_in) return;
    double bg = 0, an = 0, ens = 0;
    const Scalar* bg_var = diag.bg_var_of(e);
    const Scalar* an_var = diag.an_var_of(e);
    const Scalar* bg_mean = diag.mean_of(e);
    for (std::size_t i = 0; i < Nx; ++i) {
      const double w = inv_scale[i] * inv_scale[i];
      bg += double(bg_var[i]) * w;
      an += double(an_var[i]) * w;
      const double err = double(bg_mean[i]) - double(t[i]);
      ens += err * err * w;
    }
    var_sum[e * 2] += bg / double(Nx);
    var_sum[e * 2 + 1] += an / double(Nx);
    ens_sse[e] += ens / double(Nx);
    rmse_sum[e * 2] += std::sqrt(sum / double(Nx));
  }
};

}  // namespace detail

/// Runs a twin experiment and returns its scores.
///   model    the forecast model, a systems::stepper for Scalar on cpu; the truth is integrated with it too. Each
///            experiment calls model.advance(ctx1, states, 1, gen_e) once per model step on its members
///            (Nx x members) and on its truth (Nx x 1), from its own thread, with a one-thread context ctx1 and the
///            experiment's generator gen_e of its own (below), the truth first in each cycle;
///   method   an assimilation_method: its state is experiments x Nx x method.members();
///   obs      the observation operator and sigma_o;
///   truth    either experiments x T x Nx, a stored true trajectory whose first state is the start (T must be at least
///            (burn_in + cycles) obs_every + 1), or experiments x Nx, the initial true states, integrated on the fly;
///   initial  experiments x Nx x method.members(): the initial state of the method;
///   gen      experiment e draws its model noise, its observation noise and whatever an experiment_method draws for it
///            from gen's
///            sequence at offset gen.offset() + e 2^40 (its own stream of 2^40 blocks); gen is then advanced past
///            all of them and a batched_method draws from it. Runs therefore do not depend on the thread count.
/// An experiment_method runs each experiment through progress_every cycles at a time on one thread, with no
/// synchronisation in between; a batched_method synchronises all experiments at every cycle.
/// Throws attractor::error on bad shapes or options, a truth or initial state that is not finite, or what the
/// method throws; a diverging filter is reported in the result, not thrown.
template <class Stepper, floating_scalar Scalar, assimilation_method<Scalar> Method>
requires systems::stepper<Stepper, Scalar> twin_result run_twin(context<cpu>& ctx, const Stepper& model, Method& method,
                                                                const observation_model<Scalar>& obs,
                                                                input_view<Scalar> truth, input_view<Scalar> initial,
                                                                philox& gen, const twin_options& o = {}) {
  constexpr const char* fn = "da::run_twin";
  // RK4 over a fixed-size system has its Nx known here, so that the scores below compile, and round, as they did
  // before steppers (see detail::twin_run::in_registers).
  constexpr std::size_t fixed_nx = [] {
    if constexpr (systems::is_fixed_size_rk4<Stepper>)
      return Stepper::system_type::dimension;
    else
      return std::size_t{0};
  }();
  const std::size_t Nx = fixed_nx != 0 ? fixed_nx : static_cast<std::size_t>(model.dimension());
  require(Nx >= 1, fn, "a model of at least one variable", Nx);
  require(obs.Nx() == Nx, fn, attractor::detail::text("an observation operator on the model's ", Nx, " variables"),
          obs.Nx());
  require(o.obs_every >= 1, fn, "obs_every >= 1", o.obs_every);
  require(o.cycles >= 1, fn, "at least one scored cycle", o.cycles);
  // Every count the run sizes or indexes with must fit: a wrapped one would size a buffer too small.
  const std::size_t total = checked_sum(o.burn_in, o.cycles, fn, "burn_in and cycles");
  const std::size_t k = o.obs_every;
  const std::size_t leads = checked_sum(k, 1, fn, "obs_every and 1");
  const std::size_t window_steps =
      checked_sum(checked_product(total, k, fn, "analyses and obs_every"), 1, fn, "the run's model steps and 1");
  require(o.scale.empty() || o.scale.size() == Nx, fn, attractor::detail::text("no scale or ", Nx, " scales"),
          o.scale.size());
  for (double s : o.scale) require(std::isfinite(s) && s > 0, fn, "finite scales > 0", s);
  require(o.blow_up > 0, fn, "blow_up > 0", o.blow_up);
  require(o.progress_every >= 1, fn, "progress_every >= 1", o.progress_every);
  const std::size_t members = method.members();
  require(members >= 1, fn, "a method with at least one member", members);
  require(initial.rank() == 3 && initial.extent(1) == Nx && initial.extent(2) == members, fn,
          attractor::detail::text("an initial state of shape experiments x ", Nx, " x ", members), initial.shape());
  const std::size_t experiments = initial.extent(0);
  require(experiments >= 1, fn, "at least one experiment", experiments);
  require_finite(initial.data(), initial.size(), fn, "the initial state");
  (void)checked_product(checked_product(experiments, leads, fn, "experiments and leads"), Nx, fn,
                        "experiments, leads and variables");
  if (o.record_series) (void)checked_product(experiments, total, fn, "experiments and analyses (record_series)");

  detail::twin_run<Stepper, Scalar> run(model, obs, experiments, members, o);
  if (truth.rank() == 3) {
    require(truth.extent(0) == experiments && truth.extent(2) == Nx, fn,
            attractor::detail::text("a stored truth of shape ", experiments, " x T x ", Nx), truth.shape());
    require(truth.extent(1) >= window_steps, fn,
            attractor::detail::text("a stored truth of at least ", window_steps, " states"), truth.extent(1));
    require_finite(truth.data(), truth.size(), fn, "the truth");
    run.stored = truth.data();
    run.stored_steps = truth.extent(1);
  } else {
    require(
        truth.rank() == 2 && truth.extent(0) == experiments && truth.extent(1) == Nx, fn,
        attractor::detail::text("initial true states of shape ", experiments, " x ", Nx, " (or a stored trajectory)"),
        truth.shape());
    require_finite(truth.data(), truth.size(), fn, "the initial truth");
    run.truth_now = tensor<Scalar, cpu>({experiments, Nx});
    copy(ctx, truth, run.truth_now);
  }
  copy(ctx, initial, run.state);
  for (std::size_t e = 0; e < experiments; ++e)
    run.gens.emplace_back(gen.seed(), gen.stream(), gen.offset() + e * detail::experiment_blocks);
  gen.advance(experiments * detail::experiment_blocks);

  twin_result result;
  result.method = std::string(method.name());
  result.experiments = experiments;
  result.Nx = Nx;
  result.members = members;
  result.obs_every = k;
  result.burn_in = o.burn_in;
  result.cycles = o.cycles;
  if (o.record_series) {
    result.series = tensor<double, cpu>({experiments, total});
    run.series = result.series.data();
  }
  method.prepare(ctx, obs, experiments);

  const auto start = std::chrono::steady_clock::now();
  for (std::size_t first = 0; first < total; first += o.progress_every) {
    const std::size_t last = std::min(total, first + o.progress_every);
    if constexpr (experiment_method<Method, Scalar>) {
      for_each_index_coarse(ctx, experiments, [&](std::size_t e) {
        for (std::size_t cycle = first; cycle < last; ++cycle) {
          run.before_analysis(e, cycle);
          method.analyse_one(obs, e, run.state_of(e), run.y.data() + e * obs.Ny(), run.gens[e], run.diag);
          run.after_analysis(e, cycle);
        }
      });
    } else {
      for (std::size_t cycle = first; cycle < last; ++cycle) {
        for_each_index_coarse(ctx, experiments, [&](std::size_t e) { run.before_analysis(e, cycle); });
        method.analyse(ctx, obs, run.state.view(), const_tensor_view<Scalar, cpu>(run.y.view()), gen, run.diag);
        for (std::size_t e = 0; e < experiments; ++e) run.after_analysis(e, cycle);
      }
    }
    if (o.progress) o.progress(last, total);
  }
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const double inf = std::numeric_limits<double>::infinity();
  result.mse = tensor<double, cpu>({experiments, k + 1, Nx});
  result.nrmse = tensor<double, cpu>({experiments, k + 1});
  result.ensemble = tensor<double, cpu>({experiments, 3});
  result.rmse_time_mean = tensor<double, cpu>({experiments, 2});
  result.diverged_at = run.diverged_at;
  result.lost.assign(experiments, false);
  const double n = double(o.cycles);
  for (std::size_t e = 0; e < experiments; ++e) {
    if (o.flag_lost && o.cycles >= o.lost_min_cycles && run.diverged_at[e] < 0) {
      // Lost: the time-mean analysis squared error is no smaller than the truth's variance over the run.
      double error = 0, variance = 0;
      for (std::size_t i = 0; i < Nx; ++i) {
        error += run.sse[(e * (k + 1)) * Nx + i] / n;
        const double mean = run.truth_sum[e * Nx + i] / double(total);
        variance += std::max(0.0, run.truth_sq[e * Nx + i] / double(total) - mean * mean);
      }
      result.lost[e] = error >= variance;
    }
    const bool dead = run.diverged_at[e] >= 0 || result.lost[e];
    for (std::size_t l = 0; l <= k; ++l) {
      double sum = 0;
      for (std::size_t i = 0; i < Nx; ++i) {
        const double m = dead ? inf : run.sse[(e * (k + 1) + l) * Nx + i] / n;
        result.mse[(e * (k + 1) + l) * Nx + i] = m;
        sum += m * run.inv_scale[i] * run.inv_scale[i];
      }
      result.nrmse[e * (k + 1) + l] = std::sqrt(sum / double(Nx));
    }
    result.ensemble[e * 3] = dead ? inf : std::sqrt(run.var_sum[e * 2] / n);
    result.ensemble[e * 3 + 1] = dead ? inf : std::sqrt(run.var_sum[e * 2 + 1] / n);
    result.ensemble[e * 3 + 2] = dead ? inf : std::sqrt(run.ens_sse[e] / n);
    result.rmse_time_mean[e * 2] = dead ? inf : run.rmse_sum[e * 2] / n;
    result.rmse_time_mean[e * 2 + 1] = dead ? inf : run.rmse_sum[e * 2 + 1] / n;
  }
  return result;
}

/// run_twin with RK4 of step dt over a right-hand side (systems/rk4.hpp: Lorenz-63, Lorenz-96, a user's system),
/// through systems::rk4_stepper without model noise.
template <class System, floating_scalar Scalar, assimilation_method<Scalar> Method>
requires systems::right_hand_side<System, Scalar> twin_result run_twin(context<cpu>& ctx, const System& model,
                                                                       std::type_identity_t<Scalar> dt, Method& method,
                                                                       const observation_model<Scalar>& obs,
                                                                       input_view<Scalar> truth,
                                                                       input_view<Scalar> initial, philox& gen,
                                                                       const twin_options& o = {}) {
  require(std::isfinite(dt) && dt > 0, "da::run_twin", "a finite dt > 0", dt);
  return run_twin(ctx, systems::rk4_stepper<System, Scalar>(model, dt), method, obs, truth, initial, gen, o);
}

/// One point of a sweep: the factor and the scores of its run.
struct sweep_point {
  double factor = 0;
  mean_std analysis, background;
  std::size_t diverged = 0;
  double wall_seconds = 0;
};

struct sweep_result {
  std::vector<sweep_point> points;
  /// The point with the lowest mean analysis nRMSE among the runs in which no experiment diverged.
  std::optional<std::size_t> best;
};

/// Tunes one factor (an inflation, a B scale, a diffusion step) over a grid: run(factor) builds the method for that
/// factor and returns its twin_result (use a generator with the same seed in every run, so that the runs share
/// their random numbers). `each`, if given, sees every point as it is done.
template <class Run>
requires std::is_invocable_r_v<twin_result, Run&, double> sweep_result
sweep(const std::vector<double>& grid, Run run, const std::function<void(const sweep_point&)>& each = {}) {
  require(!grid.empty(), "da::sweep", "a non-empty grid", "none");
  sweep_result out;
  for (double factor : grid) {
    const twin_result r = run(factor);
    sweep_point p{factor, r.analysis(), r.background(), r.diverged(), r.wall_seconds};
    if (each) each(p);
    out.points.push_back(p);
    const std::size_t i = out.points.size() - 1;
    if (p.diverged == 0 && std::isfinite(p.analysis.mean) &&
        (!out.best || p.analysis.mean < out.points[*out.best].analysis.mean))
      out.best = i;
  }
  return out;
}

/// n states of `model` (a systems::stepper) after spin_up of its steps from centre + spread * N(0, I) (n x Nx, one
/// state per row): a climatological sample once spin_up is long compared with the model's decorrelation time. The
/// start is drawn from gen (n x Nx values, row-major), then the model draws whatever noise it draws from gen. Throws
/// attractor::error on a spread that is not finite and >= 0, centre values that are not finite or not Nx of them, or
/// a count whose states do not fit in memory.
template <class Stepper, floating_scalar Scalar>
requires systems::stepper<Stepper, Scalar> tensor<Scalar, cpu> spun_up_states(context<cpu>& ctx, const Stepper& model,
                                                                              std::size_t n, std::size_t spin_up,
                                                                              philox& gen,
                                                                              const std::vector<Scalar>& centre,
                                                                              std::type_identity_t<Scalar> spread) {
  constexpr const char* fn = "da::spun_up_states";
  const auto Nx = static_cast<std::size_t>(model.dimension());
  require(Nx >= 1, fn, "a model of at least one variable", Nx);
  require(centre.size() == Nx, fn, attractor::detail::text(Nx, " centre values"), centre.size());
  require_finite(centre.data(), centre.size(), fn, "the centre");
  require(std::isfinite(spread) && spread >= 0, fn, "a finite spread >= 0", spread);
  (void)checked_product(checked_product(n, Nx, fn, "states and variables"), sizeof(Scalar), fn,
                        "states and their bytes");
  tensor<Scalar, cpu> x({n, Nx}), columns({Nx, n});
  fill_normal(ctx, gen, x, Scalar(0), spread);
  // A stepper takes one member per column.
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < Nx; ++i) columns[i * n + j] = x[j * Nx + i] + centre[i];
  model.advance(ctx, columns.view(), spin_up, gen);
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < Nx; ++i) x[j * Nx + i] = columns[i * n + j];
  return x;
}

/// spun_up_states with RK4 of step dt over a right-hand side, through systems::rk4_stepper without model noise.
/// Throws attractor::error also on a dt that is not finite and > 0.
template <class System, floating_scalar Scalar>
requires systems::right_hand_side<System, Scalar> tensor<Scalar, cpu> spun_up_states(
    context<cpu>& ctx, const System& system, std::type_identity_t<Scalar> dt, std::size_t n, std::size_t spin_up,
    philox& gen, const std::vector<Scalar>& centre, std::type_identity_t<Scalar> spread) {
  require(std::isfinite(dt) && dt > 0, "da::spun_up_states", "a finite dt > 0", dt);
  return spun_up_states(ctx, systems::rk4_stepper<System, Scalar>(system, dt), n, spin_up, gen, centre, spread);
}

/// experiments x Nx x members states drawn without replacement from the rows of `pool` (any rank, the last axis
/// Nx): member j of experiment e is pool row r_{e,j}, all distinct. Throws unless the pool has enough rows.
template <floating_scalar Scalar>
tensor<Scalar, cpu> draw_initial_states(context<cpu>& ctx, input_view<Scalar> pool, std::size_t experiments,
                                        std::size_t members, philox& gen) {
  constexpr const char* fn = "da::draw_initial_states";
  require(pool.rank() >= 2, fn, "a pool of states (rows x Nx, or more axes)", pool.shape());
  const std::size_t Nx = pool.extent(pool.rank() - 1);
  require(Nx >= 1, fn, "states of at least one variable", pool.shape());
  const std::size_t rows = pool.size() / Nx,
                    want = checked_product(experiments, members, fn, "experiments and members");
  require(rows >= want, fn, attractor::detail::text("a pool of at least ", want, " states"), rows);
  tensor<Scalar, cpu> out({experiments, Nx, members});
  std::unordered_set<std::size_t> taken;
  std::vector<double> u(1);
  std::size_t drawn = 0;
  while (drawn < want) {
    fill_uniform(ctx, gen, u.data(), 1);
    const auto r = std::min(rows - 1, static_cast<std::size_t>(u[0] * double(rows)));
    if (!taken.insert(r).second) continue;
    const std::size_t e = drawn / members, j = drawn % members;
    for (std::size_t i = 0; i < Nx; ++i) out[(e * Nx + i) * members + j] = pool[r * Nx + i];
    ++drawn;
  }
  return out;
}

}  // namespace attractor::da
