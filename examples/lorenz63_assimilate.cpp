// lorenz63_assimilate: cycled twin experiments on Lorenz-63 with the paper's classical methods (spec §7, Table 5):
// EnOI with a diagonal or full static B, 3D-Var and the ETKF, batched over independent experiments, scored by nRMSE
// per lead (0 = analysis .. obs-every = background), with a progress line, .npy and CSV results, a sweep of the
// method's tuned factor, and the Fig. 9 scan over the update interval.
//
// The truth is the paper's: our Lorenz-63 data set's test trajectories (systems::lorenz63_trajectories from seed 42,
// after the train and validation sets' initial draws, N(0, 0.001^2 I), 100000 spin-up steps at dt = 0.01), in
// physical units, integrated on the fly from the end of the spin-up. The initial ensembles are climatological states
// (independent spin-ups). Run with --help for the options.
#include <attractor/core/file.hpp>
#include <attractor/da.hpp>
#include <attractor/diffusion.hpp>
#include <attractor/systems.hpp>
#include <attractor/tensor/npy.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
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
};

/// The trainer checkpoint the ddm method samples (set from --checkpoint).
std::filesystem::path& ddm_checkpoint() {
  static std::filesystem::path path;
  return path;
}

const char* usage =
    "usage: lorenz63_assimilate [options]\n"
    "Cycled twin experiments on Lorenz-63 (Finn et al., Table 5 and Fig. 9), all experiments batched.\n"
    "\n"
    "method:\n"
    "  --method M         enoi-diag | enoi-full | 3dvar | etkf | ddm (default etkf); ddm draws the EnOI ensemble\n"
    "                     with the diffusion model of --checkpoint (raw weights), to step --factor (default 13) of\n"
    "                     the 100-step DDPM grid\n"
    "  --checkpoint PATH  a trainer checkpoint of a velocity/cosine network (lorenz63_generate writes\n"
    "                     out/lorenz63/model.safetensors)\n"
    "  --members N        ensemble size: ETKF members (default 12) or EnOI draws (default 50)\n"
    "  --factor F         the tuned factor: ETKF inflation rho, EnOI/3D-Var cov_inf (B = cov_inf^2 B0); default\n"
    "                     Table 5's value: ETKF rho 1.07 (N = 12) or 1.34 (N = 3), else 1; EnOI diag 2.22,\n"
    "                     EnOI full 1.82, 3D-Var 1.72 (--infl and --cov-inf are the same option)\n"
    "  --rotate           ETKF: random mean-preserving rotation after each transform\n"
    "observations:\n"
    "  --sigma-o S        observation error standard deviation (default 2)\n"
    "  --obs-every K      model steps of dt = 0.01 between analyses (default 10)\n"
    "  --observe LIST     observed variables, comma-separated from 0,1,2 (default 0,1,2: H = I)\n"
    "experiment:\n"
    "  --experiments E    independent experiments, run as one batch (default 16)\n"
    "  --burn-in B        analyses before scoring (default 5000)\n"
    "  --cycles C         scored analyses (default 50000)\n"
    "  --truth-seed S     seed of the Lorenz-63 data set whose test trajectories are the truth (default 42)\n"
    "  --spin-up T        spin-up steps of the truth (default 100000, the paper's)\n"
    "  --truth FILE       a stored truth instead: .npy of float64, experiments x T x 3, physical units\n"
    "  --seed S           seed of the observation noise and of the methods' draws (default 1)\n"
    "  --threads N        cpu threads (default: all OpenMP offers)\n"
    "tuning and scans:\n"
    "  --sweep LIST       run every factor in the comma-separated list; report the best (lowest mean analysis\n"
    "                     nRMSE without divergence) and write TAG_sweep.csv\n"
    "  --fig9             Fig. 9: analysis nRMSE against the update interval 1, 5, 10, 15, 20, 25 for ETKF x 12,\n"
    "                     EnOI diag and EnOI full with the spec's Fig. 9 factors; writes fig9.csv\n"
    "  --fig9-tuned       Fig. 9 with factors tuned here instead, per interval, for ETKF x 12, EnOI diag, EnOI\n"
    "                     full and 3D-Var: a sweep on the data set's train trajectories with 1000 burn-in + 5000\n"
    "                     analyses (the paper's tuning runs), then the full run on the test trajectories at the\n"
    "                     best factor; writes fig9_tuning.csv and fig9_tuned.csv\n"
    "output:\n"
    "  --out DIR          output directory (default out/assimilation)\n"
    "  --tag NAME         file prefix (default: method, members and factor, e.g. etkf12_1.07)\n"
    "  --series           also write TAG_series.npy: the analysis nRMSE of every cycle and experiment\n"
    "  --quiet            no progress line\n"
    "  --help             this text\n"
    "\n"
    "Writes TAG_nrmse.npy (experiments x leads), TAG_mse.npy (experiments x leads x 3, physical units^2),\n"
    "TAG_ensemble.npy (experiments x [background spread, analysis spread, drawn-ensemble-mean nRMSE]),\n"
    "TAG_leads.csv (mean and unbiased std over experiments per lead) and appends a row to summary.csv.\n";

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail("lorenz63_assimilate", detail::concat("a value after ", arg), "nothing");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (arg == "--method") {
      o.method = value();
    } else if (arg == "--members") {
      o.members = std::stoul(value());
    } else if (arg == "--factor" || arg == "--infl" || arg == "--cov-inf") {
      o.factor = std::stod(value());
    } else if (arg == "--rotate") {
      o.rotate = true;
    } else if (arg == "--sigma-o") {
      o.sigma_o = std::stod(value());
    } else if (arg == "--obs-every") {
      o.obs_every = std::stoul(value());
    } else if (arg == "--observe") {
      o.observe.clear();
      for (const auto& p : split(value())) o.observe.push_back(std::stoul(p));
    } else if (arg == "--experiments") {
      o.experiments = std::stoul(value());
    } else if (arg == "--burn-in") {
      o.burn_in = std::stoul(value());
    } else if (arg == "--cycles") {
      o.cycles = std::stoul(value());
    } else if (arg == "--truth-seed") {
      o.truth_seed = std::stoull(value());
    } else if (arg == "--spin-up") {
      o.spin_up = std::stoul(value());
    } else if (arg == "--truth") {
      o.truth_file = value();
    } else if (arg == "--seed") {
      o.seed = std::stoull(value());
    } else if (arg == "--threads") {
      o.threads = std::stoi(value());
    } else if (arg == "--sweep") {
      for (const auto& p : split(value())) o.sweep.push_back(std::stod(p));
    } else if (arg == "--fig9") {
      o.fig9 = true;
    } else if (arg == "--fig9-tuned") {
      o.fig9_tuned = true;
    } else if (arg == "--series") {
      o.series = true;
    } else if (arg == "--out") {
      o.out = value();
    } else if (arg == "--checkpoint") {
      ddm_checkpoint() = value();
    } else if (arg == "--tag") {
      o.tag = value();
    } else if (arg == "--quiet") {
      o.quiet = true;
    } else {
      fail("lorenz63_assimilate", "an option listed by --help", arg);
    }
  }
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

