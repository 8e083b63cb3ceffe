// Samplers (spec §4): DDPM (paper Eq. 14) and DDIM with eta (Eq. 15), with step skipping, and partial diffusion.
//
// With N sampler steps on a schedule of T pseudo-times, step i = N..1 goes from t = round(i T / N) to
// s = round((i - 1) T / N); the network sees t. Writing a_t = alpha_bar_t and a' = a_t / a_s:
//   DDPM:  z_s = sqrt(a') (1 - a_s) / (1 - a_t) z_t + sqrt(a_s) (1 - a') / (1 - a_t) x_hat
//                + sqrt((1 - a') (1 - a_s) / (1 - a_t)) xi,
//          which at s = 0 is exactly x_hat;
//   DDIM:  z_s = sqrt(a_s) x_hat + sqrt(1 - a_s - c^2) eps_hat + c xi for i > 1, x_hat at i = 1, with
//          c = eta sqrt((1 - a_s + 1e-9) / (1 - a_t + 1e-9)) sqrt(1 - (a_t + 1e-9) / (a_s + 1e-9)) (the reference's
//          guards; c = 0 for eta = 0).
// No clipping of x_hat, as in the reference. Samples are processed in chunks of at most `chunk` rows, so memory is
// bounded whatever the number of samples.
//
// The sampler runs any model of the denoiser concept (diffusion/denoiser.hpp): it writes its head's prediction for
// the rows of z at pseudo-time t. network_denoiser (diffusion/network_denoiser.hpp, the default Model, which a
// program that uses the default includes) adapts a trained denoising_resnet; tests plug in exact denoisers.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "attractor/diffusion/denoiser.hpp"
#include "attractor/diffusion/parameterisation.hpp"
#include "attractor/diffusion/schedule.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::diffusion {

enum class sampler_kind { ddpm, ddim };

inline std::string_view to_string(sampler_kind k) { return k == sampler_kind::ddpm ? "DDPM" : "DDIM"; }

struct sampler_options {
  sampler_kind kind = sampler_kind::ddpm;
  std::size_t steps = 1000;  ///< N: sampler steps from t = T to 0
  double eta = 0;            ///< DDIM only: 0 deterministic, 1 DDPM-like noise; in [0, 1]
};

/// The pseudo-times of an N-step sampler on a schedule of T: t_i = round(i T / N) for i = 0..N (t_0 = 0, t_N = T).
inline std::vector<std::size_t> step_grid(std::size_t schedule_steps, std::size_t sampler_steps) {
  constexpr const char* fn = "diffusion::step_grid";
  require(sampler_steps >= 1, fn, "at least one sampler step", sampler_steps);
  require(sampler_steps <= schedule_steps, fn, attractor::detail::text("at most ", schedule_steps, " sampler steps"),
          sampler_steps);
  std::vector<std::size_t> t(sampler_steps + 1);
  const double mul = static_cast<double>(schedule_steps) / static_cast<double>(sampler_steps);
  for (std::size_t i = 0; i <= sampler_steps; ++i)
    t[i] = static_cast<std::size_t>(std::nearbyint(static_cast<double>(i) * mul));  // ties to even, as torch.round
  return t;
}

/// The coefficients of one step: z_s = cz z_t + cx x_hat + ce eps_hat + cn xi, with a, s converting the network's
/// prediction at t into x_hat and eps_hat.
struct step_coefficients {
  double a = 1, s = 0;  // sqrt(alpha_bar_t), sigma_t
  double cz = 0, cx = 0, ce = 0, cn = 0;
};

/// Step from t to s (s < t) of `kind`; `last` is DDIM's i = 1 (output x_hat).
inline step_coefficients step_coefficients_of(const noise_schedule& schedule, sampler_kind kind, double eta,
                                              std::size_t t, std::size_t s, bool last) {
  const double at = schedule.alpha_bar(t), as = schedule.alpha_bar(s);
  step_coefficients c;
  c.a = std::sqrt(at);
  c.s = std::sqrt(1 - at);
  if (kind == sampler_kind::ddpm) {
    const double ap = at / as;
    c.cz = std::sqrt(ap) * (1 - as) / (1 - at);
    c.cx = std::sqrt(as) * (1 - ap) / (1 - at);
    c.cn = std::sqrt(std::max(0.0, (1 - ap) * (1 - as) / (1 - at)));
  } else if (last) {
    c.cx = 1;
  } else {
    const double noise =
        eta == 0 ? 0.0 : eta * std::sqrt((1 - as + 1e-9) / (1 - at + 1e-9)) * std::sqrt(1 - (at + 1e-9) / (as + 1e-9));
    c.cx = std::sqrt(as);
    c.ce = std::sqrt(std::max(0.0, 1 - as - noise * noise));
    c.cn = noise;
  }
  return c;
}

