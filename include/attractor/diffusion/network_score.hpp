// network_score: a trained score_network (diffusion/score_network.hpp) as a score model of the VE samplers
// (diffusion/ve_sampler.hpp): score(x, t) = net(x, t) / sigma(t). One inference graph per chunk size met, built once
// and reused. score_at fixes the diffusion time, giving the score_function of response::score_based (spec §7): at
// t = 0 the "zero-noise" score, the score of the data convolved with N(0, sigma_min^2).
//
// Load the weights to evaluate first, normally the EMA ones (CliMAgen's model_smooth):
//
//   diffusion::load_score_weights(ctx, "run.safetensors", net, sde);  // "ema.<name>", checks architecture and SDE
//   diffusion::network_score score(ctx, net, sde);
//   auto x = diffusion::sample_euler_maruyama<float>(ctx, score, sde, 2000, D, {}, gen);
//   auto r = response::score_based(ctx, frames, diffusion::score_at(score, 0.0), lags);
#pragma once

#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/diffusion/score_network.hpp"
#include "attractor/diffusion/ve_sde.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::diffusion {

namespace detail {

template <class Scalar>
struct scaled_copy_kernel {
  const Scalar* in;
  Scalar* out;
  Scalar factor;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = in[i] * factor; }
};

}  // namespace detail

/// A trained score_network as a score model: operator()(ctx, x (n x D), t, out (n x D)) writes net(x, t) / sigma(t).
/// Holds the network (which must outlive it) and its inference graphs; not thread-safe.
template <score_network Net>
class network_score {
public:
  using scalar_type = typename Net::scalar_type;
  using backend_type = typename Net::backend_type;
  using Scalar = scalar_type;
  using Backend = backend_type;

  network_score(context<Backend>& ctx, Net& net, const ve_sde& sde)
      : ctx_(&ctx), net_(&net), sde_(validated(sde, "diffusion::network_score")), dim_(sample_size(net)) {}

  [[nodiscard]] std::size_t dimension() const { return dim_; }
  [[nodiscard]] const ve_sde& sde() const { return sde_; }

  void operator()(context<Backend>& ctx, tensor_view<const Scalar, Backend> x, double t,
                  tensor_view<Scalar, Backend> out) {
    constexpr const char* fn = "diffusion::network_score";
    require(x.rank() == 2 && x.extent(1) == dim_ && x.extent(0) > 0, fn,
            attractor::detail::text("states of shape (n x ", dim_, ")"), x.shape());
    require(out.shape() == x.shape(), fn, attractor::detail::text("an output of shape ", x.shape()), out.shape());
    require(std::isfinite(t) && t >= 0 && t <= 1, fn, "a diffusion time t in [0, 1]", t);
    const std::size_t rows = x.extent(0);
    forward_pass& f = pass_for(rows);
    transfer<Backend, Backend>::run(ctx, x.data(), f.g->value_of(f.pass.input).data(), x.size());
    fill(ctx, f.g->value_of(f.pass.time), static_cast<Scalar>(t));
    f.g->forward();
    for_each_index(ctx, out.size(),
                   detail::scaled_copy_kernel<Scalar>{f.g->value_of(f.pass.output).data(), out.data(),
                                                      static_cast<Scalar>(1 / sde_.sigma(t))});
  }

private:
  struct forward_pass {
    std::unique_ptr<autograd::graph<Scalar, Backend>> g;
    typename Net::pass pass;
  };

  forward_pass& pass_for(std::size_t rows) {
    auto it = passes_.find(rows);
    if (it != passes_.end()) return it->second;
    constexpr const char* fn = "diffusion::network_score";
    forward_pass f;
    f.g = std::make_unique<autograd::graph<Scalar, Backend>>(*ctx_, autograd::graph_mode::inference);
    f.pass = net_->build(*f.g, rows);
    const attractor::shape in = batch_shape(*net_, rows);
    require(f.g->shape_of(f.pass.input) == in && f.g->shape_of(f.pass.output) == in &&
                f.g->shape_of(f.pass.time) == attractor::shape{rows},
            fn, attractor::detail::text("a network with input and output ", in, " and time (", rows, ")"),
            f.g->shape_of(f.pass.output));
    return passes_.emplace(rows, std::move(f)).first->second;
  }

  context<Backend>* ctx_;
  Net* net_;
  ve_sde sde_;
  std::size_t dim_;
  std::map<std::size_t, forward_pass> passes_;
};

/// A score model at one diffusion time t, as response::score_based's score_function: (ctx, frames (B x D), out).
template <class Model>
struct fixed_time_score {
  Model* model;
  double t;
  template <class Backend, class Scalar>
  void operator()(context<Backend>& ctx, tensor_view<const Scalar, Backend> frames, tensor_view<Scalar, Backend> out) {
    (*model)(ctx, frames, t, out);
  }
};

/// `model` (which must outlive the result) at diffusion time t in [0, 1]; t = 0: the "zero-noise" score at sigma_min
/// (spec §7).
template <class Model>
fixed_time_score<Model> score_at(Model& model, double t) {
  require(std::isfinite(t) && t >= 0 && t <= 1, "diffusion::score_at", "a diffusion time t in [0, 1]", t);
  return {&model, t};
}

}  // namespace attractor::diffusion
