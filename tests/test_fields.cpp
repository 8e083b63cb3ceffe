// Tests of the field statistics (metrics/fields.hpp): cumulants against the exact ones of a two-point law (from its
// moment generating function log cosh t: 1, -2, 16, -272, 7936 at even orders 2..10) and of a shifted, scaled copy;
// the shell spectrum of single cosine modes against a^2 / 2 in their shell, Parseval for a band-limited random field
// (sum of shells = mean square), spatial means by hand, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <numbers>
#include <utility>
#include <vector>

#include "attractor/metrics/fields.hpp"
#include "attractor/random/philox.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::tensor;

}  // namespace

TEST_CASE("fields: cumulants of a two-point law are log cosh's, and shift and scale as they must") {
  // Equal weights on -1 and +1: the cumulant generating function is log cosh t.
  std::vector<double> v(1000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = i % 2 ? 1.0 : -1.0;
  const auto k = attractor::metrics::cumulants(v.data(), v.size(), 10);
  const double expected[10] = {0, 1, 0, -2, 0, 16, 0, -272, 0, 7936};
  for (std::size_t r = 0; r < 10; ++r) CHECK(k[r] == doctest::Approx(expected[r]).epsilon(1e-12).scale(1));
  // a x + b: kappa_1 -> a kappa_1 + b, kappa_r -> a^r kappa_r.
  for (double& x : v) x = 0.5 * x + 3;
  const auto s = attractor::metrics::cumulants(v.data(), v.size(), 6);
  CHECK(s[0] == doctest::Approx(3.0));
  for (std::size_t r = 1; r < 6; ++r)
    CHECK(s[r] == doctest::Approx(expected[r] * std::pow(0.5, static_cast<double>(r + 1))).epsilon(1e-12).scale(1));
}

TEST_CASE("fields: the shell spectrum puts a cosine's power a^2/2 in its shell, and obeys Parseval") {
  context<cpu> ctx(1);
  const std::size_t n = 16;
  // cos(2 pi (3 x) / n) with amplitude 2 (shell 3), and cos(2 pi (3 x + 4 y) / n) (|k| = 5).
  tensor<double, cpu> fields({2, n * n});
  for (std::size_t iy = 0; iy < n; ++iy)
    for (std::size_t ix = 0; ix < n; ++ix) {
      const double x = 2 * std::numbers::pi * static_cast<double>(ix) / n,
                   y = 2 * std::numbers::pi * static_cast<double>(iy) / n;
      fields[iy * n + ix] = 2 * std::cos(3 * x);
      fields[n * n + iy * n + ix] = std::cos(3 * x + 4 * y);
    }
  const auto one = attractor::metrics::isotropic_spectrum(ctx, std::as_const(fields).rows(0, 1), n);
  REQUIRE(one.size() == n / 2 + 1);
  for (std::size_t s = 0; s < one.size(); ++s) CHECK(one[s] == doctest::Approx(s == 3 ? 2.0 : 0.0).scale(1));
  const auto both = attractor::metrics::isotropic_spectrum(ctx, std::as_const(fields).view(), n);
  for (std::size_t s = 0; s < both.size(); ++s)
    CHECK(both[s] == doctest::Approx(s == 3 ? 1.0 : s == 5 ? 0.25 : 0.0).scale(1));
  // A random field of wavenumbers |k| <= 4 only: the shells hold all its power.
  attractor::philox gen(5, 0);
  tensor<double, cpu> random({1, n * n});
  std::vector<double> a(64), b(64);
  attractor::fill_normal(ctx, gen, a.data(), a.size(), 0.0, 1.0);
  attractor::fill_normal(ctx, gen, b.data(), b.size(), 0.0, 1.0);
  double mean_square = 0;
  for (std::size_t p = 0; p < n * n; ++p) {
    const double x = 2 * std::numbers::pi * static_cast<double>(p % n) / n,
                 y = 2 * std::numbers::pi * static_cast<double>(p / n) / n;
    double u = 0;
    for (int kx = -3; kx <= 3; ++kx)
      for (int ky = -3; ky <= 3; ++ky) {
        const std::size_t j = static_cast<std::size_t>((kx + 3) * 7 + ky + 3);
        u += a[j] * std::cos(kx * x + ky * y) + b[j] * std::sin(kx * x + ky * y);
      }
    random[p] = u;
    mean_square += u * u / (n * n);
  }
  double total = 0;
  for (double s : attractor::metrics::isotropic_spectrum(ctx, std::as_const(random).view(), n)) total += s;
  CHECK(total == doctest::Approx(mean_square).epsilon(1e-12));
}

TEST_CASE("fields: spatial means, and bad input refused by name") {
  context<cpu> ctx(1);
  tensor<double, cpu> f({2, 4});
  for (std::size_t i = 0; i < 8; ++i) f[i] = static_cast<double>(i);
  const auto m = attractor::metrics::spatial_means(std::as_const(f).view());
  CHECK(m[0] == 1.5);
  CHECK(m[1] == 5.5);
  std::vector<double> none;
  CHECK_THROWS_WITH_AS(attractor::metrics::cumulants(none.data(), 0, 4), doctest::Contains("at least one value"),
                       attractor::error);
  std::vector<double> bad = {1, NAN};
  CHECK_THROWS_AS(attractor::metrics::cumulants(bad.data(), 2, 4), attractor::error);
  CHECK_THROWS_WITH_AS(attractor::metrics::isotropic_spectrum(ctx, std::as_const(f).view(), 3),
                       doctest::Contains("even side"), attractor::error);
  CHECK_THROWS_WITH_AS(attractor::metrics::isotropic_spectrum(ctx, std::as_const(f).view(), 4),
                       doctest::Contains("count x 16"), attractor::error);
}
