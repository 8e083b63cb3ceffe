// The learned score of response_spde (--score learned): a periodic U-Net (nn::unet) trained by denoising score
// matching under the VE SDE on the recorded fields, checked against them, and turned into a score at sigma_min for
// the GFDT (spec §7-§9, §11).
//   1. Data: every recorded frame in scaled units v = u / scale (Allen-Cahn: scale 4, the paper's; the others:
//      twice the largest |u|, so |v| <= 0.5), the last eighth of the members held out for validation; sigma_max is
//      1.2 times the largest distance between 100 x 100 random pairs of training fields (the paper's rule).
//   2. Training through nn::fit: Adam 2e-4, a linear warm-up, gradient clipping at norm 1, EMA 0.999 (spec §8); or
//      the EMA weights of an earlier run's checkpoint (--checkpoint).
//   3. Sample checks: Euler-Maruyama samples (250 steps to t = 1e-3, spec §8) beside held-out data: pixel cumulants,
//      the Hellinger distance of pixel and spatial-mean PDFs (with the data-against-data floor), the shell spectrum.
//   4. The out-of-sample test of spec §9: the learned score on constant fields and on sin(2 pi x) sin(2 pi y) / 4,
//      against the analytic score where the system has one.
//   5. The score at diffusion time 0 (sigma_min) on every frame, for response::score_based_field.
#pragma once

#include <attractor/diffusion/network_score.hpp>
#include <attractor/diffusion/score_matching.hpp>
#include <attractor/diffusion/ve_sampler.hpp>
#include <attractor/io/safetensors.hpp>
#include <attractor/metrics/fields.hpp>
#include <attractor/metrics/hellinger.hpp>
#include <attractor/nn/fit.hpp>
#include <attractor/nn/unet.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

