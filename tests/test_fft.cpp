// The batched real FFTs of backend/fft.hpp (FFTW): every coefficient against a DFT summed directly in long double,
// for ranks 1 to 3, odd and even lengths, float and double; the inverse brings back real_size() times the signal;
// arrays of any alignment; one thread and two give the same bits; plans are reused; bad arguments are refused.
#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <cstddef>
#include <numbers>
#include <string>
#include <vector>

#include "attractor/backend/fft.hpp"
#include "attractor/random/philox.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::fft_dims;

/// The full DFT of one real array of shape dims (padded to rank 3), at the halved-axis indices FFTW keeps.
std::vector<std::complex<long double>> direct_dft(const fft_dims& dims, const double* x) {
  const std::size_t r = dims.rank();
  const std::size_t n0 = r == 3 ? dims[0] : 1, n1 = r >= 2 ? dims[r - 2] : 1, n2 = dims[r - 1];
  std::vector<std::complex<long double>> out;
  for (std::size_t a = 0; a < n0; ++a)
    for (std::size_t b = 0; b < n1; ++b)
      for (std::size_t c = 0; c <= n2 / 2; ++c) {
        std::complex<long double> acc = 0;
        for (std::size_t i = 0; i < n0; ++i)
          for (std::size_t j = 0; j < n1; ++j)
            for (std::size_t k = 0; k < n2; ++k) {
              const long double phase =
                  -2 * std::numbers::pi_v<long double> *
                  (static_cast<long double>(a * i % n0) / n0 + static_cast<long double>(b * j % n1) / n1 +
                   static_cast<long double>(c * k % n2) / n2);
              acc += static_cast<long double>(x[(i * n1 + j) * n2 + k]) * std::polar(1.0L, phase);
            }
        out.push_back(acc);
      }
  return out;
}

template <class Scalar>
std::vector<Scalar> normals(std::size_t n, std::uint64_t seed) {
  context<cpu> ctx(1);
  attractor::philox gen(seed);
  std::vector<Scalar> v(n);
  attractor::fill_normal(ctx, gen, v.data(), n);
  return v;
}

}  // namespace

TEST_CASE_TEMPLATE("fft_forward matches the direct DFT and fft_inverse brings the signal back", Scalar, float, double) {
  // Relative to the spectrum's scale sqrt(n): float rounds at about 1e-7 per level, double at about 1e-16.
  const double tol = std::is_same_v<Scalar, float> ? 2e-6 : 2e-14;
  context<cpu> ctx(2);
  for (const fft_dims& dims : {fft_dims{1}, fft_dims{5}, fft_dims{8}, fft_dims{3, 4}, fft_dims{6, 7}, fft_dims{32, 32},
                               fft_dims{3, 4, 5}, fft_dims{4, 2, 6}}) {
    CAPTURE(dims.key());
    const std::size_t batch = 3, rs = dims.real_size(), cs = dims.complex_size();
    const auto x = normals<Scalar>(batch * rs, 17 + rs);
    std::vector<Scalar> spectrum(2 * batch * cs), back(batch * rs);
    attractor::fft_forward(ctx, dims, batch, x.data(), spectrum.data());
    const double scale = std::sqrt(static_cast<double>(rs));
    for (std::size_t b = 0; b < batch; ++b) {
      std::vector<double> member(x.begin() + b * rs, x.begin() + (b + 1) * rs);
      const auto expected = direct_dft(dims, member.data());
      REQUIRE(expected.size() == cs);
      double worst = 0;
      for (std::size_t i = 0; i < cs; ++i) {
        const std::complex<long double> got(spectrum[2 * (b * cs + i)], spectrum[2 * (b * cs + i) + 1]);
        worst = std::max(worst, static_cast<double>(std::abs(got - expected[i])));
      }
      CHECK(worst <= tol * scale * std::log2(2.0 * rs));
    }
    attractor::fft_inverse(ctx, dims, batch, spectrum.data(), back.data());
    double worst = 0;
    for (std::size_t i = 0; i < batch * rs; ++i)
      worst = std::max(worst, std::abs(static_cast<double>(back[i]) / rs - static_cast<double>(x[i])));
    CHECK(worst <= tol * std::log2(2.0 * rs));
  }
}

