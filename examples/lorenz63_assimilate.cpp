// lorenz63_assimilate: cycled twin experiments on Lorenz-63 with the paper's classical methods (spec §7, Table 5):
// EnOI with a diagonal or full static B, 3D-Var and the ETKF, batched over independent experiments, scored by nRMSE
// per lead (0 = analysis .. obs-every = background), with a progress line, .npy and CSV results, a sweep of the
// method's tuned factor, and the Fig. 9 scan over the update interval.
//
// The truth is the paper's: our Lorenz-63 data set's test trajectories (systems::lorenz63_trajectories from seed 42,
// after the train and validation sets' initial draws, N(0, 0.001^2 I), 100000 spin-up steps at dt = 0.01), in
// physical units, integrated on the fly from the end of the spin-up. The initial ensembles are climatological states
// (independent spin-ups). Run with --help for the options.
#include <attractor/da/covariance.hpp>
#include <attractor/da/diffusion_source.hpp>
#include <attractor/da/enoi.hpp>
#include <attractor/da/etkf.hpp>
#include <attractor/da/observations.hpp>
#include <attractor/da/sources.hpp>
#include <attractor/da/twin.hpp>
#include <attractor/da/var3d.hpp>
#include <attractor/diffusion/network_denoiser.hpp>
#include <attractor/diffusion/trainer.hpp>
#include <attractor/io/file.hpp>
#include <attractor/io/npy.hpp>
#include <attractor/systems/lorenz63.hpp>

#include "cli.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace attractor;