namespace detail {

template <class Scalar>
struct sampler_step {
  Scalar* z;
  const Scalar* pred;
  const Scalar* xi;  // null when cn = 0
  parameterisation head;
  Scalar a, s, cz, cx, ce, cn;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const Scalar zi = z[i];
    const Scalar x = x_hat_of(head, zi, pred[i], a, s);
    Scalar next = cz * zi + cx * x;
    if (ce != Scalar(0)) next += ce * eps_hat_of(head, zi, pred[i], a, s);
    if (xi != nullptr) next += cn * xi[i];
    z[i] = next;
  }
};

/// z = a x + s eps, in place on eps.
template <class Scalar>
struct diffuse_kernel {
  const Scalar* x;
  Scalar* eps;
  Scalar a, s;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { eps[i] = a * x[i] + s * eps[i]; }
};

}  // namespace detail

/// A trained denoising_resnet as a denoiser: defined in diffusion/network_denoiser.hpp.
template <floating_scalar Scalar, class Backend>
class network_denoiser;

/// Draws samples from a denoiser Model (by default a trained denoising_resnet, through network_denoiser) with DDPM
/// or DDIM. Holds scratch; not thread-safe.
template <floating_scalar Scalar, class Backend, class Model = network_denoiser<Scalar, Backend>>
class sampler {
  static_assert(denoiser<Model, Scalar, Backend>,
                "diffusion::sampler: Model must be a denoiser (dimension() and predict(z, t, pred)); for the default, "
                "include attractor/diffusion/network_denoiser.hpp");

public:
  /// Samples `model`, which must outlive the sampler.
  sampler(context<Backend>& ctx, Model& model, noise_schedule schedule, parameterisation head,
          std::size_t chunk = 16384)
      : ctx_(&ctx), model_(&model), schedule_(std::move(schedule)), head_(head), chunk_(chunk) {
    require(chunk > 0, "diffusion::sampler", "a chunk of at least one sample", chunk);
  }

  /// Samples a Model built and held by the sampler from `network` (e.g. a trained denoising_resnet, through a
  /// network_denoiser), which must outlive the sampler. Where the Model has a max_time(), the schedule must have
  /// that many steps.
  template <class Network>
  requires(!std::same_as<Network, Model> && std::constructible_from<Model, context<Backend>&, Network&>)
      sampler(context<Backend>& ctx, Network& network, noise_schedule schedule, parameterisation head,
              std::size_t chunk = 16384)
      : owned_(std::make_unique<Model>(ctx, network)),
        ctx_(&ctx),
        model_(owned_.get()),
        schedule_(std::move(schedule)),
        head_(head),
        chunk_(chunk) {
    require(chunk > 0, "diffusion::sampler", "a chunk of at least one sample", chunk);
    if constexpr (requires(const Model& m) { m.max_time(); }) {
      require(schedule_.steps() == model_->max_time(), "diffusion::sampler",
              attractor::detail::text("a schedule of ", model_->max_time(), " steps (the network's max_time)"),
              schedule_.steps());
    }
  }

  [[nodiscard]] const noise_schedule& schedule() const { return schedule_; }
  [[nodiscard]] parameterisation head() const { return head_; }

  /// A progress report for long draws: called after every step of every chunk with (sample-steps done, sample-steps
  /// of the call in all). Empty (the default) for none.
  void set_progress(std::function<void(std::size_t, std::size_t)> progress) { progress_ = std::move(progress); }

  /// Draws out.extent(0) samples (out: n x inputs): z_T ~ N(0, I), then the N steps of `o`.
  void sample(philox& gen, tensor_view<Scalar, Backend> out, const sampler_options& o) {
    constexpr const char* fn = "diffusion::sampler::sample";
    check_states(out, fn, "out");
    check_options(o, fn);
    fill_normal(*ctx_, gen, out, Scalar(0), Scalar(1));
    denoise(gen, out, o.steps, o);
  }

