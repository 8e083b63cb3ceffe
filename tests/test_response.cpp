// Tests of the response layer (include/attractor/response/): lag covariances against a direct O(T L n^2) loop, both
// unbiased and circular; the Gaussian response's dense and Fourier routes against each other (exactly, on data
// averaged over translations) and against the exact A^tau of a periodic linear field process written here; the
// score-based response with the exact score of Gaussian AR(1) processes against rho^tau and A^tau; the dynamical
// response of a linear stepper written here against A^tau v to rounding; e2 and e_inf against hand numbers; and
// every bad input refused by name. The references come from independent computations (loops, matrix powers, the
// Lyapunov series), never from the code under test.
#include <doctest/doctest.h>

#include "attractor/core/eigen.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attractor/response.hpp"
#include "attractor/systems/stepper.hpp"
#include "tolerance.hpp"

namespace {

using attractor::const_tensor_view;
using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::shape;
using attractor::tensor;
using attractor::tensor_view;
using attractor_test::absolute;
namespace response = attractor::response;
using matrix = Eigen::MatrixXd;

/// Standard normals from std::mt19937_64, independent of the library's generator.
struct normals {
  std::mt19937_64 engine;
  std::normal_distribution<double> dist;
  explicit normals(std::uint64_t seed) : engine(seed) {}
  double operator()() { return dist(engine); }
};

/// The matrix of a periodic stencil on a side x side grid (pixel p = iy side + ix): (A u)(x) = sum_s w_s u(x - s).
/// The weights move values along +x (advection), with some diffusion; times `a` they make a stable process.
matrix field_matrix(std::size_t side, double a) {
  struct tap {
    int dy, dx;
    double w;
  };
  const tap taps[] = {{0, 0, 0.45}, {0, 1, 0.3}, {0, -1, 0.1}, {1, 0, 0.08}, {-1, 0, 0.07}};
  const std::size_t n = side * side;
  const int s = static_cast<int>(side);
  matrix A = matrix::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
  for (int iy = 0; iy < s; ++iy)
    for (int ix = 0; ix < s; ++ix)
      for (const tap& t : taps) {
        const int jy = ((iy - t.dy) % s + s) % s, jx = ((ix - t.dx) % s + s) % s;
        A(iy * s + ix, jy * s + jx) += a * t.w;
      }
  return A;
}

/// members x T x n samples of x_{t+1} = A x_t + B xi_t, started from a long burn-in.
tensor<double, cpu> simulate(const matrix& A, const matrix& B, std::size_t members, std::size_t T, std::uint64_t seed) {
  const auto n = A.rows();
  normals draw(seed);
  tensor<double, cpu> out(shape{members, T, static_cast<std::size_t>(n)});
  Eigen::VectorXd x(n), xi(n);
  for (std::size_t m = 0; m < members; ++m) {
    x.setZero();
    for (std::size_t t = 0; t < 300 + T; ++t) {
      for (Eigen::Index i = 0; i < n; ++i) xi(i) = draw();
      x = (A * x + B * xi).eval();
      if (t >= 300)
        for (Eigen::Index i = 0; i < n; ++i) out.at(m, t - 300, static_cast<std::size_t>(i)) = x(i);
    }
  }
  return out;
}

/// The stationary covariance of x_{t+1} = A x_t + B xi: the Lyapunov series sum_k A^k B B^T A^kT.
matrix stationary_covariance(const matrix& A, const matrix& B) {
  matrix C = matrix::Zero(A.rows(), A.cols()), term = B * B.transpose();
  for (int k = 0; k < 2000 && term.cwiseAbs().maxCoeff() > 1e-18; ++k) {
    C += term;
    term = (A * term * A.transpose()).eval();
  }
  return C;
}

/// The time t + tau of a lagged product: wrapped past T when circular, or false (no product) when unbiased.
bool lagged(std::size_t t, std::size_t tau, std::size_t T, bool circular, std::size_t& out) {
  out = t + tau;
  if (out < T) return true;
  out -= T;
  return circular;
}

/// The exact lag covariance C(tau)_ij = mean_t x_i(t + tau) y_j(t) (means removed, pooled over members and time),
/// unbiased or circular, by the direct loop.
template <class S>
std::vector<double> direct_lag_covariance(const tensor<S, cpu>& x, const tensor<S, cpu>& y, std::size_t lags,
                                          bool circular, bool remove_means) {
  const std::size_t M = x.extent(0), T = x.extent(1), n = x.extent(2);
  std::vector<double> mx(n, 0.0), my(n, 0.0);
  if (remove_means)
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < n; ++i) {
          mx[i] += double(x.at(m, t, i)) / double(M * T);
          my[i] += double(y.at(m, t, i)) / double(M * T);
        }
  std::vector<double> C((lags + 1) * n * n, 0.0);
  for (std::size_t tau = 0; tau <= lags; ++tau)
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::size_t m = 0; m < M; ++m)
          for (std::size_t t = 0; t < T; ++t) {
            std::size_t tt = 0;
            if (lagged(t, tau, T, circular, tt))
              s += (double(x.at(m, tt, i)) - mx[i]) * (double(y.at(m, t, j)) - my[j]);
          }
        C[(tau * n + i) * n + j] = s / double(M * (circular ? T : T - tau));
      }
  return C;
}

