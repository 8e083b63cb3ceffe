// response_spde: the response of a stochastic PDE on a periodic 32 x 32 grid to a kick at one pixel, estimated the
// ways of Giorgini et al. (PRL 133, 267302, 2024), Fig. 1:
//   dynamical       perturbed ensembles with common random numbers, the "truth" (spec §6);
//   gaussian        C(tau) C(0)^-1 through the Fourier-diagonal route (exact under translation invariance, §5, §12);
//   analytic score  the GFDT -<u(t + tau) s(u(t))> with the system's own score on the grid (1/n^2 normalisation),
//                   normalised to R(0) = I as the paper does (§7), and raw (Ornstein-Uhlenbeck and Allen-Cahn only);
//   learned score   with --score learned: the same GFDT with a periodic U-Net trained by denoising score matching on
//                   the recorded fields, at sigma_min = 0.01 (§7, §8), after checks of its samples against the data
//                   and the out-of-sample test of §9 (examples/learned_score.hpp).
// It simulates the system (--system ou | allen-cahn | navier-stokes), records a time series of the field, computes
// the responses to a kick at pixel (1, 1) and prints e2 and e_inf of each against the dynamical one at lags 1, 2, 5,
// 10, 20 and 50, with the responses of the four pixels next to the kick along x (the Fig. 1 row).
//
// The cpu defaults are scaled down to run in minutes on two cores (the sizes are printed); --full runs the spec's
// sizes (Allen-Cahn: 128 members, 1000 time units of spin-up, 2000 recorded, 100 resets; Navier-Stokes: 2048
// members, 2^17 steps of spin-up; the cpu default has 32 members and 2^15 steps, 256 time units: 2.6 e-foldings of
// the hypoviscous damping of the largest scales, 0.01 per time unit, where the paper's 1024 time units are 10). Lags
// are one time unit (32 steps) for Ornstein-Uhlenbeck and Allen-Cahn, and one step (1/128) for Navier-Stokes, as in the
// paper's code.
//
// Outputs in --out: <method>.npy, the response column of each method, (lags + 1) x n^2 ([tau][pixel]), the
// dynamical one's standard error, and errors.csv; an existing file there is replaced only with --overwrite.
//   response_spde --system allen-cahn
#include <attractor/io/file.hpp>
#include <attractor/io/npy.hpp>
#include <attractor/response/dynamical.hpp>
#include <attractor/response/errors.hpp>
#include <attractor/response/gaussian.hpp>
#include <attractor/response/score_based.hpp>
#include <attractor/systems/spectral/allen_cahn.hpp>
#include <attractor/systems/spectral/navier_stokes.hpp>
#include <attractor/systems/spectral/ornstein_uhlenbeck.hpp>
#include <attractor/tensor/checks.hpp>

#include "cli.hpp"
#include "learned_score.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace attractor;
namespace spectral = attractor::systems::spectral;

