// The Ornstein-Uhlenbeck SPDE of the paper (spec section 2, eq. 6) on the doubly periodic grid of grid.hpp:
//   du = (-lambda Sigma u + kappa Laplacian u - A du/dx) dt + eps Sigma^{1/2} dW,   Sigma = (1 - Laplacian)^-1,
// with the defaults of spec section 12: lambda = 0.04, kappa = 2.5e-4, A = 0.02, eps^2 = 0.004, dt = 1/32, n = 32.
// The paper's eq. 6 writes +A du/dx; the spec infers that the paper's Ornstein-Uhlenbeck data came from its
// Allen-Cahn code with the nonlinearity replaced by a linear restoring term, and that code advects with -A du/dx, so
// this uses -A du/dx, the same sign as allen_cahn.hpp. (The sign does not change the statistics at one time or the
// score, only the direction in which responses travel.)
//
// Noise, time stepping and the grid score are those of sde.hpp: RK4 on the drift then the additive noise
// sqrt(dt) n eps Sigma^{1/2} eta, eta iid N(0, 1) per pixel (the paper's "32^2 factor"). The drift is diagonal, so a
// step is exactly u_hat <- rho(k) u_hat + noise per Fourier mode, rho the RK4 polynomial of dt (-lambda Sigma(k) -
// kappa |k|^2 - i A kx) (kx = 0 at the Nyquist index), with E|noise|^2 = dt n^4 eps^2 Sigma(k).
#pragma once

#include <cstddef>

#include "attractor/backend/context.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/spectral/sde.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems::spectral {

/// The spec's defaults (section 12); dt is the spec's 1/n at n = 32: change it with n.
struct ornstein_uhlenbeck_parameters {
  std::size_t n = 32;             // grid points per side
  double lambda = 0.04;           // the restoring rate on Sigma u
  double kappa = 2.5e-4;          // diffusion
  double advection = 0.02;        // A, along x
  double noise_variance = 0.004;  // eps^2
  double dt = 1.0 / 32;           // time step
};

/// The stepper (systems/stepper.hpp) of the Ornstein-Uhlenbeck SPDE for Scalar on Backend: a state is one field of
/// n^2 values (grid.hpp's layout).
/// dimension(), advance(ctx, states, steps, gen) and score(ctx, fields, out) are diagonal_sde's (sde.hpp); the score
/// is (2 / (n^2 eps^2)) (-lambda u + kappa Laplacian u - kappa Laplacian^2 u).
template <floating_scalar Scalar, class Backend = cpu>
class ornstein_uhlenbeck : public diagonal_sde<Scalar, Backend> {
public:
  using parameters = ornstein_uhlenbeck_parameters;

  /// Throws attractor::error naming systems::spectral::ornstein_uhlenbeck on a grid size that is not even and >= 4,
  /// a coefficient that is not finite, dt <= 0 or eps^2 < 0.
  explicit ornstein_uhlenbeck(const parameters& p = {})
      : diagonal_sde<Scalar, Backend>({p.n, p.lambda, 0, p.kappa, p.advection, p.noise_variance, p.dt},
                                      "systems::spectral::ornstein_uhlenbeck"),
        p_(p) {}

  [[nodiscard]] const parameters& params() const { return p_; }

private:
  parameters p_;
};

}  // namespace attractor::systems::spectral