double max_abs_difference(const tensor<double, cpu>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (std::size_t k = 0; k < b.size(); ++k) d = std::max(d, std::abs(a[k] - b[k]));
  return d;
}

/// Column j of A^tau for tau = 0..lags, (lags + 1) x n, as the response functions return it.
std::vector<double> power_column(const matrix& A, std::size_t lags, std::size_t j, std::size_t stride = 1) {
  const auto n = A.rows();
  std::vector<double> out;
  Eigen::VectorXd v = Eigen::VectorXd::Unit(n, static_cast<Eigen::Index>(j));
  for (std::size_t tau = 0; tau <= lags; ++tau) {
    for (Eigen::Index i = 0; i < n; ++i) out.push_back(v(i));
    for (std::size_t s = 0; s < stride; ++s) v = (A * v).eval();
  }
  return out;
}

/// Column j of a (lags + 1) x n x n response.
std::vector<double> column_of(const tensor<double, cpu>& R, std::size_t j) {
  std::vector<double> out;
  for (std::size_t tau = 0; tau < R.extent(0); ++tau)
    for (std::size_t i = 0; i < R.extent(1); ++i) out.push_back(R.at(tau, i, j));
  return out;
}

/// Every translation of every member of a members x T x (side side) field, as members x side^2 more members: the
/// sample averages of the result are exactly translation invariant.
tensor<double, cpu> all_translations(const tensor<double, cpu>& u, std::size_t side) {
  const std::size_t M = u.extent(0), T = u.extent(1), n = side * side;
  tensor<double, cpu> out(shape{M * n, T, n});
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t sy = 0; sy < side; ++sy)
      for (std::size_t sx = 0; sx < side; ++sx)
        for (std::size_t t = 0; t < T; ++t)
          for (std::size_t iy = 0; iy < side; ++iy)
            for (std::size_t ix = 0; ix < side; ++ix)
              out.at(m * n + sy * side + sx, t, iy * side + ix) =
                  u.at(m, t, ((iy + sy) % side) * side + (ix + sx) % side);
  return out;
}

/// s(x) = -P x for each row of frames: the exact score of a zero-mean Gaussian with precision P.
struct gaussian_score {
  matrix P;
  void operator()(context<cpu>&, const_tensor_view<double, cpu> frames, tensor_view<double, cpu> out) const {
    REQUIRE(frames.shape() == out.shape());
    const auto n = P.rows();
    for (std::size_t b = 0; b < frames.extent(0); ++b) {
      const Eigen::Map<const Eigen::VectorXd> x(frames.data() + b * std::size_t(n), n);
      Eigen::Map<Eigen::VectorXd> s(out.data() + b * std::size_t(n), n);
      s = -(P * x);
    }
  }
};