namespace {

enum class system_kind { ou, allen_cahn, navier_stokes };

struct options {
  system_kind system = system_kind::allen_cahn;
  bool full = false;
  // 0 means the system's default (cpu or --full), filled in by resolve().
  std::size_t members = 0, spin_up = 0, record = 0, record_every = 0, lags = 0, resets = 0, reset_every = 0;
  std::size_t score_batch = 512;
  std::uint64_t seed = 1234;
  int threads = 0;
  bool overwrite = false;
  std::filesystem::path out;
  bool learned = false;  // --score learned
  examples::learned_score_options learn;
};

/// The sizes of one run, in model steps and frames.
struct sizes {
  std::size_t members, spin_up_steps, frames, record_every, lags, resets, reset_every;
  double dt;
  /// One lag in the model's time units.
  [[nodiscard]] double lag_time() const { return static_cast<double>(record_every) * dt; }
};

sizes resolve(const options& o) {
  // {members, spin-up steps, frames, steps per frame (= per lag), lags, resets, steps between resets}
  sizes s{};
  switch (o.system) {
    case system_kind::ou:
    case system_kind::allen_cahn:
      // Spec §3, §6: dt = 1/32; frames every time unit; resets every 100 time units.
      s = o.full ? sizes{128, 32000, 2000, 32, 100, 100, 3200, 1.0 / 32}
                 : sizes{64, 6400, 1000, 32, 50, 20, 3200, 1.0 / 32};
      break;
    case system_kind::navier_stokes:
      // Spec §4, §6: dt = 1/128; frames and lags every step; 512 lags kept in the paper.
      s = o.full ? sizes{2048, 131072, 1024, 1, 512, 1, 1024, 1.0 / 128}
                 : sizes{32, 32768, 2048, 1, 50, 16, 256, 1.0 / 128};
      break;
  }
  if (o.members) s.members = o.members;
  if (o.spin_up) s.spin_up_steps = o.spin_up;
  if (o.record) s.frames = o.record;
  if (o.record_every) s.record_every = o.record_every;
  if (o.lags) s.lags = o.lags;
  if (o.resets) s.resets = o.resets;
  if (o.reset_every) s.reset_every = o.reset_every;
  return s;
}

const char* name_of(system_kind k) {
  return k == system_kind::ou ? "ou" : k == system_kind::allen_cahn ? "allen-cahn" : "navier-stokes";
}

options parse(int argc, char** argv) {
  options o;
  CLI::App app(
      "Dynamical, Gaussian and analytic-score responses of a stochastic PDE to a kick at one pixel "
      "(Giorgini et al. 2024, Fig. 1 without the learned score).",
      "response_spde");
  const std::map<std::string, system_kind> systems{
      {"ou", system_kind::ou}, {"allen-cahn", system_kind::allen_cahn}, {"navier-stokes", system_kind::navier_stokes}};
  app.add_option("--system", o.system, "ou, allen-cahn or navier-stokes (default allen-cahn)")
      ->transform(CLI::CheckedTransformer(systems, CLI::ignore_case));
  app.add_flag("--full", o.full, "the spec's sizes (for a long run or a GPU) instead of the cpu defaults");
  app.add_option("--members", o.members, "ensemble members (default: cpu 64, NS 32; --full 128, NS 2048)")
      ->check(examples::count_in(2, 1'000'000));
  app.add_option("--spin-up", o.spin_up, "model steps before recording (default: the system's)")
      ->check(examples::count_in(0, 1'000'000'000));
  app.add_option("--frames", o.record, "frames recorded per member (default: the system's)")
      ->check(examples::count_in(2, 100'000'000));
  app.add_option("--record-every", o.record_every, "model steps per frame and per lag (default: 32, NS 1)")
      ->check(examples::count_in(1, 1'000'000));
  app.add_option("--lags", o.lags, "lags computed (default: 50; --full 100, NS 512)")
      ->check(examples::count_in(1, 100'000));
  app.add_option("--resets", o.resets, "kicks averaged in the dynamical response (default: the system's)")
      ->check(examples::count_in(1, 1'000'000));
  app.add_option("--reset-every", o.reset_every, "model steps between kicks (default: 3200, NS 256)")
      ->check(examples::count_in(1, 1'000'000'000));
  app.add_option("--score-batch", o.score_batch, "frames per call of the score (default 512)")
      ->check(examples::count_in(1, 1'000'000));
  app.add_option("--seed", o.seed, "seed (default 1234, the spec's)")->check(examples::count_in(0, UINT64_MAX));
  app.add_option("--threads", o.threads, "cpu threads (default 0: all OpenMP offers)")
      ->check(examples::count_in(0, 1024));
  app.add_option("--out", o.out, "output folder (default out/response/<system>), checked for writing before the run");
  app.add_flag("--overwrite", o.overwrite, "replace the outputs of an earlier run in --out");
  std::string score = "analytic";
  app.add_option("--score", score,
                 "analytic (the system's own score, where it has one) or learned (also a U-Net trained on the fields)")
      ->check(CLI::IsMember({"analytic", "learned"}));
  auto* g = "Learned score (--score learned)";
  app.add_option("--checkpoint", o.learn.checkpoint, "use this earlier run's score_model.safetensors (EMA weights)")
      ->group(g)
      ->check(CLI::ExistingFile);
  app.add_option("--train-steps", o.learn.train_steps,
                 "optimiser steps (default: cpu 2000, OU 1000; --full 80000, the paper's)")
      ->group(g)
      ->check(examples::count_in(1, 100'000'000));
  app.add_option("--batch", o.learn.batch, "training batch (default 128, the paper's)")
      ->group(g)
      ->check(examples::count_in(1, 65536));
  app.add_option("--unet-channels", o.learn.channels,
                 "channels per level (default cpu 16,32,64; --full 32,64,128,256, the paper's)")
      ->group(g)
      ->delimiter(',')
      ->check(examples::count_in(1, 4096));
  app.add_option("--unet-residual", o.learn.residual_blocks,
                 "residual blocks at the coarsest level (default cpu 2; --full 8)")
      ->group(g)
      ->check(examples::count_in(0, 1024));
  app.add_option("--unet-embedding", o.learn.embedding, "time-embedding width (default cpu 64; --full 256)")
      ->group(g)
      ->check(examples::count_in(2, 65536));
  app.add_option("--ema-decay", o.learn.ema_decay,
                 "EMA decay of the weights (default cpu 0.995: a 200-step memory for a run of thousands of steps; "
                 "--full 0.999, the paper's)")
      ->group(g)
      ->check(examples::number_in(0.5, 0.999999));
  app.add_option("--samples", o.learn.samples, "fields generated for the sample check (default 200)")
      ->group(g)
      ->check(examples::count_in(1, 10'000'000));
  bool channels_given = false, residual_given = false, embedding_given = false, ema_given = false;
  examples::parse_or_exit(app, argc, argv);
  channels_given = app.count("--unet-channels") > 0;
  residual_given = app.count("--unet-residual") > 0;
  embedding_given = app.count("--unet-embedding") > 0;
  ema_given = app.count("--ema-decay") > 0;
  o.learned = score == "learned";
  if (!o.full) {  // the cpu default: a smaller U-Net (the paper's trains for days on an A100)
    if (!channels_given) o.learn.channels = {16, 32, 64};
    if (!residual_given) o.learn.residual_blocks = 2;
    if (!embedding_given) o.learn.embedding = 64;
    if (!ema_given) o.learn.ema_decay = 0.995;
  }
  if (o.learned && o.learn.checkpoint.empty()) {
    require(o.learn.channels.size() >= 2 && o.learn.channels.size() <= 6, "response_spde --unet-channels",
            "between two and six levels (32 pixels halved at each level but the first)", o.learn.channels.size());
    const sizes s = resolve(o);
    const std::size_t held = std::max<std::size_t>(1, s.members / 8);
    require((s.members - held) * s.frames >= o.learn.batch && held * s.frames >= o.learn.batch, "response_spde --batch",
            detail::concat("at most the frames of the training and the held-out members (the last eighth): ",
                           (s.members - held) * s.frames, " and ", held * s.frames),
            o.learn.batch);
  }
  if (o.learn.train_steps == 0) o.learn.train_steps = o.full ? 80'000 : o.system == system_kind::ou ? 1000 : 2000;
  if (o.out.empty()) o.out = std::filesystem::path("out/response") / name_of(o.system);
  const sizes s = resolve(o);
  require(s.frames > s.lags, "response_spde --frames", detail::concat("more frames than the ", s.lags, " lags"),
          s.frames);
  require(s.reset_every >= s.lags * s.record_every, "response_spde --reset-every",
          detail::concat("at least lags x record-every = ", s.lags * s.record_every, " steps"), s.reset_every);
  // The series is held in memory in double: refuse what cannot fit rather than fail part-way.
  const double series_bytes = 8.0 * s.members * s.frames * 32 * 32;
  require(series_bytes <= 64e9, "response_spde", "a time series of at most 64 GB (members x frames x 1024 x 8 bytes)",
          detail::concat(series_bytes / 1e9, " GB"));
  examples::require_writable_folder(o.out, "response_spde", "--out");
  if (!o.overwrite) {
    for (const char* f : {"dynamical.npy", "gaussian.npy", "errors.csv", "score_model.safetensors"})
      require(!std::filesystem::exists(o.out / f), "response_spde --out",
              "a folder without an earlier run's outputs (or --overwrite)", o.out / f);
  }
  return o;
}

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// Advances `steps` in chunks, printing progress about every 10 seconds.
template <class Model>
void advance_with_progress(context<cpu>& ctx, const Model& model, tensor<double, cpu>& states, std::size_t steps,
                           philox& gen, const char* what) {
  const auto t0 = clock_type::now();
  auto last = t0;
  const std::size_t chunk = 64;
  for (std::size_t done = 0; done < steps;) {
    const std::size_t n = std::min(chunk, steps - done);
    model.advance(ctx, states.view(), n, gen);
    done += n;
    if (seconds_since(last) > 10 || done == steps) {
      last = clock_type::now();
      const double t = seconds_since(t0);
      std::printf("  %s: step %zu / %zu, %.0f s, about %.0f s left\n", what, done, steps, t,
                  t / static_cast<double>(done) * static_cast<double>(steps - done));
      std::fflush(stdout);
    }
  }
}

/// Records `frames` frames of the first `pixels` state values of every member, `every` steps apart, as a members x
/// frames x pixels series on the host.
template <class Model>
tensor<double, cpu> record_series(context<cpu>& ctx, const Model& model, tensor<double, cpu>& states,
                                  std::size_t pixels, std::size_t frames, std::size_t every, philox& gen) {
  const std::size_t N = states.extent(1);
  tensor<double, cpu> series({N, frames, pixels});
  const auto t0 = clock_type::now();
  auto last = t0;
  for (std::size_t t = 0; t < frames; ++t) {
    model.advance(ctx, states.view(), every, gen);
    for (std::size_t p = 0; p < pixels; ++p)
      for (std::size_t m = 0; m < N; ++m) series[(m * frames + t) * pixels + p] = states[p * N + m];
    if (seconds_since(last) > 10 || t + 1 == frames) {
      last = clock_type::now();
      const double s = seconds_since(t0);
      std::printf("  recording: frame %zu / %zu, %.0f s, about %.0f s left\n", t + 1, frames, s,
                  s / static_cast<double>(t + 1) * static_cast<double>(frames - t - 1));
      std::fflush(stdout);
    }
  }
  require_finite(ctx, series.view(), "response_spde", "the recorded time series (NaN or Inf: the model blew up)");
  return series;
}

/// The dynamical response, one kick at a time so that progress can be printed: the mean over resets and its
/// standard error, (lags + 1) x pixels.
template <class Model>
std::pair<tensor<double, cpu>, tensor<double, cpu>> dynamical_with_progress(context<cpu>& ctx, const Model& model,
                                                                            tensor<double, cpu>& states, const sizes& s,
                                                                            std::size_t pixels, philox& gen) {
  response::dynamical_options d;
  d.lags = s.lags;
  d.steps_per_lag = s.record_every;
  d.steps_between_resets = s.reset_every;
  d.resets = 1;
  d.dt = s.dt;
  tensor<double, cpu> sum({s.lags + 1, pixels}), sum_sq({s.lags + 1, pixels});
  fill(ctx, sum.size(), sum.data(), 0.0);
  fill(ctx, sum_sq.size(), sum_sq.data(), 0.0);
  const auto t0 = clock_type::now();
  auto last = t0;
  for (std::size_t r = 0; r < s.resets; ++r) {
    const auto one = response::dynamical(ctx, model, states, std::size_t{0}, d, gen);
    const std::size_t Nx = one.response.extent(1);
    for (std::size_t l = 0; l <= s.lags; ++l)
      for (std::size_t p = 0; p < pixels; ++p) {
        const double v = one.response[l * Nx + p];
        sum[l * pixels + p] += v;
        sum_sq[l * pixels + p] += v * v;
      }
    if (seconds_since(last) > 10 || r + 1 == s.resets) {
      last = clock_type::now();
      const double t = seconds_since(t0);
      std::printf("  dynamical response: kick %zu / %zu, %.0f s, about %.0f s left\n", r + 1, s.resets, t,
                  t / static_cast<double>(r + 1) * static_cast<double>(s.resets - r - 1));
      std::fflush(stdout);
    }
  }
  tensor<double, cpu> mean({s.lags + 1, pixels}), stderr_({s.lags + 1, pixels});
  const double R = static_cast<double>(s.resets);
  for (std::size_t i = 0; i < mean.size(); ++i) {
    mean[i] = sum[i] / R;
    const double var = s.resets > 1 ? std::max(0.0, (sum_sq[i] - R * mean[i] * mean[i]) / (R - 1)) : NAN;
    stderr_[i] = std::sqrt(var / R);
  }
  return {std::move(mean), std::move(stderr_)};
}

struct method {
  std::string name;
  tensor<double, cpu> response;  // (lags + 1) x pixels
};

template <class Model>
int run(const options& o, const Model& model, std::size_t pixels) {
  const sizes s = resolve(o);
  context<cpu> ctx(o.threads);
  const std::size_t Nx = model.dimension();
  std::printf(
      "%s on a %zu x %zu grid: %zu members, spin-up %zu steps (dt %g), %zu frames every %zu steps, %zu lags "
      "(one lag = %zu steps = %g time units), dynamical response from %zu kicks every %zu steps; cpu with %d "
      "threads%s\n",
      name_of(o.system), model.params().n, model.params().n, s.members, s.spin_up_steps, s.dt, s.frames, s.record_every,
      s.lags, s.record_every, s.lag_time(), s.resets, s.reset_every, ctx.threads(), o.full ? " (--full)" : "");
  philox init(o.seed, 0), noise(o.seed, 1), kicks(o.seed, 2);
  tensor<double, cpu> states({Nx, s.members});
  if constexpr (requires { model.initial_states(ctx, states.view(), init); }) {
    model.initial_states(ctx, states.view(), init);
  } else {
    fill(ctx, states.size(), states.data(), 0.0);  // Ornstein-Uhlenbeck: the spin-up forgets any start
  }

  const auto t_all = clock_type::now();
  auto t0 = clock_type::now();
  advance_with_progress(ctx, model, states, s.spin_up_steps, noise, "spin-up");
  std::printf("spin-up: %.1f s\n", seconds_since(t0));
  t0 = clock_type::now();
  const auto series = record_series(ctx, model, states, pixels, s.frames, s.record_every, noise);
  std::printf("recording: %.1f s (%zu frames)\n", seconds_since(t0), s.members * s.frames);

  examples::written_files written;
  std::vector<method> methods;
  t0 = clock_type::now();
  methods.push_back({"gaussian", response::gaussian_field(ctx, series, s.lags, 0)});
  std::printf("gaussian response: %.1f s\n", seconds_since(t0));
  if constexpr (requires { &Model::score; }) {
    t0 = clock_type::now();
    response::score_options so;
    so.batch = o.score_batch;
    auto score = [&model](context<cpu>& c, const_tensor_view<double, cpu> frames, tensor_view<double, cpu> out) {
      model.score(c, frames, out);
    };
    auto r = response::score_based_field(ctx, series, score, s.lags, 0, so);
    methods.push_back({"analytic_score", std::move(r.normalised)});
    methods.push_back({"analytic_score_raw", std::move(r.raw)});
    std::printf("analytic-score response: %.1f s\n", seconds_since(t0));
  }
  if (o.learned) {
    const std::size_t side = model.params().n;
    // Allen-Cahn: the paper's scale factor 4; the others: |v| <= 0.5 (spec §12: data of O(0.25-0.5) amplitude).
    double largest = 0;
    for (double v : series) largest = std::max(largest, std::abs(v));
    const double scale = o.system == system_kind::allen_cahn ? 4.0 : 2 * largest;
    auto learned = examples::train_learned_score(ctx, series, side, scale, o.learn, o.out, written);
    examples::check_samples(ctx, learned, series, side, o.learn);
    examples::out_of_sample(ctx, learned, side, &model);
    t0 = clock_type::now();
    response::score_options so;
    so.batch = o.score_batch;
    auto r = response::score_based_field(ctx, series, examples::response_score(learned), s.lags, 0, so);
    methods.push_back({"learned_score", std::move(r.normalised)});
    methods.push_back({"learned_score_raw", std::move(r.raw)});
    std::printf("learned-score response: %.1f s\n", seconds_since(t0));
  }
  t0 = clock_type::now();
  auto [dyn, dyn_se] = dynamical_with_progress(ctx, model, states, s, pixels, kicks);
  std::printf("dynamical response: %.1f s\n\n", seconds_since(t0));

  // The table: e2 and e_inf against the dynamical response at the paper's lags.
  std::vector<std::size_t> shown;
  for (std::size_t l : {1, 2, 5, 10, 20, 50})
    if (l <= s.lags) shown.push_back(l);
  std::printf("errors against the dynamical response, kick at pixel (1, 1), one lag = %g time units\n", s.lag_time());
  std::printf("%-20s %-6s", "method", "error");
  for (std::size_t l : shown) std::printf("    lag %2zu", l);
  std::printf("\n");
  std::string csv = "method,error";
  for (std::size_t l = 0; l <= s.lags; ++l) csv += detail::concat(",lag", l);
  csv += "\n";
  for (const method& m : methods) {
    const auto e = response::errors(m.response, dyn);
    for (int which = 0; which < 2; ++which) {
      const auto& v = which == 0 ? e.e2 : e.e_inf;
      std::printf("%-20s %-6s", m.name.c_str(), which == 0 ? "e2" : "e_inf");
      for (std::size_t l : shown) std::printf(" %9.4f", v[l]);
      std::printf("\n");
      csv += m.name;
      csv += which == 0 ? ",e2" : ",e_inf";
      for (double x : v) {
        char number[32];
        std::snprintf(number, sizeof number, ",%.10g", x);
        csv += number;
      }
      csv += "\n";
    }
  }
  // Noise floor: the dynamical response's own standard error, the rms and the largest over pixels.
  std::printf("%-20s %-6s", "dynamical std.err.", "rms");
  for (std::size_t l : shown) {
    double ss = 0;
    for (std::size_t p = 0; p < pixels; ++p) ss += dyn_se[l * pixels + p] * dyn_se[l * pixels + p];
    std::printf(" %9.4f", std::sqrt(ss / static_cast<double>(pixels)));
  }
  // Lag 0 too: the raw score response there is -<u s^T>, which is I for the exact score (integration by parts).
  std::printf("\n\nR(pixel along x, lag) for a kick at pixel (1, 1): pixels (1,1) (2,1) (3,1) (4,1)\n");
  shown.insert(shown.begin(), 0);
  for (std::size_t l : shown) {
    std::printf("lag %3zu  %-19s", l, "dynamical");
    for (std::size_t p = 0; p < 4; ++p) std::printf(" %8.4f", dyn[l * pixels + p]);
    std::printf("\n");
    for (const method& m : methods) {
      std::printf("         %-19s", m.name.c_str());
      for (std::size_t p = 0; p < 4; ++p) std::printf(" %8.4f", m.response[l * pixels + p]);
      std::printf("\n");
    }
  }

  const auto save = [&](const std::string& name, const tensor<double, cpu>& t) {
    const auto path = o.out / detail::concat(name, ".npy");
    save_npy(path, t.view());
    written.add(path);
  };
  save("dynamical", dyn);
  save("dynamical_standard_error", dyn_se);
  for (const method& m : methods) save(m.name, m.response);
  const auto csv_path = o.out / "errors.csv";
  detail::write_atomically(csv_path, "response_spde", csv.size(),
                           [&](std::FILE* f) { return std::fwrite(csv.data(), 1, csv.size(), f) == csv.size(); });
  written.add(csv_path);
  std::printf("\ntotal %.1f s\n", seconds_since(t_all));
  written.print_summary();
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const options o = parse(argc, argv);
  switch (o.system) {
    case system_kind::ou: {
      const spectral::ornstein_uhlenbeck<double> model;
      return run(o, model, model.dimension());
    }
    case system_kind::allen_cahn: {
      const spectral::allen_cahn<double> model;
      return run(o, model, model.dimension());
    }
    case system_kind::navier_stokes: {
      const spectral::navier_stokes<double> model;
      return run(o, model, model.params().n * model.params().n);
    }
  }
  return 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
