// The sinusoidal embedding of the integer pseudo-time used by the Lorenz-63 paper's network (spec §2): for
// half = dim / 2 and f_k = exp(-k ln(10000) / (half - 1)), k = 0..half-1,
//   e(tau) = [sin(tau f_0), ..., sin(tau f_{half-1}), cos(tau f_0), ..., cos(tau f_{half-1})]
// with the raw integer tau (not rescaled), the sin block first. It has no parameters, so the table of every tau
// is computed once.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "attractor/backend/copy.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::nn {

/// The (max_time + 1) x dim table whose row tau is e(tau), computed in double on the host and then stored on the
/// backend in Scalar.
template <floating_scalar Scalar, class Backend>
tensor<Scalar, Backend> sinusoidal_table(context<Backend>& ctx, std::size_t max_time, std::size_t dim) {
  require(dim >= 4 && dim % 2 == 0, "nn::sinusoidal_table", "an even dimension >= 4", dim);
  const std::size_t half = dim / 2;
  std::vector<Scalar> host((max_time + 1) * dim);
  for (std::size_t tau = 0; tau <= max_time; ++tau) {
    for (std::size_t k = 0; k < half; ++k) {
      const double f = std::exp(-double(k) * std::log(10000.0) / double(half - 1));
      host[tau * dim + k] = static_cast<Scalar>(std::sin(double(tau) * f));
      host[tau * dim + half + k] = static_cast<Scalar>(std::cos(double(tau) * f));
    }
  }
  tensor<Scalar, Backend> table({max_time + 1, dim});
  transfer<cpu, Backend>::run(ctx, host.data(), table.data(), host.size());
  return table;
}

}  // namespace attractor::nn
