// custom_model_assimilate: data assimilation into a model of your own, of a size chosen at run time, through the
// same runner as the Lorenz-63 experiments (da::run_twin). The model here is a ring of n diffusively coupled Rössler
// oscillators (3n variables): for oscillator i, with indices mod n,
//   dx_i/dt = -y_i - z_i + kappa (x_{i+1} - 2 x_i + x_{i-1}),  dy_i/dt = x_i + a y_i,  dz_i/dt = b + z_i (x_i - c),
// each chaotic on its own at a = b = 0.2, c = 5.7 (Rössler 1976). It is a right-hand side of run-time size for RK4
// (systems::rk4_stepper), so it is a stepper; any type with dimension() and advance(ctx, E, steps, gen) would do.
//
// The program draws a truth and observes every --obs-stride-th variable with error --sigma-o every --obs-every steps,
// then runs an ETKF (--members, --infl) and a free run (the same model from a climatological state, no analysis),
// and prints the time-mean RMSE of both beside sigma_o. It writes summary.csv and etkf_series.npy (experiments x
// analyses) to --out.
//   custom_model_assimilate --oscillators 10 --members 40 --cycles 2000
#include <attractor/da/etkf.hpp>
#include <attractor/da/twin.hpp>
#include <attractor/io/npy.hpp>
#include <attractor/systems/rk4.hpp>

#include "cli.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace attractor;

