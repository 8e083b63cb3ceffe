// A few training steps of the paper's network on a fixed synthetic batch, written once for every backend so that
// the cpu test and the cuda harness run the same thing: the same seed must give the same losses on both.
// Plain C++ (no doctest), so nvcc can compile it.
#pragma once

#include <cstdint>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/random/philox.hpp"

namespace attractor_test {

/// Returns the loss before each of `steps` Adam steps (lr 3e-4) of denoising_resnet<float> on one batch.
template <class Backend>
std::vector<float> training_losses(attractor::context<Backend>& ctx, bool per_tau, std::size_t batch, int steps) {
  using namespace attractor;
  philox init(2023);
  nn::denoising_resnet<float, Backend> net(ctx, init);
  autograd::graph<float, Backend> g(ctx);
  const auto pass = net.build(g, batch, per_tau ? nn::conditioning::per_tau : nn::conditioning::per_sample);
  const auto target = g.input({batch, 3});
  const auto loss = autograd::mse(g, pass.output, target);
  nn::adam<float, Backend> opt(ctx, net.parameters(), 3e-4);

  // The batch is drawn on the host, so both backends see identical inputs.
  context<cpu> host;
  philox data(7);
  tensor<float, cpu> z({batch, 3}), t({batch, 3}), u({batch});
  fill_normal(host, data, z);
  fill_normal(host, data, t);
  fill_uniform(host, data, u);
  std::vector<std::int32_t> tau(batch);
  for (std::size_t i = 0; i < batch; ++i) tau[i] = 1 + static_cast<std::int32_t>(u[i] * 1000.0f) % 1000;
  transfer<cpu, Backend>::run(ctx, z.data(), g.value_of(pass.input).data(), z.size());
  transfer<cpu, Backend>::run(ctx, t.data(), g.value_of(target).data(), t.size());
  net.set_time(g, pass, tau.data());

  std::vector<float> losses;
  for (int s = 0; s < steps; ++s) {
    g.forward();
    float l = 0;
    transfer<Backend, cpu>::run(ctx, g.value_of(loss).data(), &l, 1);
    losses.push_back(l);
    g.backward(loss);
    opt.step(ctx);
  }
  return losses;
}

}  // namespace attractor_test