  /// Partial diffusion: diffuses `states` (n x inputs, clean, normalised) to t_k = round(k T / N) with fresh noise,
  /// z = sqrt(alpha_bar) x + sigma xi, and denoises back over the N-step grid's steps k..1 into `out` (n x inputs;
  /// may be the same tensor as states). k = 0 copies the states.
  void partial(philox& gen, tensor_view<const Scalar, Backend> states, std::size_t k, tensor_view<Scalar, Backend> out,
               const sampler_options& o) {
    constexpr const char* fn = "diffusion::sampler::partial";
    check_states(states, fn, "states");
    require(out.shape() == states.shape(), fn, attractor::detail::text("an output of shape ", states.shape()),
            out.shape());
    check_options(o, fn);
    require(k <= o.steps, fn, attractor::detail::text("a step k in [0, ", o.steps, "]"), k);
    require_finite(*ctx_, states, fn, "states");
    const auto grid = step_grid(schedule_.steps(), o.steps);
    const std::size_t t = grid[k];
    // Noise into scratch, then z = sqrt(alpha_bar) x + sigma xi there, then out: correct when out aliases states.
    if (diffused_.shape() != states.shape()) diffused_ = tensor<Scalar, Backend>(states.shape());
    fill_normal(*ctx_, gen, diffused_, Scalar(0), Scalar(1));
    for_each_index(*ctx_, out.size(),
                   detail::diffuse_kernel<Scalar>{states.data(), diffused_.data(),
                                                  static_cast<Scalar>(schedule_.sqrt_alpha_bar(t)),
                                                  static_cast<Scalar>(schedule_.sigma(t))});
    copy(*ctx_, diffused_, out);
    denoise(gen, out, k, o);
  }

  /// Runs steps k..1 of the N-step grid on z (n x inputs), in place: z holds states at t_k on entry, samples on exit.
  void denoise(philox& gen, tensor_view<Scalar, Backend> z, std::size_t k, const sampler_options& o) {
    constexpr const char* fn = "diffusion::sampler::denoise";
    check_states(z, fn, "z");
    check_options(o, fn);
    require(k <= o.steps, fn, attractor::detail::text("a step k in [0, ", o.steps, "]"), k);
    const auto grid = step_grid(schedule_.steps(), o.steps);
    const std::size_t n = z.extent(0), d = z.extent(1);
    const std::size_t total = n * k;
    for (std::size_t begin = 0; begin < n; begin += chunk_) {
      const std::size_t rows = std::min(chunk_, n - begin);
      chunk_scratch& c = scratch_for(rows, d);
      auto zc = z.rows(begin, begin + rows);
      for (std::size_t i = k; i >= 1; --i) {
        const std::size_t t = grid[i], s = grid[i - 1];
        model_->predict(tensor_view<const Scalar, Backend>(zc), t, c.pred.view());
        const step_coefficients co = step_coefficients_of(schedule_, o.kind, o.eta, t, s, i == 1);
        const Scalar* xi = nullptr;
        if (co.cn != 0) {
          fill_normal(*ctx_, gen, c.noise, Scalar(0), Scalar(1));
          xi = c.noise.data();
        }
        for_each_index(*ctx_, rows * d,
                       detail::sampler_step<Scalar>{zc.data(), c.pred.data(), xi, head_, static_cast<Scalar>(co.a),
                                                    static_cast<Scalar>(co.s), static_cast<Scalar>(co.cz),
                                                    static_cast<Scalar>(co.cx), static_cast<Scalar>(co.ce),
                                                    static_cast<Scalar>(co.cn)});
        if (progress_) progress_(begin * k + rows * (k - i + 1), total);
      }
    }
  }

private:
  struct chunk_scratch {
    tensor<Scalar, Backend> pred, noise;
  };

  chunk_scratch& scratch_for(std::size_t rows, std::size_t d) {
    auto it = scratch_.find(rows);
    if (it != scratch_.end()) return it->second;
    chunk_scratch c{tensor<Scalar, Backend>({rows, d}), tensor<Scalar, Backend>({rows, d})};
    return scratch_.emplace(rows, std::move(c)).first->second;
  }

  template <class T>
  void check_states(const tensor_view<T, Backend>& x, const char* fn, const char* what) const {
    require(x.rank() == 2 && x.extent(1) == model_->dimension(), fn,
            attractor::detail::text(what, " of shape (n x ", model_->dimension(), ")"), x.shape());
  }

  void check_options(const sampler_options& o, const char* fn) const {
    require(o.steps >= 1 && o.steps <= schedule_.steps(), fn,
            attractor::detail::text("between 1 and ", schedule_.steps(), " sampler steps"), o.steps);
    require(std::isfinite(o.eta) && o.eta >= 0 && o.eta <= 1, fn, "eta in [0, 1]", o.eta);
  }

  std::unique_ptr<Model> owned_;
  context<Backend>* ctx_;
  Model* model_;
  noise_schedule schedule_;
  parameterisation head_;
  std::size_t chunk_;
  std::map<std::size_t, chunk_scratch> scratch_;
  tensor<Scalar, Backend> diffused_;
  std::function<void(std::size_t, std::size_t)> progress_;
};

}  // namespace attractor::diffusion