namespace examples {

struct learned_score_options {
  std::filesystem::path checkpoint;  ///< load its EMA weights instead of training
  std::size_t train_steps = 0;       ///< 0: the caller's default
  std::size_t batch = 128;
  std::vector<std::size_t> channels = {32, 64, 128, 256};
  std::size_t residual_blocks = 8;
  std::size_t embedding = 256;
  std::size_t warmup_steps = 42;  ///< Flux's 5000 warm-up counts, one per parameter array (about 119) per step
  double ema_decay = 0.999;       ///< the paper's; a run of a few thousand steps wants a shorter memory
  double sigma_max = 0;           ///< 0: 1.2 x the largest distance of random pairs of training fields
  std::size_t samples = 200;      ///< generated for the checks
  std::size_t sampler_steps = 250;
  std::uint64_t seed = 123;  ///< the paper's rngseed
};

/// A trained score model, in scaled units, and the scale.
struct learned_score {
  double scale = 1;
  attractor::diffusion::ve_sde sde;
  std::unique_ptr<attractor::nn::unet<float, attractor::cpu>> net;
  std::unique_ptr<attractor::diffusion::network_score<attractor::nn::unet<float, attractor::cpu>>> score;
};

namespace learned_detail {

using clock_type = std::chrono::steady_clock;
inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// 1.2 x the largest L2 distance between fields of 100 random pairs x 100 (spec §3, §12).
inline double sigma_max_rule(const attractor::tensor<float, attractor::cpu>& fields, attractor::philox& gen) {
  const std::size_t n = fields.extent(0), d = fields.extent(1);
  std::vector<std::uint32_t> pick(200);
  for (std::size_t i = 0; i < pick.size(); i += 4) {
    const auto block = gen.block(i / 4);
    for (std::size_t j = 0; j < 4; ++j) pick[i + j] = block.v[j];
  }
  double largest = 0;
  for (std::size_t a = 0; a < 100; ++a)
    for (std::size_t b = 100; b < 200; ++b) {
      const std::size_t i = pick[a] % n, j = pick[b] % n;
      double ss = 0;
      for (std::size_t p = 0; p < d; ++p) {
        const double diff = static_cast<double>(fields[i * d + p]) - fields[j * d + p];
        ss += diff * diff;
      }
      largest = std::max(largest, std::sqrt(ss));
    }
  return 1.2 * largest;
}

inline void print_row(const char* name, const std::vector<double>& v) {
  std::printf("    %-10s", name);
  for (double x : v) std::printf(" %10.3e", x);
  std::printf("\n");
}

}  // namespace learned_detail

/// Trains (or loads) the score model on `series` (members x frames x pixels, original units, side x side fields).
inline learned_score train_learned_score(attractor::context<attractor::cpu>& ctx,
                                         const attractor::tensor<double, attractor::cpu>& series, std::size_t side,
                                         double scale, const learned_score_options& o,
                                         const std::filesystem::path& out_folder, written_files& written) {
  using namespace attractor;
  using learned_detail::seconds_since;
  const std::size_t members = series.extent(0), frames = series.extent(1), pixels = series.extent(2);
  require(pixels == side * side, "response_spde --score learned", detail::text("fields of ", side * side, " pixels"),
          pixels);
  const std::size_t held_out = std::max<std::size_t>(1, members / 8), trained = members - held_out;
  if (o.checkpoint.empty())
    require(trained >= 1 && trained * frames >= o.batch && held_out * frames >= o.batch,
            "response_spde --score learned",
            detail::text("at least one batch (", o.batch, ") of frames in the training and the held-out members"),
            detail::text(trained * frames, " and ", held_out * frames));
  learned_score model;
  model.scale = scale;
  // Scaled float copies: the first `trained` members for training, the rest held out.
  auto scaled = [&](std::size_t first, std::size_t count) {
    tensor<float, cpu> t({count * frames, pixels});
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(series[first * frames * pixels + i] / scale);
    return t;
  };
  const tensor<float, cpu> train = scaled(0, trained), validation = scaled(trained, held_out);
  philox gen(o.seed, 0);

  nn::unet_options arch;
  if (!o.checkpoint.empty()) {
    const std::string fn = detail::concat("response_spde --checkpoint ", o.checkpoint);
    const auto meta = nn::safetensors_file::read_metadata(o.checkpoint);
    const auto it = meta.find("attractor.architecture");
    require(it != meta.end(), fn, "an attractor.architecture entry (a checkpoint of --score learned)", "none");
    arch = nn::parse_unet_architecture(it->second);
    model.sde = diffusion::checkpoint_sde(o.checkpoint);
  } else {
    arch.height = arch.width = side;
    arch.channels = o.channels;
    arch.residual_blocks = o.residual_blocks;
    arch.embedding = o.embedding;
    model.sde.sigma_min = 0.01;
    model.sde.sigma_max = o.sigma_max > 0 ? o.sigma_max : learned_detail::sigma_max_rule(train, gen);
  }
  require(arch.height == side && arch.width == side && arch.in_channels == 1, "response_spde --checkpoint",
          detail::text("a network of 1 x ", side, " x ", side, " fields"), nn::unet_architecture(arch));
  model.net = std::make_unique<nn::unet<float, cpu>>(ctx, gen, arch);
  auto& net = *model.net;
  std::printf("\nlearned score: U-Net %s, %zu parameters; VE SDE sigma_min %g, sigma_max %.3g; data scaled by 1/%g\n",
              net.architecture().c_str(), nn::parameter_count(net.parameters()), model.sde.sigma_min,
              model.sde.sigma_max, scale);
  std::printf("  %zu training fields (%zu members), %zu held out (%zu members)\n", train.extent(0), trained,
              validation.extent(0), held_out);
  if (!o.checkpoint.empty()) {
    diffusion::load_score_weights(ctx, o.checkpoint, net, model.sde, /*averaged=*/true);
    std::printf("  EMA weights loaded from %s\n", o.checkpoint.c_str());
  } else {
    diffusion::score_matching_objective<nn::unet<float, cpu>> objective(ctx, net, model.sde, o.batch);
    objective.set_data(train.view(), validation.view());
    nn::fit_options f;
    f.batch = o.batch;
    f.steps = o.train_steps;
    f.lr = 2e-4;
    f.warmup_steps = o.warmup_steps;
    f.clip_norm = 1.0;
    f.ema_decay = o.ema_decay;
    f.validate_every = std::max<std::size_t>(1, o.train_steps / 10);
    f.validation_batches = 4;
    f.checkpoint = out_folder / "score_model.safetensors";
    f.checkpoint_every = std::max<std::size_t>(1, o.train_steps / 10);
    f.seed = o.seed;
    f.progress_every = 25;
    const auto t0 = learned_detail::clock_type::now();
    f.progress = [t0](const nn::fit_progress& p) {
      std::printf(
          "  training: step %zu / %zu, loss %.4f (validation %.4f), %.0f samples/s, %.0f s, about %.0f s left\n",
          p.step, p.steps, p.loss, p.validation_loss, p.samples_per_second, seconds_since(t0), p.eta_seconds);
      std::fflush(stdout);
    };
    nn::fit<diffusion::score_matching_objective<nn::unet<float, cpu>>> run(ctx, objective, f);
    run.train();
    written.add(f.checkpoint);
    run.average().copy_to(ctx);  // the EMA weights, as the paper's model_smooth
    std::printf("  training: %.1f s, final validation loss (EMA weights) %.4f\n", seconds_since(t0),
                run.last_validation_loss());
  }
  model.score = std::make_unique<diffusion::network_score<nn::unet<float, cpu>>>(ctx, net, model.sde);
  return model;
}

/// Samples of the model beside held-out data: cumulants, pixel and spatial-mean PDFs, spectra (printed).
inline void check_samples(attractor::context<attractor::cpu>& ctx, learned_score& model,
                          const attractor::tensor<double, attractor::cpu>& series, std::size_t side,
                          const learned_score_options& o) {
  using namespace attractor;
  const auto t0 = learned_detail::clock_type::now();
  const std::size_t members = series.extent(0), frames = series.extent(1), pixels = side * side;
  const std::size_t n = std::min(o.samples, frames * std::max<std::size_t>(1, members / 8));
  tensor<float, cpu> generated({n, pixels});
  diffusion::ve_sampler_options so;
  so.steps = o.sampler_steps;
  so.chunk = 256;
  philox gen(o.seed, 7);
  diffusion::sample_euler_maruyama(ctx, *model.score, model.sde, generated.view(), so, gen);
  // Held-out data (the last members' frames, evenly spaced), scaled; and training frames for the floor.
  tensor<double, cpu> data({n, pixels}), floor_data({n, pixels}), samples({n, pixels});
  const std::size_t first_held = (members - std::max<std::size_t>(1, members / 8)) * frames,
                    held = members * frames - first_held;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t a = first_held + i * held / n, b = i * first_held / n;
    for (std::size_t p = 0; p < pixels; ++p) {
      data[i * pixels + p] = series[a * pixels + p] / model.scale;
      floor_data[i * pixels + p] = series[b * pixels + p] / model.scale;
      samples[i * pixels + p] = generated[i * pixels + p];
    }
  }
  std::printf(
      "\nsample check: %zu Euler-Maruyama samples (%zu steps to t = %g) beside %zu held-out fields, scaled "
      "units (%.1f s)\n",
      n, so.steps, so.t_end, n, learned_detail::seconds_since(t0));
  std::printf("  pixel cumulants kappa_1 .. kappa_6\n");
  learned_detail::print_row("data", metrics::cumulants(data.data(), data.size(), 6));
  learned_detail::print_row("generated", metrics::cumulants(samples.data(), samples.size(), 6));
  // Grids over the data and the samples together: samples far off the data still fall in a bin.
  const auto range_of = [](std::initializer_list<const tensor<double, cpu>*> sets, std::size_t bins) {
    double low = 0, high = 0;
    for (const auto* t : sets)
      for (double v : *t) low = std::min(low, v), high = std::max(high, v);
    const double pad = 0.05 * (high - low) + 1e-12;
    return metrics::cube_grid{bins, low - pad, high + pad};
  };
  const metrics::cube_grid pixel_grid = range_of({&data, &samples, &floor_data}, 50);
  const auto flat = [&](const tensor<double, cpu>& t) { return std::as_const(t).reshape({t.size(), 1}); };
  std::printf("  pixel PDF Hellinger distance (50 bins): generated %.4f, training data %.4f (the floor)\n",
              metrics::hellinger_distance(ctx, flat(samples), flat(data), pixel_grid),
              metrics::hellinger_distance(ctx, flat(floor_data), flat(data), pixel_grid));
  const auto mean_of = [](const tensor<double, cpu>& t) {
    auto m = metrics::spatial_means(std::as_const(t).view());
    tensor<double, cpu> out({m.size(), 1});
    std::copy(m.begin(), m.end(), out.data());
    return out;
  };
  const auto dm = mean_of(data), gm = mean_of(samples), fm = mean_of(floor_data);
  const auto dk = metrics::cumulants(dm.data(), dm.size(), 2), gk = metrics::cumulants(gm.data(), gm.size(), 2);
  const metrics::cube_grid mean_grid = range_of({&dm, &gm, &fm}, 20);
  std::printf(
      "  spatial mean: data mean %.4f std %.4f; generated mean %.4f std %.4f; Hellinger (20 bins) %.4f, "
      "floor %.4f\n",
      dk[0], std::sqrt(dk[1]), gk[0], std::sqrt(gk[1]), metrics::hellinger_distance(ctx, gm, dm, mean_grid),
      metrics::hellinger_distance(ctx, fm, dm, mean_grid));
  const auto ds = metrics::isotropic_spectrum(ctx, std::as_const(data).view(), side),
             gs = metrics::isotropic_spectrum(ctx, std::as_const(samples).view(), side);
  std::printf("  shell spectrum |k| =");
  for (std::size_t k = 0; k < ds.size(); k += (k < 4 ? 1 : 4)) std::printf(" %9zu", k);
  std::printf("\n    data              ");
  for (std::size_t k = 0; k < ds.size(); k += (k < 4 ? 1 : 4)) std::printf(" %9.2e", ds[k]);
  std::printf("\n    generated         ");
  for (std::size_t k = 0; k < gs.size(); k += (k < 4 ? 1 : 4)) std::printf(" %9.2e", gs[k]);
  std::printf("\n");
}

