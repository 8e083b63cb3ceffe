// Tests of the spectral systems (systems/spectral/): each Ornstein-Uhlenbeck Fourier mode has the stationary variance
// and lag-1 autocorrelation of the discrete scheme (exact values computed here from the RK4 polynomial and the noise
// law); the analytic scores of single Fourier modes are the formula's; Navier-Stokes advection without forcing and
// dissipation conserves enstrophy and energy, better as dt shrinks; its forcing is the spec's random-wave field, with
// phases that diffuse at rate 2; the Allen-Cahn field is bimodal near +-1; copied generators give two ensembles the
// same noise (common random numbers); and bad input is refused by name. The reference values come from direct sums
// over the grid (naive DFTs), not from the library's transforms.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <numbers>
#include <type_traits>
#include <utility>
#include <vector>

#include "attractor/systems/spectral.hpp"
#include "attractor/systems/stepper.hpp"
#include "tolerance.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::shape;
using attractor::tensor;
using attractor_test::absolute;
using attractor_test::relative;
namespace spectral = attractor::systems::spectral;
using cplx = std::complex<double>;
constexpr double two_pi = 2 * std::numbers::pi;

static_assert(attractor::systems::stepper<spectral::ornstein_uhlenbeck<double>, double>);
static_assert(attractor::systems::stepper<spectral::allen_cahn<float>, float>);
static_assert(attractor::systems::stepper<spectral::navier_stokes<double>, double>);

/// The integer wavenumber of index i on n points, in the spec's order [0..n/2-1, -n/2..-1].
long wavenumber(std::size_t i, std::size_t n) { return i < n / 2 ? long(i) : long(i) - long(n); }

/// exp(-i (kx x + ky y)) at every pixel p = iy n + ix: a row of the DFT, for naive transforms of single modes.
std::vector<cplx> dft_row(long kx, long ky, std::size_t n) {
  std::vector<cplx> w(n * n);
  for (std::size_t iy = 0; iy < n; ++iy)
    for (std::size_t ix = 0; ix < n; ++ix)
      w[iy * n + ix] = std::polar(1.0, -two_pi * double(kx * long(ix) + ky * long(iy)) / double(n));
  return w;
}

/// sum_p field(p, member) w[p] for a field in column `member` of states (n^2 x N).
template <class Scalar>
cplx project(const tensor<Scalar, cpu>& states, std::size_t member, const std::vector<cplx>& w) {
  cplx s = 0;
  for (std::size_t p = 0; p < w.size(); ++p) s += double(states.data()[p * states.extent(1) + member]) * w[p];
  return s;
}

}  // namespace

TEST_CASE_TEMPLATE("spectral: each Ornstein-Uhlenbeck mode has the discrete scheme's variance and lag-1 correlation",
                   Scalar, double, float) {
  // Strong damping and a large step, so the modes decorrelate in a few steps and the RK4 polynomial is far from
  // exp(dt mu): the test tells the discrete scheme from the continuum.
  spectral::ornstein_uhlenbeck_parameters p;
  p.n = 8;
  p.lambda = 4;
  p.kappa = 0.3;
  p.advection = 1;
  p.noise_variance = 0.5;
  p.dt = 0.2;
  const spectral::ornstein_uhlenbeck<Scalar> ou(p);
  const std::size_t n = p.n, members = 200, burn_in = 60, steps = 1500;

  struct mode {
    long kx, ky;
  };
  // k = 0, the axes, generic modes, and the Nyquist wavenumber -n/2 along x, along y and along both.
  const std::vector<mode> modes = {{0, 0}, {1, 0}, {0, 1}, {2, -1}, {-3, 2}, {-4, 0}, {1, -4}, {-4, -4}};
  std::vector<std::vector<cplx>> rows;
  for (const mode& m : modes) rows.push_back(dft_row(m.kx, m.ky, n));

  context<cpu> ctx(2);
  tensor<Scalar, cpu> E(shape{n * n, members});
  for (Scalar& x : E.view()) x = 0;
  philox gen(20240615);
  ou.advance(ctx, E.view(), burn_in, gen);

  std::vector<double> power(modes.size(), 0);
  std::vector<cplx> lag(modes.size(), 0);
  std::vector<cplx> previous(modes.size() * members);
  for (std::size_t m = 0; m < modes.size(); ++m)
    for (std::size_t b = 0; b < members; ++b) previous[m * members + b] = project(E, b, rows[m]);
  for (std::size_t s = 0; s < steps; ++s) {
    ou.advance(ctx, E.view(), 1, gen);
    for (std::size_t m = 0; m < modes.size(); ++m) {
      for (std::size_t b = 0; b < members; ++b) {
        const cplx now = project(E, b, rows[m]);
        cplx& before = previous[m * members + b];
        power[m] += std::norm(before);
        lag[m] += now * std::conj(before);
        before = now;
      }
    }
  }

  for (std::size_t m = 0; m < modes.size(); ++m) {
    const long kx = modes[m].kx, ky = modes[m].ky;
    const double k2 = double(kx * kx + ky * ky);
    const double sigma = 1 / (1 + k2);
    const double odd_kx = kx == -long(n / 2) ? 0 : double(kx);  // an odd derivative is 0 at the Nyquist index
    const cplx z = p.dt * cplx(-p.lambda * sigma - p.kappa * k2, -p.advection * odd_kx);
    const cplx rho = 1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0;
    // noise: sqrt(dt) n eps Sigma^{1/2} eta, eta iid N(0, 1) per pixel, whose transform has E|.|^2 = n^2 per mode
    const double q = p.dt * std::pow(double(n), 4) * p.noise_variance * sigma;
    const double variance = q / (1 - std::norm(rho));
    const double measured = power[m] / double(members * steps);
    const cplx correlation = lag[m] / power[m];
    CAPTURE(kx);
    CAPTURE(ky);
    CHECK(measured == relative(variance, 0.02));
    CHECK(correlation.real() == absolute(rho.real(), 0.01));
    CHECK(correlation.imag() == absolute(rho.imag(), 0.01));
  }
}

