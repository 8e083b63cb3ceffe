// Samplers of the reverse VE SDE (diffusion/ve_sde.hpp) from a score model, from the prior N(0, sigma_max^2 I) at
// t = 1 down to t_end (1e-3 by default, as CliMAgen):
//
//   sample_euler_maruyama      Euler-Maruyama of the reverse SDE, x <- x + g^2 s dt + g sqrt(dt) z: CliMAgen's
//                              Euler_Maruyama_sampler (src/sampling.jl) and Song's tutorial, 250 steps by default;
//   sample_predictor_corrector a Langevin corrector (score_sde's LangevinCorrector, snr 0.16) before each
//                              Euler-Maruyama predictor step, as score_sde's pc_sampler;
//   sample_probability_flow    the probability-flow ODE dx/dt = -g^2 s / 2 with Heun's method (beyond the paper's
//                              code, which ships no ODE integrator).
//
// A score model is anything callable as
//
//   score(ctx, tensor_view<const Scalar, Backend> x /* n x D */, double t, tensor_view<Scalar, Backend> out)
//
// writing grad log p_t(x) for each row at diffusion time t: a trained network through network_score
// (diffusion/network_score.hpp), or an exact score in the tests.
//
// Time grids. Euler-Maruyama and predictor-corrector follow CliMAgen (LinRange(1, eps, N)) and score_sde
// (linspace(T, eps, N)): N evaluations at t_i = 1 - i dt, i = 0..N-1, dt = (1 - t_end) / (N - 1), each moving the
// state by dt, so the last one is at t_end and the state ends one step past it. By default the last step adds its
// noise too (CliMAgen returns x, not mean_x); denoise_last returns the last step's mean instead (Song's tutorial and
// score_sde's denoise = true). Heun integrates the ODE over N steps from t = 1 to exactly t_end.
//
// Rows are processed in chunks of at most `chunk`, so memory stays bounded whatever the number of samples. Bad
// options, a wrong output shape, and a model writing NaN or Inf throw attractor::error naming the sampler.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>

#include "attractor/backend/for_each.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/diffusion/ve_sde.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::diffusion {

/// A score at diffusion time t: score(ctx, x (n x D), t, out (n x D)).
template <class M, class Scalar, class Backend>
concept score_model = std::invocable < M&,
        context<Backend>
&, tensor_view<const Scalar, Backend>, double, tensor_view < Scalar, Backend >> ;

struct ve_sampler_options {
  std::size_t steps = 250;          ///< N (CliMAgen's Allen-Cahn check: 250)
  double t_end = 1e-3;              ///< the last diffusion time (CliMAgen's and score_sde's eps)
  bool denoise_last = false;        ///< Euler-Maruyama and predictor-corrector: the last step adds no noise
  double snr = 0.16;                ///< predictor-corrector: the corrector's signal-to-noise ratio
  std::size_t corrector_steps = 1;  ///< predictor-corrector: Langevin steps before each predictor step
  std::size_t chunk = 16384;        ///< rows per pass
};

namespace detail {

/// x += a s + b z (z null: no noise).
template <class Scalar>
struct ve_step_kernel {
  Scalar* x;
  const Scalar* s;
  const Scalar* z;
  Scalar a, b;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    Scalar next = x[i] + a * s[i];
    if (z != nullptr) next += b * z[i];
    x[i] = next;
  }
};

/// out = x + a s.
template <class Scalar>
struct axpy_into_kernel {
  const Scalar* x;
  const Scalar* s;
  Scalar* out;
  Scalar a;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = x[i] + a * s[i]; }
};

/// Heun's corrector: x += a s1 + b s2.
template <class Scalar>
struct heun_kernel {
  Scalar* x;
  const Scalar* s1;
  const Scalar* s2;
  Scalar a, b;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { x[i] += a * s1[i] + b * s2[i]; }
};

