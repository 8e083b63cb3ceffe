// Lorenz-96 (Lorenz 1996; Lorenz and Emanuel 1998): dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F on a ring of
// Dimension variables (indices mod Dimension), with the usual Dimension = 40 and forcing F = 8, integrated by RK4
// with dt = 0.05 (systems/rk4.hpp) in the data-assimilation literature. A right-hand side for rk4_step, rk4_advance
// and rk4_stepper, of compile-time size, or of run-time size with Dimension = runtime_dimension:
//   systems::lorenz96<double> fixed;                                          // 40 variables
//   systems::lorenz96<double, systems::runtime_dimension> ring(n_from_cli);   // n >= 4 variables
// Both compute the same derivative, term for term, so RK4 gives them bit-identical trajectories.
#pragma once

#include <cstddef>

#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor::systems {

/// A Dimension template argument that means "set at run time" (as std::dynamic_extent does for std::span).
inline constexpr std::size_t runtime_dimension = static_cast<std::size_t>(-1);

namespace detail {
/// The ring's derivative on n >= 4 variables. The three boundary variables wrap around; the interior needs no modulo.
template <class Scalar>
ATTRACTOR_HOST_DEVICE inline void lorenz96_derivative(const Scalar* x, Scalar* dx, std::size_t n, Scalar forcing) {
  dx[0] = (x[1] - x[n - 2]) * x[n - 1] - x[0] + forcing;
  dx[1] = (x[2] - x[n - 1]) * x[0] - x[1] + forcing;
  for (std::size_t i = 2; i + 1 < n; ++i) dx[i] = (x[i + 1] - x[i - 2]) * x[i - 1] - x[i] + forcing;
  dx[n - 1] = (x[0] - x[n - 3]) * x[n - 2] - x[n - 1] + forcing;
}
}  // namespace detail

template <floating_scalar Scalar, std::size_t Dimension = 40>
struct lorenz96 {
  static_assert(Dimension >= 4, "Lorenz-96 needs at least 4 variables");
  static constexpr std::size_t dimension = Dimension;
  /// The step used with RK4 in the DA literature (0.05 time units, about 6 hours of "weather").
  static constexpr double default_dt = 0.05;
  Scalar forcing = Scalar(8);

  ATTRACTOR_HOST_DEVICE void derivative(const Scalar* x, Scalar* dx) const {
    detail::lorenz96_derivative(x, dx, Dimension, forcing);
  }
};

/// Lorenz-96 on a ring of n variables chosen at run time.
template <floating_scalar Scalar>
struct lorenz96<Scalar, runtime_dimension> {
  static constexpr double default_dt = 0.05;
  Scalar forcing = Scalar(8);

  /// Throws attractor::error unless n >= 4.
  explicit lorenz96(std::size_t n, Scalar f = Scalar(8)) : forcing(f), n_(n) {
    require(n >= 4, "systems::lorenz96", "a ring of at least 4 variables", n);
  }
  [[nodiscard]] std::size_t dimension() const { return n_; }
  ATTRACTOR_HOST_DEVICE void derivative(const Scalar* x, Scalar* dx) const {
    detail::lorenz96_derivative(x, dx, n_, forcing);
  }

private:
  std::size_t n_;
};

}  // namespace attractor::systems
