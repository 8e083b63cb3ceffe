// The samplers of the diffusion issue and the diffusion ensemble source of the DA issue, written once for every
// backend so that the cpu test and the cuda harness run the same thing: the same seeds must give the same states on
// both, to float tolerance. An untrained denoising_resnet<float> serves: the comparison is of the backends, not of
// the model. Plain C++ (no doctest), so nvcc can compile it.
#pragma once

#include <cstddef>
#include <vector>

#include "attractor/da/diffusion_source.hpp"
#include "attractor/diffusion/network_denoiser.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/lorenz63.hpp"

namespace attractor_test {

/// `samples` states of 10 DDIM (eta 0) steps from the prior, then `samples` of 10 DDPM steps, row-major (n x 3).
template <class Backend>
std::vector<float> sampled_states(attractor::context<Backend>& ctx, std::size_t samples) {
  using namespace attractor;
  philox init(2023);
  nn::denoising_resnet<float, Backend> net(ctx, init);
  diffusion::sampler<float, Backend> sampler(ctx, net, diffusion::noise_schedule::cosine(),
                                             diffusion::parameterisation::velocity);
  std::vector<float> out;
  philox gen(5);
  for (const auto kind : {diffusion::sampler_kind::ddim, diffusion::sampler_kind::ddpm}) {
    tensor<float, Backend> states({samples, 3});
    sampler.sample(gen, states.view(), {kind, 10, 0.0});
    std::vector<float> host(states.size());
    transfer<Backend, cpu>::run(ctx, states.data(), host.data(), host.size());
    out.insert(out.end(), host.begin(), host.end());
  }
  return out;
}

/// The ensemble (experiments x 3 x members) that da::diffusion_source draws at the paper's step (13 of 100 DDPM
/// steps) around deterministic runs in physical units, all experiments in one batch.
template <class Backend>
std::vector<double> diffusion_members(attractor::context<Backend>& ctx, std::size_t experiments, std::size_t members) {
  using namespace attractor;
  philox init(2023);
  nn::denoising_resnet<float, Backend> net(ctx, init);
  diffusion::sampler<float, Backend> sampler(ctx, net, diffusion::noise_schedule::cosine(),
                                             diffusion::parameterisation::velocity);
  using climatology = systems::lorenz63_climatology;
  da::diffusion_source<double, float, Backend> source(ctx, sampler, da::normaliser(climatology::mean, climatology::std),
                                                      13);
  context<cpu> host;
  tensor<double, cpu> x_det({experiments, 3});
  for (std::size_t e = 0; e < experiments; ++e) {
    x_det[e * 3 + 0] = -8.0 + 1.5 * static_cast<double>(e);
    x_det[e * 3 + 1] = 6.0 - 1.0 * static_cast<double>(e);
    x_det[e * 3 + 2] = 20.0 + 0.5 * static_cast<double>(e);
  }
  tensor<double, cpu> E({experiments, 3, members});
  philox gen(11);
  source(host, x_det.view(), E.view(), gen);
  return {E.begin(), E.end()};
}

}  // namespace attractor_test
