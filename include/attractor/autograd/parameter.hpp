// autograd::parameter: a trainable tensor, its gradient, and its name in the PyTorch reference module's state_dict
// (e.g. "blocks.0.fc1.weight"), which is also its name in safetensors checkpoints. Graphs take parameters as
// leaves; modules (nn/) own them. Also available as nn::parameter.
//
// A parameter with trainable = false is a fixed tensor kept with the weights so that checkpoints carry it (as a
// PyTorch nn.Parameter with requires_grad=False, e.g. the Gaussian Fourier projection's frequencies): graphs take it
// as a constant, and Adam, the EMA and gradient clipping leave it alone.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "attractor/core/scalar_traits.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::autograd {

template <floating_scalar Scalar, class Backend>
struct parameter {
  std::string name;
  tensor<Scalar, Backend> value;
  tensor<Scalar, Backend> grad;
  bool trainable = true;

  parameter() = default;
  parameter(std::string parameter_name, const attractor::shape& s)
      : name(std::move(parameter_name)), value(s), grad(s) {}

  [[nodiscard]] const attractor::shape& shape() const { return value.shape(); }
  [[nodiscard]] std::size_t size() const { return value.size(); }
};

/// The parameters of a module, in state_dict order. Non-owning: the module owns them.
template <floating_scalar Scalar, class Backend>
using parameter_list = std::vector<parameter<Scalar, Backend>*>;

/// Total number of scalars in a parameter list.
template <floating_scalar Scalar, class Backend>
std::size_t parameter_count(const parameter_list<Scalar, Backend>& params) {
  std::size_t n = 0;
  for (const auto* p : params) n += p->size();
  return n;
}

/// Sets every gradient to zero.
template <floating_scalar Scalar, class Backend>
void zero_grad(context<Backend>& ctx, const parameter_list<Scalar, Backend>& params) {
  for (auto* p : params) fill(ctx, p->grad, Scalar(0));
}

}  // namespace attractor::autograd
