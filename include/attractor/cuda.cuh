// The cuda backend: include this (from a .cu file compiled by nvcc) after or instead of the CPU headers to make
// every algorithm of the library run on context<cuda>. xtensor is left out: it does not compile under nvcc.
#pragma once

#include "attractor/autograd.hpp"
#include "attractor/backend/cuda/check.cuh"
#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/copy.cuh"
#include "attractor/backend/cuda/fft.cuh"  // the FFTs; a program that calls them links attractor::cufft
#include "attractor/backend/cuda/for_each.cuh"
#include "attractor/backend/cuda/gemm.cuh"
#include "attractor/backend/cuda/memory.cuh"
#include "attractor/backend/cuda/reduce.cuh"
#include "attractor/backend/cuda/segment_sum.cuh"
#include "attractor/core.hpp"
#include "attractor/diffusion.hpp"
#include "attractor/metrics.hpp"
#include "attractor/metrics/cuda/histogram.cuh"
#include "attractor/metrics/cuda/nearest.cuh"
#include "attractor/nn.hpp"
#include "attractor/random.hpp"
#include "attractor/systems.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/shape.hpp"
#include "attractor/tensor/tensor.hpp"
#include "attractor/transfer.hpp"
