// The response layer on cuda against the same code on cpu, on the same inputs: lag covariances (dense and field,
// float and double data), the Gaussian responses (dense and Fourier), the score-based field response with a score
// evaluated on the GPU, and the dynamical response of a linear stepper. The FFTs differ (cuFFT and FFTW, both in
// double), so results agree to rounding, not bits. Runs only where a GPU is present (cuda_main.cpp).
#include <doctest/doctest.h>

#include "attractor/core/eigen.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "attractor/response.hpp"
#include "cuda/response_harness.hpp"

using namespace attractor;
using namespace attractor_test;

namespace {

/// A stable linear field process on a side x side periodic grid: u <- a (0.5 u + 0.3 u(x - 1) + 0.1 u(x + 1) + ...)
/// + xi, members x T x side^2, and its matrix.
struct field_process {
  std::size_t side;
  std::vector<double> A;  // side^2 x side^2, row-major
  field_process(std::size_t s, double a) : side(s), A(s * s * s * s, 0.0) {
    const int n = static_cast<int>(s);
    const int taps[5][2] = {{0, 0}, {0, 1}, {0, -1}, {1, 0}, {-1, 0}};
    const double w[5] = {0.45, 0.3, 0.1, 0.08, 0.07};
    for (int iy = 0; iy < n; ++iy)
      for (int ix = 0; ix < n; ++ix)
        for (int t = 0; t < 5; ++t) {
          const int jy = ((iy - taps[t][0]) % n + n) % n, jx = ((ix - taps[t][1]) % n + n) % n;
          A[std::size_t(iy * n + ix) * s * s + std::size_t(jy * n + jx)] += a * w[t];
        }
  }
  [[nodiscard]] std::vector<double> simulate(std::size_t members, std::size_t T, std::uint64_t seed) const {
    const std::size_t n = side * side;
    std::mt19937_64 engine(seed);
    std::normal_distribution<double> normal;
    std::vector<double> out(members * T * n), x(n), y(n);
    for (std::size_t m = 0; m < members; ++m) {
      std::fill(x.begin(), x.end(), 0.0);
      for (std::size_t t = 0; t < 200 + T; ++t) {
        for (std::size_t i = 0; i < n; ++i) {
          double s = normal(engine);
          for (std::size_t k = 0; k < n; ++k) s += A[i * n + k] * x[k];
          y[i] = s;
        }
        x.swap(y);
        if (t >= 200) std::copy(x.begin(), x.end(), out.begin() + std::ptrdiff_t((m * T + t - 200) * n));
      }
    }
    return out;
  }
};

template <class S>
tensor<S, cpu> as_tensor(const std::vector<S>& v, const shape& s) {
  tensor<S, cpu> t(s);
  std::copy(v.begin(), v.end(), t.begin());
  return t;
}

double max_difference(const tensor<double, cpu>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (std::size_t k = 0; k < b.size(); ++k) d = std::max(d, std::abs(a[k] - b[k]));
  return d;
}

/// x <- A x + q xi on cpu, members in columns.
struct linear_stepper {
  std::vector<double> A;
  std::size_t n;
  double q;
  [[nodiscard]] std::size_t dimension() const { return n; }
  void advance(context<cpu>& ctx, tensor_view<double, cpu> E, std::size_t steps, philox& gen) const {
    const std::size_t N = E.extent(1);
    std::vector<double> next(E.size());
    for (std::size_t s = 0; s < steps; ++s) {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t m = 0; m < N; ++m) {
          double v = 0;
          for (std::size_t k = 0; k < n; ++k) v += A[i * n + k] * E[k * N + m];
          next[i * N + m] = v;
        }
      std::copy(next.begin(), next.end(), E.begin());
      systems::add_model_noise(ctx, E, q, gen);
    }
  }
};

}  // namespace

