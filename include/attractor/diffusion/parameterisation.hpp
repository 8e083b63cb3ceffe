// Output parameterisations (spec §3, head_param/*.py): what the network predicts, and how its prediction turns
// into an estimate of the clean state x_hat and of the noise eps_hat, given z = a x + s eps with a = sqrt(alpha_bar)
// and s = sigma:
//
//   head      target                 x_hat               eps_hat
//   noise     eps                    (z - s pred) / a    pred
//   state     x                      pred                (z - a pred) / s
//   velocity  v = a eps - s x        a z - s pred        s z + a pred
//
// (velocity uses a^2 + s^2 = 1). noise divides by a, state by s: at t = T and t = 0 respectively these are
// ill-conditioned, as they are in the reference.
#pragma once

#include <string_view>

#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"

namespace attractor::diffusion {

enum class parameterisation { noise, state, velocity };

inline std::string_view to_string(parameterisation p) {
  switch (p) {
    case parameterisation::noise: return "noise";
    case parameterisation::state: return "state";
    case parameterisation::velocity: return "velocity";
  }
  return "?";
}

/// "noise"/"eps", "state"/"x", "velocity"/"v".
inline parameterisation parse_parameterisation(std::string_view name) {
  if (name == "noise" || name == "eps" || name == "epsilon") return parameterisation::noise;
  if (name == "state" || name == "x") return parameterisation::state;
  if (name == "velocity" || name == "v") return parameterisation::velocity;
  fail("diffusion::parse_parameterisation", "\"noise\", \"state\" or \"velocity\"",
       attractor::detail::concat('"', name, '"'));
}

/// The training target for clean x and noise eps.
template <class Scalar>
ATTRACTOR_HOST_DEVICE inline Scalar target_of(parameterisation p, Scalar x, Scalar eps, Scalar a, Scalar s) {
  switch (p) {
    case parameterisation::noise: return eps;
    case parameterisation::state: return x;
    default: return a * eps - s * x;
  }
}

template <class Scalar>
ATTRACTOR_HOST_DEVICE inline Scalar x_hat_of(parameterisation p, Scalar z, Scalar pred, Scalar a, Scalar s) {
  switch (p) {
    case parameterisation::noise: return (z - s * pred) / a;
    case parameterisation::state: return pred;
    default: return a * z - s * pred;
  }
}

template <class Scalar>
ATTRACTOR_HOST_DEVICE inline Scalar eps_hat_of(parameterisation p, Scalar z, Scalar pred, Scalar a, Scalar s) {
  switch (p) {
    case parameterisation::noise: return pred;
    case parameterisation::state: return (z - a * pred) / s;
    default: return s * z + a * pred;
  }
}

}  // namespace attractor::diffusion