namespace {

struct options {
  std::string method = "etkf";
  std::size_t members = 0;  // 0: the method's default (ETKF 12, EnOI 50)
  double factor = 0;        // 0: Table 5's tuned value for the method and member count
  bool rotate = false;
  double sigma_o = 2.0;
  std::size_t obs_every = 10;
  std::vector<std::size_t> observe{0, 1, 2};
  std::size_t experiments = 16;
  std::size_t burn_in = 5000;
  std::size_t cycles = 50000;
  std::uint64_t truth_seed = 42;
  std::size_t spin_up = 100000;
  std::string truth_file;
  std::uint64_t seed = 1;
  int threads = 0;
  std::vector<double> sweep;
  bool fig9 = false;
  bool fig9_tuned = false;
  bool series = false;
  std::filesystem::path out = "out/assimilation";
  std::string tag;
  bool quiet = false;
  std::filesystem::path checkpoint;  ///< the ddm method's trainer checkpoint
};

/// The command line, with CLI11. Every count is range-checked and refused with the option's name when negative,
/// non-numeric or absurd; --help lists every option.
options parse(int argc, char** argv) {
  using examples::count_in;
  using examples::number_in;
  options o;
  CLI::App app(
      "Cycled twin experiments on Lorenz-63 (Finn et al., Table 5 and Fig. 9), all experiments batched.\n"
      "Writes TAG_nrmse.npy (experiments x leads), TAG_mse.npy (experiments x leads x 3, physical units^2),\n"
      "TAG_ensemble.npy (experiments x [background spread, analysis spread, drawn-ensemble-mean nRMSE]),\n"
      "TAG_leads.csv (mean and unbiased std over experiments per lead) and appends a row to summary.csv.",
      "lorenz63_assimilate");
  app.get_formatter()->column_width(30);
  // method
  app.add_option("--method", o.method,
                 "enoi-diag | enoi-full | 3dvar | etkf | ddm (default etkf); ddm draws the EnOI ensemble with the "
                 "diffusion model of --checkpoint (raw weights), to step --factor (default 13) of the 100-step DDPM "
                 "grid")
      ->check(CLI::IsMember({"enoi-diag", "enoi-full", "3dvar", "etkf", "ddm"}))
      ->group("method");
  app.add_option("--checkpoint", o.checkpoint,
                 "a trainer checkpoint of a velocity/cosine network (lorenz63_generate writes "
                 "out/lorenz63/model.safetensors); its metadata must say velocity and cosine")
      ->check(CLI::ExistingFile)
      ->group("method");
  app.add_option("--members", o.members, "ensemble size: ETKF members (default 12) or EnOI draws (default 50)")
      ->check(count_in(2, 100000))
      ->group("method");
  app.add_option("--factor,--infl,--cov-inf", o.factor,
                 "the tuned factor: ETKF inflation rho, EnOI/3D-Var cov_inf (B = cov_inf^2 B0), ddm's diffusion "
                 "step; default Table 5's value: ETKF rho 1.07 (N = 12) or 1.34 (N = 3), else 1; EnOI diag 2.22, "
                 "EnOI full 1.82, 3D-Var 1.72, ddm 13")
      ->check(number_in(1e-6, 1e6))
      ->group("method");
  app.add_flag("--rotate", o.rotate, "ETKF: random mean-preserving rotation after each transform")->group("method");
  // observations
  app.add_option("--sigma-o", o.sigma_o, "observation error standard deviation (default 2)")
      ->check(number_in(1e-6, 1e6))
      ->group("observations");
  app.add_option("--obs-every", o.obs_every, "model steps of dt = 0.01 between analyses (default 10)")
      ->check(count_in(1, 100000))
      ->group("observations");
  app.add_option("--observe", o.observe, "observed variables, comma-separated from 0,1,2 (default 0,1,2: H = I)")
      ->delimiter(',')
      ->check(count_in(0, 2))
      ->group("observations");
  // experiment
  app.add_option("--experiments", o.experiments, "independent experiments, run as one batch (default 16)")
      ->check(count_in(1, 100000))
      ->group("experiment");
  app.add_option("--burn-in", o.burn_in, "analyses before scoring (default 5000)")
      ->check(count_in(0, 1'000'000'000))
      ->group("experiment");
  app.add_option("--cycles", o.cycles, "scored analyses (default 50000)")
      ->check(count_in(1, 1'000'000'000))
      ->group("experiment");
  app.add_option("--truth-seed", o.truth_seed,
                 "seed of the Lorenz-63 data set whose test trajectories are the truth (default 42)")
      ->check(count_in(0, UINT64_MAX))
      ->group("experiment");
  app.add_option("--spin-up", o.spin_up, "spin-up steps of the truth (default 100000, the paper's)")
      ->check(count_in(0, 100'000'000))
      ->group("experiment");
  app.add_option("--truth", o.truth_file,
                 "a stored truth instead: .npy of float64, experiments x T x 3, physical units")
      ->check(CLI::ExistingFile)
      ->group("experiment");
  app.add_option("--seed", o.seed, "seed of the observation noise and of the methods' draws (default 1)")
      ->check(count_in(0, UINT64_MAX))
      ->group("experiment");
  app.add_option("--threads", o.threads, "cpu threads (default 0: all OpenMP offers)")
      ->check(count_in(0, 1024))
      ->group("experiment");
  // tuning and scans
  app.add_option("--sweep", o.sweep,
                 "run every factor in the comma-separated list; report the best (lowest mean analysis nRMSE "
                 "without divergence) and write TAG_sweep.csv")
      ->delimiter(',')
      ->check(number_in(1e-6, 1e6))
      ->group("tuning and scans");
  auto* fig9 = app.add_flag("--fig9", o.fig9,
                            "Fig. 9: analysis nRMSE against the update interval 1, 5, 10, 15, 20, 25 for ETKF x 12, "
                            "EnOI diag and EnOI full with the spec's Fig. 9 factors; writes fig9.csv")
                   ->group("tuning and scans");
  app.add_flag("--fig9-tuned", o.fig9_tuned,
               "Fig. 9 with factors tuned here instead, per interval, for ETKF x 12, EnOI diag, EnOI full and "
               "3D-Var: a sweep on the data set's train trajectories with 1000 burn-in + 5000 analyses (the "
               "paper's tuning runs), then the full run on the test trajectories at the best factor; writes "
               "fig9_tuning.csv and fig9_tuned.csv")
      ->excludes(fig9)
      ->group("tuning and scans");
  // output
  app.add_option("--out", o.out, "output directory (default out/assimilation), checked for writing before the run")
      ->group("output");
  app.add_option("--tag", o.tag,
                 "file prefix inside --out, a plain name (default: method, members and factor, e.g. etkf12_1.07)")
      ->check(examples::file_name())
      ->group("output");
  app.add_flag("--series", o.series, "also write TAG_series.npy: the analysis nRMSE of every cycle and experiment")
      ->group("output");
  app.add_flag("--quiet", o.quiet, "no progress line")->group("output");
  examples::parse_or_exit(app, argc, argv);

  constexpr const char* fn = "lorenz63_assimilate";
  if (o.method == "ddm") require(!o.checkpoint.empty(), fn, "--checkpoint PATH for --method ddm", "none");
  require(o.sweep.empty() || (!o.fig9 && !o.fig9_tuned), fn, "--sweep without --fig9 or --fig9-tuned", "both");
  require(o.method != "ddm" || (!o.fig9 && !o.fig9_tuned), fn,
          "--fig9 and --fig9-tuned with the classical methods only", "--method ddm");
  for (std::size_t i = 0; i < o.observe.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      require(o.observe[i] != o.observe[j], fn, "distinct variables in --observe", o.observe[i]);
  const std::size_t members = o.members != 0 ? o.members : std::size_t{50};
  require(o.experiments * members <= 100'000'000, fn, "--experiments x --members at most 1e8 ensemble members",
          detail::concat(o.experiments, " x ", members));
  if (o.method == "ddm" && o.factor != 0)
    require(o.factor == std::floor(o.factor) && o.factor >= 1 && o.factor <= 99, fn,
            "--factor a whole diffusion step from 1 to 99 for --method ddm", o.factor);
  return o;
}

std::size_t default_members(const std::string& method) { return method == "etkf" ? 12 : method == "3dvar" ? 1 : 50; }

/// Table 5's tuned factors (spec §7).
double default_factor(const std::string& method, std::size_t members) {
  if (method == "etkf") return members == 12 ? 1.07 : members == 3 ? 1.34 : 1.0;
  if (method == "ddm") return 13;
  if (method == "enoi-diag") return 2.22;
  if (method == "enoi-full") return 1.82;
  if (method == "3dvar") return 1.72;
  return 1.0;
}

std::string format(const char* fmt, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, value);
  return buffer;
}

/// Writes `text` to `path` atomically (through a temporary renamed into place).
void write_text(const std::filesystem::path& path, const std::string& text) {
  detail::write_atomically(path, "lorenz63_assimilate", text.size(), [&](std::FILE* file) {
    return std::fwrite(text.data(), 1, text.size(), file) == text.size();
  });
}

/// Appends one line to a CSV, writing the header first if the file is new; the file is rewritten atomically.
void append_csv(const std::filesystem::path& path, const std::string& header, const std::string& line) {
  std::string text;
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    text = all.str();
  } else {
    text = header + "\n";
  }
  write_text(path, text + line + "\n");
}

/// The diffusion model the ddm method samples (spec §7): the velocity/cosine network trained by lorenz63_generate,
/// its raw weights loaded, and checked against that head and schedule, before any run starts.
struct ddm_model {
  context<cpu> ctx;
  philox init{0};
  nn::denoising_resnet<float, cpu> net;
  diffusion::sampler<float, cpu> sampler;

  explicit ddm_model(const std::filesystem::path& checkpoint)
      : net(ctx, init, diffusion::checkpoint_architecture(checkpoint)),
        sampler(ctx, net, diffusion::noise_schedule::cosine(), diffusion::parameterisation::velocity) {
    diffusion::load_trained_weights(ctx, checkpoint, net, diffusion::noise_schedule::cosine(),
                                    diffusion::parameterisation::velocity);
  }
};

std::string summary_header();

/// The experiment set up once: model, truth, observation model, the initial-state pool, the ddm model. Everything
/// the options name is checked here, before any run: the output folder, summary.csv, a stored truth, the checkpoint.
struct setup {
  const options& o;
  context<cpu> ctx;
  systems::lorenz63<double> model{};
  double dt = 0.01;
  tensor<double, cpu> truth;  // experiments x 3 (integrated on the fly) or experiments x T x 3 (stored)
  da::observation_model<double> obs;
  std::vector<double> scale{systems::lorenz63_climatology::std.begin(), systems::lorenz63_climatology::std.end()};
  std::unique_ptr<ddm_model> ddm;
  examples::written_files written;

  explicit setup(const options& opt)
      : o(opt), ctx(opt.threads), obs(da::obs_operator<double>::subset(3, opt.observe), opt.sigma_o) {
    constexpr const char* fn = "lorenz63_assimilate";
    examples::require_writable_folder(o.out, fn, "--out");
    const auto summary = o.out / "summary.csv";
    if (std::filesystem::exists(summary)) {
      std::ifstream in(summary);
      std::string header;
      std::getline(in, header);
      require(header == summary_header(), fn,
              detail::concat("an existing ", summary, " with this version's columns (move it away to start anew)"),
              header);
    }
    if (o.method == "ddm") ddm = std::make_unique<ddm_model>(o.checkpoint);
    if (!o.truth_file.empty()) {
      truth = load_npy<double>(o.truth_file);
      require(truth.rank() == 3 && truth.extent(0) == o.experiments && truth.extent(2) == 3, fn,
              detail::concat("a stored truth of shape ", o.experiments, " x T x 3"), truth.shape());
      const std::size_t longest_interval = o.fig9 || o.fig9_tuned ? 25 : o.obs_every;
      const std::size_t needed = (o.burn_in + o.cycles) * longest_interval + 1;
      require(truth.extent(1) >= needed, fn, detail::concat("a stored truth of at least ", needed, " states"),
              truth.extent(1));
      return;
    }
    truth = dataset_truth(false);
  }

  /// The data set's test trajectories (or, with `train`, its train trajectories: the paper tunes on those) from
  /// the end of their spin-up, experiments x 3. The data set's generator draws the train (16) and validation (1)
  /// sets' initial states first, then the test set's; steps = 0 keeps only the state after the spin-up.
  tensor<double, cpu> dataset_truth(bool train) {
    systems::lorenz63_dataset_options d;
    d.seed = o.truth_seed;
    d.normalise = false;
    d.steps = 0;
    philox gen(d.seed);
    d.spin_up = train ? o.spin_up : 0;
    const auto first = systems::lorenz63_trajectories<double>(ctx, gen, train ? o.experiments : d.train_members, d);
    tensor<double, cpu> out({o.experiments, 3});
    if (train) {
      copy(ctx, first.reshape({o.experiments, 3}), out);
      return out;
    }
    (void)systems::lorenz63_trajectories<double>(ctx, gen, d.validation_members, d);
    d.spin_up = o.spin_up;
    const auto test = systems::lorenz63_trajectories<double>(ctx, gen, o.experiments, d);
    copy(ctx, test.reshape({o.experiments, 3}), out);
    return out;
  }

  /// Climatological initial states for a method with `members` columns: independent spin-ups of 2000 steps.
  tensor<double, cpu> initial(std::size_t members) {
    philox gen(o.seed, 1);
    const auto pool = da::spun_up_states<systems::lorenz63<double>, double>(ctx, model, dt, o.experiments * members,
                                                                            2000, gen, {0.0, 0.0, 25.0}, 5.0);
    return da::draw_initial_states<double>(ctx, pool.view(), o.experiments, members, gen);
  }

  da::twin_options twin(const std::string& tag, std::size_t obs_every, std::size_t burn_in, std::size_t cycles) const {
    da::twin_options t;
    t.obs_every = obs_every;
    t.burn_in = burn_in;
    t.cycles = cycles;
    t.scale = scale;
    t.record_series = o.series;
    t.progress_every = 1000;
    if (!o.quiet) {
      const auto start = std::chrono::steady_clock::now();
      t.progress = [tag, start](std::size_t done, std::size_t total) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double eta = done > 0 ? elapsed * double(total - done) / double(done) : 0.0;
        std::fprintf(stderr, "\r[%s] analysis %zu/%zu (%5.1f%%), %.1f s, %.1f s left   ", tag.c_str(), done, total,
                     100.0 * double(done) / double(total), elapsed, eta);
        if (done == total) std::fputc('\n', stderr);
        std::fflush(stderr);
      };
    }
    return t;
  }
};

/// Builds the method named in `method` with `members` and `factor` and runs it; `ddm` (the model loaded by main)
/// is the extension point.
template <class Run>
da::twin_result with_method(const std::string& method, std::size_t members, double factor, bool rotate, ddm_model* ddm,
                            Run&& run) {
  const auto B0 = da::lorenz63_paper_b0<double>();
  if (method == "etkf") {
    da::etkf<double> m(members, factor, rotate);
    return run(m);
  }
  if (method == "enoi-diag" || method == "enoi-full") {
    const auto B = method == "enoi-diag" ? B0.diagonal_part() : B0;
    da::enoi<double, da::static_b_source<double>> m(da::static_b_source<double>(B, factor), members, method);
    return run(m);
  }
  if (method == "3dvar") {
    da::var3d<double> m(B0, factor);
    return run(m);
  }
  if (method == "ddm") {
    // The diffusion ensemble sampler (spec §7): members drawn by partial diffusion to step `factor` of the 100-step
    // DDPM grid around the deterministic run, from the velocity/cosine model trained by lorenz63_generate.
    ATTRACTOR_ASSERT(ddm != nullptr);
    const auto k = static_cast<std::size_t>(std::lround(factor));
    require(std::abs(factor - static_cast<double>(k)) < 1e-9, "lorenz63_assimilate",
            "a whole diffusion step as the ddm factor", factor);
    da::enoi<double, da::diffusion_source<double, float, cpu>> m(
        da::diffusion_source<double, float, cpu>(
            ddm->ctx, ddm->sampler,
            da::normaliser(systems::lorenz63_climatology::mean, systems::lorenz63_climatology::std), k),
        members, "ddm");
    return run(m);
  }
  fail("lorenz63_assimilate", "--method enoi-diag, enoi-full, 3dvar, etkf or ddm", method);
}

std::string summary_header() {
  return "tag,method,members,factor,obs_every,sigma_o,observed,experiments,burn_in,cycles,analysis_mean,analysis_std,"
         "background_mean,background_std,background_spread,analysis_spread,drawn_mean_nrmse,diverged,wall_s,"
         "analysis_time_mean_nrmse,background_time_mean_nrmse";
}

std::string summary_line(const std::string& tag, const options& o, std::size_t members, double factor,
                         std::size_t obs_every, const da::twin_result& r) {
  std::string observed;
  for (std::size_t i = 0; i < o.observe.size(); ++i) observed += detail::concat(i ? ";" : "", o.observe[i]);
  const auto an = r.analysis(), bg = r.background();
  return detail::concat(tag, ',', r.method, ',', members, ',', factor, ',', obs_every, ',', o.sigma_o, ',', observed,
                        ',', r.experiments, ',', r.burn_in, ',', r.cycles, ',', format("%.6f", an.mean), ',',
                        format("%.6f", an.std_dev), ',', format("%.6f", bg.mean), ',', format("%.6f", bg.std_dev), ',',
                        format("%.6f", r.background_spread().mean), ',', format("%.6f", r.analysis_spread().mean), ',',
                        format("%.6f", r.ensemble_mean_background().mean), ',', r.diverged(), ',',
                        format("%.3f", r.wall_seconds), ',', format("%.6f", r.analysis_rmse_time_mean().mean), ',',
                        format("%.6f", r.background_rmse_time_mean().mean));
}

/// The run's scores: Table 5's nRMSE (the square root of the time-mean squared error) and, beside it, the time mean
/// of the instantaneous nRMSE (DAPPER's rmse.a, normalised the same way), which is smaller.
void report(const std::string& tag, const da::twin_result& r) {
  const auto an = r.analysis(), bg = r.background();
  std::printf(
      "%-22s analysis %.4f +- %.4f  background %.4f +- %.4f  spread %.4f / %.4f  diverged %zu/%zu  %.2f s "
      "(%.0f analyses/s)\n",
      tag.c_str(), an.mean, an.std_dev, bg.mean, bg.std_dev, r.background_spread().mean, r.analysis_spread().mean,
      r.diverged(), r.experiments, r.wall_seconds, double(r.burn_in + r.cycles) / r.wall_seconds);
  std::printf("%-22s time-mean nRMSE (DAPPER's rmse.a, rmse.f): analysis %.4f  background %.4f\n", "",
              r.analysis_rmse_time_mean().mean, r.background_rmse_time_mean().mean);
}

/// One run on `truth` without outputs.
da::twin_result run_quiet(setup& s, const std::string& method, std::size_t members, double factor,
                          std::size_t obs_every, const tensor<double, cpu>& truth, std::size_t burn_in,
                          std::size_t cycles, const std::string& tag) {
  return with_method(method, members, factor, s.o.rotate, s.ddm.get(), [&](auto& m) {
    const auto initial = s.initial(m.members());
    philox gen(s.o.seed);
    return da::run_twin(s.ctx, s.model, s.dt, m, s.obs, truth.view(), initial.view(), gen,
                        s.twin(tag, obs_every, burn_in, cycles));
  });
}

/// One run on the truth, with all its outputs.
da::twin_result run_one(setup& s, const std::string& method, std::size_t members, double factor, std::size_t obs_every,
                        const std::string& tag) {
  const auto& o = s.o;
  auto result = run_quiet(s, method, members, factor, obs_every, s.truth, o.burn_in, o.cycles, tag);
  report(tag, result);
  const auto save = [&](const std::string& suffix, const tensor<double, cpu>& t) {
    save_npy(o.out / (tag + suffix), t);
    s.written.add(o.out / (tag + suffix));
  };
  save("_nrmse.npy", result.nrmse);
  save("_mse.npy", result.mse);
  save("_ensemble.npy", result.ensemble);
  if (o.series) save("_series.npy", result.series);
  std::string leads = "lead,nrmse_mean,nrmse_std,experiments_scored\n";
  for (std::size_t l = 0; l < result.leads(); ++l) {
    const auto m = result.lead(l);
    leads += detail::concat(l, ',', format("%.6f", m.mean), ',', format("%.6f", m.std_dev), ',', m.count, '\n');
  }
  write_text(o.out / (tag + "_leads.csv"), leads);
  s.written.add(o.out / (tag + "_leads.csv"));
  append_csv(o.out / "summary.csv", summary_header(), summary_line(tag, o, members, factor, obs_every, result));
  s.written.add(o.out / "summary.csv");
  return result;
}

std::string default_tag(const std::string& method, std::size_t members, double factor, std::size_t obs_every) {
  return detail::concat(method, method == "etkf" ? std::to_string(members) : "", '_', format("%g", factor),
                        obs_every != 10 ? detail::concat("_k", obs_every) : "");
}

}  // namespace

int main(int argc, char** argv) try {
  const options o = parse(argc, argv);
  setup s(o);
  std::printf(
      "Lorenz-63 twin experiments: %zu experiments, sigma_o %g, observed %zu of 3, %zu burn-in + %zu scored "
      "analyses, cpu with %d threads\n",
      o.experiments, o.sigma_o, o.observe.size(), o.burn_in, o.cycles, s.ctx.threads());

  if (o.fig9) {
    // The spec's Fig. 9 factors (configs *_scaling.yaml) per update interval.
    struct row {
      std::size_t obs_every;
      double etkf, diag, full;
    };
    const row rows[] = {{1, 1.01, 7.5, 7.5},   {5, 1.02, 9.5, 6},     {10, 1.07, 10.5, 6.5},
                        {15, 1.15, 12.5, 7.5}, {20, 1.35, 13.5, 8.0}, {25, 1.85, 15.0, 8.5}};
    std::string csv =
        "method,members,factor,obs_every,analysis_mean,analysis_std,background_mean,background_std,"
        "diverged,wall_s\n";
    for (const row& r : rows) {
      const std::pair<std::string, double> runs[] = {{"etkf", r.etkf}, {"enoi-diag", r.diag}, {"enoi-full", r.full}};
      for (const auto& [method, factor] : runs) {
        const std::size_t members = default_members(method);
        const std::string tag = "fig9_" + default_tag(method, members, factor, r.obs_every);
        const auto result = run_one(s, method, members, factor, r.obs_every, tag);
        const auto an = result.analysis(), bg = result.background();
        csv += detail::concat(method, ',', members, ',', factor, ',', r.obs_every, ',', format("%.6f", an.mean), ',',
                              format("%.6f", an.std_dev), ',', format("%.6f", bg.mean), ',', format("%.6f", bg.std_dev),
                              ',', result.diverged(), ',', format("%.3f", result.wall_seconds), '\n');
        write_text(o.out / "fig9.csv", csv);
        s.written.add(o.out / "fig9.csv");
      }
    }
    s.written.print_summary();
    return 0;
  }

  if (o.fig9_tuned) {
    const auto tuning_truth = s.dataset_truth(true);
    const std::vector<double> rho{1.0, 1.01, 1.02, 1.03, 1.05, 1.07, 1.1, 1.15,
                                  1.2, 1.3,  1.4,  1.5,  1.7,  1.85, 2.0, 2.3};
    const std::vector<double> cov_inf{0.2,  0.3, 0.4,  0.5, 0.6,  0.75, 0.9, 1.0, 1.25, 1.5,
                                      1.75, 2.0, 2.25, 2.5, 2.75, 3.0,  3.5, 4.0, 5.0,  6.0};
    std::string tuning = "method,obs_every,factor,analysis_mean,analysis_std,background_mean,diverged\n";
    std::string csv =
        "method,members,factor,obs_every,analysis_mean,analysis_std,background_mean,background_std,"
        "diverged,wall_s\n";
    for (const std::size_t k : {1, 5, 10, 15, 20, 25}) {
      for (const std::string method : {"etkf", "enoi-diag", "enoi-full", "3dvar"}) {
        const std::size_t members = default_members(method);
        const auto swept = da::sweep(
            method == "etkf" ? rho : cov_inf,
            [&](double factor) {
              return run_quiet(s, method, members, factor, k, tuning_truth, 1000, 5000,
                               "tune " + default_tag(method, members, factor, k));
            },
            [&](const da::sweep_point& p) {
              tuning += detail::concat(method, ',', k, ',', p.factor, ',', format("%.6f", p.analysis.mean), ',',
                                       format("%.6f", p.analysis.std_dev), ',', format("%.6f", p.background.mean), ',',
                                       p.diverged, '\n');
              write_text(o.out / "fig9_tuning.csv", tuning);
              s.written.add(o.out / "fig9_tuning.csv");
            });
        if (!swept.best) {
          std::printf("%s at interval %zu: every factor diverged\n", method.c_str(), k);
          continue;
        }
        const double factor = swept.points[*swept.best].factor;
        if (*swept.best == 0 || *swept.best + 1 == swept.points.size())
          std::printf("%s at interval %zu: the best factor %g is at the end of the grid\n", method.c_str(), k, factor);
        const std::string tag = "fig9tuned_" + default_tag(method, members, factor, k);
        const auto result = run_one(s, method, members, factor, k, tag);
        const auto an = result.analysis(), bg = result.background();
        csv += detail::concat(method, ',', members, ',', factor, ',', k, ',', format("%.6f", an.mean), ',',
                              format("%.6f", an.std_dev), ',', format("%.6f", bg.mean), ',', format("%.6f", bg.std_dev),
                              ',', result.diverged(), ',', format("%.3f", result.wall_seconds), '\n');
        write_text(o.out / "fig9_tuned.csv", csv);
        s.written.add(o.out / "fig9_tuned.csv");
      }
    }
    s.written.print_summary();
    return 0;
  }

  const std::size_t members = o.members != 0 ? o.members : default_members(o.method);
  if (!o.sweep.empty()) {
    const std::string tag = !o.tag.empty() ? o.tag : default_tag(o.method, members, 0, o.obs_every) + "sweep";
    std::string csv = "factor,analysis_mean,analysis_std,background_mean,background_std,diverged,wall_s\n";
    const auto result = da::sweep(
        o.sweep,
        [&](double factor) {
          return run_one(s, o.method, members, factor, o.obs_every, tag + "_" + format("%g", factor));
        },
        [&](const da::sweep_point& p) {
          csv += detail::concat(p.factor, ',', format("%.6f", p.analysis.mean), ',', format("%.6f", p.analysis.std_dev),
                                ',', format("%.6f", p.background.mean), ',', format("%.6f", p.background.std_dev), ',',
                                p.diverged, ',', format("%.3f", p.wall_seconds), '\n');
          write_text(o.out / (tag + "_sweep.csv"), csv);
          s.written.add(o.out / (tag + "_sweep.csv"));
        });
    if (result.best)
      std::printf("best factor %g: analysis %.4f +- %.4f\n", result.points[*result.best].factor,
                  result.points[*result.best].analysis.mean, result.points[*result.best].analysis.std_dev);
    else
      std::printf("every factor diverged\n");
    s.written.print_summary();
    return 0;
  }

  const double factor = o.factor != 0 ? o.factor : default_factor(o.method, members);
  const std::string tag = !o.tag.empty() ? o.tag : default_tag(o.method, members, factor, o.obs_every);
  const auto result = run_one(s, o.method, members, factor, o.obs_every, tag);
  s.written.print_summary();
  return result.diverged() == 0 ? 0 : 3;
} catch (const attractor::error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