/// The experiment set up once: model, truth, observation model, the initial-state pool.
struct setup {
  const options& o;
  context<cpu> ctx;
  systems::lorenz63<double> model{};
  double dt = 0.01;
  tensor<double, cpu> truth;  // experiments x 3 (integrated on the fly) or experiments x T x 3 (stored)
  da::observation_model<double> obs;
  std::vector<double> scale{systems::lorenz63_climatology::std.begin(), systems::lorenz63_climatology::std.end()};

  explicit setup(const options& opt)
      : o(opt), ctx(opt.threads), obs(da::obs_operator<double>::subset(3, opt.observe), opt.sigma_o) {
    if (!o.truth_file.empty()) {
      truth = load_npy<double>(o.truth_file);
      require(truth.rank() == 3 && truth.extent(0) == o.experiments && truth.extent(2) == 3, "lorenz63_assimilate",
              detail::concat("a stored truth of shape ", o.experiments, " x T x 3"), truth.shape());
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

/// Builds the method named in `method` with `members` and `factor` and runs it; `ddm` is the extension point.
template <class Run>
da::twin_result with_method(const std::string& method, std::size_t members, double factor, bool rotate, Run&& run) {
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
    require(!ddm_checkpoint().empty(), "lorenz63_assimilate", "--checkpoint PATH for the ddm method", "none");
    static context<cpu> net_ctx;
    static philox init(0);
    static nn::denoising_resnet<float, cpu> net(net_ctx, init, diffusion::checkpoint_architecture(ddm_checkpoint()));
    static bool loaded = false;
    if (!loaded) {
      diffusion::load_trained_weights(net_ctx, ddm_checkpoint(), net);
      loaded = true;
    }
    static diffusion::sampler<float, cpu> sampler(net_ctx, net, diffusion::noise_schedule::cosine(),
                                                  diffusion::parameterisation::velocity);
    const auto k = static_cast<std::size_t>(std::lround(factor));
    require(std::abs(factor - static_cast<double>(k)) < 1e-9, "lorenz63_assimilate",
            "a whole diffusion step as the ddm factor", factor);
    da::enoi<double, da::diffusion_source<double, float, cpu>> m(
        da::diffusion_source<double, float, cpu>(net_ctx, sampler, k), members, "ddm");
    return run(m);
  }
  fail("lorenz63_assimilate", "--method enoi-diag, enoi-full, 3dvar, etkf or ddm", method);
}

std::string summary_header() {
  return "tag,method,members,factor,obs_every,sigma_o,observed,experiments,burn_in,cycles,analysis_mean,analysis_std,"
         "background_mean,background_std,background_spread,analysis_spread,drawn_mean_nrmse,diverged,wall_s";
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
                        format("%.3f", r.wall_seconds));
}

void report(const std::string& tag, const da::twin_result& r) {
  const auto an = r.analysis(), bg = r.background();
  std::printf(
      "%-22s analysis %.4f +- %.4f  background %.4f +- %.4f  spread %.4f / %.4f  diverged %zu/%zu  %.2f s "
      "(%.0f analyses/s)\n",
      tag.c_str(), an.mean, an.std_dev, bg.mean, bg.std_dev, r.background_spread().mean, r.analysis_spread().mean,
      r.diverged(), r.experiments, r.wall_seconds, double(r.burn_in + r.cycles) / r.wall_seconds);
}

/// One run on `truth` without outputs.
da::twin_result run_quiet(setup& s, const std::string& method, std::size_t members, double factor,
                          std::size_t obs_every, const tensor<double, cpu>& truth, std::size_t burn_in,
                          std::size_t cycles, const std::string& tag) {
  return with_method(method, members, factor, s.o.rotate, [&](auto& m) {
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
  std::filesystem::create_directories(o.out);
  save_npy(o.out / (tag + "_nrmse.npy"), result.nrmse);
  save_npy(o.out / (tag + "_mse.npy"), result.mse);
  save_npy(o.out / (tag + "_ensemble.npy"), result.ensemble);
  if (o.series) save_npy(o.out / (tag + "_series.npy"), result.series);
  std::string leads = "lead,nrmse_mean,nrmse_std,experiments_scored\n";
  for (std::size_t l = 0; l < result.leads(); ++l) {
    const auto m = result.lead(l);
    leads += detail::concat(l, ',', format("%.6f", m.mean), ',', format("%.6f", m.std_dev), ',', m.count, '\n');
  }
  write_text(o.out / (tag + "_leads.csv"), leads);
  append_csv(o.out / "summary.csv", summary_header(), summary_line(tag, o, members, factor, obs_every, result));
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
      }
    }
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
    std::filesystem::create_directories(o.out);
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
      }
    }
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
          std::filesystem::create_directories(o.out);
          write_text(o.out / (tag + "_sweep.csv"), csv);
        });
    if (result.best)
      std::printf("best factor %g: analysis %.4f +- %.4f\n", result.points[*result.best].factor,
                  result.points[*result.best].analysis.mean, result.points[*result.best].analysis.std_dev);
    else
      std::printf("every factor diverged\n");
    return 0;
  }

  const double factor = o.factor != 0 ? o.factor : default_factor(o.method, members);
  const std::string tag = !o.tag.empty() ? o.tag : default_tag(o.method, members, factor, o.obs_every);
  const auto result = run_one(s, o.method, members, factor, o.obs_every, tag);
  return result.diverged() == 0 ? 0 : 3;
} catch (const attractor::error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
