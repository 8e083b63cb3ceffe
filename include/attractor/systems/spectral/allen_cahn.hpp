// The modified Allen-Cahn SPDE of the paper (spec section 3, eq. 9-10) on the doubly periodic grid of grid.hpp:
//   du = (kappa Laplacian u - A du/dx + alpha Sigma [u (1 - u^2)]) dt + eps Sigma^{1/2} dW,   Sigma = (1 -
//   Laplacian)^-1,
// with the paper's alpha = 16, kappa = 2.5e-4, A = 0.02, eps^2 = 0.004, dt = 1/32 on n = 32. (The code writes
// alpha Sigma as Sigma_eps lambda_code with Sigma_eps = eps^2 Sigma and lambda_code = 4000: alpha = eps^2 lambda_code.)
// The field is bimodal, near +1 and -1, in these units (the paper's data set divides it by 4).
//
// Noise, time stepping and the grid score are those of sde.hpp: RK4 on the drift (each stage one inverse and one
// forward batched transform), then the additive noise sqrt(dt) n eps Sigma^{1/2} eta, eta iid N(0, 1) per pixel.
#pragma once

#include <cstddef>

#include "attractor/backend/context.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/spectral/sde.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems::spectral {

/// The paper's values; dt is the spec's 1/n at n = 32: change it with n.
struct allen_cahn_parameters {
  std::size_t n = 32;             // grid points per side
  double alpha = 16;              // the strength of the double well
  double kappa = 2.5e-4;          // diffusion
  double advection = 0.02;        // A, along x
  double noise_variance = 0.004;  // eps^2
  double dt = 1.0 / 32;           // time step
};

/// The stepper (systems/stepper.hpp) of the Allen-Cahn SPDE for Scalar on Backend: a state is one field of n^2
/// values (grid.hpp's layout).
/// dimension(), advance(ctx, states, steps, gen) and score(ctx, fields, out) are diagonal_sde's (sde.hpp); the score
/// is (2 / (n^2 eps^2)) [alpha u (1 - u^2) + kappa (Laplacian u - Laplacian^2 u)].
template <floating_scalar Scalar, class Backend = cpu>
class allen_cahn : public diagonal_sde<Scalar, Backend> {
public:
  using parameters = allen_cahn_parameters;

  /// Throws attractor::error naming systems::spectral::allen_cahn on a grid size that is not even and >= 4, a
  /// coefficient that is not finite, dt <= 0 or eps^2 < 0.
  explicit allen_cahn(const parameters& p = {})
      : diagonal_sde<Scalar, Backend>({p.n, 0, p.alpha, p.kappa, p.advection, p.noise_variance, p.dt},
                                      "systems::spectral::allen_cahn"),
        p_(p) {}

  [[nodiscard]] const parameters& params() const { return p_; }
  /// The spec's initial condition: per member, a field of iid standard normals (one fill of n^2 N values from gen)
  /// smoothed by Sigma and divided by its largest absolute value (the paper divides the whole ensemble by its
  /// maximum), into states (n^2 x N).
  void initial_states(context<Backend>& ctx, tensor_view<Scalar, Backend> states, philox& gen) const {
    this->smoothed_normal_states(ctx, states, gen);
  }

private:
  parameters p_;
};

}  // namespace attractor::systems::spectral