TEST_CASE_TEMPLATE("spectral: the analytic scores of single Fourier modes are the grid formula's", Scalar, double,
                   float) {
  const std::size_t n = 16, pixels = n * n;
  const double tol = std::is_same_v<Scalar, double> ? 1e-10 : 2e-5;
  tensor<Scalar, cpu> fields(shape{2, pixels}), out(shape{2, pixels});
  context<cpu> ctx(1);
  auto x_of = [&](std::size_t p) { return two_pi * double(p % n) / double(n); };
  auto y_of = [&](std::size_t p) { return two_pi * double(p / n) / double(n); };
  // u = 0.7 cos(2x - 3y + 0.4): |k|^2 = 13; and u = 0.2 + 0.5 sin(x + 5y): |k|^2 = 26.
  for (std::size_t p = 0; p < pixels; ++p) {
    fields.at(0, p) = Scalar(0.7 * std::cos(2 * x_of(p) - 3 * y_of(p) + 0.4));
    fields.at(1, p) = Scalar(0.2 + 0.5 * std::sin(x_of(p) + 5 * y_of(p)));
  }

  spectral::ornstein_uhlenbeck_parameters po;
  po.n = n;
  const spectral::ornstein_uhlenbeck<Scalar> ou(po);
  ou.score(ctx, fields.view(), out.view());
  const double co = 2 / (po.noise_variance * double(pixels));
  double worst = 0, largest = 0;
  for (std::size_t p = 0; p < pixels; ++p) {
    const double u0 = double(fields.at(0, p)), u1 = double(fields.at(1, p));
    const double e0 = co * (-po.lambda - po.kappa * (13 + 169)) * u0;
    const double e1 = co * (-po.lambda * u1 - po.kappa * (26 + 676) * (u1 - 0.2));
    worst = std::max({worst, std::abs(double(out.at(0, p)) - e0), std::abs(double(out.at(1, p)) - e1)});
    largest = std::max({largest, std::abs(e0), std::abs(e1)});
  }
  CHECK(worst <= tol * largest);

  spectral::allen_cahn_parameters pa;
  pa.n = n;
  const spectral::allen_cahn<Scalar> ac(pa);
  ac.score(ctx, fields.view(), out.view());
  const double ca = 2 / (pa.noise_variance * double(pixels));
  worst = largest = 0;
  for (std::size_t p = 0; p < pixels; ++p) {
    const double u0 = double(fields.at(0, p)), u1 = double(fields.at(1, p));
    const double e0 = ca * (pa.alpha * u0 * (1 - u0 * u0) - pa.kappa * (13 + 169) * u0);
    const double e1 = ca * (pa.alpha * u1 * (1 - u1 * u1) - pa.kappa * (26 + 676) * (u1 - 0.2));
    worst = std::max({worst, std::abs(double(out.at(0, p)) - e0), std::abs(double(out.at(1, p)) - e1)});
    largest = std::max({largest, std::abs(e0), std::abs(e1)});
  }
  CHECK(worst <= tol * largest);
}

