// lorenz63_generate, written once for both backends (lorenz63_generate.cpp runs it on cpu, lorenz63_generate_cuda.cu
// on cuda): generate the paper's Lorenz-63 data, train a diffusion model, sample it, score the samples with the
// paper's five metrics and print them laid out like Table 1, beside the paper's row.
#pragma once

#include <attractor/diffusion/network_denoiser.hpp>
#include <attractor/diffusion/trainer.hpp>
#include <attractor/io/file.hpp>
#include <attractor/io/npy.hpp>
#include <attractor/metrics/evaluate.hpp>
#include <attractor/metrics/hellinger.hpp>
#include <attractor/metrics/surrogate.hpp>
#include <attractor/systems/lorenz63.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "python.hpp"
#include "written_files.hpp"

namespace lorenz63_generate {

using namespace attractor;

struct options {
  // data
  std::size_t train_members = 16, test_members = 16;
  std::size_t trajectory_steps = 1'000'000;
  std::size_t spin_up = 100'000;
  // model and training
  std::string head = "velocity", schedule = "cosine";
  // The 2-cpu default: the paper's architecture at half its width (2.3x the training throughput; at 15 minutes the
  // run is limited by training samples, not by capacity), warmed up and cosine-decayed. --full: the paper's.
  nn::denoising_resnet_options network{.hidden = 128};
  std::size_t batch = 2048, train_steps = 10'000;
  double lr = 2e-3;
  std::string lr_decay = "cosine";
  std::size_t warmup = 200;
  double final_lr = 0.05;
  bool use_ema = true;
  // sampling
  std::size_t samples = 100'000, sampler_steps = 100;
  std::string sampler = "ddim";
  double eta = 0;
  bool table2 = false;
  std::size_t table2_samples = 20'000;
  // the FSD feature network (the paper's dense_two surrogate)
  std::size_t surrogate_steps = 3000, surrogate_batch = 1024;
  double surrogate_lr = 1e-3;
  // running
  std::uint64_t seed = 0;
  int threads = 0;
  std::filesystem::path out = "out/lorenz63";
#ifdef LORENZ63_PLOT_SCRIPT
  std::filesystem::path plot_script = LORENZ63_PLOT_SCRIPT;
#else
  std::filesystem::path plot_script = "examples/plot_lorenz63.py";
#endif
  bool resume = false;
  bool overwrite = false;
  bool full = false;
};

/// The command line (lorenz63_generate_cli.cpp, CLI11): every option checked, the output folder writable, an
/// existing model kept unless --resume or --overwrite. Exits with a message naming the option on bad input.
options parse(int argc, char** argv);

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline std::string format_number(const char* fmt, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, value);
  return buffer;
}

inline std::string duration_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? detail::concat(s / 3600, "h", (s / 60) % 60, "m")
                   : (s >= 60 ? detail::concat(s / 60, "m", s % 60, "s") : detail::concat(s, "s"));
}

/// Writes a text file whole or not at all.
inline void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  detail::write_atomically(path, "lorenz63_generate", text.size(),
                           [&](std::FILE* f) { return std::fwrite(text.data(), 1, text.size(), f) == text.size(); });
}

/// Table 1's row for our run beside the paper's velocity/cosine row (spec §8), in the paper's units.
inline void print_table1(const options& o, const metrics::evaluation& e) {
  std::printf("Table 1 (%s/%s, %zu samples, %zu %s steps):\n", o.head.c_str(), o.schedule.c_str(), e.samples,
              o.sampler_steps, o.sampler == "ddpm" ? "DDPM" : "DDIM");
  std::printf("  %-22s %9s %9s %10s %10s %10s %8s\n", "", "H x1e2", "floor", "FSD x1e3", "dgen x1e6", "dtest x1e5",
              "POT %");
  std::printf("  %-22s %9.2f %9.2f %10.2f %10.2f %10.2f %8.2f\n", "ours", 100 * e.hellinger, 100 * e.hellinger_floor,
              e.frechet ? 1e3 * *e.frechet : std::nan(""), 1e6 * e.nearest_generated, 1e5 * e.nearest_reference,
              100 * e.pot);
  std::printf("  %-22s %9.2f %9s %10.2f %10.2f %10.2f %8.2f\n", "paper v/cos (1e6, DDPM)", 4.00, "3.1", 5.17, 4.50,
              1.52, 1.91);
  std::printf(
      "  (the floor is the distance of as many i.i.d. true states; the paper's 1e6 samples against 1.6e7 test states\n"
      "   have a floor near 3.1e-2, 1e5 samples one near 9e-2: compare H with the floor of its own sample count)\n");
}