/// out[r] = |row r of x|_2.
template <class Scalar>
struct row_norm_kernel {
  const Scalar* x;
  Scalar* out;
  std::size_t dim;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r) const {
    Scalar sum = 0;
    for (std::size_t c = 0; c < dim; ++c) sum += x[r * dim + c] * x[r * dim + c];
    out[r] = std::sqrt(sum);
  }
};

inline void check_ve_options(const ve_sampler_options& o, std::size_t min_steps, const char* fn) {
  require(o.steps >= min_steps, fn, attractor::detail::text("at least ", min_steps, " steps"), o.steps);
  require(std::isfinite(o.t_end) && o.t_end > 0 && o.t_end < 1, fn, "a final diffusion time t_end in (0, 1)", o.t_end);
  require(o.chunk > 0, fn, "a chunk of at least one row", o.chunk);
}

template <class Scalar, class Backend>
void check_ve_output(tensor_view<Scalar, Backend> out, const char* fn) {
  require(out.rank() == 2 && out.extent(0) > 0 && out.extent(1) > 0, fn, "an output of shape (n x D), n, D > 0",
          out.shape());
}

/// model(ctx, x, t, s), then a check that s is finite.
template <class Scalar, class Backend, class Model>
void evaluate_ve_score(context<Backend>& ctx, Model& model, tensor_view<Scalar, Backend> x, double t,
                       tensor_view<Scalar, Backend> s, const char* fn) {
  model(ctx, tensor_view<const Scalar, Backend>(x), t, s);
  require_finite(ctx, s, fn, attractor::detail::concat("the score model's output at t = ", t));
}

/// Scratch of one chunk of rows.
template <class Scalar, class Backend>
struct ve_scratch {
  tensor<Scalar, Backend> s, z, x2, s2, norms;
};

/// Fills out with the prior N(0, sigma_max^2) and runs step(chunk, scratch) over chunks of rows.
template <class Scalar, class Backend, class Step>
void over_chunks(context<Backend>& ctx, const ve_sde& sde, tensor_view<Scalar, Backend> out, std::size_t chunk,
                 philox& gen, bool second, Step step) {
  fill_normal(ctx, gen, out, Scalar(0), static_cast<Scalar>(sde.prior_std()));
  const std::size_t n = out.extent(0), d = out.extent(1);
  ve_scratch<Scalar, Backend> c;
  for (std::size_t begin = 0; begin < n; begin += chunk) {
    const std::size_t rows = std::min(chunk, n - begin);
    if (c.s.shape() != shape{rows, d}) {
      c.s = tensor<Scalar, Backend>({rows, d});
      c.z = tensor<Scalar, Backend>({rows, d});
      if (second) {
        c.x2 = tensor<Scalar, Backend>({rows, d});
        c.s2 = tensor<Scalar, Backend>({rows, d});
      }
      c.norms = tensor<Scalar, Backend>({rows});
    }
    step(out.rows(begin, begin + rows), c);
  }
}

/// One Euler-Maruyama step of the reverse SDE at time t: x <- x + g(t)^2 s(x, t) dt (+ g(t) sqrt(dt) z where
/// `noise`), the score in c.s and the draw in c.z. Both samplers' step (the predictor-corrector's predictor).
template <class Scalar, class Backend, class Model>
void euler_maruyama_step(context<Backend>& ctx, Model& model, const ve_sde& sde, tensor_view<Scalar, Backend> x,
                         ve_scratch<Scalar, Backend>& c, double t, double dt, bool noise, philox& gen, const char* fn) {
  evaluate_ve_score(ctx, model, x, t, c.s.view(), fn);
  if (noise) fill_normal(ctx, gen, c.z, Scalar(0), Scalar(1));
  for_each_index(
      ctx, x.size(),
      ve_step_kernel<Scalar>{x.data(), c.s.data(), noise ? c.z.data() : nullptr, static_cast<Scalar>(sde.g2(t) * dt),
                             static_cast<Scalar>(sde.g(t) * std::sqrt(dt))});
}

}  // namespace detail

