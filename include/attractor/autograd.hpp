// The autograd layer: graphs of whole-tensor operations with their backward passes, and the gradient checker.
#pragma once

#include "attractor/autograd/check_gradients.hpp"
#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/parameter.hpp"
