// The tensor layer: tensor and views, shape-checked operations, .npy files, and Eigen and xtensor interop.
#pragma once

#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/eigen.hpp"
#include "attractor/tensor/npy.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/shape.hpp"
#include "attractor/tensor/tensor.hpp"
#if __has_include(<xtensor/xarray.hpp>)
#include "attractor/tensor/xtensor.hpp"
#endif