namespace {

/// Enstrophy sum(zeta^2) and energy sum_k |zeta_hat(k)|^2 / |k|^2 (proportional to the kinetic energy of the
/// fluctuations) of member 0's vorticity, by a naive DFT.
std::pair<double, double> enstrophy_energy(const tensor<double, cpu>& E, std::size_t n) {
  double enstrophy = 0;
  std::vector<double> zeta(n * n);
  for (std::size_t p = 0; p < n * n; ++p) {
    zeta[p] = E.data()[p * E.extent(1)];
    enstrophy += zeta[p] * zeta[p];
  }
  double energy = 0;
  for (std::size_t iky = 0; iky < n; ++iky) {
    for (std::size_t ikx = 0; ikx < n; ++ikx) {
      const long kx = wavenumber(ikx, n), ky = wavenumber(iky, n);
      if (kx == 0 && ky == 0) continue;
      cplx s = 0;
      for (std::size_t iy = 0; iy < n; ++iy)
        for (std::size_t ix = 0; ix < n; ++ix)
          s += zeta[iy * n + ix] * std::polar(1.0, -two_pi * double(kx * long(ix) + ky * long(iy)) / double(n));
      energy += std::norm(s) / double(kx * kx + ky * ky);
    }
  }
  return {enstrophy, energy};
}

}  // namespace

TEST_CASE("spectral: Navier-Stokes advection without forcing or dissipation conserves enstrophy and energy") {
  spectral::navier_stokes_parameters p;
  p.hypoviscosity = p.viscosity = p.mean_damping = p.forcing = 0;
  const std::size_t n = p.n, pixels = n * n;
  context<cpu> ctx(2);
  const double time = 2;
  std::vector<double> enstrophy_error, energy_error;
  for (const double dt : {1.0 / 32, 1.0 / 64, 1.0 / 128}) {
    p.dt = dt;
    const spectral::navier_stokes<double> ns(p);
    tensor<double, cpu> E(shape{ns.dimension(), 1});
    philox gen(7);
    ns.initial_states(ctx, E.view(), gen);  // the phases; the forcing is off
    // A smooth field of a few modes with different |k|, so that the advection is not zero.
    for (std::size_t p2 = 0; p2 < pixels; ++p2) {
      const double x = two_pi * double(p2 % n) / double(n), y = two_pi * double(p2 / n) / double(n);
      E.at(p2, 0) = std::cos(x) + 0.8 * std::cos(2 * y + 0.5) + 0.6 * std::sin(x + 2 * y);
    }
    const auto [z0, e0] = enstrophy_energy(E, n);
    ns.advance(ctx, E.view(), static_cast<std::size_t>(time / dt), gen);
    const auto [z1, e1] = enstrophy_energy(E, n);
    enstrophy_error.push_back(std::abs(z1 / z0 - 1));
    energy_error.push_back(std::abs(e1 / e0 - 1));
    MESSAGE("dt = ", dt, ": relative change of enstrophy ", enstrophy_error.back(), ", of energy ",
            energy_error.back());
  }
  // The skew-symmetric form conserves enstrophy exactly in space, so only RK4's error is left: it falls at least as
  // dt^4 (a factor 16 per halving; about 30 is seen). Energy is conserved up to aliasing,
  // which is negligible for this smooth field over this time.
  CHECK(enstrophy_error[0] < 1e-3);
  CHECK(energy_error[0] < 1e-3);
  for (std::size_t i = 1; i < enstrophy_error.size(); ++i) {
    CHECK(enstrophy_error[i] < enstrophy_error[i - 1] / 16);
    CHECK(energy_error[i] < energy_error[i - 1] / 16);
  }
}