/// Euler-Maruyama of the reverse SDE (the header's grid): x <- x + g(t_i)^2 s(x, t_i) dt + g(t_i) sqrt(dt) z, from
/// x ~ N(0, sigma_max^2 I), into out (n x D).
template <floating_scalar Scalar, class Backend, score_model<Scalar, Backend> Model>
void sample_euler_maruyama(context<Backend>& ctx, Model& model, const ve_sde& sde, tensor_view<Scalar, Backend> out,
                           const ve_sampler_options& o, philox& gen) {
  constexpr const char* fn = "diffusion::sample_euler_maruyama";
  validated(sde, fn);
  detail::check_ve_options(o, 2, fn);
  detail::check_ve_output(out, fn);
  const double dt = (1 - o.t_end) / static_cast<double>(o.steps - 1);
  detail::over_chunks<Scalar>(ctx, sde, out, o.chunk, gen, false, [&](tensor_view<Scalar, Backend> x, auto& c) {
    for (std::size_t i = 0; i < o.steps; ++i) {
      const double t = i + 1 == o.steps ? o.t_end : 1 - static_cast<double>(i) * dt;
      detail::euler_maruyama_step(ctx, model, sde, x, c, t, dt, !(o.denoise_last && i + 1 == o.steps), gen, fn);
    }
  });
}

/// Predictor-corrector (the header's grid): at each t_i, corrector_steps Langevin steps x <- x + e s + sqrt(2 e) z
/// with e = 2 (snr |z| / |s|)^2, then the Euler-Maruyama step. As score_sde's LangevinCorrector (alpha = 1 for a
/// VE SDE), |z| and |s| are per-sample L2 norms averaged over the batch, here over the rows of a chunk: one step
/// size for the chunk. (CliMAgen's predictor_corrector_sampler, after Song's tutorial, takes sqrt(D) for |z|, which
/// the mean norm approaches for large D; its column-major reshape of the score does not group values by sample.)
template <floating_scalar Scalar, class Backend, score_model<Scalar, Backend> Model>
void sample_predictor_corrector(context<Backend>& ctx, Model& model, const ve_sde& sde,
                                tensor_view<Scalar, Backend> out, const ve_sampler_options& o, philox& gen) {
  constexpr const char* fn = "diffusion::sample_predictor_corrector";
  validated(sde, fn);
  detail::check_ve_options(o, 2, fn);
  detail::check_ve_output(out, fn);
  require(std::isfinite(o.snr) && o.snr > 0, fn, "a finite snr > 0", o.snr);
  const double dt = (1 - o.t_end) / static_cast<double>(o.steps - 1);
  detail::over_chunks<Scalar>(ctx, sde, out, o.chunk, gen, false, [&](tensor_view<Scalar, Backend> x, auto& c) {
    const std::size_t rows = x.extent(0), d = x.extent(1);
    auto mean_norm = [&](const tensor<Scalar, Backend>& v) {
      for_each_index(ctx, rows, detail::row_norm_kernel<Scalar>{v.data(), c.norms.data(), d});
      return static_cast<double>(reduce(ctx, reduction::sum, c.norms.data(), rows)) / static_cast<double>(rows);
    };
    for (std::size_t i = 0; i < o.steps; ++i) {
      const double t = i + 1 == o.steps ? o.t_end : 1 - static_cast<double>(i) * dt;
      for (std::size_t k = 0; k < o.corrector_steps; ++k) {
        detail::evaluate_ve_score(ctx, model, x, t, c.s.view(), fn);
        fill_normal(ctx, gen, c.z, Scalar(0), Scalar(1));
        const double s_norm = mean_norm(c.s), z_norm = mean_norm(c.z);
        if (s_norm == 0) continue;  // a zero score: nothing to correct along
        const double ratio = o.snr * z_norm / s_norm, e = 2 * ratio * ratio;
        for_each_index(ctx, x.size(),
                       detail::ve_step_kernel<Scalar>{x.data(), c.s.data(), c.z.data(), static_cast<Scalar>(e),
                                                      static_cast<Scalar>(std::sqrt(2 * e))});
      }
      detail::euler_maruyama_step(ctx, model, sde, x, c, t, dt, !(o.denoise_last && i + 1 == o.steps), gen, fn);
    }
  });
}