/// The learned score at diffusion time 0 on original-unit frames (B x pixels): s_u(u) = s_v(u / scale) / scale.
inline auto response_score(learned_score& model) {
  using namespace attractor;
  return [&model, buffer = std::make_shared<std::vector<float>>()](
             context<cpu>& ctx, const_tensor_view<double, cpu> frames, tensor_view<double, cpu> out) {
    const std::size_t n = frames.size();
    buffer->resize(2 * n);
    float* v = buffer->data();
    float* s = v + n;
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(frames.data()[i] / model.scale);
    const shape rows{frames.extent(0), frames.extent(1)};
    (*model.score)(ctx, tensor_view<const float, cpu>(v, rows), 0.0, tensor_view<float, cpu>(s, rows));
    for (std::size_t i = 0; i < n; ++i) out.data()[i] = static_cast<double>(s[i]) / model.scale;
  };
}

/// Spec §9's out-of-sample test: the learned score (scaled units, t = 0) on constant fields c in [-0.5, 0.5] and on
/// sin(2 pi x) sin(2 pi y) / 4, beside the analytic score s_v(v) = scale s_u(scale v) where `analytic` is given.
template <class Analytic>
void out_of_sample(attractor::context<attractor::cpu>& ctx, learned_score& model, std::size_t side,
                   const Analytic* analytic) {
  using namespace attractor;
  const std::size_t pixels = side * side;
  const std::size_t constants = 11;
  tensor<float, cpu> v({constants + 1, pixels}), s({constants + 1, pixels});
  for (std::size_t c = 0; c < constants; ++c)
    for (std::size_t p = 0; p < pixels; ++p)
      v[c * pixels + p] = static_cast<float>(-0.5 + 0.1 * static_cast<double>(c));
  for (std::size_t p = 0; p < pixels; ++p) {
    const double x = static_cast<double>(p % side) / side, y = static_cast<double>(p / side) / side;
    v[constants * pixels + p] =
        static_cast<float>(std::sin(2 * std::numbers::pi * x) * std::sin(2 * std::numbers::pi * y) / 4);
  }
  (*model.score)(ctx, std::as_const(v).view(), 0.0, s.view());
  tensor<double, cpu> exact({constants + 1, pixels});
  fill(ctx, exact.size(), exact.data(), 0.0);
  if constexpr (requires { &Analytic::score; }) {
    if (analytic != nullptr) {
      tensor<double, cpu> u({constants + 1, pixels});
      for (std::size_t i = 0; i < u.size(); ++i) u[i] = model.scale * static_cast<double>(v[i]);
      analytic->score(ctx, std::as_const(u).view(), exact.view());
      for (double& e : exact) e *= model.scale;
    }
  } else {
    analytic = nullptr;  // no analytic score to compare with
  }
  std::printf("\nout-of-sample test (spec §9), scaled units, score at t = 0 (mean over pixels)\n");
  std::printf("  %-22s %12s %12s\n", "field", "learned", analytic ? "analytic" : "");
  for (std::size_t c = 0; c < constants; ++c) {
    double learned = 0, reference = 0;
    for (std::size_t p = 0; p < pixels; ++p) {
      learned += s[c * pixels + p] / static_cast<double>(pixels);
      reference += exact[c * pixels + p] / static_cast<double>(pixels);
    }
    std::printf("  constant %+5.2f         %12.4g", -0.5 + 0.1 * static_cast<double>(c), learned);
    if (analytic) std::printf(" %12.4g", reference);
    std::printf("\n");
  }
  double dot = 0, ll = 0, rr = 0, diff = 0;
  for (std::size_t p = 0; p < pixels; ++p) {
    const double l = s[constants * pixels + p], r = exact[constants * pixels + p];
    dot += l * r, ll += l * l, rr += r * r, diff += (l - r) * (l - r);
  }
  std::printf("  sin(2pi x) sin(2pi y)/4: learned rms %.4g", std::sqrt(ll / pixels));
  if (analytic)
    std::printf(", analytic rms %.4g, rms difference %.4g, correlation %.3f", std::sqrt(rr / pixels),
                std::sqrt(diff / pixels), dot / std::sqrt(std::max(ll * rr, 1e-300)));
  std::printf("\n");
}

}  // namespace examples