TEST_CASE("spectral: the Navier-Stokes forcing is the random-wave field and its phases diffuse at rate 2") {
  // Forced modes of the full complex plane: 2 (kx^2 + ky^2) <= (n/2 - 1)^2, off the Nyquist row and column.
  spectral::navier_stokes_parameters p;
  const std::size_t n = p.n, pixels = n * n;
  std::vector<std::pair<long, long>> forced;  // (ky, kx), row-major in the full plane's indices
  for (std::size_t iky = 0; iky < n; ++iky) {
    for (std::size_t ikx = 0; ikx < n; ++ikx) {
      const long kx = wavenumber(ikx, n), ky = wavenumber(iky, n);
      if (kx == -long(n / 2) || ky == -long(n / 2)) continue;
      if (2 * (kx * kx + ky * ky) <= long((n / 2 - 1) * (n / 2 - 1))) forced.emplace_back(ky, kx);
    }
  }
  {
    const spectral::navier_stokes<double> ns(p);
    CHECK(ns.forced_modes() == forced.size());
    CHECK(ns.dimension() == pixels + forced.size());
    CHECK(ns.amplitude() == relative(300.0 / 16, 1e-15));
  }

  // From zeta = 0 with no advection or dissipation, one tiny step moves zeta by dt times the forcing at the initial
  // phases (they move by O(sqrt(dt)) within the step).
  p.hypoviscosity = p.viscosity = p.mean_damping = p.mean_flow = 0;
  p.dt = 1e-8;
  const spectral::navier_stokes<double> ns(p);
  const std::size_t members = 4, M = forced.size();
  context<cpu> ctx(2);
  tensor<double, cpu> E(shape{ns.dimension(), members});
  philox gen(11);
  ns.initial_states(ctx, E.view(), gen);
  for (std::size_t i = 0; i < pixels * members; ++i) E.data()[i] = 0;
  std::vector<double> phase0(E.data() + pixels * members, E.data() + E.size());
  for (double phase : phase0) REQUIRE((phase >= 0 && phase < two_pi));
  ns.advance(ctx, E.view(), 1, gen);

  const double a = 300.0 * (double(n) / 128) * (double(n) / 128);
  double worst = 0, largest = 0, increments = 0;
  for (std::size_t b = 0; b < members; ++b) {
    std::vector<double> force(pixels, 0);
    double mean = 0;
    for (std::size_t p2 = 0; p2 < pixels; ++p2) {
      const double x = two_pi * double(p2 % n) / double(n), y = two_pi * double(p2 / n) / double(n);
      cplx s = 0;
      for (std::size_t m = 0; m < M; ++m)
        s += a * std::polar(1.0, phase0[m * members + b] + double(forced[m].second) * x + double(forced[m].first) * y);
      force[p2] = s.real() / double(pixels);  // Re(ifft(.)), normalised by n^2
      mean += force[p2] / double(pixels);
    }
    for (std::size_t p2 = 0; p2 < pixels; ++p2) {
      const double expected = force[p2] - 0.9 * mean;
      worst = std::max(worst, std::abs(E.at(p2, b) / p.dt - expected));
      largest = std::max(largest, std::abs(expected));
    }
    for (std::size_t m = 0; m < M; ++m) {
      const double d = E.at(pixels + m, b) - phase0[m * members + b];
      increments += d * d;
    }
  }
  CHECK(worst <= 5e-4 * largest);
  // Two steps of sqrt(dt) N(0, 1) per time step: variance 2 dt, estimated from 4 x 338 increments.
  CHECK(increments / double(members * M) == relative(2 * p.dt, 0.12));
}

TEST_CASE_TEMPLATE("spectral: the Allen-Cahn field is bimodal near +-1", Scalar, double, float) {
  const spectral::allen_cahn<Scalar> ac;
  const std::size_t members = 8;
  context<cpu> ctx(2);
  tensor<Scalar, cpu> E(shape{ac.dimension(), members});
  philox gen(1234);
  ac.initial_states(ctx, E.view(), gen);
  {
    // Each member is the smoothed normal field divided by its largest |u|. With philox(1234, 0), divided by its
    // maximum alone, as first written, member 35 of 64 had |u| = 13.7 after one step and the example's run overflowed.
    tensor<Scalar, cpu> many(shape{ac.dimension(), 64});
    philox first(1234, 0);
    ac.initial_states(ctx, many.view(), first);
    for (std::size_t b = 0; b < 64; ++b) {
      double largest = 0;
      for (std::size_t p = 0; p < ac.dimension(); ++p) largest = std::max(largest, std::abs(double(many.at(p, b))));
      CHECK(largest == relative(1.0, 1e-6));
    }
  }
  ac.advance(ctx, E.view(), 640, gen);  // 20 time units
  double near_plus = 0, near_minus = 0, near_zero = 0, positive = 0;
  for (const Scalar x : E.view()) {
    near_plus += x >= 0.75 && x <= 1.25;
    near_minus += x >= -1.25 && x <= -0.75;
    near_zero += std::abs(x) < 0.25;
    positive += x > 0;
  }
  const double count = double(E.size());
  MESSAGE("fractions: near +1 ", near_plus / count, ", near -1 ", near_minus / count, ", |u| < 0.25 ",
          near_zero / count);
  // Both wells are populated, and the density near each well is several times that near 0 (equal-width bins); a
  // Gaussian field of the same variance would put its mode at 0.
  CHECK(near_plus / count > 0.2);
  CHECK(near_minus / count > 0.2);
  CHECK(positive / count == absolute(0.5, 0.3));
  CHECK(near_plus > 2 * near_zero);
  CHECK(near_minus > 2 * near_zero);
}

