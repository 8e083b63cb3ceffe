// PyTorch's default initialisation of nn.Linear (and nn.Conv*d), drawn from our Philox generator:
//
//   weight ~ kaiming_uniform(a = sqrt(5)):  U(-b, b), b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)),
//            which for a = sqrt(5) is b = 1 / sqrt(fan_in);
//   bias   ~ U(-1 / sqrt(fan_in), 1 / sqrt(fan_in)), fan_in taken from the weight.
//
// fan_in follows torch.nn.init._calculate_fan_in_and_fan_out: the second extent times the product of the extents
// after it (in_features for a Linear weight (out x in); in_channels * kh * kw for a Conv2d weight). The
// distributions are PyTorch's; the draws are not (PyTorch uses its own generator): the same Philox seed gives the
// same weights on every backend, not the same weights as torch.manual_seed.
//
// Each function works on any backend whose for_each_index is included (backend/cuda/for_each.cuh for cuda): the
// draws are fill_uniform's, which advances the generator by the blocks it consumed, so initialising the layers of a
// network one after another from one generator never reuses a draw.
#pragma once

#include <cmath>
#include <cstddef>
#include <type_traits>

#include "attractor/backend/map.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::nn {

/// torch.nn.init._calculate_fan_in_and_fan_out's fan_in: extent 1 times the product of extents 2.., for a shape of
/// rank >= 2. Throws attractor::error for rank < 2 (fan_in is undefined there, as in PyTorch).
inline std::size_t fan_in(const attractor::shape& s) {
  require(s.rank() >= 2, "nn::fan_in", "a weight of rank >= 2 (out x in, or out x in x kernel...)", s);
  std::size_t n = s[1];
  for (std::size_t axis = 2; axis < s.rank(); ++axis) n *= s[axis];
  return n;
}

/// The half-width b of kaiming_uniform's U(-b, b): gain(leaky_relu, a) * sqrt(3 / fan_in) with
/// gain = sqrt(2 / (1 + a^2)). For a = sqrt(5) (nn.Linear's default) this is 1 / sqrt(fan_in).
inline double kaiming_uniform_bound(std::size_t fan_in_value, double a = std::sqrt(5.0)) {
  require(fan_in_value > 0, "nn::kaiming_uniform_bound", "fan_in > 0", fan_in_value);
  require(std::isfinite(a), "nn::kaiming_uniform_bound", "a finite negative slope a", a);
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  return gain * std::sqrt(3.0 / static_cast<double>(fan_in_value));
}

/// torch.nn.init.kaiming_uniform_(weight, a, mode="fan_in", nonlinearity="leaky_relu"): every element of `weight`
/// (rank >= 2, fan_in > 0, see fan_in()) ~ U(-b, b) with b = kaiming_uniform_bound(fan_in(weight), a). The default
/// a = sqrt(5) is nn.Linear's, giving b = 1 / sqrt(fan_in). Throws attractor::error on a bad shape or a non-finite a.
template <class Backend, floating_scalar Scalar>
void kaiming_uniform(context<Backend>& ctx, philox& gen, tensor_view<Scalar, Backend> weight,
                     double a = std::sqrt(5.0)) {
  require(weight.rank() >= 2, "nn::kaiming_uniform", "a weight of rank >= 2 (out x in, or out x in x kernel...)",
          weight.shape());
  const std::size_t n_in = fan_in(weight.shape());
  require(n_in > 0, "nn::kaiming_uniform", "fan_in > 0",
          attractor::detail::text("fan_in 0 for a weight of shape ", weight.shape()));
  require(std::isfinite(a), "nn::kaiming_uniform", "a finite negative slope a", a);
  const auto b = static_cast<Scalar>(kaiming_uniform_bound(n_in, a));
  fill_uniform(ctx, gen, weight, -b, b);
}

template <class Backend, floating_scalar Scalar>
void kaiming_uniform(context<Backend>& ctx, philox& gen, tensor<Scalar, Backend>& weight, double a = std::sqrt(5.0)) {
  kaiming_uniform(ctx, gen, weight.view(), a);
}

/// nn.Linear's bias initialisation: every element of `bias` (rank 1) ~ U(-1 / sqrt(fan_in), 1 / sqrt(fan_in)),
/// where fan_in is the weight's (in_features for a Linear). Throws attractor::error unless bias has rank 1 and
/// fan_in > 0 (PyTorch silently uses a zero bound for fan_in 0; a layer with no inputs is a bug here).
template <class Backend, floating_scalar Scalar>
void linear_bias_uniform(context<Backend>& ctx, philox& gen, tensor_view<Scalar, Backend> bias, std::size_t fan_in) {
  require(bias.rank() == 1, "nn::linear_bias_uniform", "a bias of rank 1", bias.shape());
  require(fan_in > 0, "nn::linear_bias_uniform", "fan_in > 0", fan_in);
  const auto b = static_cast<Scalar>(1.0 / std::sqrt(static_cast<double>(fan_in)));
  fill_uniform(ctx, gen, bias, -b, b);
}

template <class Backend, floating_scalar Scalar>
void linear_bias_uniform(context<Backend>& ctx, philox& gen, tensor<Scalar, Backend>& bias, std::size_t fan_in) {
  linear_bias_uniform(ctx, gen, bias.view(), fan_in);
}

/// nn.Linear.reset_parameters: kaiming_uniform(weight) with a = sqrt(5), then linear_bias_uniform(bias) with the
/// weight's fan_in, drawn in that order from `gen`. Throws attractor::error unless weight is (out x in) with in > 0
/// and bias has shape (out).
template <class Backend, floating_scalar Scalar>
void linear_default_init(context<Backend>& ctx, philox& gen, tensor_view<Scalar, Backend> weight,
                         tensor_view<Scalar, Backend> bias) {
  require(weight.rank() == 2, "nn::linear_default_init", "a weight of rank 2 (out x in)", weight.shape());
  require(bias.rank() == 1 && bias.shape()[0] == weight.shape()[0], "nn::linear_default_init",
          attractor::detail::text("a bias of shape (", weight.shape()[0], ")"), bias.shape());
  kaiming_uniform(ctx, gen, weight);
  linear_bias_uniform(ctx, gen, bias, weight.shape()[1]);
}

template <class Backend, floating_scalar Scalar>
void linear_default_init(context<Backend>& ctx, philox& gen, tensor<Scalar, Backend>& weight,
                         tensor<Scalar, Backend>& bias) {
  linear_default_init(ctx, gen, weight.view(), bias.view());
}

/// torch.nn.init.constant_: every element of x = value (e.g. the paper's LayerScale gamma = 1e-6). Throws
/// attractor::error unless value is finite. Draws nothing.
template <class Backend, floating_scalar Scalar>
void constant(context<Backend>& ctx, tensor_view<Scalar, Backend> x, std::type_identity_t<Scalar> value) {
  require(std::isfinite(value), "nn::constant", "a finite value", value);
  fill(ctx, x.size(), x.data(), value);
}

template <class Backend, floating_scalar Scalar>
void constant(context<Backend>& ctx, tensor<Scalar, Backend>& x, std::type_identity_t<Scalar> value) {
  constant(ctx, x.view(), value);
}

}  // namespace attractor::nn
