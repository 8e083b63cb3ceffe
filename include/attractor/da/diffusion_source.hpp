// The diffusion ensemble sampler (spec §7, sampler_denoising.py): an ensemble source for the external-ensemble
// update that draws N states around each deterministic run with a trained diffusion model. Per experiment: normalise
// x_det with the climatology, diffuse it to t_k on a T/N_grid-step grid (the paper: DDPM with 100 steps, k = 13, so
// t = 130 where sqrt(alpha_bar) = 0.97704 and sigma = 0.21305), draw N latent states z = sqrt(alpha_bar) x + sigma xi,
// denoise them back over steps k..1, and de-normalise. All experiments' members go through the network together, as
// one batch of experiments x N states, on the sampler's backend.
#pragma once

#include <array>
#include <cstddef>

#include "attractor/diffusion/sampler.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/lorenz63.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::da {

template <floating_scalar Scalar, class NetScalar, class Backend,
          class Model = diffusion::network_denoiser<NetScalar, Backend>, std::size_t Nx = 3>
class diffusion_source {
public:
  using sampler_type = diffusion::sampler<NetScalar, Backend, Model>;

  /// `sampler` (which must outlive the source) runs partial diffusion to step k of an N_grid-step `kind` sampler;
  /// states are normalised as (x - mean) / std (by default the Lorenz-63 climatology of the paper's code).
  diffusion_source(context<Backend>& ctx, sampler_type& sampler, std::size_t k, std::size_t grid_steps = 100,
                   diffusion::sampler_kind kind = diffusion::sampler_kind::ddpm,
                   std::array<double, Nx> mean = systems::lorenz63_climatology::mean,
                   std::array<double, Nx> std = systems::lorenz63_climatology::std)
      : ctx_(&ctx), sampler_(&sampler), k_(k), options_{kind, grid_steps, 0.0}, mean_(mean), std_(std) {
    constexpr const char* fn = "da::diffusion_source";
    require(grid_steps >= 1 && grid_steps <= sampler.schedule().steps(), fn,
            attractor::detail::text("a grid of 1 to ", sampler.schedule().steps(), " steps"), grid_steps);
    require(k >= 1 && k <= grid_steps, fn, attractor::detail::text("a diffusion step k in [1, ", grid_steps, "]"), k);
    for (std::size_t i = 0; i < Nx; ++i) require(std_[i] > 0, fn, "positive standard deviations", std_[i]);
  }

  [[nodiscard]] std::size_t step() const { return k_; }
  /// The pseudo-time on the schedule that the members are diffused to.
  [[nodiscard]] std::size_t pseudo_time() const {
    return diffusion::step_grid(sampler_->schedule().steps(), options_.steps)[k_];
  }

  /// The ensemble_source call: E (experiments x Nx x N) around the rows of x_det (experiments x Nx).
  void operator()(context<cpu>&, const_tensor_view<Scalar, cpu> x_det, tensor_view<Scalar, cpu> E, philox& gen) {
    constexpr const char* fn = "da::diffusion_source";
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
          host_[(e * N + m) * Nx + i] = static_cast<NetScalar>((x_det.data()[e * Nx + i] - mean_[i]) / std_[i]);
    copy(*ctx_, host_, states_);
    sampler_->partial(gen, states_.view(), k_, states_.view(), options_);
    copy(*ctx_, states_, host_);
    for (std::size_t e = 0; e < experiments; ++e)
      for (std::size_t m = 0; m < N; ++m)
        for (std::size_t i = 0; i < Nx; ++i)
          E.data()[(e * Nx + i) * N + m] =
              static_cast<Scalar>(host_[(e * N + m) * Nx + i]) * static_cast<Scalar>(std_[i]) +
              static_cast<Scalar>(mean_[i]);
  }

private:
  context<Backend>* ctx_;
  sampler_type* sampler_;
  std::size_t k_;
  diffusion::sampler_options options_;
  std::array<double, Nx> mean_, std_;
  tensor<NetScalar, cpu> host_;
  tensor<NetScalar, Backend> states_;
};

}  // namespace attractor::da
