// Lorenz-96 (Lorenz 1996; Lorenz and Emanuel 1998): dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F on a ring of
// Dimension variables (indices mod Dimension), with the usual Dimension = 40 and forcing F = 8, integrated by RK4
// with dt = 0.05 (systems/rk4.hpp) in the data-assimilation literature. A System for rk4_step and rk4_advance.
#pragma once

#include <cstddef>

#include "attractor/core/config.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor::systems {

template <floating_scalar Scalar, std::size_t Dimension = 40>
struct lorenz96 {
  static_assert(Dimension >= 4, "Lorenz-96 needs at least 4 variables");
  static constexpr std::size_t dimension = Dimension;
  /// The step used with RK4 in the DA literature (0.05 time units, about 6 hours of "weather").
  static constexpr double default_dt = 0.05;
  Scalar forcing = Scalar(8);

  ATTRACTOR_HOST_DEVICE void derivative(const Scalar* x, Scalar* dx) const {
    constexpr std::size_t n = Dimension;
    // The three boundary variables wrap around; the interior needs no modulo.
    dx[0] = (x[1] - x[n - 2]) * x[n - 1] - x[0] + forcing;
    dx[1] = (x[2] - x[n - 1]) * x[0] - x[1] + forcing;
    for (std::size_t i = 2; i + 1 < n; ++i) dx[i] = (x[i + 1] - x[i - 2]) * x[i - 1] - x[i] + forcing;
    dx[n - 1] = (x[0] - x[n - 3]) * x[n - 2] - x[n - 1] + forcing;
  }
};

}  // namespace attractor::systems
