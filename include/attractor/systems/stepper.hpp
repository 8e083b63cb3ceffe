// The stepper concept (DESIGN.md): what advances a batch of model states, so that data assimilation (da::run_twin,
// da::spun_up_states) runs on any model, not only on the systems this library ships.
//
// A type S is a stepper for Scalar on Backend (cpu by default) when, for a const S& s,
//   s.dimension()                        is the state size Nx, a run-time value >= 1;
//   s.advance(ctx, states, steps, gen)   advances every member of `states`, a tensor_view<Scalar, Backend> of shape
//                                        Nx x N (one member per column, DAPPER's layout), by `steps` model steps in
//                                        place. A stochastic model draws its noise from gen and from nothing else,
//                                        so that a seed reproduces a run; a deterministic one leaves gen untouched.
// advance is const and may be called concurrently on different states with different contexts and generators
// (run_twin forecasts one experiment per thread, each with a one-thread context of its own): keep workspaces in
// ctx.scratch, not in the stepper. Throw attractor::error on a shape that is not Nx x N.
//
// systems::rk4_stepper (systems/rk4.hpp) makes one from a right-hand side and a step. A model written by hand, here
// x <- a x + q xi per step on n variables, is a page at most:
//
//   struct ar1 {
//     std::size_t n;
//     double a, q;
//     std::size_t dimension() const { return n; }
//     void advance(context<cpu>& ctx, tensor_view<double, cpu> E, std::size_t steps, philox& gen) const {
//       require(E.rank() == 2 && E.extent(0) == n, "ar1::advance", "states of shape n x N", E.shape());
//       for (std::size_t s = 0; s < steps; ++s) {
//         for (double& v : E) v *= a;
//         systems::add_model_noise(ctx, E, q, gen);
//       }
//     }
//   };
//   static_assert(systems::stepper<ar1, double>);
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>

#include "attractor/backend/context.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/core/error.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems {

template <class Stepper, class Scalar, class Backend = cpu>
concept stepper = requires(const Stepper& s, context<Backend>& ctx, tensor_view<Scalar, Backend> states,
                           std::size_t steps, philox& gen) {
  { s.dimension() } -> std::convertible_to<std::size_t>;
  s.advance(ctx, states, steps, gen);
};

/// Additive model noise: states += noise_std * xi with xi standard normal, one fill_normal of states.size() values
/// from gen in the states' row-major order (so gen advances by philox_blocks<Scalar>(states.size())). Draws nothing
/// when noise_std is 0, which keeps a deterministic model's generator untouched. Throws attractor::error on a
/// noise_std that is not finite and >= 0.
template <class Scalar, class Backend>
void add_model_noise(context<Backend>& ctx, tensor_view<Scalar, Backend> states, std::type_identity_t<Scalar> noise_std,
                     philox& gen) {
  require(std::isfinite(noise_std) && noise_std >= 0, "systems::add_model_noise", "a finite noise_std >= 0", noise_std);
  if (noise_std == 0 || states.empty()) return;
  auto* noise = static_cast<Scalar*>(ctx.scratch(states.size() * sizeof(Scalar)));
  fill_normal(ctx, gen, noise, states.size(), Scalar(0), noise_std);
  map(ctx, states.size(), states.data(), ops::plus{}, static_cast<const Scalar*>(states.data()),
      static_cast<const Scalar*>(noise));
}

}  // namespace attractor::systems
