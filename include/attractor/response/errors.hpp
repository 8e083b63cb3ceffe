// The errors of one response column against another, per lag (spec §9): with R and R_ref of shape (lags + 1) x n
// (the column of one kick, [tau][i]),
//
//   e2(tau)    = sqrt(mean_i (R_i(tau) - R_ref_i(tau))^2)    the rms error over all components (pixels)
//   e_inf(tau) = max_i |R_i(tau) - R_ref_i(tau)|             the worst component
//
// The paper takes the dynamical response as the reference. Shapes that differ or are not rank 2 with n >= 1, and
// NaN or Inf values, throw attractor::error.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "attractor/core/error.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::response {

struct response_errors {
  std::vector<double> e2;     ///< per lag: the rms difference over components
  std::vector<double> e_inf;  ///< per lag: the largest absolute difference
};

/// e2 and e_inf of R against reference, both (lags + 1) x n: one value per lag each.
inline response_errors errors(const_tensor_view<double, cpu> R, const_tensor_view<double, cpu> reference) {
  constexpr const char* fn = "response::errors";
  require(R.rank() == 2 && R.extent(0) >= 1 && R.extent(1) >= 1, fn, "a response of shape (lags + 1) x n", R.shape());
  require(reference.shape() == R.shape(), fn,
          attractor::detail::text("a reference of the response's shape ", R.shape()), reference.shape());
  require_finite(R.data(), R.size(), fn, "the response");
  require_finite(reference.data(), reference.size(), fn, "the reference");
  const std::size_t rows = R.extent(0), n = R.extent(1);
  response_errors e{std::vector<double>(rows), std::vector<double>(rows)};
  for (std::size_t tau = 0; tau < rows; ++tau) {
    double sum = 0, worst = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double d = R[tau * n + i] - reference[tau * n + i];
      sum += d * d;
      worst = std::max(worst, std::abs(d));
    }
    e.e2[tau] = std::sqrt(sum / static_cast<double>(n));
    e.e_inf[tau] = worst;
  }
  return e;
}

}  // namespace attractor::response