namespace {

/// The model: a right-hand side of run-time size (dimension() and derivative(x, dx)); state (x_i, y_i, z_i) per
/// oscillator, oscillator after oscillator.
struct rossler_ring {
  std::size_t n;  // oscillators
  double kappa = 0.1, a = 0.2, b = 0.2, c = 5.7;
  [[nodiscard]] std::size_t dimension() const { return 3 * n; }
  void derivative(const double* s, double* ds) const {
    for (std::size_t i = 0; i < n; ++i) {
      const double x = s[3 * i], y = s[3 * i + 1], z = s[3 * i + 2];
      const double left = s[3 * ((i + n - 1) % n)], right = s[3 * ((i + 1) % n)];
      ds[3 * i] = -y - z + kappa * (right - 2 * x + left);
      ds[3 * i + 1] = x + a * y;
      ds[3 * i + 2] = b + z * (x - c);
    }
  }
};

/// A method that does nothing at the analysis: the free run, scored by the same runner.
struct free_run {
  [[nodiscard]] std::string_view name() const { return "free"; }
  [[nodiscard]] std::size_t members() const { return 1; }
  void prepare(context<cpu>&, const da::observation_model<double>&, std::size_t) {}
  void analyse_one(const da::observation_model<double>& obs, std::size_t e, double* state, const double*, philox&,
                   da::analysis_diagnostics<double>& diag) const {
    for (std::size_t i = 0; i < obs.Nx(); ++i) {
      diag.mean_of(e)[i] = state[i];
      diag.bg_var_of(e)[i] = 0;
      diag.an_var_of(e)[i] = 0;
    }
  }
};

struct options {
  std::size_t oscillators = 8, members = 30, obs_every = 5, obs_stride = 1, experiments = 4, burn_in = 200,
              cycles = 2000, spin_up = 2000;
  double kappa = 0.1, dt = 0.05, sigma_o = 1.0, infl = 1.05;
  std::uint64_t seed = 1;
  int threads = 0;
  std::filesystem::path out = "out/custom_model";
};

options parse(int argc, char** argv) {
  options o;
  CLI::App app("ETKF and a free run on a ring of coupled Rössler oscillators of run-time size, through da::run_twin.",
               "custom_model_assimilate");
  app.add_option("--oscillators", o.oscillators, "oscillators n in the ring: the state has 3n variables (default 8)")
      ->check(examples::count_in(1, 10000));
  app.add_option("--kappa", o.kappa, "coupling of neighbours' x (default 0.1)")->check(examples::number_in(0, 10));
  app.add_option("--dt", o.dt, "RK4 step (default 0.05)")->check(examples::number_in(1e-6, 1));
  app.add_option("--members", o.members, "ETKF members (default 30)")->check(examples::count_in(2, 100000));
  app.add_option("--infl", o.infl, "ETKF multiplicative inflation (default 1.05)")->check(examples::number_in(1, 10));
  app.add_option("--sigma-o", o.sigma_o, "observation error standard deviation (default 1)")
      ->check(examples::number_in(1e-6, 1e6));
  app.add_option("--obs-every", o.obs_every, "model steps between analyses (default 5)")
      ->check(examples::count_in(1, 100000));
  app.add_option("--obs-stride", o.obs_stride, "observe every k-th variable (default 1: all)")
      ->check(examples::count_in(1, 30000));
  app.add_option("--experiments", o.experiments, "independent experiments (default 4)")
      ->check(examples::count_in(1, 100000));
  app.add_option("--burn-in", o.burn_in, "analyses before scoring (default 200)")
      ->check(examples::count_in(0, 1'000'000'000));
  app.add_option("--cycles", o.cycles, "scored analyses (default 2000)")->check(examples::count_in(1, 1'000'000'000));
  app.add_option("--spin-up", o.spin_up, "model steps to a climatological state (default 2000)")
      ->check(examples::count_in(0, 100'000'000));
  app.add_option("--seed", o.seed, "seed of the states, observations and ETKF (default 1)")
      ->check(examples::count_in(0, UINT64_MAX));
  app.add_option("--threads", o.threads, "cpu threads (default 0: all OpenMP offers)")
      ->check(examples::count_in(0, 1024));
  app.add_option("--out", o.out, "output folder (default out/custom_model), checked for writing before the run");
  examples::parse_or_exit(app, argc, argv);
  require(o.obs_stride <= 3 * o.oscillators, "custom_model_assimilate --obs-stride",
          detail::concat("a stride <= the state's ", 3 * o.oscillators, " variables"), o.obs_stride);
  examples::require_writable_folder(o.out, "custom_model_assimilate", "--out");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const options o = parse(argc, argv);
  context<cpu> ctx(o.threads);
  const systems::rk4_stepper model(rossler_ring{o.oscillators, o.kappa}, o.dt);
  const std::size_t n = model.dimension();

  // The truth and the initial states: climatological samples of the model itself.
  philox states(o.seed, 1);
  const std::vector<double> centre(n, 0.0);
  const auto truth = da::spun_up_states(ctx, model, o.experiments, o.spin_up, states, centre, 1.0);
  const auto initial_states = [&](std::size_t members) {
    const auto pool = da::spun_up_states(ctx, model, o.experiments * members, o.spin_up, states, centre, 1.0);
    return da::draw_initial_states<double>(ctx, pool.view(), o.experiments, members, states);
  };

  std::vector<std::size_t> observed;
  for (std::size_t i = 0; i < n; i += o.obs_stride) observed.push_back(i);
  const da::observation_model<double> obs(da::obs_operator<double>::subset(n, observed), o.sigma_o);
  da::twin_options t;
  t.obs_every = o.obs_every;
  t.burn_in = o.burn_in;
  t.cycles = o.cycles;
  t.record_series = true;

  std::printf(
      "Rössler ring of %zu oscillators (%zu variables, kappa %g), %zu observed with sigma_o %g every %zu "
      "steps of %g, %zu experiments, %zu + %zu analyses, cpu with %d threads\n",
      o.oscillators, n, o.kappa, observed.size(), o.sigma_o, o.obs_every, o.dt, o.experiments, o.burn_in, o.cycles,
      ctx.threads());
  da::etkf<double> etkf(o.members, o.infl);
  philox gen(o.seed, 2);
  const auto with_etkf = da::run_twin(ctx, model, etkf, obs, truth.view(), initial_states(o.members).view(), gen, t);
  free_run none;
  philox free_gen(o.seed, 2);
  t.flag_lost = false;  // a free run loses the truth by design: score it rather than count it as diverged
  const auto without = da::run_twin(ctx, model, none, obs, truth.view(), initial_states(1).view(), free_gen, t);

  const auto line = [&](const char* label, const da::twin_result& r) {
    std::printf("%-10s time-mean RMSE: analysis %.4f  background %.4f  (sigma_o %.4f)  diverged %zu/%zu  %.2f s\n",
                label, r.analysis_rmse_time_mean().mean, r.background_rmse_time_mean().mean, o.sigma_o, r.diverged(),
                r.experiments, r.wall_seconds);
  };
  line("etkf", with_etkf);
  line("free run", without);

  examples::written_files written;
  const auto summary = o.out / "summary.csv";
  {
    std::ofstream csv(summary);
    csv << "method,variables,members,infl,sigma_o,obs_every,obs_stride,experiments,burn_in,cycles,analysis_rmse,"
           "background_rmse,diverged\n";
    for (const auto* r : {&with_etkf, &without})
      csv << r->method << ',' << n << ',' << r->members << ',' << (r == &with_etkf ? o.infl : 1.0) << ',' << o.sigma_o
          << ',' << o.obs_every << ',' << o.obs_stride << ',' << r->experiments << ',' << r->burn_in << ',' << r->cycles
          << ',' << r->analysis_rmse_time_mean().mean << ',' << r->background_rmse_time_mean().mean << ','
          << r->diverged() << '\n';
    require(bool(csv), "custom_model_assimilate", "summary.csv written", summary);
  }
  written.add(summary);
  save_npy(o.out / "etkf_series.npy", with_etkf.series);
  written.add(o.out / "etkf_series.npy");
  written.print_summary();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