/// The probability-flow ODE dx/dt = -g(t)^2 s(x, t) / 2 from x ~ N(0, sigma_max^2 I) at t = 1 to t_end, with N Heun
/// steps of dt = (1 - t_end) / N: with f(x, t) = g(t)^2 s(x, t) / 2 (the drift in reverse time),
/// x' = x + dt f(x, t_i), x <- x + dt (f(x, t_i) + f(x', t_i - dt)) / 2. The generator draws the prior only.
template <floating_scalar Scalar, class Backend, score_model<Scalar, Backend> Model>
void sample_probability_flow(context<Backend>& ctx, Model& model, const ve_sde& sde, tensor_view<Scalar, Backend> out,
                             const ve_sampler_options& o, philox& gen) {
  constexpr const char* fn = "diffusion::sample_probability_flow";
  validated(sde, fn);
  detail::check_ve_options(o, 1, fn);
  detail::check_ve_output(out, fn);
  const double dt = (1 - o.t_end) / static_cast<double>(o.steps);
  detail::over_chunks<Scalar>(ctx, sde, out, o.chunk, gen, true, [&](tensor_view<Scalar, Backend> x, auto& c) {
    for (std::size_t i = 0; i < o.steps; ++i) {
      const double t = 1 - static_cast<double>(i) * dt;
      const double next = i + 1 == o.steps ? o.t_end : 1 - static_cast<double>(i + 1) * dt;
      const double f1 = sde.g2(t) / 2, f2 = sde.g2(next) / 2;
      detail::evaluate_ve_score(ctx, model, x, t, c.s.view(), fn);
      for_each_index(ctx, x.size(),
                     detail::axpy_into_kernel<Scalar>{x.data(), c.s.data(), c.x2.data(), static_cast<Scalar>(dt * f1)});
      detail::evaluate_ve_score(ctx, model, c.x2.view(), next, c.s2.view(), fn);
      for_each_index(ctx, x.size(),
                     detail::heun_kernel<Scalar>{x.data(), c.s.data(), c.s2.data(), static_cast<Scalar>(dt * f1 / 2),
                                                 static_cast<Scalar>(dt * f2 / 2)});
    }
  });
}

/// The samplers above into a new (n x dimension) tensor: e.g. sample_euler_maruyama<float>(ctx, model, sde, n, d,
/// options, gen).
template <floating_scalar Scalar, class Backend, score_model<Scalar, Backend> Model>
tensor<Scalar, Backend> sample_euler_maruyama(context<Backend>& ctx, Model& model, const ve_sde& sde, std::size_t n,
                                              std::size_t dimension, const ve_sampler_options& o, philox& gen) {
  tensor<Scalar, Backend> out({n, dimension});
  sample_euler_maruyama(ctx, model, sde, out.view(), o, gen);
  return out;
}
template <floating_scalar Scalar, class Backend, score_model<Scalar, Backend> Model>
tensor<Scalar, Backend> sample_predictor_corrector(context<Backend>& ctx, Model& model, const ve_sde& sde,
                                                   std::size_t n, std::size_t dimension, const ve_sampler_options& o,
                                                   philox& gen) {
  tensor<Scalar, Backend> out({n, dimension});
  sample_predictor_corrector(ctx, model, sde, out.view(), o, gen);
  return out;
}
template <floating_scalar Scalar, class Backend, score_model<Scalar, Backend> Model>
tensor<Scalar, Backend> sample_probability_flow(context<Backend>& ctx, Model& model, const ve_sde& sde, std::size_t n,
                                                std::size_t dimension, const ve_sampler_options& o, philox& gen) {
  tensor<Scalar, Backend> out({n, dimension});
  sample_probability_flow(ctx, model, sde, out.view(), o, gen);
  return out;
}

}  // namespace attractor::diffusion