/// x <- A x + q xi per step on Nx variables, members in columns: a linear stepper written as a user would.
template <class S>
struct linear_stepper {
  matrix A;
  double q;
  [[nodiscard]] std::size_t dimension() const { return static_cast<std::size_t>(A.rows()); }
  void advance(context<cpu>& ctx, tensor_view<S, cpu> E, std::size_t steps, philox& gen) const {
    attractor::require(E.rank() == 2 && E.extent(0) == dimension(), "linear_stepper::advance", "Nx x N", E.shape());
    const auto n = A.rows(), N = static_cast<Eigen::Index>(E.extent(1));
    using map = Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> As = A.cast<S>();
    for (std::size_t s = 0; s < steps; ++s) {
      map e(E.data(), n, N);
      e = (As * e).eval();
      attractor::systems::add_model_noise(ctx, E, S(q), gen);
    }
  }
};

/// A stepper that draws noise on every other call only: it breaks common random numbers.
struct uneven_stepper {
  mutable int calls = 0;
  [[nodiscard]] std::size_t dimension() const { return 2; }
  void advance(context<cpu>& ctx, tensor_view<double, cpu> E, std::size_t, philox& gen) const {
    if (calls++ % 2 == 0) attractor::systems::add_model_noise(ctx, E, 0.1, gen);
  }
};

}  // namespace

TEST_CASE_TEMPLATE("response lag covariance equals the direct loop, unbiased and circular", S, float, double) {
  context<cpu> ctx;
  normals draw(11);
  const std::size_t M = 2, T = 37, n = 3, lags = 9;
  tensor<S, cpu> x(shape{M, T, n}), y(shape{M, T, n});
  for (std::size_t k = 0; k < x.size(); ++k) {
    x[k] = S(draw() + 0.7);
    y[k] = S(0.5 * x[k] + draw() - 0.2);
  }
  for (bool circular : {false, true})
    for (bool remove_means : {true, false}) {
      CAPTURE(circular);
      CAPTURE(remove_means);
      response::lag_options o;
      o.circular = circular;
      o.remove_means = remove_means;
      const auto expected = direct_lag_covariance(x, y, lags, circular, remove_means);
      const auto C = response::lag_covariance(ctx, x, y, lags, o);
      CHECK(C.shape() == shape{lags + 1, n, n});
      CHECK(max_abs_difference(C, expected) < 1e-12);
      // One column per block: the same numbers.
      o.block_bytes = 1;
      const auto blocked = response::lag_covariance(ctx, x, y, lags, o);
      CHECK(max_abs_difference(blocked, expected) < 1e-12);
      // Auto-covariance, through the one-argument form and a rank-2 (one member) series.
      const auto auto_expected = direct_lag_covariance(x, x, lags, circular, remove_means);
      CHECK(max_abs_difference(response::lag_covariance(ctx, x, lags, o), auto_expected) < 1e-12);
    }
  // A single member as T x n: the first member's covariances.
  tensor<S, cpu> one(shape{T, n}), first(shape{1, T, n});
  for (std::size_t k = 0; k < one.size(); ++k) one[k] = first[k] = x[k];
  const auto C1 = response::lag_covariance(ctx, one, lags);
  const auto e1 = direct_lag_covariance(first, first, lags, false, true);
  CHECK(max_abs_difference(C1, e1) < 1e-12);
}