TEST_CASE_TEMPLATE("spectral: ensembles advanced with copies of one generator get the same noise", Scalar, double,
                   float) {
  context<cpu> ctx(2);
  const std::size_t n = 16, pixels = n * n;
  const double tol = std::is_same_v<Scalar, double> ? 1e-12 : 1e-4;

  // Ornstein-Uhlenbeck is linear: with common noise the difference of two ensembles evolves as the noise-free system.
  spectral::ornstein_uhlenbeck_parameters p;
  p.n = n;
  p.lambda = 1;
  p.kappa = 0.01;
  const spectral::ornstein_uhlenbeck<Scalar> ou(p);
  p.noise_variance = 0;
  const spectral::ornstein_uhlenbeck<Scalar> still(p);
  tensor<Scalar, cpu> A(shape{pixels, 3}), B(shape{pixels, 3}), D(shape{pixels, 3});
  philox init(5);
  attractor::fill_normal(ctx, init, A);
  attractor::fill_normal(ctx, init, B);
  for (std::size_t i = 0; i < A.size(); ++i) D.data()[i] = A.data()[i] - B.data()[i];
  philox gen(99), copy = gen, unused(1);
  ou.advance(ctx, A.view(), 20, gen);
  ou.advance(ctx, B.view(), 20, copy);
  still.advance(ctx, D.view(), 20, unused);
  CHECK(gen == copy);
  CHECK(unused == philox(1));  // a system without noise draws nothing
  double worst = 0, spread = 0;
  for (std::size_t i = 0; i < A.size(); ++i) {
    worst = std::max(worst, std::abs(double(A.data()[i] - B.data()[i] - D.data()[i])));
    spread = std::max(spread, std::abs(double(A.data()[i])));
  }
  CHECK(worst <= tol * spread);

  // Allen-Cahn and Navier-Stokes are nonlinear, but a member's noise depends only on the generator and its column:
  // ensembles [x, y] and [x, z] advanced with copies of one generator agree bit for bit in their first member.
  const spectral::allen_cahn<Scalar> ac;
  tensor<Scalar, cpu> X(shape{ac.dimension(), 2}), Y(shape{ac.dimension(), 2});
  philox g0(3);
  ac.initial_states(ctx, X.view(), g0);
  ac.initial_states(ctx, Y.view(), g0);
  for (std::size_t q = 0; q < ac.dimension(); ++q) Y.at(q, 0) = X.at(q, 0);
  philox g1(42), g2 = g1;
  ac.advance(ctx, X.view(), 30, g1);
  ac.advance(ctx, Y.view(), 30, g2);
  CHECK(g1 == g2);
  std::size_t differing = 0, moved = 0;
  for (std::size_t q = 0; q < ac.dimension(); ++q) {
    differing += X.at(q, 0) != Y.at(q, 0);
    moved += X.at(q, 1) != Y.at(q, 1);
  }
  CHECK(differing == 0);
  CHECK(moved > 0);

  spectral::navier_stokes_parameters pn;
  pn.n = n;
  const spectral::navier_stokes<Scalar> ns(pn);
  tensor<Scalar, cpu> U(shape{ns.dimension(), 2}), V(shape{ns.dimension(), 2});
  ns.initial_states(ctx, U.view(), g0);
  ns.initial_states(ctx, V.view(), g0);  // other phases in both members
  for (std::size_t q = 0; q < ns.dimension(); ++q) V.at(q, 0) = U.at(q, 0);
  philox h1(8), h2 = h1;
  ns.advance(ctx, U.view(), 20, h1);
  ns.advance(ctx, V.view(), 20, h2);
  CHECK(h1 == h2);
  differing = moved = 0;
  for (std::size_t q = 0; q < ns.dimension(); ++q) {
    differing += U.at(q, 0) != V.at(q, 0);
    moved += U.at(q, 1) != V.at(q, 1);
  }
  CHECK(differing == 0);
  CHECK(moved > 0);
}

