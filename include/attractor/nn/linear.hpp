// nn::linear: torch.nn.Linear(in, out) with PyTorch's default initialisation; its parameters are named
// "<name>.weight" (out x in) and "<name>.bias" (out), as in the reference module's state_dict.
#pragma once

#include <cstddef>
#include <string>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/dense.hpp"
#include "attractor/nn/init.hpp"
#include "attractor/nn/parameter.hpp"

namespace attractor::nn {

template <floating_scalar Scalar, class Backend>
class linear {
public:
  linear(context<Backend>& ctx, philox& gen, const std::string& name, std::size_t in, std::size_t out)
      : weight(name + ".weight", {out, in}), bias(name + ".bias", {out}) {
    require(in > 0 && out > 0, "nn::linear", "in > 0 and out > 0", attractor::detail::text(in, " -> ", out));
    linear_default_init(ctx, gen, weight.value, bias.value);
  }

  /// x W^T + b in graph g.
  autograd::value operator()(autograd::graph<Scalar, Backend>& g, autograd::value x) {
    return autograd::linear(g, x, g.parameter(weight), g.parameter(bias));
  }

  void append_parameters(parameter_list<Scalar, Backend>& out) {
    out.push_back(&weight);
    out.push_back(&bias);
  }

  [[nodiscard]] std::size_t in_features() const { return weight.value.extent(1); }
  [[nodiscard]] std::size_t out_features() const { return weight.value.extent(0); }

  parameter<Scalar, Backend> weight, bias;
};

}  // namespace attractor::nn
