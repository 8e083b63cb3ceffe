// The tensor layer: tensor and views, shape-checked operations, and Eigen and xtensor interop (.npy files are in
// the io layer: attractor/io.hpp).
#pragma once

#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/eigen.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/shape.hpp"
#include "attractor/tensor/tensor.hpp"
#if __has_include(<xtensor/xarray.hpp>)
#include "attractor/tensor/xtensor.hpp"
#endif
