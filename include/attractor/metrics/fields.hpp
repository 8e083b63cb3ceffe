// Statistics of periodic square fields, for checking generated fields against data (the response paper's sample
// checks, spec §8: pixel PDF, cumulants, spectra and the spatial-mean distribution):
//   cumulants          the first k cumulants of a set of values (of every pixel of every field);
//   isotropic_spectrum the power of a set of n x n fields per wavenumber shell |k| = 0..n/2, averaged over fields;
//   spatial_means      the mean of each field.
// The pixel and spatial-mean PDFs are histograms (metrics/hellinger.hpp compares them). Fields are rows of n^2
// values (pixel p = iy n + ix, as systems/spectral), on the host.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/backend/fft.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics {

/// The first `orders` cumulants kappa_1..kappa_orders of n values, from their central moments (cumulants of order
/// >= 2 do not depend on the shift, so the mean is removed first against cancellation) through the recursion
/// kappa_r = m_r - sum_{j=1}^{r-1} C(r-1, j-1) kappa_j m_{r-j}, with m the central moments (m_1 = 0) and then
/// kappa_1 = the mean. Throws attractor::error on n = 0, orders = 0 or a NaN or Inf value.
inline std::vector<double> cumulants(const double* values, std::size_t n, std::size_t orders) {
  constexpr const char* fn = "metrics::cumulants";
  require(n > 0, fn, "at least one value", n);
  require(orders > 0 && orders <= 20, fn, "between 1 and 20 orders", orders);
  require_finite(values, n, fn, "values");
  double mean = 0;
  for (std::size_t i = 0; i < n; ++i) mean += values[i];
  mean /= static_cast<double>(n);
  std::vector<double> m(orders + 1, 0.0);  // central moments m_0..m_orders
  for (std::size_t i = 0; i < n; ++i) {
    const double d = values[i] - mean;
    double p = 1;
    for (std::size_t r = 0; r <= orders; ++r, p *= d) m[r] += p;
  }
  for (double& v : m) v /= static_cast<double>(n);
  m[1] = 0;
  std::vector<double> kappa(orders + 1, 0.0);
  for (std::size_t r = 2; r <= orders; ++r) {
    double binomial = 1;  // C(r-1, j-1), from j = 1
    double sum = 0;
    for (std::size_t j = 1; j < r; ++j) {
      sum += binomial * kappa[j] * m[r - j];
      binomial = binomial * static_cast<double>(r - j) / static_cast<double>(j);
    }
    kappa[r] = m[r] - sum;
  }
  kappa[1] = mean;
  return {kappa.begin() + 1, kappa.end()};
}

/// The power per wavenumber shell of `fields` (count x n^2, n even): shell s holds the wavenumbers with
/// round(|k|) = s for s = 0..n/2 (the corners beyond n/2 are left out), and its value is the mean over fields of
/// sum_{k in shell} |u_hat(k)|^2 / n^4, with u_hat the unnormalised DFT: by Parseval the shells of all k sum to the
/// mean of u^2 over pixels. Throws attractor::error on a wrong shape, an odd or zero n, NaN or Inf.
inline std::vector<double> isotropic_spectrum(context<cpu>& ctx, const_tensor_view<double, cpu> fields, std::size_t n) {
  constexpr const char* fn = "metrics::isotropic_spectrum";
  require(n >= 2 && n % 2 == 0, fn, "an even side n >= 2", n);
  require(fields.rank() == 2 && fields.extent(1) == n * n && fields.extent(0) > 0, fn,
          attractor::detail::text("fields of shape (count x ", n * n, ")"), fields.shape());
  require_finite(fields.data(), fields.size(), fn, "fields");
  const std::size_t count = fields.extent(0), half = n / 2 + 1;
  const fft_dims dims{n, n};
  std::vector<double> spectrum(2 * dims.complex_size() * count);
  fft_forward(ctx, dims, count, fields.data(), spectrum.data());
  std::vector<double> shells(n / 2 + 1, 0.0);
  const auto wavenumber = [n](std::size_t i) {
    return static_cast<double>(i < n / 2 ? static_cast<std::ptrdiff_t>(i)
                                         : static_cast<std::ptrdiff_t>(i) - static_cast<std::ptrdiff_t>(n));
  };
  const double norm = static_cast<double>(n) * n * n * n * static_cast<double>(count);
  for (std::size_t f = 0; f < count; ++f) {
    const double* s = spectrum.data() + 2 * dims.complex_size() * f;
    for (std::size_t iy = 0; iy < n; ++iy)
      for (std::size_t ix = 0; ix < half; ++ix) {
        // The halved axis holds kx >= 0 only (ix = n/2 stands for -n/2): columns 1..n/2-1 stand for two wavenumbers.
        const double weight = (ix == 0 || ix == n / 2) ? 1.0 : 2.0;
        const double k = std::hypot(ix == n / 2 ? n / 2.0 : static_cast<double>(ix), wavenumber(iy));
        const auto shell = static_cast<std::size_t>(std::lround(k));
        if (shell >= shells.size()) continue;
        const double re = s[2 * (iy * half + ix)], im = s[2 * (iy * half + ix) + 1];
        shells[shell] += weight * (re * re + im * im) / norm;
      }
  }
  return shells;
}

/// The spatial mean of each of `fields` (count x pixels).
inline std::vector<double> spatial_means(const_tensor_view<double, cpu> fields) {
  require(fields.rank() == 2 && fields.extent(1) > 0, "metrics::spatial_means", "fields of shape (count x pixels)",
          fields.shape());
  const std::size_t count = fields.extent(0), pixels = fields.extent(1);
  std::vector<double> means(count, 0.0);
  for (std::size_t f = 0; f < count; ++f) {
    double sum = 0;
    for (std::size_t p = 0; p < pixels; ++p) sum += fields.data()[f * pixels + p];
    means[f] = sum / static_cast<double>(pixels);
  }
  return means;
}

}  // namespace attractor::metrics