TEST_CASE_TEMPLATE("cuda response lag covariances equal cpu", S, float, double) {
  context<cpu> ctx;
  const field_process p(4, 0.8);
  const std::size_t M = 2, T = 300, F = 16, lags = 12;
  const auto u64 = p.simulate(M, T, 1), v64 = p.simulate(M, T, 2);
  const std::vector<S> u(u64.begin(), u64.end()), v(v64.begin(), v64.end());
  const auto tu = as_tensor(u, shape{M, T, F}), tv = as_tensor(v, shape{M, T, F});
  for (bool circular : {false, true}) {
    CAPTURE(circular);
    response::lag_options o;
    o.circular = circular;
    std::vector<double> gpu((lags + 1) * F * F);
    cuda_response_lag_covariance<S>(u.data(), M, T, F, lags, circular, gpu.data());
    CHECK(max_difference(response::lag_covariance(ctx, tu, lags, o), gpu) < 1e-12);
    std::vector<double> field((lags + 1) * F);
    cuda_response_field_lag_covariance<S>(u.data(), v.data(), M, T, F, lags, circular, field.data());
    CHECK(max_difference(response::field_lag_covariance(ctx, tu, tv, lags, o), field) < 1e-12);
  }
}

TEST_CASE("cuda response Gaussian and score-based responses equal cpu") {
  context<cpu> ctx;
  const field_process p(8, 0.8);
  const std::size_t M = 2, T = 800, F = 64, lags = 8, kick = 10;
  const auto u = p.simulate(M, T, 3);
  const auto tu = as_tensor(u, shape{M, T, F});

  std::vector<double> gpu((lags + 1) * F);
  cuda_response_gaussian_field(u.data(), M, T, F, lags, kick, gpu.data());
  CHECK(max_difference(response::gaussian_field(ctx, tu, lags, kick), gpu) < 1e-10);

  std::vector<double> dense((lags + 1) * F * F);
  cuda_response_gaussian(u.data(), M, T, F, lags, dense.data());
  CHECK(max_difference(response::gaussian(ctx, tu, lags), dense) < 1e-9);

  // The exact score of the process: s = -C0^-1 u, C0 the Lyapunov series.
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> A(p.A.data(), 64, 64);
  Eigen::MatrixXd C = Eigen::MatrixXd::Zero(64, 64), term = Eigen::MatrixXd::Identity(64, 64);
  for (int k = 0; k < 400; ++k) {
    C += term;
    term = (A * term * A.transpose()).eval();
  }
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> P = C.inverse();
  std::vector<double> raw((lags + 1) * F), normalised((lags + 1) * F);
  cuda_response_score_based_field(u.data(), M, T, F, lags, kick, P.data(), 100, raw.data(), normalised.data());
  auto score = [&](context<cpu>&, const_tensor_view<double, cpu> frames, tensor_view<double, cpu> out) {
    for (std::size_t b = 0; b < frames.extent(0); ++b)
      Eigen::Map<Eigen::VectorXd>(out.data() + b * F, 64) =
          -(P * Eigen::Map<const Eigen::VectorXd>(frames.data() + b * F, 64));
  };
  const auto r = response::score_based_field(ctx, tu, score, lags, kick);
  CHECK(max_difference(r.raw, raw) < 1e-10);
  CHECK(max_difference(r.normalised, normalised) < 1e-10);
}

TEST_CASE("cuda response dynamical response equals cpu") {
  context<cpu> ctx;
  const field_process p(4, 0.9);
  const std::size_t n = 16, N = 32, lags = 5, spl = 2, resets = 2, kick = 3;
  std::mt19937_64 engine(7);
  std::normal_distribution<double> normal;
  std::vector<double> theta(n * N);
  for (double& v : theta) v = normal(engine);
  std::vector<double> gpu((lags + 1) * n), gpu_theta = theta;
  cuda_response_dynamical(p.A.data(), n, 0.5, gpu_theta.data(), N, lags, spl, resets, 1.0 / 32, kick, 9, gpu.data());

  auto cpu_theta = as_tensor(theta, shape{n, N});
  response::dynamical_options o;
  o.lags = lags;
  o.steps_per_lag = spl;
  o.resets = resets;
  o.dt = 1.0 / 32;
  philox gen(9);
  const auto r = response::dynamical(ctx, linear_stepper{p.A, n, 0.5}, cpu_theta, kick, o, gen);
  CHECK(max_difference(r.response, gpu) < 1e-12);
  // The ensembles themselves: the same Philox normals to a few ulps on either backend.
  CHECK(max_difference(cpu_theta, gpu_theta) < 1e-10);

  char message[256] = {};
  CHECK(cuda_response_rejects_nan(message, sizeof message));
  CHECK(std::string(message).find("response::lag_covariance: expected finite values in x") != std::string::npos);
}
