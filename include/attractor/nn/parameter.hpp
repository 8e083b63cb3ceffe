// nn::parameter and nn::parameter_list: the autograd layer's trainable tensors, under the names modules use.
#pragma once

#include "attractor/autograd/parameter.hpp"

namespace attractor::nn {

using autograd::parameter;
using autograd::parameter_count;
using autograd::parameter_list;
using autograd::zero_grad;

}  // namespace attractor::nn
