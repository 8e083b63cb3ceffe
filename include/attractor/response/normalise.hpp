// R(tau) = M(tau) M(0)^-1: a lag function normalised so that R(0) = I (spec §5 and §7), for the Gaussian response
// (M = C, the lag covariances) and the score-based one (M = H = -<x s^T>, the "hack" of the paper's code).
//
//   divide_by_lag0           a dense M, (lags + 1) x n x n on the host, in double: Cholesky of M(0) where M(0) must
//                            be symmetric positive definite (the Gaussian route), LU otherwise.
//   circulant_divide_by_lag0 a translation-invariant M on a periodic n_side x n_side field, given by its kernel m(d,
//                            tau) with M_ij(tau) = m(x_i - x_j, tau), (lags + 1) x (n_side n_side), [tau][dy n_side +
//                            dx]. A circulant matrix is diagonal in Fourier space, so R_hat(k, tau) = M_hat(k, tau) /
//                            M_hat(k, 0), exact and without the (n_side^2)^2 inverse (spec §12). Returns the column
//                            of a kick at pixel j: [tau][i] = R_ij(tau) = r(x_i - x_j, tau). The 2-D FFTs run on
//                            Backend; for a covariance, M_hat(k, 0) must be real and positive at every k.
//
// A singular (or, where asked, not positive definite) M(0), or a Fourier mode of M(0) within 1e-10 of the largest
// in magnitude, throws attractor::error naming the function.
//
// Under nvcc, Eigen's solvers (host-device functions that call host-only ones) raise warning 20014, which neither
// nv_diag_suppress pragma nor push/pop silences (nvcc 13): pass -diag-suppress=20014, as attractor::cuda does for
// Eigen's 20012. The solves run on the host only.
#pragma once

#include "attractor/core/eigen.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <limits>
#include <string_view>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/LU>

#include "attractor/backend/context.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/fft.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/response/lag_correlation.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::response {

/// What M(0) must be for the division.
enum class lag0_kind {
  general,    ///< invertible (LU; Fourier modes non-zero)
  covariance  ///< symmetric positive definite (Cholesky; Fourier modes real and positive)
};

namespace detail {

/// The smallest Fourier mode (in magnitude, or real part for a covariance) that M(0) may have, relative to the
/// largest: below it, the mode is taken as zero.
inline constexpr double smallest_relative_mode = 1e-10;

inline void require_finite_host(const_tensor_view<double, cpu> m, std::string_view fn, std::string_view what) {
  require_finite(m.data(), m.size(), fn, what);
}

/// spectrum[tau][k] *= factor[k], complex, over lags x K complex numbers.
struct multiply_modes {
  double* spectrum;
  const double* factor;
  std::size_t K;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    const std::size_t k = idx % K;
    const double a = spectrum[2 * idx], b = spectrum[2 * idx + 1], c = factor[2 * k], d = factor[2 * k + 1];
    spectrum[2 * idx] = a * c - b * d;
    spectrum[2 * idx + 1] = a * d + b * c;
  }
};

/// The column of kick pixel j of a circulant matrix: out[tau][i] = kernel[tau][(i - j) periodic].
inline tensor<double, cpu> kick_column(const std::vector<double>& kernel, std::size_t rows, std::size_t side,
                                       std::size_t kick) {
  const std::size_t frame = side * side, jy = kick / side, jx = kick % side;
  tensor<double, cpu> out(shape{rows, frame});
  for (std::size_t tau = 0; tau < rows; ++tau)
    for (std::size_t iy = 0; iy < side; ++iy)
      for (std::size_t ix = 0; ix < side; ++ix) {
        const std::size_t d = ((iy + side - jy) % side) * side + (ix + side - jx) % side;
        out[tau * frame + iy * side + ix] = kernel[tau * frame + d];
      }
  return out;
}

inline void check_kernel(const_tensor_view<double, cpu> m, std::size_t kick, std::string_view fn, std::size_t& side) {
  require(m.rank() == 2 && m.extent(0) >= 1, fn, "a kernel of shape (lags + 1) x (n_side n_side)", m.shape());
  side = field_side(m.extent(1), fn);
  require(kick < m.extent(1), fn, attractor::detail::text("a kick pixel < ", m.extent(1)), kick);
  require_finite_host(m, fn, "the kernel");
}

}  // namespace detail