TEST_CASE("spectral: bad parameters and shapes are refused by name") {
  using doctest::Contains;
  spectral::allen_cahn_parameters pa;
  pa.n = 31;
  CHECK_THROWS_WITH_AS(spectral::allen_cahn<double>{pa},
                       Contains("systems::spectral::allen_cahn: expected a grid size"), attractor::error);
  pa.n = 2;
  CHECK_THROWS_WITH_AS(spectral::allen_cahn<double>{pa}, Contains("systems::spectral::allen_cahn"), attractor::error);
  pa.n = 32;
  pa.dt = 0;
  CHECK_THROWS_WITH_AS(spectral::allen_cahn<double>{pa}, Contains("a finite time step dt > 0"), attractor::error);
  pa.dt = 1.0 / 32;
  pa.alpha = std::nan("");
  CHECK_THROWS_WITH_AS(spectral::allen_cahn<float>{pa}, Contains("systems::spectral::allen_cahn: expected finite"),
                       attractor::error);
  spectral::ornstein_uhlenbeck_parameters po;
  po.noise_variance = -1;
  CHECK_THROWS_WITH_AS(spectral::ornstein_uhlenbeck<double>{po},
                       Contains("systems::spectral::ornstein_uhlenbeck: expected a finite noise variance"),
                       attractor::error);
  po.noise_variance = 0.004;
  po.kappa = INFINITY;
  CHECK_THROWS_WITH_AS(spectral::ornstein_uhlenbeck<double>{po}, Contains("finite coefficients"), attractor::error);
  spectral::navier_stokes_parameters pn;
  pn.n = 6;
  pn.dt = -1;
  CHECK_THROWS_WITH_AS(spectral::navier_stokes<double>{pn},
                       Contains("systems::spectral::navier_stokes: expected a finite time step"), attractor::error);
  pn.dt = 0.01;
  pn.viscosity = std::nan("");
  CHECK_THROWS_WITH_AS(spectral::navier_stokes<double>{pn}, Contains("finite coefficients"), attractor::error);

  context<cpu> ctx(1);
  philox gen(1);
  const spectral::allen_cahn<double> ac;
  tensor<double, cpu> wrong(shape{1000, 2});
  CHECK_THROWS_WITH_AS(ac.advance(ctx, wrong.view(), 1, gen),
                       Contains("systems::spectral::allen_cahn::advance: expected states of shape 1024 x N"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(ac.initial_states(ctx, wrong.view(), gen), Contains("allen_cahn::initial_states"),
                       attractor::error);
  CHECK(gen == philox(1));
  const spectral::navier_stokes<double> ns;
  tensor<double, cpu> field_only(shape{1024, 2});
  CHECK_THROWS_WITH_AS(ns.advance(ctx, field_only.view(), 1, gen),
                       Contains("systems::spectral::navier_stokes::advance: expected states of shape 1373 x N"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(ns.initial_states(ctx, field_only.view(), gen), Contains("navier_stokes::initial_states"),
                       attractor::error);

  tensor<double, cpu> fields(shape{2, 1024}), out(shape{2, 1024}), short_out(shape{1, 1024});
  for (double& x : fields.view()) x = 0.1;
  CHECK_THROWS_WITH_AS(ac.score(ctx, fields.view(), short_out.view()),
                       Contains("systems::spectral::allen_cahn::score: expected an output of shape"), attractor::error);
  CHECK_THROWS_WITH_AS(ac.score(ctx, wrong.view(), out.view()), Contains("expected fields of shape batch x 1024"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(ac.score(ctx, fields.view(), fields.view()),
                       Contains("expected an output that is not the input"), attractor::error);
  fields.at(1, 5) = std::nan("");
  CHECK_THROWS_WITH_AS(ac.score(ctx, fields.view(), out.view()),
                       Contains("systems::spectral::allen_cahn::score: expected finite values in fields"),
                       attractor::error);
  po.kappa = 2.5e-4;
  po.noise_variance = 0;
  const spectral::ornstein_uhlenbeck<double> quiet(po);  // a valid stepper, but its score divides by eps^2 = 0
  fields.at(1, 5) = 0;
  CHECK_THROWS_WITH_AS(quiet.score(ctx, fields.view(), out.view()), Contains("a positive noise variance"),
                       attractor::error);
}