TEST_CASE("fft: arrays of any alignment, one thread or two, and plans made once give the same bits") {
  const fft_dims dims{6, 10};
  const std::size_t batch = 37, rs = dims.real_size(), cs = dims.complex_size();
  const auto x = normals<double>(batch * rs + 1, 5);
  context<cpu> one(1), two(2);
  std::vector<double> a(2 * batch * cs), b(2 * batch * cs + 1), c(2 * batch * cs);
  attractor::fft_forward(one, dims, batch, x.data(), a.data());
  // One double off: neither array is SIMD-aligned, so the unaligned plans run; they compute the same sums.
  attractor::fft_forward(two, dims, batch, x.data() + 1, b.data() + 1);
  attractor::fft_forward(two, dims, batch, x.data(), c.data());
  CHECK(c == a);  // two threads, same plan, same bits
  std::vector<double> shifted_spectrum(b.begin() + 1, b.end());
  std::vector<double> direct(2 * batch * cs);
  attractor::fft_forward(one, dims, batch, x.data() + 1, direct.data());
  CHECK(shifted_spectrum == direct);
  // A second call reuses the cached plan and reproduces the first exactly.
  std::vector<double> again(2 * batch * cs);
  attractor::fft_forward(one, dims, batch, x.data(), again.data());
  CHECK(again == a);
}

TEST_CASE("fft: a known spectrum and Hermitian round trip of a 2-D mode") {
  // u = cos(2 pi (2 ix / 8 + 1 iy / 4)) on a 4 x 8 grid (dims {ny, nx}): the (ky, kx) = (1, 2) and (-1, -2) modes,
  // each of weight 32 / 2 = 16; FFTW keeps kx = 2 at (iky = 1, ikx = 2) and the conjugate at (iky = 3, ikx = -2 ->
  // not stored), so the stored spectrum has 16 at (1, 2) and nothing else.
  context<cpu> ctx(1);
  const fft_dims dims{4, 8};
  std::vector<double> u(32), spectrum(2 * dims.complex_size()), back(32);
  for (std::size_t iy = 0; iy < 4; ++iy)
    for (std::size_t ix = 0; ix < 8; ++ix)
      u[iy * 8 + ix] = std::cos(2 * std::numbers::pi * (2.0 * ix / 8 + 1.0 * iy / 4));
  attractor::fft_forward(ctx, dims, 1, u.data(), spectrum.data());
  for (std::size_t iky = 0; iky < 4; ++iky)
    for (std::size_t ikx = 0; ikx <= 4; ++ikx) {
      const std::size_t i = 2 * (iky * 5 + ikx);
      const double re = (iky == 1 && ikx == 2) ? 16.0 : 0.0;
      CHECK(std::abs(spectrum[i] - re) <= 1e-13);
      CHECK(std::abs(spectrum[i + 1]) <= 1e-13);
    }
  attractor::fft_inverse(ctx, dims, 1, spectrum.data(), back.data());
  for (std::size_t i = 0; i < 32; ++i) CHECK(std::abs(back[i] / 32 - u[i]) <= 1e-14);
}

TEST_CASE("fft: bad arguments are refused by name") {
  context<cpu> ctx(1);
  CHECK_THROWS_WITH_AS(fft_dims{}, doctest::Contains("fft_dims"), attractor::error);
  CHECK_THROWS_WITH_AS((fft_dims{2, 2, 2, 2}), doctest::Contains("rank 1, 2 or 3"), attractor::error);
  CHECK_THROWS_WITH_AS((fft_dims{4, 0}), doctest::Contains("dimensions in"), attractor::error);
  CHECK_THROWS_WITH_AS((fft_dims{1u << 20, 1u << 20}), doctest::Contains("at most INT_MAX"), attractor::error);
  const fft_dims dims{8};
  std::vector<double> buffer(32);
  CHECK_THROWS_WITH_AS(attractor::fft_forward(ctx, dims, 1, buffer.data(), buffer.data() + 4),
                       doctest::Contains("do not overlap"), attractor::error);
  CHECK_THROWS_WITH_AS(attractor::fft_inverse(ctx, dims, 1, buffer.data(), buffer.data() + 2),
                       doctest::Contains("do not overlap"), attractor::error);
  CHECK_THROWS_WITH_AS(attractor::fft_forward<double>(ctx, dims, 2, nullptr, buffer.data()),
                       doctest::Contains("non-null"), attractor::error);
  // No transforms: nothing to check, nothing written.
  CHECK_NOTHROW(attractor::fft_forward<double>(ctx, dims, 0, nullptr, nullptr));
}
