// lorenz63_transfer: the trained denoiser of lorenz63_generate as a feature extractor for surrogate models (Finn et
// al., spec §6). The frozen velocity/cosine network's residual stream at fixed pseudo-times tau feeds small heads (a
// ridge regression or a one-layer MLP) that predict the state 10 RK4 steps (0.1 time units) ahead; random Fourier
// features, dense networks and a ResNet trained from scratch, a linear fit on x and the untrained backbone are the
// baselines. Each surrogate x + g(x) is rolled out for 100 iterations (10 time units) and scored by nRMSE at 0.1 and
// 1 time units and the Hellinger distance of leads 51-100, printed like Table 3 beside the paper's numbers. With
// --table4 the tau400 and 6-tau ridge heads are fitted on several generative models' features, printed like Table 4.
// A CSV of nRMSE against lead for every model, and a figure of it like Fig. 7 where python3-matplotlib is installed.
//
// The cpu default subsamples the training pairs and the roll-out starts and trains the MLP heads and baselines for
// fewer, smaller steps at a larger rate (sizes printed); --full runs the paper's sizes (for a GPU).
#include <attractor/diffusion/ddpm_objective.hpp>
#include <attractor/diffusion/parameterisation.hpp>
#include <attractor/diffusion/schedule.hpp>
#include <attractor/diffusion/trainer.hpp>
#include <attractor/io/file.hpp>
#include <attractor/io/npy.hpp>
#include <attractor/nn/fit.hpp>
#include <attractor/systems/lorenz63.hpp>
#include <attractor/transfer.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "lorenz63_generate.hpp"
#include "written_files.hpp"

