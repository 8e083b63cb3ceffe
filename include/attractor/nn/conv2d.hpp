// nn::conv2d: torch.nn.Conv2d(in, out, k, stride, padding=k // 2, padding_mode="circular") with PyTorch's default
// initialisation (kaiming_uniform with a = sqrt(5), so U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in k^2,
// and the bias from the same bound); parameters "<name>.weight" (out x in x k x k) and "<name>.bias" (out), the
// bias optional. The periodic padding is the CircularConv of the response paper's U-Net (CliMAgen, periodic = true).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/conv.hpp"
#include "attractor/nn/init.hpp"
#include "attractor/nn/parameter.hpp"

namespace attractor::nn {

struct conv2d_options {
  std::size_t kernel = 3;  ///< odd
  std::size_t stride = 1;  ///< 1, or 2 for a down-sampling conv
  bool bias = true;
};

template <floating_scalar Scalar, class Backend>
class conv2d {
public:
  conv2d(context<Backend>& ctx, philox& gen, const std::string& name, std::size_t in, std::size_t out,
         const conv2d_options& options = {})
      : weight(name + ".weight", {out, in, options.kernel, options.kernel}), stride_(options.stride) {
    require(in > 0 && out > 0, "nn::conv2d", "in > 0 and out > 0 channels", attractor::detail::text(in, " -> ", out));
    require(options.kernel % 2 == 1, "nn::conv2d", "an odd kernel size", options.kernel);
    require(options.stride == 1 || options.stride == 2, "nn::conv2d", "a stride of 1 or 2", options.stride);
    kaiming_uniform(ctx, gen, weight.value);
    if (options.bias) {
      bias = std::make_unique<parameter<Scalar, Backend>>(name + ".bias", shape{out});
      linear_bias_uniform(ctx, gen, bias->value, in * options.kernel * options.kernel);
    }
  }

  /// The convolution of x (N x in x H x W) in graph g: (N x out x H/stride x W/stride).
  autograd::value operator()(autograd::graph<Scalar, Backend>& g, autograd::value x) {
    return autograd::conv2d(g, x, g.parameter(weight), bias ? g.parameter(*bias) : autograd::value{}, stride_);
  }

  void append_parameters(parameter_list<Scalar, Backend>& out) {
    out.push_back(&weight);
    if (bias) out.push_back(bias.get());
  }

  parameter<Scalar, Backend> weight;
  std::unique_ptr<parameter<Scalar, Backend>> bias;

private:
  std::size_t stride_;
};

}  // namespace attractor::nn