/// R(tau) = M(tau) M(0)^-1 for M of shape (lags + 1) x n x n, [tau][i][j]: (lags + 1) x n x n with R(0) = I up to
/// rounding. `kind` = covariance symmetrises M(0) and requires it positive definite (Cholesky); general requires it
/// invertible (LU, reciprocal condition number above 1e-12). `fn` names the caller in messages.
inline tensor<double, cpu> divide_by_lag0(const_tensor_view<double, cpu> M, lag0_kind kind = lag0_kind::general,
                                          std::string_view fn = "response::divide_by_lag0") {
  require(M.rank() == 3 && M.extent(0) >= 1 && M.extent(1) >= 1 && M.extent(1) == M.extent(2), fn,
          "lag matrices of shape (lags + 1) x n x n", M.shape());
  detail::require_finite_host(M, fn, "the lag matrices");
  const auto rows = static_cast<Eigen::Index>(M.extent(0)), n = static_cast<Eigen::Index>(M.extent(1));
  using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using const_map = Eigen::Map<const matrix>;
  // R = M(tau) M0^-1, so R^T = M0^-T M(tau)^T: one factorisation of M0^T, a solve per lag.
  const const_map M0(M.data(), n, n);
  tensor<double, cpu> out(shape{M.extent(0), M.extent(1), M.extent(1)});
  auto solve_all = [&](const auto& factor) {
    for (Eigen::Index tau = 0; tau < rows; ++tau) {
      const const_map Mt(M.data() + tau * n * n, n, n);
      Eigen::Map<matrix> R(out.data() + tau * n * n, n, n);
      R = factor.solve(Mt.transpose()).transpose();
    }
  };
  if (kind == lag0_kind::covariance) {
    const matrix sym = (M0 + M0.transpose()) / 2;
    const Eigen::LLT<matrix> llt(sym);
    // A pivot lost to rounding is a C(0) that is not positive definite either.
    const double largest = sym.diagonal().cwiseAbs().maxCoeff();
    bool ok = llt.info() == Eigen::Success && largest > 0;
    if (ok) {
      const matrix L = llt.matrixL();
      const double smallest = L.diagonal().cwiseAbs2().minCoeff();
      ok = smallest > std::numeric_limits<double>::epsilon() * static_cast<double>(n) * largest;
    }
    if (!ok) fail(fn, "a positive-definite C(0)", "a matrix whose Cholesky factorisation fails or loses a pivot");
    solve_all(llt);  // M0 symmetric: M0^-T = M0^-1
  } else {
    const Eigen::PartialPivLU<matrix> lu(M0.transpose());
    const double rcond = lu.rcond();
    require(std::isfinite(rcond) && rcond > 1e-12, fn, "an invertible M(0) (reciprocal condition number > 1e-12)",
            rcond);
    solve_all(lu);
  }
  return out;
}

/// R(tau) = M(tau) M(0)^-1 for the circulant M whose kernel is m (the header's comment), in Fourier space: the column
/// of a kick at pixel `kick`, (lags + 1) x (n_side n_side). `fn` names the caller in messages.
template <class Backend>
tensor<double, cpu> circulant_divide_by_lag0(context<Backend>& ctx, const_tensor_view<double, cpu> m,
                                             std::size_t kick = 0, lag0_kind kind = lag0_kind::general,
                                             std::string_view fn = "response::circulant_divide_by_lag0") {
  std::size_t side = 0;
  detail::check_kernel(m, kick, fn, side);
  const std::size_t rows = m.extent(0), frame = m.extent(1);
  const fft_dims dims{side, side};
  const std::size_t K = dims.complex_size();
  auto device = detail::upload(ctx, m.data(), m.size());
  tensor<double, Backend> spectrum(shape{rows * 2 * K});
  fft_forward<double>(ctx, dims, rows, device.data(), spectrum.data());

  // The lag-0 modes on the host: checked, then inverted (the inverse FFT's 1/frame folded in).
  std::vector<double> modes = detail::download(ctx, spectrum.data(), 2 * K);
  double largest = 0;
  for (std::size_t k = 0; k < K; ++k) largest = std::max(largest, std::hypot(modes[2 * k], modes[2 * k + 1]));
  const double floor = detail::smallest_relative_mode * largest;
  for (std::size_t k = 0; k < K; ++k) {
    std::complex<double> z(modes[2 * k], modes[2 * k + 1]);
    if (kind == lag0_kind::covariance) {
      // c(d, 0) = c(-d, 0): the modes are real; a negative or vanishing one is a C(0) that is not positive definite.
      require(largest > 0 && z.real() > floor, fn,
              attractor::detail::text("Fourier modes of C(0) above ", floor, " (C(0) positive definite)"),
              attractor::detail::text(z.real(), " at mode ", k, " of ", K));
      z = std::complex<double>(z.real(), 0);
    } else {
      require(largest > 0 && std::abs(z) > floor, fn,
              attractor::detail::text("Fourier modes of M(0) of magnitude above ", floor, " (M(0) invertible)"),
              attractor::detail::text(std::abs(z), " at mode ", k, " of ", K));
    }
    const std::complex<double> inverse = 1.0 / (z * static_cast<double>(frame));
    modes[2 * k] = inverse.real();
    modes[2 * k + 1] = inverse.imag();
  }
  const auto factor = detail::upload(ctx, modes.data(), 2 * K);
  for_each_index(ctx, rows * K, detail::multiply_modes{spectrum.data(), factor.data(), K});
  fft_inverse<double>(ctx, dims, rows, spectrum.data(), device.data());
  return detail::kick_column(detail::download(ctx, device.data(), rows * frame), rows, side, kick);
}

/// The column of a kick at pixel `kick` of the circulant matrices whose kernel is m (no division): [tau][i] =
/// m(x_i - x_kick, tau), (lags + 1) x (n_side n_side).
inline tensor<double, cpu> circulant_column(const_tensor_view<double, cpu> m, std::size_t kick = 0,
                                            std::string_view fn = "response::circulant_column") {
  std::size_t side = 0;
  detail::check_kernel(m, kick, fn, side);
  return detail::kick_column(std::vector<double>(m.data(), m.data() + m.size()), m.extent(0), side, kick);
}

}  // namespace attractor::response