inline void write_csv(const std::filesystem::path& path, const options& o, const metrics::evaluation& e,
                      examples::written_files& written) {
  std::string text =
      "head,schedule,sampler,steps,eta,samples,hellinger,hellinger_floor,fsd,d_gen,d_test,pot\n" +
      detail::concat(o.head, ",", o.schedule, ",", o.sampler, ",", o.sampler_steps, ",", o.eta, ",", e.samples, ",",
                     e.hellinger, ",", e.hellinger_floor, ",", e.frechet ? *e.frechet : std::nan(""), ",",
                     e.nearest_generated, ",", e.nearest_reference, ",", e.pot, "\n");
  write_file_atomically(path, text);
  written.add(path);
}

/// Table 2's grid: Hellinger distance (x1e2) of DDIM with eta 0, 0.2, 0.5, 1 and of DDPM at 10..1000 steps.
template <class Backend, class Sampler, class Evaluator>
void table2(context<Backend>& ctx, const options& o, Sampler& sampler, Evaluator& evaluator,
            examples::written_files& written) {
  const std::size_t grid[] = {10, 20, 50, 100, 1000};
  struct row {
    const char* name;
    diffusion::sampler_kind kind;
    double eta;
    double paper[5];
  };
  const row rows[] = {{"DDIM eta=0", diffusion::sampler_kind::ddim, 0.0, {24.09, 14.41, 7.18, 5.01, 3.94}},
                      {"DDIM eta=0.2", diffusion::sampler_kind::ddim, 0.2, {24.16, 14.45, 7.18, 5.00, 3.90}},
                      {"DDIM eta=0.5", diffusion::sampler_kind::ddim, 0.5, {24.54, 14.75, 7.28, 5.01, 3.86}},
                      {"DDIM eta=1", diffusion::sampler_kind::ddim, 1.0, {27.55, 16.68, 8.19, 5.43, 3.90}},
                      {"DDPM", diffusion::sampler_kind::ddpm, 0.0, {27.50, 16.60, 8.15, 5.40, 3.97}}};
  tensor<float, Backend> x({o.table2_samples, 3});
  const double floor = evaluator.hellinger_floor(ctx, o.table2_samples);
  std::printf("\nTable 2 (Hellinger x1e2 at %zu samples, floor %.2f; the paper's at ~1e6 samples, floor ~3.1):\n",
              o.table2_samples, 100 * floor);
  std::printf("  %-14s", "sampler");
  for (std::size_t n : grid) std::printf(" %14s", detail::concat("N=", n, " ours/paper").c_str());
  std::printf("\n");
  std::string csv = "sampler,eta,steps,samples,hellinger,hellinger_floor,paper\n";
  for (const row& r : rows) {
    std::printf("  %-14s", r.name);
    for (std::size_t j = 0; j < 5; ++j) {
      philox gen(o.seed, 100 + j);
      sampler.sample(gen, x.view(), {r.kind, grid[j], r.eta});
      metrics::cube_histogram drawn(3, evaluator.reference_histogram().grid());
      drawn.add(ctx, x.view());
      const double h = metrics::hellinger_distance(evaluator.reference_histogram(), drawn);
      std::printf(" %7.2f/%6.2f", 100 * h, r.paper[j]);
      std::fflush(stdout);
      csv += detail::concat(r.name, ",", r.eta, ",", grid[j], ",", o.table2_samples, ",", h, ",", floor, ",",
                            r.paper[j] / 100, "\n");
    }
    std::printf("\n");
  }
  write_file_atomically(o.out / "table2.csv", csv);
  written.add(o.out / "table2.csv");
}

/// Runs the figure script on DIR/samples.npy and DIR/reference.npy, or says why not.
inline void plot(const options& o, examples::written_files& written) {
  const std::string python = examples::python_with_matplotlib();
  if (python.empty()) {
    std::printf("figure: skipped, python3 with matplotlib is not installed (Debian: python3-matplotlib)\n");
    return;
  }
  if (!std::filesystem::exists(o.plot_script)) {
    std::printf("figure: skipped, no script at %s (see --plot-script)\n", o.plot_script.c_str());
    return;
  }
  const std::string command =
      detail::concat(python, " '", o.plot_script.string(), "' '", (o.out / "samples.npy").string(), "' '",
                     (o.out / "reference.npy").string(), "' '", (o.out / "lorenz63.png").string(), "'");
  if (std::system(command.c_str()) != 0)
    std::printf("figure: the script failed: %s\n", command.c_str());
  else
    written.add(o.out / "lorenz63.png");
}