TEST_CASE_TEMPLATE("response field lag covariance equals the direct loop over translations", S, float, double) {
  context<cpu> ctx;
  normals draw(12);
  for (std::size_t side : {std::size_t{4}, std::size_t{3}}) {
    CAPTURE(side);
    const std::size_t M = 2, T = 23, F = side * side, lags = 6;
    tensor<S, cpu> u(shape{M, T, F}), v(shape{M, T, F});
    for (std::size_t k = 0; k < u.size(); ++k) {
      u[k] = S(draw() + 0.3);
      v[k] = S(0.4 * u[k] + draw());
    }
    for (bool circular : {false, true}) {
      CAPTURE(circular);
      response::lag_options o;
      o.circular = circular;
      double mu = 0, mv = 0;
      for (std::size_t k = 0; k < u.size(); ++k) {
        mu += double(u[k]) / double(u.size());
        mv += double(v[k]) / double(v.size());
      }
      std::vector<double> expected;
      for (std::size_t tau = 0; tau <= lags; ++tau)
        for (std::size_t dy = 0; dy < side; ++dy)
          for (std::size_t dx = 0; dx < side; ++dx) {
            double s = 0;
            for (std::size_t m = 0; m < M; ++m)
              for (std::size_t t = 0; t < T; ++t) {
                std::size_t tt = 0;
                if (!lagged(t, tau, T, circular, tt)) continue;
                for (std::size_t iy = 0; iy < side; ++iy)
                  for (std::size_t ix = 0; ix < side; ++ix)
                    s += (double(u.at(m, tt, ((iy + dy) % side) * side + (ix + dx) % side)) - mu) *
                         (double(v.at(m, t, iy * side + ix)) - mv);
              }
            expected.push_back(s / double(M * F * (circular ? T : T - tau)));
          }
      const auto c = response::field_lag_covariance(ctx, u, v, lags, o);
      CHECK(c.shape() == shape{lags + 1, F});
      CHECK(max_abs_difference(c, expected) < 1e-12);
    }
  }
}

TEST_CASE("response Gaussian dense and Fourier routes agree on a periodic field and approach A^tau") {
  context<cpu> ctx;
  const std::size_t side = 8, n = side * side, lags = 6, kick = 9;
  const matrix A = field_matrix(side, 0.8);
  const matrix B = matrix::Identity(n, n);
  const auto u = simulate(A, B, 1, 1500, 21);

  // On data averaged over every translation the dense covariances are exactly circulant, so the two routes give
  // the same numbers to rounding.
  const auto translated = all_translations(u, side);
  const auto dense = response::gaussian(ctx, translated, lags);
  const auto fourier = response::gaussian_field(ctx, u, lags, kick);
  CHECK(fourier.shape() == shape{lags + 1, n});
  CHECK(max_abs_difference(fourier, column_of(dense, kick)) < 1e-9);
  // R(0) = I.
  for (std::size_t i = 0; i < n; ++i) CHECK(fourier.at(0, i) == absolute(i == kick ? 1.0 : 0.0, 1e-12));

  // Both approach the exact response A^tau e_kick; more data for the cheap Fourier route, and a tighter bound.
  const auto exact = power_column(A, lags, kick);
  CHECK(max_abs_difference(fourier, exact) < 0.04);  // observed 0.011
  const auto more = simulate(A, B, 4, 5000, 22);
  const auto fourier_more = response::gaussian_field(ctx, more, lags, kick);
  CHECK(max_abs_difference(fourier_more, exact) < 0.01);  // observed 0.0032
  // Circular correlations (the paper's code) are biased by about tau/T only.
  response::lag_options circular;
  circular.circular = true;
  CHECK(max_abs_difference(response::gaussian_field(ctx, more, lags, kick, circular), exact) < 0.01);
  // The same from covariances computed first.
  const auto c = response::field_lag_covariance(ctx, more, lags);
  CHECK(max_abs_difference(response::gaussian_field_from_covariance(ctx, c, kick),
                           std::vector<double>(fourier_more.begin(), fourier_more.end())) == 0);
}

