// nn::group_norm: torch.nn.GroupNorm(groups, channels, eps = 1e-5) with its affine parameters "<name>.weight"
// (ones) and "<name>.bias" (zeros), optionally followed by swish, as Flux's GroupNorm(channels, groups, swish) of
// the response paper's U-Net.
#pragma once

#include <cstddef>
#include <string>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/autograd/ops/group_norm.hpp"
#include "attractor/nn/init.hpp"
#include "attractor/nn/parameter.hpp"

namespace attractor::nn {

template <floating_scalar Scalar, class Backend>
class group_norm {
public:
  group_norm(context<Backend>& ctx, const std::string& name, std::size_t channels, std::size_t groups,
             bool swish = true)
      : weight(name + ".weight", {channels}), bias(name + ".bias", {channels}), groups_(groups), swish_(swish) {
    require(groups > 0 && channels % groups == 0, "nn::group_norm",
            attractor::detail::text("a number of groups dividing the ", channels, " channels"), groups);
    constant(ctx, weight.value, Scalar(1));
    constant(ctx, bias.value, Scalar(0));
  }

  /// The normalisation of x (N x channels x ...) in graph g, then swish where asked.
  autograd::value operator()(autograd::graph<Scalar, Backend>& g, autograd::value x) {
    const autograd::value y = autograd::group_norm(g, x, groups_, g.parameter(weight), g.parameter(bias));
    return swish_ ? autograd::swish(g, y) : y;
  }

  void append_parameters(parameter_list<Scalar, Backend>& out) {
    out.push_back(&weight);
    out.push_back(&bias);
  }

  [[nodiscard]] std::size_t groups() const { return groups_; }

  parameter<Scalar, Backend> weight, bias;

private:
  std::size_t groups_;
  bool swish_;
};

}  // namespace attractor::nn
