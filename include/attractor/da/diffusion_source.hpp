// The diffusion ensemble sampler (spec §7, sampler_denoising.py): an ensemble source for the external-ensemble
// update that draws N states around each deterministic run with a trained diffusion model of any system. Per
// experiment: normalise x_det as the model was trained (a normaliser given by the caller: for the paper, the
// Lorenz-63 climatology, da::normaliser(systems::lorenz63_climatology::mean, ...::std)), diffuse it to t_k on a
// T/N_grid-step grid (the paper: DDPM with 100 steps, k = 13, so t = 130 where sqrt(alpha_bar) = 0.97704 and sigma =
// 0.21305), draw N latent states z = sqrt(alpha_bar) x + sigma xi, denoise them back over steps k..1, and de-normalise.
// All experiments' members go through the network together, as one batch of experiments x N states, on the sampler's
// backend. The model is any denoiser (diffusion/denoiser.hpp): by default a trained denoising_resnet through
// diffusion::network_denoiser, whose header a program using the default includes.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "attractor/diffusion/sampler.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::da {

/// How a model's normalised states u relate to physical states x: u = (x - mean) / std, per variable. Its size is
/// the state dimension. Throws attractor::error unless mean and std have the same size >= 1, the means are finite
/// and the standard deviations finite and > 0.
struct normaliser {
  std::vector<double> mean, std;

  normaliser(std::vector<double> m, std::vector<double> s) : mean(std::move(m)), std(std::move(s)) {
    constexpr const char* fn = "da::normaliser";
    require(!mean.empty() && mean.size() == std.size(), fn, "means and standard deviations, as many of each",
            attractor::detail::text(mean.size(), " and ", std.size()));
    require_finite(mean.data(), mean.size(), fn, "the means");
    for (double v : std) require(std::isfinite(v) && v > 0, fn, "finite standard deviations > 0", v);
  }
  template <std::size_t N>
  normaliser(const std::array<double, N>& m, const std::array<double, N>& s)
      : normaliser(std::vector<double>(m.begin(), m.end()), std::vector<double>(s.begin(), s.end())) {}

  [[nodiscard]] std::size_t dimension() const { return mean.size(); }
};

template <floating_scalar Scalar, class NetScalar, class Backend,
          class Model = diffusion::network_denoiser<NetScalar, Backend>>
class diffusion_source {
public:
  using sampler_type = diffusion::sampler<NetScalar, Backend, Model>;

  /// `sampler` (which must outlive the source) runs partial diffusion to step k of an N_grid-step `kind` sampler on
  /// states normalised by `norm`, whose dimension is the model's.
  diffusion_source(context<Backend>& ctx, sampler_type& sampler, normaliser norm, std::size_t k,
                   std::size_t grid_steps = 100, diffusion::sampler_kind kind = diffusion::sampler_kind::ddpm)
      : ctx_(&ctx), sampler_(&sampler), k_(k), options_{kind, grid_steps, 0.0}, norm_(std::move(norm)) {
    constexpr const char* fn = "da::diffusion_source";
    require(grid_steps >= 1 && grid_steps <= sampler.schedule().steps(), fn,
            attractor::detail::text("a grid of 1 to ", sampler.schedule().steps(), " steps"), grid_steps);
    require(k >= 1 && k <= grid_steps, fn, attractor::detail::text("a diffusion step k in [1, ", grid_steps, "]"), k);
  }

  [[nodiscard]] const normaliser& normalisation() const { return norm_; }

  [[nodiscard]] std::size_t step() const { return k_; }
  /// The pseudo-time on the schedule that the members are diffused to.
  [[nodiscard]] std::size_t pseudo_time() const {
    return diffusion::step_grid(sampler_->schedule().steps(), options_.steps)[k_];
  }

  /// The ensemble_source call: E (experiments x Nx x N) around the rows of x_det (experiments x Nx).
  void operator()(context<cpu>&, const_tensor_view<Scalar, cpu> x_det, tensor_view<Scalar, cpu> E, philox& gen) {
    constexpr const char* fn = "da::diffusion_source";
    const std::size_t Nx = norm_.dimension();
    const double* mean = norm_.mean.data();
    const double* sd = norm_.std.data();
    require(x_det.rank() == 2 && x_det.extent(1) == Nx, fn,
            attractor::detail::text("deterministic runs of shape experiments x ", Nx), x_det.shape());
    const std::size_t experiments = x_det.extent(0);
    require(E.rank() == 3 && E.extent(0) == experiments && E.extent(1) == Nx && E.extent(2) >= 1, fn,
            attractor::detail::text("an ensemble of shape ", experiments, " x ", Nx, " x N"), E.shape());
    const std::size_t N = E.extent(2), rows = experiments * N;
    if (host_.shape() != shape{rows, Nx}) {
      host_ = tensor<NetScalar, cpu>({rows, Nx});
      states_ = tensor<NetScalar, Backend>({rows, Nx});
    }
    for (std::size_t e = 0; e < experiments; ++e)
      for (std::size_t m = 0; m < N; ++m)
        for (std::size_t i = 0; i < Nx; ++i)
          host_[(e * N + m) * Nx + i] = static_cast<NetScalar>((x_det.data()[e * Nx + i] - mean[i]) / sd[i]);
    copy(*ctx_, host_, states_);
    sampler_->partial(gen, states_.view(), k_, states_.view(), options_);
    copy(*ctx_, states_, host_);
    for (std::size_t e = 0; e < experiments; ++e)
      for (std::size_t m = 0; m < N; ++m)
        for (std::size_t i = 0; i < Nx; ++i)
          E.data()[(e * Nx + i) * N + m] =
              static_cast<Scalar>(host_[(e * N + m) * Nx + i]) * static_cast<Scalar>(sd[i]) +
              static_cast<Scalar>(mean[i]);
  }

private:
  context<Backend>* ctx_;
  sampler_type* sampler_;
  std::size_t k_;
  diffusion::sampler_options options_;
  normaliser norm_;
  tensor<NetScalar, cpu> host_;
  tensor<NetScalar, Backend> states_;
};

}  // namespace attractor::da