TEST_CASE("response Gaussian dense route approaches A^tau on a 3-variable AR(1)") {
  context<cpu> ctx;
  matrix A(3, 3), B(3, 3);
  A << 0.7, 0.2, 0.0, -0.3, 0.6, 0.1, 0.0, 0.25, 0.5;
  B << 1.0, 0.0, 0.0, 0.3, 0.8, 0.0, 0.0, 0.2, 0.5;
  const std::size_t lags = 8;
  const auto x = simulate(A, B, 2, 100000, 31);
  const auto R = response::gaussian(ctx, x, lags);
  CHECK(R.shape() == shape{lags + 1, 3, 3});
  for (std::size_t j = 0; j < 3; ++j) {
    CAPTURE(j);
    const auto exact = power_column(A, lags, j);
    double worst = 0;
    const auto got = column_of(R, j);
    for (std::size_t k = 0; k < got.size(); ++k) worst = std::max(worst, std::abs(got[k] - exact[k]));
    CHECK(worst < 0.02);  // observed 0.008-0.010
  }
  // From the covariances directly: the same numbers.
  const auto C = response::lag_covariance(ctx, x, lags);
  const auto R2 = response::gaussian_from_covariance(C);
  CHECK(max_abs_difference(R2, std::vector<double>(R.begin(), R.end())) == 0);
}

TEST_CASE("response score-based with the exact score of a Gaussian AR(1) approaches rho^tau and A^tau") {
  context<cpu> ctx;
  const std::size_t lags = 10;
  SUBCASE("scalar AR(1): rho^tau") {
    const double rho = 0.8;
    const matrix A = matrix::Constant(1, 1, rho), B = matrix::Identity(1, 1);
    const auto x = simulate(A, B, 1, 200000, 41);
    const gaussian_score score{matrix::Constant(1, 1, 1 - rho * rho)};  // variance 1 / (1 - rho^2)
    const auto r = response::score_based(ctx, x, score, lags);
    CHECK(r.raw.shape() == shape{lags + 1, 1, 1});
    CHECK(r.raw[0] == absolute(1.0, 0.02));  // the normalisation check: -<x s> = 1 in theory
    CHECK(r.normalised[0] == absolute(1.0, 1e-12));
    for (std::size_t tau = 0; tau <= lags; ++tau) {
      CAPTURE(tau);
      CHECK(r.raw[tau] == absolute(std::pow(rho, double(tau)), 0.03));
      CHECK(r.normalised[tau] == absolute(std::pow(rho, double(tau)), 0.03));
    }
  }
  SUBCASE("periodic field: A^tau, dense and Fourier") {
    const std::size_t side = 8, n = side * side, kick = 0;
    const matrix A = field_matrix(side, 0.8), B = matrix::Identity(n, n);
    const matrix P = stationary_covariance(A, B).inverse();
    const auto u = simulate(A, B, 2, 3000, 42);
    response::score_options o;
    o.batch = 37;  // not a divisor of the frames
    const auto field = response::score_based_field(ctx, u, gaussian_score{P}, lags, kick, o);
    const auto exact = power_column(A, lags, kick);
    CHECK(field.raw.shape() == shape{lags + 1, n});
    CHECK(field.normalised.at(0, kick) == absolute(1.0, 1e-12));
    CHECK(field.raw.at(0, kick) == absolute(1.0, 0.02));
    CHECK(max_abs_difference(field.raw, exact) < 0.02);  // observed 0.007
    CHECK(max_abs_difference(field.normalised, exact) < 0.02);
    // The dense route on the same data: a noisier estimate of the same matrix.
    o.batch = 1000;
    const auto dense = response::score_based(ctx, u, gaussian_score{P}, lags, o);
    double trace = 0;
    for (std::size_t i = 0; i < n; ++i) trace += dense.raw.at(0, i, i) / double(n);
    CHECK(trace == absolute(1.0, 0.02));
    const auto column = column_of(dense.normalised, kick);
    double worst = 0;
    for (std::size_t k = 0; k < column.size(); ++k) worst = std::max(worst, std::abs(column[k] - exact[k]));
    CHECK(worst < 0.12);  // observed 0.05: 64 x 64 matrices from 6000 frames
    // Batches change nothing: each frame's score is its own.
    o.batch = 1;
    const auto single = response::score_based_field(ctx, u, gaussian_score{P}, lags, kick, o);
    CHECK(max_abs_difference(single.raw, std::vector<double>(field.raw.begin(), field.raw.end())) == 0);
  }
}