namespace {

using namespace attractor;
namespace tl = attractor::transfer_learning;
using clock_type = std::chrono::steady_clock;
using host_tensor = tensor<float, cpu>;
using view = const_tensor_view<float, cpu>;

constexpr const char* program = "lorenz63_transfer";

struct options {
  std::filesystem::path checkpoint;
  std::vector<std::filesystem::path> table4;
  // data: as lorenz63_generate's (seed 42)
  std::size_t train_members = 16, test_members = 16, trajectory_steps = 1'000'000, spin_up = 100'000;
  // subsampling (the paper's: every pair, every start)
  std::size_t pairs = 100'000, starts = 4'000, table4_starts = 20'000;
  // MLP heads and baselines (spec §6: Adam 5e-5, batch 16384, 100 epochs)
  std::size_t head_steps = 2'000, head_batch = 512;
  double head_lr = 1e-3;
  double lambda = 1e-4;
  std::size_t iterations = 100;
  std::uint64_t seed = 0;
  int threads = 0;
  std::filesystem::path out = "out/lorenz63_transfer";
#ifdef LORENZ63_TRANSFER_PLOT_SCRIPT
  std::filesystem::path plot_script = LORENZ63_TRANSFER_PLOT_SCRIPT;
#else
  std::filesystem::path plot_script = "examples/plot_transfer.py";
#endif
  bool full = false;
};

// The flagship's helpers: elapsed time, durations as text, a progress line with the ETA.
using lorenz63_generate::duration_text;
using lorenz63_generate::seconds_since;

void progress_line(const std::string& label, std::size_t done, std::size_t total, clock_type::time_point start) {
  lorenz63_generate::progress_line(label.c_str(), done, total, start);
}

// ---------------------------------------------------------------------------------------------------------------
// The command line.

options parse(int argc, char** argv) {
  using examples::count_in;
  using examples::number_in;
  options o;
  CLI::App app(
      "Transfer learning for Lorenz-63 (Finn et al., Tables 3 and 4): the frozen denoiser of lorenz63_generate as a\n"
      "feature extractor. Fits ridge and MLP heads on its features at pseudo-times tau, and the paper's baselines,\n"
      "rolls every surrogate out for 10 time units and prints Table 3 beside the paper's numbers; --table4 prints\n"
      "Table 4 over several generative models. The defaults subsample pairs and starts for 2 cpu cores; --full runs\n"
      "the paper's sizes (for a GPU); an option given explicitly overrides --full.",
      program);
  app.get_formatter()->column_width(30);
  const char* models = "models";
  app.add_option("--checkpoint", o.checkpoint,
                 "a velocity/cosine model.safetensors of lorenz63_generate: Table 3 (hidden 256 for the paper's "
                 "parameter counts)")
      ->group(models);
  app.add_option("--table4", o.table4,
                 "several model.safetensors of lorenz63_generate (any head and schedule, one architecture): Table 4")
      ->group(models);
  const char* data = "data (lorenz63_generate's, seed 42: 16 train and 16 test trajectories of 1e6 + 1 states)";
  examples::add_lorenz63_data_options(app, data, o.train_members, o.test_members, o.trajectory_steps, o.spin_up);
  const char* sizes = "sizes (the cpu default subsamples; --full: all pairs and all starts)";
  app.add_option("--pairs", o.pairs, "training pairs, evenly strided over the train set (default 100000)")
      ->check(count_in(1, 1'000'000'000'000))
      ->group(sizes);
  app.add_option("--starts", o.starts, "Table 3 roll-out starts, evenly strided over the test set (default 4000)")
      ->check(count_in(1, 1'000'000'000'000))
      ->group(sizes);
  app.add_option("--table4-starts", o.table4_starts, "Table 4 one-step starts (default 20000)")
      ->check(count_in(1, 1'000'000'000'000))
      ->group(sizes);
  app.add_option("--iterations", o.iterations,
                 "roll-out iterations of 0.1 time units (default 100, the paper's; the Hellinger leads are 51-100 "
                 "and need 100)")
      ->check(count_in(10, 100000))
      ->group(sizes);
  app.add_option("--head-steps", o.head_steps, "Adam steps of each MLP head and baseline (default 2000; --full: 97700)")
      ->check(count_in(1, 1'000'000'000))
      ->group(sizes);
  app.add_option("--head-batch", o.head_batch, "their batch (default 512; --full: 16384)")
      ->check(count_in(1, 10'000'000))
      ->group(sizes);
  app.add_option("--head-lr", o.head_lr, "their Adam rate (default 1e-3; --full: 5e-5, the paper's)")
      ->check(number_in(1e-12, 10))
      ->group(sizes);
  app.add_option("--lambda", o.lambda, "ridge penalty on standardised features (default 1e-4, the paper's)")
      ->check(number_in(0, 1e6))
      ->group(sizes);
  const char* running = "running";
  app.add_flag("--full", o.full, "the paper's sizes (see above)")->group(running);
  app.add_option("--seed", o.seed, "seed of every random draw (default 0)")
      ->check(count_in(0, UINT64_MAX))
      ->group(running);
  app.add_option("--threads", o.threads, "cpu threads (default 0: all)")->check(count_in(0, 1024))->group(running);
  app.add_option("--out", o.out,
                 "output folder: table3.csv, table4.csv, nrmse_by_lead.csv, nrmse_by_lead.png (default "
                 "out/lorenz63_transfer); checked for writing before any work")
      ->group(running);
  app.add_option("--plot-script", o.plot_script,
                 "the matplotlib script drawing DIR/nrmse_by_lead.png (default: the source tree's "
                 "examples/plot_transfer.py); skipped with a message without python3-matplotlib")
      ->group(running);
  examples::parse_or_exit(app, argc, argv);

  if (o.full) {
    const auto set = [&](const char* name, auto& field, auto value) {
      if (app.count(name) == 0) field = value;
    };
    constexpr std::size_t all = 1'000'000'000'000;
    set("--pairs", o.pairs, all);
    set("--starts", o.starts, all);
    set("--table4-starts", o.table4_starts, all);
    set("--head-steps", o.head_steps, std::size_t{97'700});
    set("--head-batch", o.head_batch, std::size_t{16384});
    set("--head-lr", o.head_lr, 5e-5);
  }
  require(!o.checkpoint.empty() || !o.table4.empty(), program, "--checkpoint PATH (Table 3) or --table4 PATH...",
          "neither");
  require(o.iterations >= 100 || o.checkpoint.empty(), program,
          "--iterations of at least 100 for Table 3 (its Hellinger takes leads 51-100)", o.iterations);
  require(o.trajectory_steps > o.iterations * 10, program,
          detail::concat("--trajectory-steps above the roll-out's ", o.iterations * 10, " steps"), o.trajectory_steps);
  const std::size_t pairs_available = o.train_members * (o.trajectory_steps + 1 - 10);
  require(o.head_batch <= std::min(o.pairs, pairs_available), program,
          detail::concat("a --head-batch of at most the training pairs (", std::min(o.pairs, pairs_available), ")"),
          o.head_batch);
  examples::require_writable_folder(o.out, program, "--out");
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints.

/// What a lorenz63_generate checkpoint holds, from its header; the weights load into `net`.
struct model {
  std::filesystem::path path;
  nn::denoising_resnet_options architecture;
  diffusion::parameterisation head{};
  std::string schedule;
  std::string label;       // "v cos", "eps lin", ...
  double hellinger = NAN;  // from metrics.csv beside it, where lorenz63_generate wrote one
  double floor = NAN;      // and the floor at its sample count
};

std::string metadata_entry(const nn::safetensors_metadata& m, const char* key, const std::filesystem::path& path) {
  const auto it = m.find(key);
  require(it != m.end(), detail::concat(program, " (", path.string(), ")"),
          detail::concat("a lorenz63_generate checkpoint with a ", key, " entry"), "none");
  return it->second;
}

/// Reads and checks a checkpoint's header: a lorenz63_generate model, with pseudo-times up to 600 (the 6-tau rows).
model inspect(const std::filesystem::path& path) {
  require(std::filesystem::is_regular_file(path), program, "a checkpoint file that exists", path);
  model m;
  m.path = path;
  m.architecture = diffusion::checkpoint_architecture(path);  // throws on a truncated or foreign file
  const auto metadata = nn::safetensors_file::read_metadata(path);
  m.head = diffusion::parse_parameterisation(metadata_entry(metadata, "attractor.parameterisation", path));
  const std::string schedule = metadata_entry(metadata, "attractor.schedule", path);
  m.schedule = schedule.substr(0, schedule.find(' '));
  diffusion::parse_schedule_kind(m.schedule);
  require(m.architecture.inputs == 3, program, detail::concat("a Lorenz-63 model of 3 inputs in ", path),
          m.architecture.inputs);
  require(m.architecture.max_time >= 600, program,
          detail::concat("pseudo-times up to at least 600 (the 6-tau rows) in ", path), m.architecture.max_time);
  const char* head = m.head == diffusion::parameterisation::velocity ? "v"
                     : m.head == diffusion::parameterisation::noise  ? "eps"
                                                                     : "x";
  m.label = detail::concat(head, " ", m.schedule == "cosine" ? "cos" : "lin");
  // The generative Hellinger distance, where lorenz63_generate's metrics.csv lies beside the model.
  std::ifstream csv(path.parent_path() / "metrics.csv");
  std::string header, row;
  if (std::getline(csv, header) && std::getline(csv, row)) {
    const auto split = [](const std::string& line) {
      std::vector<std::string> fields;
      std::stringstream in(line);
      for (std::string field; std::getline(in, field, ',');) fields.push_back(field);
      return fields;
    };
    const auto names = split(header), values = split(row);
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i)
      if (names[i] == "hellinger")
        m.hellinger = std::strtod(values[i].c_str(), nullptr);
      else if (names[i] == "hellinger_floor")
        m.floor = std::strtod(values[i].c_str(), nullptr);
  }
  return m;
}

/// The raw weights (the paper's downstream tasks use them, spec §9) of a checkpoint into `net`.
void load(context<cpu>& ctx, const model& m, nn::denoising_resnet<float, cpu>& net) {
  diffusion::load_trained_weights(ctx, m.path, net,
                                  diffusion::noise_schedule::make(diffusion::parse_schedule_kind(m.schedule)), m.head,
                                  /*averaged=*/false);
}

// ---------------------------------------------------------------------------------------------------------------
// Data.

struct data_set {
  host_tensor train, test;  // members x (steps + 1) x 3, normalised
  tl::pairs<float, cpu> pairs;
  std::size_t pair_stride = 1;
};

data_set make_data(context<cpu>& ctx, const options& o) {
  const auto t0 = clock_type::now();
  systems::lorenz63_dataset_options d;
  d.train_members = o.train_members;
  d.test_members = o.test_members;
  d.steps = o.trajectory_steps;
  d.spin_up = o.spin_up;
  d.seed = 42;  // lorenz63_generate's data
  d.progress_every = 100'000;
  d.progress = [t0](std::string_view set, std::size_t done, std::size_t total) {
    progress_line(detail::concat("data: ", set), done, total, t0);
  };
  auto all = systems::make_lorenz63_dataset<float>(ctx, d);
  data_set out;
  out.train = std::move(all.train);
  out.test = std::move(all.test);
  const std::size_t per_member = o.trajectory_steps + 1 - 10, available = o.train_members * per_member;
  out.pair_stride = std::max<std::size_t>(1, available / std::max<std::size_t>(o.pairs, 1));
  out.pairs = tl::increment_pairs<float, cpu>(ctx, out.train.view(), 10, out.pair_stride);
  std::printf(
      "data: %zu train and %zu test trajectories of %zu states (%.1f s); %zu training pairs (every %zu-th "
      "of %zu) at 10 steps (0.1 time units)\n",
      o.train_members, o.test_members, o.trajectory_steps + 1, seconds_since(t0), out.pairs.x.extent(0),
      out.pair_stride, available);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Rows.

struct paper_row {
  const char* name;
  std::size_t params;
  double short_mean, short_spread;  // nRMSE at 0.1 time units x1e4 (the paper's column says x1e5: spec §8)
  double long_mean, long_spread;    // nRMSE at 1 time unit x1e2
  double h_mean, h_spread;          // Hellinger x1e2
};

const paper_row paper_rows[] = {
    {"RFF256-lin", 771, 1603.9, 508.5, 519.3, 83.6, 92.1, 5.5},
    {"RFF1536-lin", 4611, 17.4, 9.1, 8.2, 50.5, 6.7, 13.1},
    {"RFF256-NN", 66563, 26.3, 2.7, 71.4, 18.4, 47.6, 13.3},
    {"RFF1536-NN", 394243, 11.5, 1.6, 29.1, 6.0, 18.8, 5.2},
    {"Dense x1", 1795, 17.2, 0.8, 11.1, 0.7, 3.1, 0.3},
    {"Dense x2", 67587, 8.9, 1.4, 8.5, 2.9, 1.8, 0.1},
    {"Dense x3", 133379, 10.2, 1.5, 9.9, 3.5, 1.7, 0.2},
    {"ResNet", 398851, 7.5, 2.3, 8.4, 4.8, 1.7, 0.2},
    {"linear fit on x", 0, NAN, NAN, NAN, NAN, NAN, NAN},
    {"Untrained 6tau lin", 4611, 5710.6, 0, 100.1, 0, 100.0, 0},
    {"tau400 lin", 771, 115.7, 4.7, 35.1, 1.5, 18.6, 1.7},
    {"6tau lin", 4611, 23.1, 1.2, 15.9, 1.8, 6.7, 6.2},
    {"tau400 NN", 66563, 9.1, 1.2, 8.4, 2.1, 2.0, 0.2},
    {"2tau NN", 132099, 7.5, 2.0, 6.8, 1.0, 1.7, 0.2},
    {"6tau NN", 394243, 12.4, 2.8, 13.9, 7.9, 14.1, 8.3},
};

struct result {
  std::string name;
  std::size_t params = 0;
  tl::rollout_scores scores;
  double seconds = 0;
};

/// A ridge regression of the increments on features(x), streamed with a progress line.
template <class Features>
tl::ridge_solution<float, cpu> ridge_with_progress(context<cpu>& ctx, Features& features,
                                                   const tl::pairs<float, cpu>& p, double lambda,
                                                   const std::string& label) {
  constexpr std::size_t chunk = 4096;
  const std::size_t n = p.x.extent(0);
  tl::ridge_accumulator<float, cpu> acc(ctx, features.outputs(), 3, chunk);
  host_tensor phi(shape{chunk, features.outputs()});
  const auto t0 = clock_type::now();
  for (std::size_t begin = 0; begin < n; begin += chunk) {
    const std::size_t count = std::min(chunk, n - begin);
    features.apply(ctx, p.x.view().rows(begin, begin + count), phi.view().rows(0, count));
    acc.add(ctx, view(phi.view().rows(0, count)), p.y.view().rows(begin, begin + count));
    if (begin == 0 || begin + count == n || (begin / chunk) % 8 == 0)
      progress_line(detail::concat(label, ": ridge, pairs"), begin + count, n, t0);
  }
  return acc.solve(ctx, lambda);
}

/// Trains `module` on features(x) -> increment through nn::fit, with a progress line.
template <class Module, class Features>
void fit_network(context<cpu>& ctx, Module& module, Features& features, const tl::pairs<float, cpu>& p,
                 const options& o, const std::string& label) {
  tl::regression_objective<float, cpu, Module, Features> objective(ctx, module, features, p.x.view(), p.y.view(),
                                                                   o.head_batch);
  nn::fit_options fo = tl::head_fit_options(o.head_batch, o.head_steps);
  fo.lr = o.head_lr;
  fo.seed = o.seed;
  fo.progress_every = std::max<std::size_t>(1, o.head_steps / 100);
  fo.progress = [label](const nn::fit_progress& f) {
    std::fprintf(stderr, "\r%s: step %zu/%zu  loss %.3g  %.0f pairs/s  ETA %s   ", label.c_str(), f.step, f.steps,
                 f.loss, f.samples_per_second, duration_text(f.eta_seconds).c_str());
    if (f.step == f.steps) std::fprintf(stderr, "\n");
  };
  nn::fit<decltype(objective)> run(ctx, objective, fo);
  run.train();
}

struct scorer {
  context<cpu>& ctx;
  const options& o;
  view test;
  std::size_t stride = 1, starts = 0;
  std::vector<result> results;

  scorer(context<cpu>& c, const options& opt, view t) : ctx(c), o(opt), test(t) {
    tl::rollout_score_options so;
    so.iterations = o.iterations;
    const std::size_t per_member = tl::starts_per_member(test.extent(1), so), available = test.extent(0) * per_member;
    stride = std::max<std::size_t>(1, available / std::max<std::size_t>(o.starts, 1));
    so.start_stride = stride;
    starts = test.extent(0) * tl::starts_per_member(test.extent(1), so);
    std::printf("roll-outs: %zu starts (every %zu-th of %zu) x %zu iterations of 0.1 time units\n", starts, stride,
                available, o.iterations);
    floor = hellinger_floor(so);
    std::printf(
        "Hellinger floor: %.4f, the distance at leads 51-100 between the truth from these starts and from "
        "as many starts half a stride later\n(a perfect surrogate's; the paper's 1.6e7 starts have a far "
        "lower one)\n",
        floor);
  }

  double floor = NAN;

  /// Rows per inference pass of a roll-out's network: as many as the starts, at most 4096.
  [[nodiscard]] std::size_t chunk() const { return std::min<std::size_t>(4096, starts); }

  /// The Hellinger distance at leads 51..100 between the true states from the scored starts and from as many
  /// starts half a stride away: the sampling floor of the H column at this number of starts.
  double hellinger_floor(const tl::rollout_score_options& so) const {
    const std::size_t steps = test.extent(1), per_member = tl::starts_per_member(steps, so);
    const std::size_t span = so.iterations * so.lead, shift = std::max<std::size_t>(1, stride / 2);
    tl::lead_scores<float, cpu> scores(so.iterations, 3, so.hellinger_first, so.hellinger_last);
    host_tensor a(shape{starts, 3}), b(shape{starts, 3});
    for (std::size_t lead = so.hellinger_first; lead <= so.hellinger_last; ++lead) {
      for (std::size_t s = 0; s < starts; ++s) {
        const std::size_t member = s / per_member, t = (s % per_member) * stride;
        const std::size_t u = t + shift + span <= steps - 1 ? t + shift : t - std::min(t, shift);
        for (std::size_t k = 0; k < 3; ++k) {
          a[3 * s + k] = test.data()[(member * steps + t + lead * so.lead) * 3 + k];
          b[3 * s + k] = test.data()[(member * steps + u + lead * so.lead) * 3 + k];
        }
      }
      scores.add(ctx, lead, view(b.view()), view(a.view()));
    }
    return scores.result().hellinger;
  }

  template <class Map>
  void score(const std::string& name, Map& g, std::size_t params, clock_type::time_point started) {
    tl::rollout_score_options so;
    so.iterations = o.iterations;
    so.start_stride = stride;
    so.chunk = 4096;
    const auto t0 = clock_type::now();
    so.progress = [&](std::size_t done, std::size_t total) {
      progress_line(detail::concat(name, ": roll-outs"), done, total, t0);
    };
    result r{name, params, tl::score_rollouts<float, cpu>(ctx, g, test, so), seconds_since(started)};
    std::printf("  %-20s %8zu params  nRMSE(0.1) %10.5f  nRMSE(1) %9.4f  H %7.4f  (%.0f s)\n", name.c_str(), params,
                r.scores.nrmse[1], r.scores.nrmse[10], r.scores.hellinger, r.seconds);
    std::fflush(stdout);
    results.push_back(std::move(r));
  }
};

std::string cell(double value, int width, int precision) {
  char buffer[64];
  if (std::isnan(value))
    std::snprintf(buffer, sizeof buffer, "%*s", width, "-");
  else
    std::snprintf(buffer, sizeof buffer, "%*.*f", width, precision, value);
  return buffer;
}

std::string paper_cell(double mean, double spread) {
  if (std::isnan(mean)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f+-%.1f", mean, spread);
  return buffer;
}

void print_table3(const std::vector<result>& results, double floor, std::size_t hidden) {
  std::printf(
      "\nTable 3: nRMSE at 0.1 time units x1e4 (the paper's column reads x1e5, a typo for x1e4: spec §8), nRMSE at 1 "
      "time unit x1e2,\nHellinger distance of leads 51-100 x1e2; ours (one seed) | the paper's (mean +- spread over "
      "10 seeds)\n");
  std::printf("  %-20s %8s %8s | %9s %15s | %8s %12s | %7s %11s\n", "model", "params", "paper", "0.1 x1e4", "paper",
              "1 x1e2", "paper", "H x1e2", "paper");
  for (const auto& r : results) {
    const paper_row* p = nullptr;
    for (const auto& row : paper_rows)
      if (r.name == row.name) p = &row;
    const bool known = p != nullptr && p->params > 0;
    std::printf("  %-20s %8zu %8s | %9s %15s | %8s %12s | %7s %11s\n", r.name.c_str(), r.params,
                known ? std::to_string(p->params).c_str() : "-", cell(1e4 * r.scores.nrmse[1], 9, 1).c_str(),
                p ? paper_cell(p->short_mean, p->short_spread).c_str() : "-",
                cell(1e2 * r.scores.nrmse[10], 8, 1).c_str(),
                p ? paper_cell(p->long_mean, p->long_spread).c_str() : "-",
                cell(1e2 * r.scores.hellinger, 7, 1).c_str(), p ? paper_cell(p->h_mean, p->h_spread).c_str() : "-");
  }
  std::printf("  %-20s %8s %8s | %9s %15s | %8s %12s | %7s %11s\n", "(floor: the truth)", "", "", "", "", "", "",
              cell(1e2 * floor, 7, 1).c_str(), "");
  if (hidden != 256)
    std::printf("  (the backbone is %zu wide, the paper's 256: the counts of the rows on its features differ)\n",
                hidden);
  std::printf("  (\"linear fit on x\" is not a row of the paper: the untrained row's reference, spec §8)\n");
}

void write_text(const std::filesystem::path& path, const std::string& text, examples::written_files& written) {
  detail::write_atomically(path, program, text.size(),
                           [&](std::FILE* f) { return std::fwrite(text.data(), 1, text.size(), f) == text.size(); });
  written.add(path);
}

void plot(const options& o, examples::written_files& written) {
  const std::string python = examples::python_with_matplotlib();
  if (python.empty()) {
    std::printf("figure: skipped, python3 with matplotlib is not installed (Debian: python3-matplotlib)\n");
    return;
  }
  if (!std::filesystem::exists(o.plot_script)) {
    std::printf("figure: skipped, no script at %s (see --plot-script)\n", o.plot_script.c_str());
    return;
  }
  const auto png = o.out / "nrmse_by_lead.png";
  const std::string command = detail::concat(python, " '", o.plot_script.string(), "' '",
                                             (o.out / "nrmse_by_lead.csv").string(), "' '", png.string(), "'");
  if (std::system(command.c_str()) != 0)
    std::printf("figure: the script failed: %s\n", command.c_str());
  else if (std::filesystem::exists(png))
    written.add(png);
}

// ---------------------------------------------------------------------------------------------------------------
// Table 3.

void table3(context<cpu>& ctx, const options& o, const model& m, const data_set& data,
            examples::written_files& written) {
  nn::denoising_resnet_options arch = m.architecture;
  philox init(o.seed, 7);
  nn::denoising_resnet<float, cpu> net(ctx, init, arch);
  load(ctx, m, net);
  philox untrained_init(o.seed, 8);
  nn::denoising_resnet<float, cpu> untrained(ctx, untrained_init, arch);
  std::printf(
      "backbone: %s (%s), hidden %zu, %zu blocks, raw weights; untrained: a fresh network of the same "
      "architecture\n",
      m.path.c_str(), m.label.c_str(), arch.hidden, arch.blocks);
  std::printf("heads and baselines: %zu Adam steps of %zu pairs at %g (%.1f epochs)\n\n", o.head_steps, o.head_batch,
              o.head_lr,
              static_cast<double>(o.head_steps * o.head_batch) / static_cast<double>(data.pairs.x.extent(0)));

  scorer s(ctx, o, view(data.test.view()));
  // States per backbone pass (times the taus): a training batch or the roll-outs, at most 512.
  const std::size_t backbone_chunk = std::min<std::size_t>(512, std::max(s.starts, o.head_batch));
  const auto& p = data.pairs;
  std::uint64_t stream = 100;
  auto next = [&] { return philox(o.seed, stream++); };

  // Random Fourier features of x, wave length 1, with ridge and MLP heads.
  for (const std::size_t d : {std::size_t{256}, std::size_t{1536}}) {
    auto t0 = clock_type::now();
    philox gen = next();
    tl::random_fourier_features<float, cpu> rff(ctx, gen, d);
    const std::string name = detail::concat("RFF", d, "-lin");
    auto ridge = ridge_with_progress(ctx, rff, p, o.lambda, name);
    tl::chained<float, cpu, decltype(rff), decltype(ridge)> g(rff, ridge);
    s.score(name, g, tl::trainable_parameters(ridge), t0);
  }
  for (const std::size_t d : {std::size_t{256}, std::size_t{1536}}) {
    auto t0 = clock_type::now();
    philox gen = next();
    tl::random_fourier_features<float, cpu> rff(ctx, gen, d);
    philox head_init = next();
    tl::mlp_head<float, cpu> head(ctx, head_init, {d, 256, 3});
    const std::string name = detail::concat("RFF", d, "-NN");
    fit_network(ctx, head, rff, p, o, name);
    tl::network_map<float, cpu, decltype(head)> nm(ctx, head, s.chunk());
    tl::chained<float, cpu, decltype(rff), decltype(nm)> g(rff, nm);
    s.score(name, g, tl::trainable_parameters(head), t0);
  }
  // From scratch on x.
  tl::identity_map<float, cpu> identity;
  for (const std::size_t layers : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    auto t0 = clock_type::now();
    philox gen = next();
    auto dense = tl::dense_baseline<float, cpu>(ctx, gen, layers);
    const std::string name = detail::concat("Dense x", layers);
    fit_network(ctx, dense, identity, p, o, name);
    tl::network_map<float, cpu, decltype(dense)> g(ctx, dense, s.chunk());
    s.score(name, g, tl::trainable_parameters(dense), t0);
  }
  {
    auto t0 = clock_type::now();
    philox gen = next();
    tl::resnet_baseline<float, cpu> resnet(ctx, gen);
    fit_network(ctx, resnet, identity, p, o, "ResNet");
    tl::network_map<float, cpu, decltype(resnet)> g(ctx, resnet, s.chunk());
    s.score("ResNet", g, tl::trainable_parameters(resnet), t0);
  }
  {
    auto t0 = clock_type::now();
    auto ridge = ridge_with_progress(ctx, identity, p, o.lambda, "linear fit on x");
    s.score("linear fit on x", ridge, tl::trainable_parameters(ridge), t0);
  }
  // The backbone's features: untrained, then trained, with ridge heads.
  {
    auto t0 = clock_type::now();
    tl::backbone_features<float, cpu> features(ctx, untrained, tl::six_taus(), backbone_chunk);
    auto ridge = ridge_with_progress(ctx, features, p, o.lambda, "Untrained 6tau lin");
    tl::chained<float, cpu, decltype(features), decltype(ridge)> g(features, ridge);
    s.score("Untrained 6tau lin", g, tl::trainable_parameters(ridge), t0);
  }
  struct ddm_row {
    const char* linear;
    const char* mlp;
    std::vector<std::size_t> taus;
  };
  const ddm_row rows[] = {{"tau400 lin", "tau400 NN", {400}}, {"6tau lin", nullptr, tl::six_taus()}};
  for (const auto& row : rows) {
    auto t0 = clock_type::now();
    tl::backbone_features<float, cpu> features(ctx, net, row.taus, backbone_chunk);
    auto ridge = ridge_with_progress(ctx, features, p, o.lambda, row.linear);
    tl::chained<float, cpu, decltype(features), decltype(ridge)> g(features, ridge);
    s.score(row.linear, g, tl::trainable_parameters(ridge), t0);
  }
  const ddm_row mlp_rows[] = {
      {nullptr, "tau400 NN", {400}}, {nullptr, "2tau NN", {50, 400}}, {nullptr, "6tau NN", tl::six_taus()}};
  for (const auto& row : mlp_rows) {
    auto t0 = clock_type::now();
    tl::backbone_features<float, cpu> features(ctx, net, row.taus, backbone_chunk);
    philox head_init = next();
    tl::mlp_head<float, cpu> head(ctx, head_init, {features.outputs(), 256, 3});
    fit_network(ctx, head, features, p, o, row.mlp);
    tl::network_map<float, cpu, decltype(head)> nm(ctx, head, s.chunk());
    tl::chained<float, cpu, decltype(features), decltype(nm)> g(features, nm);
    s.score(row.mlp, g, tl::trainable_parameters(head), t0);
  }

  print_table3(s.results, s.floor, arch.hidden);

  std::string csv =
      "model,params,paper_params,nrmse_0.1,nrmse_1,hellinger,paper_nrmse_0.1,paper_nrmse_1,"
      "paper_hellinger,hellinger_floor,rollouts,in_range,out_of_range,seconds\n";
  std::string curves = "lead,time";
  for (const auto& r : s.results) curves += "," + r.name;
  curves += "\n";
  for (const auto& r : s.results) {
    const paper_row* row = nullptr;
    for (const auto& q : paper_rows)
      if (r.name == q.name) row = &q;
    csv += detail::concat(r.name, ",", r.params, ",", row && row->params ? std::to_string(row->params) : "", ",",
                          r.scores.nrmse[1], ",", r.scores.nrmse[10], ",", r.scores.hellinger, ",",
                          row ? row->short_mean * 1e-4 : NAN, ",", row ? row->long_mean * 1e-2 : NAN, ",",
                          row ? row->h_mean * 1e-2 : NAN, ",", s.floor, ",", r.scores.rollouts, ",", r.scores.in_range,
                          ",", r.scores.out_of_range, ",", r.seconds, "\n");
  }
  for (std::size_t lead = 0; lead <= o.iterations; ++lead) {
    curves += detail::concat(lead, ",", 0.1 * static_cast<double>(lead));
    for (const auto& r : s.results) curves += detail::concat(",", r.scores.nrmse[lead]);
    curves += "\n";
  }
  write_text(o.out / "table3.csv", csv, written);
  write_text(o.out / "nrmse_by_lead.csv", curves, written);
  plot(o, written);
}

// ---------------------------------------------------------------------------------------------------------------
// Table 4.

void table4(context<cpu>& ctx, const options& o, const std::vector<model>& models, const data_set& data,
            examples::written_files& written) {
  struct paper4 {
    const char* label;
    double h, h_spread, nrmse, nrmse_spread;
  };
  const paper4 paper[] = {{"x lin", 17.61, 2.24, 4.13, 0.31},  {"x cos", 14.38, 1.69, 4.31, 0.22},
                          {"eps lin", 4.56, 0.30, 3.83, 0.26}, {"eps cos", 4.02, 0.19, 2.74, 0.13},
                          {"v lin", 4.56, 0.32, 3.08, 0.88},   {"v cos", 3.96, 0.16, 2.34, 0.12}};
  tl::rollout_score_options so;
  so.iterations = 1;
  so.hellinger_first = so.hellinger_last = 1;
  so.chunk = 4096;
  const std::size_t per_member = tl::starts_per_member(data.test.extent(1), so),
                    available = data.test.extent(0) * per_member;
  so.start_stride = std::max<std::size_t>(1, available / std::max<std::size_t>(o.table4_starts, 1));
  const std::size_t starts = data.test.extent(0) * tl::starts_per_member(data.test.extent(1), so);
  std::printf(
      "\nTable 4: %zu models, ridge heads on tau400 and 6-tau features, one step of 0.1 time units from %zu "
      "starts (every %zu-th of %zu)\n",
      models.size(), starts, so.start_stride, available);
  struct row {
    std::string label;
    double hellinger, floor, tau400, six;
  };
  std::vector<row> rows;
  for (const auto& m : models) {
    philox init(o.seed, 7);
    nn::denoising_resnet<float, cpu> net(ctx, init, m.architecture);
    load(ctx, m, net);
    row r{m.label, m.hellinger, m.floor, NAN, NAN};
    for (const bool six : {false, true}) {
      tl::backbone_features<float, cpu> features(ctx, net, six ? tl::six_taus() : std::vector<std::size_t>{400});
      const std::string label = detail::concat(m.label, six ? " 6tau lin" : " tau400 lin");
      auto ridge = ridge_with_progress(ctx, features, data.pairs, o.lambda, label);
      tl::chained<float, cpu, decltype(features), decltype(ridge)> g(features, ridge);
      const auto t0 = clock_type::now();
      so.progress = [&](std::size_t done, std::size_t total) {
        progress_line(detail::concat(label, ": one step"), done, total, t0);
      };
      (six ? r.six : r.tau400) = tl::score_rollouts<float, cpu>(ctx, g, view(data.test.view()), so).nrmse[1];
    }
    std::printf("  %-8s (%s): nRMSE(0.1) tau400 lin %.5f, 6tau lin %.5f\n", m.label.c_str(), m.path.c_str(), r.tau400,
                r.six);
    std::fflush(stdout);
    rows.push_back(r);
  }
  std::printf(
      "\nTable 4: generative Hellinger x1e2 and its floor at the model's sample count (from metrics.csv beside "
      "each model, where there is one),\nthe 6-tau linear head's nRMSE at 0.1 time units x1e3; ours (one seed) | "
      "the paper's (10 seeds, H at 1e6 samples, floor ~3.1); tau400 lin is ours only\n");
  std::printf("  %-8s %8s %6s %13s | %10s %12s | %12s\n", "DDM", "H x1e2", "floor", "paper", "6tau x1e3", "paper",
              "tau400 x1e3");
  std::string csv =
      "model,path,hellinger,hellinger_floor,nrmse_0.1_6tau_lin,nrmse_0.1_tau400_lin,paper_hellinger,paper_nrmse_0.1\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const paper4* p = nullptr;
    for (const auto& q : paper)
      if (r.label == q.label) p = &q;
    std::printf("  %-8s %8s %6s %13s | %10s %12s | %12s\n", r.label.c_str(), cell(1e2 * r.hellinger, 8, 2).c_str(),
                cell(1e2 * r.floor, 6, 2).c_str(), p ? detail::concat(p->h, "+-", p->h_spread).c_str() : "-",
                cell(1e3 * r.six, 10, 2).c_str(), p ? detail::concat(p->nrmse, "+-", p->nrmse_spread).c_str() : "-",
                cell(1e3 * r.tau400, 12, 2).c_str());
    csv += detail::concat(r.label, ",", models[i].path.string(), ",", r.hellinger, ",", r.floor, ",", r.six, ",",
                          r.tau400, ",", p ? p->h * 1e-2 : NAN, ",", p ? p->nrmse * 1e-3 : NAN, "\n");
  }
  write_text(o.out / "table4.csv", csv, written);
}

int run(const options& o) {
  // Every checkpoint is checked before any work: it exists, is whole, is a Lorenz-63 denoiser with taus up to 600.
  std::optional<model> main_model;
  if (!o.checkpoint.empty()) {
    main_model = inspect(o.checkpoint);
    require(main_model->head == diffusion::parameterisation::velocity && main_model->schedule == "cosine", program,
            detail::concat("a velocity/cosine model for Table 3 (the paper's backbone, spec §6; other models go to "
                           "--table4) in ",
                           o.checkpoint),
            main_model->label);
    require(!o.full || main_model->architecture.hidden == 256, program,
            detail::concat("the paper's hidden width 256 for --full (Table 3's parameter counts) in ", o.checkpoint),
            main_model->architecture.hidden);
  }
  std::vector<model> models;
  for (const auto& path : o.table4) {
    models.push_back(inspect(path));
    require(
        models.back().architecture.hidden == models.front().architecture.hidden &&
            models.back().architecture.blocks == models.front().architecture.blocks,
        program,
        detail::concat("--table4 models of one architecture (hidden ", models.front().architecture.hidden, ", blocks ",
                       models.front().architecture.blocks, ") in ", path),
        detail::concat("hidden ", models.back().architecture.hidden, ", blocks ", models.back().architecture.blocks));
  }
  context<cpu> ctx(o.threads);
  // The weights load (and are checked whole) before the data are made.
  for (const auto& m : models) {
    philox init(0);
    nn::denoising_resnet<float, cpu> net(ctx, init, m.architecture);
    load(ctx, m, net);
  }
  if (main_model) {
    philox init(0);
    nn::denoising_resnet<float, cpu> net(ctx, init, main_model->architecture);
    load(ctx, *main_model, net);
  }
  const auto t0 = clock_type::now();
  examples::written_files written;
  const data_set data = make_data(ctx, o);
  if (main_model) table3(ctx, o, *main_model, data, written);
  if (!models.empty()) table4(ctx, o, models, data, written);
  std::printf("\ntotal: %s\n", duration_text(seconds_since(t0)).c_str());
  written.print_summary();
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const options o = parse(argc, argv);
  return run(o);
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