/// A loss for a progress line: "-" until one has been computed.
inline std::string loss_text(double loss) { return std::isfinite(loss) ? format_number("%.4f", loss) : "-"; }

/// A progress line on stderr, rewritten in place: "\r<label> <done>/<total> (<percent>), <elapsed>, ETA <left>".
inline void progress_line(const char* label, std::size_t done, std::size_t total,
                          std::chrono::steady_clock::time_point start) {
  const double elapsed = seconds_since(start);
  const double left = done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0.0;
  std::fprintf(stderr, "\r%s %zu/%zu (%5.1f%%), %s, ETA %s   ", label, done, total,
               100.0 * static_cast<double>(done) / static_cast<double>(std::max<std::size_t>(total, 1)),
               duration_text(elapsed).c_str(), duration_text(left).c_str());
  if (done == total) std::fprintf(stderr, "\n");
}

/// The run, on Backend. Returns the process exit code. The options were checked by parse(); the network, the
/// trainer and a resumed checkpoint are set up before the data, so that what they refuse costs no work either.
template <class Backend>
int run(context<Backend>& ctx, const options& o) {
  using clock = std::chrono::steady_clock;
  examples::written_files written;
  const auto head = diffusion::parse_parameterisation(o.head);
  const auto schedule = diffusion::noise_schedule::make(diffusion::parse_schedule_kind(o.schedule));
  const diffusion::sampler_options so{
      o.sampler == "ddpm" ? diffusion::sampler_kind::ddpm : diffusion::sampler_kind::ddim, o.sampler_steps, o.eta};

  // 1. The network and its trainer, resumable, with a checkpoint every 1000 steps.
  philox init(o.seed);
  nn::denoising_resnet<float, Backend> net(ctx, init, o.network);
  std::size_t parameters = 0;
  for (const auto* p : net.parameters()) parameters += p->value.size();
  std::printf("network: hidden %zu, %zu blocks, embedding %zu: %zu parameters\n", o.network.hidden, o.network.blocks,
              o.network.embedding, parameters);
  diffusion::trainer_options to;
  to.batch = o.batch;
  to.steps = o.train_steps;
  to.lr = o.lr;
  to.decay = o.lr_decay == "cosine" ? diffusion::lr_decay::cosine : diffusion::lr_decay::constant;
  to.warmup_steps = o.warmup;
  to.final_lr_fraction = o.final_lr;
  to.seed = o.seed;
  to.validate_every = 500;
  to.checkpoint = o.out / "model.safetensors";
  to.checkpoint_every = 1000;
  to.progress_every = 100;
  to.progress = [](const diffusion::training_progress& p) {
    std::fprintf(stderr, "\rtrain: step %zu/%zu  loss %s  val %s  %.0f samples/s  ETA %s   ", p.step, p.steps,
                 loss_text(p.loss).c_str(), loss_text(p.validation_loss).c_str(), p.samples_per_second,
                 duration_text(p.eta_seconds).c_str());
    if (p.step == p.steps) std::fprintf(stderr, "\n");
  };
  diffusion::trainer<float, Backend> trainer(ctx, net, schedule, head, to);
  if (o.resume && std::filesystem::exists(to.checkpoint)) {
    trainer.load_checkpoint(to.checkpoint);
    std::printf("resumed from %s at step %zu\n", to.checkpoint.c_str(), trainer.step());
  }

  // 2. Data: the paper's three sets from one generator, normalised.
  auto t0 = clock::now();
  systems::lorenz63_dataset_options d;
  d.train_members = o.train_members;
  d.test_members = o.test_members;
  d.steps = o.trajectory_steps;
  d.spin_up = o.spin_up;
  d.seed = 42;
  d.progress_every = 100'000;
  d.progress = [](std::string_view set, std::size_t done, std::size_t total) {
    std::fprintf(stderr, "\rdata: %-10s %3.0f%%", std::string(set).c_str(), 100.0 * done / total);
    if (done == total) std::fprintf(stderr, "\n");
  };
  auto data = systems::make_lorenz63_dataset<float>(ctx, d);
  const std::size_t n_train = data.train.size() / 3, n_test = data.test.size() / 3;
  const auto train = data.train.view().reshape({n_train, 3});
  const auto validation = data.validation.view().reshape({data.validation.size() / 3, 3});
  const auto test = data.test.view().reshape({n_test, 3});
  std::printf("data: %zu train, %zu validation, %zu test states (%.1f s)\n", n_train, validation.extent(0), n_test,
              seconds_since(t0));

  // 3. Training.
  t0 = clock::now();
  const std::size_t start_step = trainer.step();
  trainer.train(train, validation);
  const double train_seconds = seconds_since(t0);
  std::printf("training: %zu steps of %zu in %.1f s (%.0f samples/s), validation loss %s\n",
              trainer.step() - start_step, o.batch, train_seconds,
              static_cast<double>((trainer.step() - start_step) * o.batch) / std::max(train_seconds, 1e-9),
              loss_text(trainer.last_validation_loss()).c_str());
  if (std::filesystem::exists(to.checkpoint)) written.add(to.checkpoint);
  if (o.use_ema) trainer.average().copy_to(ctx);

  // 4. Sampling.
  diffusion::sampler<float, Backend> sampler(ctx, net, schedule, head);
  tensor<float, Backend> samples({o.samples, 3});
  philox gen(o.seed, 1);
  t0 = clock::now();
  sampler.set_progress([t0, last = std::size_t{0}](std::size_t done, std::size_t total) mutable {
    // About every 1% of the sample-steps, and at the end.
    if (done != total && done - last < total / 100) return;
    last = done;
    progress_line("sampling: sample-steps", done, total, t0);
  });
  sampler.sample(gen, samples.view(), so);
  sampler.set_progress({});  // Table 2's draws print their own lines
  const double sample_seconds = seconds_since(t0);
  std::printf("sampling: %zu samples x %zu %s steps in %.1f s (%.3g sample-steps/s)\n", o.samples, o.sampler_steps,
              std::string(diffusion::to_string(so.kind)).c_str(), sample_seconds,
              static_cast<double>(o.samples * o.sampler_steps) / sample_seconds);
  const auto host_samples = to_backend<cpu>(ctx, samples);
  save_npy(o.out / "samples.npy", host_samples.view());
  written.add(o.out / "samples.npy");

  // 5. The five metrics against the test set, with the FSD network trained on the train trajectories and the
  // Hellinger floor drawn from the validation trajectory.
  t0 = clock::now();
  philox surrogate_init(o.seed, 2);
  metrics::dense_surrogate<float, Backend> features(ctx, surrogate_init);
  metrics::surrogate_training_options so2;
  so2.steps = o.surrogate_steps;
  so2.batch = o.surrogate_batch;
  so2.lr = o.surrogate_lr;
  so2.seed = o.seed;
  so2.report_every = 250;
  so2.progress = [&](std::size_t step, double loss) {
    std::fprintf(stderr, "\rFSD features: step %zu/%zu  loss %.3g   ", step, so2.steps, loss);
    if (step == so2.steps) std::fprintf(stderr, "\n");
  };
  const double surrogate_loss = metrics::train_dense_surrogate(ctx, features, data.train, so2);
  std::printf("FSD feature network: %zu steps, final loss %.3g (%.1f s)\n", so2.steps, surrogate_loss,
              seconds_since(t0));
  t0 = clock::now();
  metrics::evaluation_options eo;
  eo.progress = [t0](std::string_view stage, std::size_t done, std::size_t total) {
    std::fprintf(stderr, "\rmetrics: %zu/%zu, %s: %-24s", done, total, duration_text(seconds_since(t0)).c_str(),
                 std::string(stage).c_str());
    if (done == total) std::fprintf(stderr, "\n");
  };
  std::fprintf(stderr, "metrics: indexing the %zu test states\n", n_test);
  metrics::evaluator<float, Backend> evaluator(ctx, test, validation, &features, eo);
  const metrics::evaluation e = evaluator.evaluate(ctx, samples.view());
  std::printf("metrics: %.1f s\n\n", seconds_since(t0));
  print_table1(o, e);
  write_csv(o.out / "metrics.csv", o, e, written);

  if (o.table2) table2(ctx, o, sampler, evaluator, written);

  // A Fig. 6-like figure: projections and marginals of the samples beside 1e5 states of the test trajectories.
  const std::size_t shown = std::min<std::size_t>(n_test, 100'000);
  tensor<float, cpu> reference({shown, 3});
  {
    const auto host_test = to_backend<cpu>(ctx, test);
    for (std::size_t i = 0; i < shown; ++i)
      for (std::size_t k = 0; k < 3; ++k) reference[3 * i + k] = host_test[(i * (n_test / shown)) * 3 + k];
  }
  save_npy(o.out / "reference.npy", reference.view());
  written.add(o.out / "reference.npy");
  plot(o, written);
  written.print_summary();
  return 0;
}

}  // namespace lorenz63_generate