TEST_CASE_TEMPLATE("response dynamical response of a linear stepper is A^tau v to rounding", S, float, double) {
  context<cpu> ctx;
  const std::size_t side = 4, n = side * side, N = 16;
  const linear_stepper<S> model{field_matrix(side, 0.9), 0.5};
  tensor<S, cpu> theta(shape{n, N});
  normals draw(51);
  for (S& v : theta) v = S(draw());
  philox gen(52);
  model.advance(ctx, theta.view(), 50, gen);  // spin-up
  response::dynamical_options o;
  o.lags = 6;
  o.steps_per_lag = 2;
  o.steps_between_resets = 15;
  o.resets = 3;
  o.dt = 1.0 / 32;
  CHECK(o.kick_size() == 0.0625);
  // Rounding: theta ~ 1, a kick of 1/16, float or double differences, a dozen steps.
  const double tol = std::is_same_v<S, float> ? 2e-5 : 1e-12;

  const auto r = response::dynamical(ctx, model, theta, 5, o, gen);
  CHECK(r.response.shape() == shape{o.lags + 1, n});
  CHECK(max_abs_difference(r.response, power_column(model.A, o.lags, 5, o.steps_per_lag)) < tol);
  double spread = 0;
  for (double e : r.standard_error) spread = std::max(spread, e);
  CHECK(spread < tol);  // every reset gives the same exact response

  // Along any vector, with delta given: A^tau v.
  std::vector<double> v(n);
  for (double& a : v) a = draw();
  o.delta = 0.01;
  o.resets = 1;
  const auto rv = response::dynamical(ctx, model, theta.view(), v, o, gen);
  std::vector<double> expected;
  Eigen::VectorXd w = Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(n));
  for (std::size_t tau = 0; tau <= o.lags; ++tau) {
    for (std::size_t i = 0; i < n; ++i) expected.push_back(w(static_cast<Eigen::Index>(i)));
    w = (model.A * model.A * w).eval();
  }
  CHECK(max_abs_difference(rv.response, expected) < 10 * tol);
  CHECK(std::isnan(rv.standard_error[0]));  // one reset: no spread to estimate
}

TEST_CASE("response e2 and e_inf against hand numbers") {
  tensor<double, cpu> R(shape{2, 3}), ref(shape{2, 3});
  const double r[] = {1, 2, 3, 0, 0, 0}, f[] = {1, 0, -1, 0.5, 0, 0};
  for (std::size_t k = 0; k < 6; ++k) {
    R[k] = r[k];
    ref[k] = f[k];
  }
  const auto e = response::errors(R, ref);
  REQUIRE(e.e2.size() == 2);
  CHECK(e.e2[0] == absolute(std::sqrt(20.0 / 3), 1e-15));  // differences 0, 2, 4
  CHECK(e.e_inf[0] == 4.0);
  CHECK(e.e2[1] == absolute(std::sqrt(0.25 / 3), 1e-15));  // -0.5, 0, 0
  CHECK(e.e_inf[1] == 0.5);
}

