// The autograd layer: the graph engine, its operations (autograd/ops/), and the gradient checker.
#pragma once

#include "attractor/autograd/check_gradients.hpp"
#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/ops.hpp"
#include "attractor/autograd/parameter.hpp"
