// Every autograd operation: the free functions of autograd/ops/, one header per family, built on the graph engine's
// op-builder API (autograd/graph.hpp). Include the family you use to keep compile times down.
#pragma once

#include "attractor/autograd/ops/conv.hpp"
#include "attractor/autograd/ops/dense.hpp"
#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/autograd/ops/film.hpp"
#include "attractor/autograd/ops/fourier.hpp"
#include "attractor/autograd/ops/group_norm.hpp"
#include "attractor/autograd/ops/norm.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/autograd/ops/resample.hpp"
#include "attractor/autograd/ops/shape.hpp"