TEST_CASE("response functions refuse bad input by name") {
  context<cpu> ctx;
  normals draw(61);
  tensor<double, cpu> x(shape{2, 10, 3}), y(shape{2, 10, 2}), flat(shape{30});
  for (double& v : x) v = draw();
  for (double& v : y) v = draw();
  using doctest::Contains;

  SUBCASE("lag covariances") {
    CHECK_THROWS_WITH_AS(response::lag_covariance(ctx, flat, 2),
                         Contains("response::lag_covariance: expected x of shape"), attractor::error);
    CHECK_THROWS_WITH_AS(response::lag_covariance(ctx, x, y, 2), Contains("y of x's shape"), attractor::error);
    CHECK_THROWS_WITH_AS(response::lag_covariance(ctx, x, 10), Contains("expected lags < T = 10"), attractor::error);
    tensor<double, cpu> bad(shape{2, 10, 3});
    for (std::size_t k = 0; k < bad.size(); ++k) bad[k] = x[k];
    bad[17] = std::nan("");
    CHECK_THROWS_WITH_AS(response::lag_covariance(ctx, bad, 2), Contains("finite values in x"), attractor::error);
    CHECK_THROWS_WITH_AS(response::lag_covariance(ctx, x, bad, 2), Contains("finite values in y"), attractor::error);
    bad[17] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH_AS(response::field_lag_covariance(ctx, bad.reshape(shape{2, 10, 3}), 2),
                         Contains("response::field_lag_covariance"), attractor::error);
    tensor<double, cpu> twelve(shape{5, 12});
    for (double& v : twelve) v = draw();
    CHECK_THROWS_WITH_AS(response::field_lag_covariance(ctx, twelve, 1), Contains("n_side x n_side pixels"),
                         attractor::error);
    tensor<double, cpu> empty(shape{0, 4});
    CHECK_THROWS_WITH_AS(response::lag_covariance(ctx, empty, 0), Contains("no empty axis"), attractor::error);
  }
  SUBCASE("Gaussian responses") {
    // A component that is constant, and one that copies another: C(0) singular.
    tensor<double, cpu> constant(shape{50, 3}), copied(shape{50, 3});
    for (std::size_t t = 0; t < 50; ++t) {
      constant.at(t, 0) = draw(), constant.at(t, 1) = draw(), constant.at(t, 2) = 1.5;
      copied.at(t, 0) = draw(), copied.at(t, 1) = draw(), copied.at(t, 2) = copied.at(t, 0);
    }
    CHECK_THROWS_WITH_AS(response::gaussian(ctx, constant, 3),
                         Contains("response::gaussian: expected a positive-definite C(0)"), attractor::error);
    CHECK_THROWS_WITH_AS(response::gaussian(ctx, copied, 3), Contains("positive-definite C(0)"), attractor::error);
    CHECK_THROWS_WITH_AS(response::gaussian_from_covariance(tensor<double, cpu>(shape{2, 3, 2})),
                         Contains("(lags + 1) x n x n"), attractor::error);
    // A field that is the same at every pixel: every Fourier mode but the mean vanishes.
    tensor<double, cpu> uniform(shape{40, 16});
    for (std::size_t t = 0; t < 40; ++t) {
      const double a = draw();
      for (std::size_t p = 0; p < 16; ++p) uniform.at(t, p) = a;
    }
    CHECK_THROWS_WITH_AS(response::gaussian_field(ctx, uniform, 2), Contains("Fourier modes of C(0) above"),
                         attractor::error);
    tensor<double, cpu> field(shape{40, 16});
    for (double& v : field) v = draw();
    CHECK_THROWS_WITH_AS(response::gaussian_field(ctx, field, 2, 16), Contains("a kick pixel < 16"), attractor::error);
    CHECK_THROWS_WITH_AS(response::gaussian_field(ctx, field, 40), Contains("lags < T = 40"), attractor::error);
  }
  SUBCASE("score-based responses") {
    const gaussian_score identity{matrix::Identity(3, 3)};
    response::score_options o;
    o.batch = 0;
    CHECK_THROWS_WITH_AS(response::score_based(ctx, x, identity, 2, o), Contains("a score batch of at least 1"),
                         attractor::error);
    auto nan_score = [](context<cpu>&, const_tensor_view<double, cpu>, tensor_view<double, cpu> out) {
      for (double& v : out) v = std::nan("");
    };
    CHECK_THROWS_WITH_AS(response::score_based(ctx, x, nan_score, 2), Contains("finite values in the score's values"),
                         attractor::error);
    auto zero_score = [](context<cpu>&, const_tensor_view<double, cpu>, tensor_view<double, cpu> out) {
      for (double& v : out) v = 0;
    };
    CHECK_THROWS_WITH_AS(response::score_based(ctx, x, zero_score, 2), Contains("an invertible M(0)"),
                         attractor::error);
    tensor<double, cpu> field(shape{1, 20, 9});
    for (double& v : field) v = draw();
    CHECK_THROWS_WITH_AS(response::score_based_field(ctx, field, zero_score, 2),
                         Contains("response::score_based_field: expected Fourier modes of M(0)"), attractor::error);
    CHECK_THROWS_WITH_AS(response::score_based_field(ctx, field, zero_score, 2, 9), Contains("a kick pixel < 9"),
                         attractor::error);
  }
  SUBCASE("dynamical responses") {
    const linear_stepper<double> model{matrix::Identity(3, 3) * 0.5, 0.1};
    tensor<double, cpu> theta(shape{3, 4}), wrong(shape{4, 3});
    for (double& v : theta) v = draw();
    philox gen(1);
    response::dynamical_options o;
    o.dt = 0.01;
    const std::string fn = "response::dynamical: expected ";
    CHECK_THROWS_WITH_AS(response::dynamical(ctx, model, wrong, 0, o, gen),
                         Contains((fn + "an ensemble theta of shape 3 x N").c_str()), attractor::error);
    CHECK_THROWS_WITH_AS(response::dynamical(ctx, model, theta, 3, o, gen), Contains("a kicked component < 3"),
                         attractor::error);
    CHECK_THROWS_WITH_AS(response::dynamical(ctx, model, theta, std::vector<double>{1, 0}, o, gen),
                         Contains("a kick vector of 3 values"), attractor::error);
    CHECK_THROWS_WITH_AS(response::dynamical(ctx, model, theta, std::vector<double>{0, 0, 0}, o, gen),
                         Contains("a non-zero kick vector"), attractor::error);
    CHECK_THROWS_WITH_AS(response::dynamical(ctx, model, theta, std::vector<double>{0, std::nan(""), 0}, o, gen),
                         Contains("finite values in the kick vector"), attractor::error);
    theta[5] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH_AS(response::dynamical(ctx, model, theta, 0, o, gen), Contains("finite values in theta"),
                         attractor::error);
    theta[5] = 0;
    auto refuses = [&](response::dynamical_options bad, const char* what) {
      CAPTURE(what);
      CHECK_THROWS_WITH_AS(response::dynamical(ctx, model, theta, 0, bad, gen), Contains((fn + what).c_str()),
                           attractor::error);
    };
    response::dynamical_options b = o;
    b.lags = 0;
    refuses(b, "lags >= 1");
    b = o, b.steps_per_lag = 0;
    refuses(b, "steps_per_lag >= 1");
    b = o, b.resets = 0;
    refuses(b, "resets >= 1");
    b = o, b.lags = 4, b.steps_per_lag = 3, b.steps_between_resets = 11;
    refuses(b, "steps_between_resets >= lags x steps_per_lag = 12");
    b = o, b.delta = -0.1;
    refuses(b, "a finite kick size delta >= 0");
    b = o, b.delta = std::nan("");
    refuses(b, "a finite kick size delta >= 0");
    b = o, b.dt = 0;
    refuses(b, "a positive kick size");
    b = o, b.dt = -1;
    refuses(b, "a finite dt >= 0");
    // A stepper that draws differently for the kicked ensemble breaks common random numbers.
    tensor<double, cpu> two(shape{2, 3});
    for (double& v : two) v = draw();
    CHECK_THROWS_WITH_AS(response::dynamical(ctx, uneven_stepper{}, two, 0, o, gen),
                         Contains("a stepper that draws the same numbers for both ensembles"), attractor::error);
  }
  SUBCASE("errors") {
    tensor<double, cpu> a(shape{3, 4}), b(shape{3, 5});
    for (double& v : a) v = 1;
    for (double& v : b) v = 1;
    CHECK_THROWS_WITH_AS(response::errors(a, b),
                         Contains("response::errors: expected a reference of the response's shape"), attractor::error);
    CHECK_THROWS_WITH_AS(response::errors(flat, flat), Contains("(lags + 1) x n"), attractor::error);
    tensor<double, cpu> c(shape{3, 4});
    for (double& v : c) v = 1;
    c[3] = std::nan("");
    CHECK_THROWS_WITH_AS(response::errors(a, c), Contains("finite values in the reference"), attractor::error);
  }
}
