// transfer_learning: the surrogates trained from scratch on the states (spec §6, SGDRegressionModule), each with a
// linear output head 256 -> 3:
//   - Dense x m (m = 1, 2, 3): Linear(3 -> 256) + ReLU, then (m - 1) x [Linear(256 -> 256) + ReLU]. This is
//     metrics::dense_surrogate with `layers` = m (the FSD feature network is Dense x 2): dense_baseline makes one.
//     1,795, 67,587 and 133,379 parameters.
//   - resnet_baseline (backbones/dense_residual.py): Linear(3 -> 256), then 3 blocks
//     h <- h + gamma * fc2(relu(fc1(LN_affine(h)))), gamma initialised to 1e-6, LN with a learnt weight (1) and bias
//     (0), eps 1e-5. 398,851 parameters.
// Parameter names follow the reference's modules where the spec gives them (the dense ones); the ResNet's are
// "backbone.input.*", "backbone.blocks.<i>.{norm,fc1,fc2}.*", "backbone.blocks.<i>.gamma" and "head.*".
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/autograd/ops/norm.hpp"
#include "attractor/core/error.hpp"
#include "attractor/metrics/surrogate.hpp"
#include "attractor/nn/init.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/random/philox.hpp"

namespace attractor::transfer_learning {

/// Dense x m of spec §6 (m = `layers`, 1 to 3 in the paper), PyTorch-default initialised from gen.
template <floating_scalar Scalar, class Backend>
metrics::dense_surrogate<Scalar, Backend> dense_baseline(context<Backend>& ctx, philox& gen, std::size_t layers) {
  require(layers >= 1, "transfer_learning::dense_baseline", "at least one layer", layers);
  return metrics::dense_surrogate<Scalar, Backend>(ctx, gen, {3, 256, layers});
}

struct resnet_baseline_options {
  std::size_t inputs = 3;  ///< state dimension, in and out
  std::size_t hidden = 256;
  std::size_t blocks = 3;
  double gamma_init = 1e-6;
};

template <floating_scalar Scalar, class Backend>
class resnet_baseline {
public:
  using graph_type = autograd::graph<Scalar, Backend>;

  struct pass {
    autograd::value input;     ///< (batch x inputs): the states
    autograd::value features;  ///< (batch x hidden): the stream after the last block
    autograd::value output;    ///< (batch x inputs): the predicted increment
  };

  resnet_baseline(context<Backend>& ctx, philox& gen, const resnet_baseline_options& options = {})
      : options_(options), input_(ctx, gen, "backbone.input", options.inputs, options.hidden) {
    constexpr const char* fn = "transfer_learning::resnet_baseline";
    require(options.inputs > 0 && options.hidden > 0 && options.blocks > 0, fn, "inputs, hidden and blocks > 0",
            attractor::detail::text(options.inputs, ", ", options.hidden, ", ", options.blocks));
    for (std::size_t i = 0; i < options.blocks; ++i)
      blocks_.push_back(std::make_unique<block>(ctx, gen, "backbone.blocks." + std::to_string(i), options));
    head_ = std::make_unique<nn::linear<Scalar, Backend>>(ctx, gen, "head", options.hidden, options.inputs);
  }

  [[nodiscard]] const resnet_baseline_options& options() const { return options_; }
  [[nodiscard]] std::size_t inputs() const { return options_.inputs; }
  [[nodiscard]] std::size_t outputs() const { return options_.inputs; }

  [[nodiscard]] nn::parameter_list<Scalar, Backend> parameters() {
    nn::parameter_list<Scalar, Backend> list;
    input_.append_parameters(list);
    for (auto& b : blocks_) b->append_parameters(list);
    head_->append_parameters(list);
    return list;
  }

  /// Adds the forward pass for `batch` states to g; write the states into g.value_of(pass.input) before forward().
  pass build(graph_type& g, std::size_t batch) {
    require(batch > 0, "transfer_learning::resnet_baseline::build", "a batch of at least one state", batch);
    pass p;
    p.input = g.input({batch, options_.inputs});
    autograd::value h = input_(g, p.input);
    for (auto& b : blocks_) h = b->build(g, h);
    p.features = h;
    p.output = (*head_)(g, h);
    return p;
  }

private:
  struct block {
    block(context<Backend>& ctx, philox& gen, const std::string& prefix, const resnet_baseline_options& o)
        : norm_weight(prefix + ".norm.weight", {o.hidden}),
          norm_bias(prefix + ".norm.bias", {o.hidden}),
          fc1(ctx, gen, prefix + ".fc1", o.hidden, o.hidden),
          fc2(ctx, gen, prefix + ".fc2", o.hidden, o.hidden),
          gamma(prefix + ".gamma", {o.hidden}) {
      nn::constant(ctx, norm_weight.value, 1.0);
      nn::constant(ctx, norm_bias.value, 0.0);
      nn::constant(ctx, gamma.value, o.gamma_init);
    }

    void append_parameters(nn::parameter_list<Scalar, Backend>& out) {
      out.push_back(&norm_weight);
      out.push_back(&norm_bias);
      fc1.append_parameters(out);
      fc2.append_parameters(out);
      out.push_back(&gamma);
    }

    autograd::value build(graph_type& g, autograd::value h) {
      const autograd::value normalised = autograd::add(
          g, autograd::mul(g, autograd::layer_norm(g, h), g.parameter(norm_weight)), g.parameter(norm_bias));
      const autograd::value branch = fc2(g, autograd::relu(g, fc1(g, normalised)));
      return autograd::add(g, h, autograd::mul(g, branch, g.parameter(gamma)));
    }

    nn::parameter<Scalar, Backend> norm_weight, norm_bias;
    nn::linear<Scalar, Backend> fc1, fc2;
    nn::parameter<Scalar, Backend> gamma;
  };

  resnet_baseline_options options_;
  nn::linear<Scalar, Backend> input_;
  std::vector<std::unique_ptr<block>> blocks_;
  std::unique_ptr<nn::linear<Scalar, Backend>> head_;
};

}  // namespace attractor::transfer_learning
