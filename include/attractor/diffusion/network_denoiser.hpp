// network_denoiser: a trained denoising_resnet as a denoiser (diffusion/denoiser.hpp), the sampler's default Model.
// One inference graph per chunk size met, built once and reused.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/diffusion/denoiser.hpp"
#include "attractor/diffusion/sampler.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::diffusion {

/// A trained denoising_resnet as a sampler's Model: the prediction of rows z at one pseudo-time t.
template <floating_scalar Scalar, class Backend>
class network_denoiser {
public:
  using network_type = nn::denoising_resnet<Scalar, Backend>;

  network_denoiser(context<Backend>& ctx, network_type& net) : ctx_(&ctx), net_(&net) {}

  [[nodiscard]] std::size_t dimension() const { return net_->options().inputs; }
  [[nodiscard]] std::size_t max_time() const { return net_->options().max_time; }

  void predict(tensor_view<const Scalar, Backend> z, std::size_t t, tensor_view<Scalar, Backend> pred) {
    const std::size_t rows = z.extent(0);
    forward_pass& f = pass_for(rows);
    copy(*ctx_, z, f.g->value_of(f.pass.input));
    std::fill(f.tau.begin(), f.tau.end(), static_cast<std::int32_t>(t));
    net_->set_time(*f.g, f.pass, f.tau.data());
    f.g->forward();
    copy(*ctx_, tensor_view<const Scalar, Backend>(f.g->value_of(f.pass.output)), pred);
  }

private:
  struct forward_pass {
    std::unique_ptr<autograd::graph<Scalar, Backend>> g;
    typename network_type::pass pass;
    std::vector<std::int32_t> tau;
  };

  forward_pass& pass_for(std::size_t rows) {
    auto it = passes_.find(rows);
    if (it != passes_.end()) return it->second;
    forward_pass f;
    f.g = std::make_unique<autograd::graph<Scalar, Backend>>(*ctx_, autograd::graph_mode::inference);
    f.pass = net_->build(*f.g, rows, nn::conditioning::per_tau);
    f.tau.assign(rows, 0);
    return passes_.emplace(rows, std::move(f)).first->second;
  }

  context<Backend>* ctx_;
  network_type* net_;
  std::map<std::size_t, forward_pass> passes_;
};

}  // namespace attractor::diffusion
