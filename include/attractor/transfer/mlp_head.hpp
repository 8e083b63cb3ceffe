// transfer_learning::mlp_head: the NN head of spec §6 (mlp_regression.py), Linear(F -> 256) -> ReLU -> Linear(256 ->
// 3) on raw (unstandardised) features, PyTorch-default initialised. Parameters are named "network.0.*" and
// "network.2.*", as an nn.Sequential of the three would name them. With F = 256, 512 and 1536 it has 66,563,
// 132,099 and 394,243 parameters (Table 3). It trains through nn::fit with a regression_objective.
#pragma once

#include <cstddef>
#include <memory>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/core/error.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/random/philox.hpp"

namespace attractor::transfer_learning {

struct mlp_head_options {
  std::size_t inputs = 256;  ///< features F
  std::size_t hidden = 256;
  std::size_t outputs = 3;
};

template <floating_scalar Scalar, class Backend>
class mlp_head {
public:
  using graph_type = autograd::graph<Scalar, Backend>;

  struct pass {
    autograd::value input;   ///< (batch x inputs): the features
    autograd::value output;  ///< (batch x outputs)
  };

  mlp_head(context<Backend>& ctx, philox& gen, const mlp_head_options& options = {})
      : options_(options),
        hidden_(ctx, gen, "network.0", options.inputs, options.hidden),
        output_(ctx, gen, "network.2", options.hidden, options.outputs) {}

  [[nodiscard]] const mlp_head_options& options() const { return options_; }
  [[nodiscard]] std::size_t inputs() const { return options_.inputs; }
  [[nodiscard]] std::size_t outputs() const { return options_.outputs; }

  [[nodiscard]] nn::parameter_list<Scalar, Backend> parameters() {
    nn::parameter_list<Scalar, Backend> list;
    hidden_.append_parameters(list);
    output_.append_parameters(list);
    return list;
  }

  /// Adds the forward pass for `batch` rows to g; write the features into g.value_of(pass.input) before forward().
  pass build(graph_type& g, std::size_t batch) {
    require(batch > 0, "transfer_learning::mlp_head::build", "a batch of at least one row", batch);
    pass p;
    p.input = g.input({batch, options_.inputs});
    p.output = output_(g, autograd::relu(g, hidden_(g, p.input)));
    return p;
  }

private:
  mlp_head_options options_;
  nn::linear<Scalar, Backend> hidden_, output_;
};

}  // namespace attractor::transfer_learning
