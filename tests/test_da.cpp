// Tests of the data-assimilation layer and Lorenz-96: the ETKF against a Kalman filter computed directly (in long
// double, by matrix inversion), 3D-Var against its closed form, EnOI with a large ensemble against 3D-Var, the
// sigma points against 3D-Var, the rotation, the external-ensemble update with a general H, the cycled runner
// (scores, stored against integrated truth, thread-count independence, divergence), and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attractor/core/eigen.hpp"  // first: see there

#include <Eigen/Dense>

#include "attractor/da.hpp"
#include "attractor/systems/lorenz63.hpp"
#include "attractor/systems/lorenz96.hpp"
#include "tolerance.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::tensor;
using attractor::tensor_view;
using attractor_test::absolute;
using attractor_test::relative;
namespace da = attractor::da;
namespace systems = attractor::systems;

using ld_matrix = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
using ld_vector = Eigen::Matrix<long double, Eigen::Dynamic, 1>;

/// Values from std::mt19937_64, independent of the library's generator.
std::vector<double> normals(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(engine);
  return v;
}

tensor<double, cpu> from_values(const std::vector<double>& v, attractor::shape s) {
  tensor<double, cpu> t(s);
  REQUIRE(t.size() == v.size());
  for (std::size_t i = 0; i < v.size(); ++i) t[i] = v[i];
  return t;
}

/// Member block e of an ensemble batch (experiments x Nx x N) as a long double matrix.
ld_matrix block(const tensor<double, cpu>& E, std::size_t e) {
  const std::size_t Nx = E.extent(1), N = E.extent(2);
  ld_matrix m(Nx, N);
  for (std::size_t i = 0; i < Nx; ++i)
    for (std::size_t j = 0; j < N; ++j) m(i, j) = E[(e * Nx + i) * N + j];
  return m;
}

ld_vector row_mean(const ld_matrix& m) { return m.rowwise().mean(); }
ld_matrix sample_cov(const ld_matrix& m) {
  const ld_matrix X = m.colwise() - row_mean(m);
  return X * X.transpose() / static_cast<long double>(m.cols() - 1);
}

/// The Kalman-filter analysis for prior (mean, P), H, R = sigma^2 I, by explicit inversion.
struct kalman {
  ld_vector mean;
  ld_matrix cov;
};
kalman kalman_analysis(const ld_vector& mean, const ld_matrix& P, const ld_matrix& H, const ld_vector& y,
                       long double sigma) {
  const ld_matrix R = ld_matrix::Identity(H.rows(), H.rows()) * sigma * sigma;
  const ld_matrix K = P * H.transpose() * (H * P * H.transpose() + R).inverse();
  const ld_matrix I = ld_matrix::Identity(P.rows(), P.cols());
  return {mean + K * (y - H * mean), (I - K * H) * P};
}

ld_matrix to_ld(const attractor::eigen_matrix<double>& m) { return m.cast<long double>(); }

double max_abs_diff(const ld_matrix& a, const ld_matrix& b) {
  return static_cast<double>((a - b).cwiseAbs().maxCoeff());
}

/// The operators exercised: a subset, and a dense random matrix.
da::obs_operator<double> make_operator(bool dense, std::size_t Nx, std::size_t Ny, std::uint64_t seed) {
  if (!dense) {
    std::vector<std::size_t> idx;
    for (std::size_t r = 0; r < Ny; ++r) idx.push_back((r * 3 + 1) % Nx);
    return da::obs_operator<double>::subset(Nx, idx);
  }
  const auto v = normals(Ny * Nx, seed);
  attractor::eigen_matrix<double> H(Ny, Nx);
  for (std::size_t i = 0; i < v.size(); ++i) H.data()[i] = v[i];
  return da::obs_operator<double>::linear(H);
}

struct twin_setup {
  static constexpr std::size_t experiments = 3;
  context<cpu> ctx{};
  systems::lorenz63<double> model{};
  double dt = 0.01;
  tensor<double, cpu> truth0;
  twin_setup() {
    philox gen(7);
    truth0 = da::spun_up_states<systems::lorenz63<double>, double>(ctx, model, dt, experiments, 2000, gen,
                                                                   {0.0, 0.0, 25.0}, 5.0);
  }
  da::twin_options options(std::size_t burn_in, std::size_t cycles) const {
    da::twin_options o;
    o.obs_every = 10;
    o.burn_in = burn_in;
    o.cycles = cycles;
    o.scale.assign(systems::lorenz63_climatology::std.begin(), systems::lorenz63_climatology::std.end());
    return o;
  }
  tensor<double, cpu> initial(std::size_t members, std::uint64_t seed) {
    philox gen(seed);
    const auto pool = da::spun_up_states<systems::lorenz63<double>, double>(ctx, model, dt, experiments * members, 1000,
                                                                            gen, {0.0, 0.0, 25.0}, 5.0);
    return da::draw_initial_states<double>(ctx, pool.view(), experiments, members, gen);
  }
};

}  // namespace

TEST_SUITE("da") {
  TEST_CASE("da: lorenz96 derivative matches hand values and its fixed point") {
    systems::lorenz96<double> l96;
    CHECK(systems::lorenz96<double>::dimension == 40);
    double x[40], dx[40];
    for (int i = 0; i < 40; ++i) x[i] = i;
    l96.derivative(x, dx);
    // dx_i = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + 8, indices mod 40.
    CHECK(dx[0] == (1.0 - 38.0) * 39.0 - 0.0 + 8.0);  // -1435
    CHECK(dx[1] == (2.0 - 39.0) * 0.0 - 1.0 + 8.0);   // 7
    CHECK(dx[5] == (6.0 - 3.0) * 4.0 - 5.0 + 8.0);    // 15
    CHECK(dx[38] == (39.0 - 36.0) * 37.0 - 38.0 + 8.0);
    CHECK(dx[39] == (0.0 - 37.0) * 38.0 - 39.0 + 8.0);  // -1437
    for (double& v : x) v = 8.0;
    l96.derivative(x, dx);
    for (double v : dx) CHECK(v == 0.0);
  }

  TEST_CASE("da: lorenz96 with rk4 at dt 0.05 reaches its known climatology") {
    context<cpu> ctx;
    systems::lorenz96<double> l96;
    tensor<double, cpu> x({40, 4});  // members in columns
    const auto v = normals(x.size(), 11, 0.1);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 8.0 + v[i];
    systems::rk4_advance(ctx, l96, x.view(), 400, 0.05, systems::layout::members_in_columns);
    double sum = 0, squares = 0;
    const int chunks = 200;
    for (int c = 0; c < chunks; ++c) {
      systems::rk4_advance(ctx, l96, x.view(), 5, 0.05, systems::layout::members_in_columns);
      for (double value : x) {
        sum += value;
        squares += value * value;
      }
    }
    const double n = double(chunks) * double(x.size());
    const double mean = sum / n, sd = std::sqrt(squares / n - mean * mean);
    // F = 8: mean about 2.3 and standard deviation about 3.6 (Lorenz and Emanuel 1998).
    // The literature's two digits and this short run's sampling error (measured: 2.314 and 3.626).
    CHECK(mean == relative(2.3, 0.03));
    CHECK(sd == relative(3.6, 0.03));
  }

  TEST_CASE("da: the ETKF analysis equals the Kalman-filter posterior of its own prior") {
    context<cpu> ctx;
    struct config {
      std::size_t Nx, N, Ny;
      bool dense;
      double infl;
    };
    // Ny <= N and Ny > N take different paths; a subset and a dense H; no inflation and rho = 1.3.
    for (const config c : {config{5, 8, 3, false, 1.0}, config{5, 8, 3, true, 1.0}, config{5, 8, 4, true, 1.3},
                           config{10, 4, 7, false, 1.0}, config{6, 5, 9, true, 1.2}}) {
      CAPTURE(c.Nx);
      CAPTURE(c.N);
      CAPTURE(c.Ny);
      CAPTURE(c.dense);
      CAPTURE(c.infl);
      const std::size_t experiments = 3;
      const da::observation_model<double> obs(make_operator(c.dense, c.Nx, c.Ny, 5), 0.7);
      auto E = from_values(normals(experiments * c.Nx * c.N, 1), {experiments, c.Nx, c.N});
      const auto y = from_values(normals(experiments * c.Ny, 2, 1.5), {experiments, c.Ny});
      tensor<double, cpu> prior({experiments, c.Nx, c.N});
      attractor::copy(ctx, E, prior);
      da::analysis_diagnostics<double> diag(experiments, c.Nx);
      da::etkf_analysis(ctx, E.view(), y.view(), obs, c.infl, nullptr, &diag);
      const ld_matrix H = to_ld(obs.H.matrix());
      for (std::size_t e = 0; e < experiments; ++e) {
        const ld_matrix Eb = block(prior, e);
        ld_vector ye(c.Ny);
        for (std::size_t r = 0; r < c.Ny; ++r) ye[r] = y[e * c.Ny + r];
        const kalman kf = kalman_analysis(row_mean(Eb), c.infl * sample_cov(Eb), H, ye, 0.7L);
        const ld_matrix Ea = block(E, e);
        CHECK(max_abs_diff(row_mean(Ea), kf.mean) < 1e-12);
        CHECK(max_abs_diff(sample_cov(Ea), kf.cov) < 1e-12);
        for (std::size_t i = 0; i < c.Nx; ++i) {
          // Means of standard normals may be near zero: absolute; variances are positive: relative.
          CHECK(diag.bg_mean[e * c.Nx + i] == absolute(double(row_mean(Eb)[i]), 1e-12));
          CHECK(diag.bg_var[e * c.Nx + i] == relative(double(sample_cov(Eb)(i, i)), 1e-12));
          CHECK(diag.an_var[e * c.Nx + i] == relative(double(kf.cov(i, i)), 1e-10));
        }
      }
    }
  }

  TEST_CASE("da: one analysis of the cycled ETKF with rho = 1.3 is etkf_analysis's and the Kalman posterior's") {
    // da::etkf (the method run_twin cycles) passes its own f = (N - 1) / rho to the shared transform, so it is
    // checked on its own: one analyse_one on a fixed ensemble must give etkf_analysis's members to rounding, and
    // both must give the mean and covariance of the Kalman filter whose prior is the ensemble mean and rho P (P the
    // sample covariance), computed here in long double by explicit inversion. Inflating the anomalies by rho instead
    // of sqrt(rho), or not at all, moves the covariance far beyond the tolerance (checked below).
    context<cpu> ctx;
    const std::size_t Nx = 5, N = 8, Ny = 4;
    const double rho = 1.3, sigma = 0.7;
    const da::observation_model<double> obs(make_operator(true, Nx, Ny, 21), sigma);
    const auto prior = from_values(normals(Nx * N, 22), {1, Nx, N});
    const auto y = from_values(normals(Ny, 23, 1.5), {1, Ny});
    tensor<double, cpu> batch({1, Nx, N}), cycled({1, Nx, N});
    attractor::copy(ctx, prior, batch);
    attractor::copy(ctx, prior, cycled);
    da::etkf_analysis(ctx, batch.view(), y.view(), obs, rho);
    da::etkf<double> method(N, rho);
    method.prepare(ctx, obs, 1);
    philox gen(5);
    da::analysis_diagnostics<double> diag(1, Nx);
    method.analyse_one(obs, 0, cycled.data(), y.data(), gen, diag);
    CHECK(max_abs_diff(block(cycled, 0), block(batch, 0)) < 1e-13);

    const ld_matrix H = to_ld(obs.H.matrix()), Eb = block(prior, 0);
    ld_vector ye(Ny);
    for (std::size_t r = 0; r < Ny; ++r) ye[r] = y[r];
    const kalman kf = kalman_analysis(row_mean(Eb), rho * sample_cov(Eb), H, ye, sigma);
    for (const auto* E : {&cycled, &batch}) {
      const ld_matrix Ea = block(*E, 0);
      CHECK(max_abs_diff(row_mean(Ea), kf.mean) < 1e-12);
      CHECK(max_abs_diff(sample_cov(Ea), kf.cov) < 1e-12);
    }
    // The tolerance separates rho P from the posteriors of P and rho^2 P by orders of magnitude.
    const kalman none = kalman_analysis(row_mean(Eb), sample_cov(Eb), H, ye, sigma);
    const kalman squared = kalman_analysis(row_mean(Eb), rho * rho * sample_cov(Eb), H, ye, sigma);
    CHECK(max_abs_diff(none.cov, kf.cov) > 1e-3);
    CHECK(max_abs_diff(squared.cov, kf.cov) > 1e-3);
    for (std::size_t i = 0; i < Nx; ++i) CHECK(diag.an_var[i] == relative(double(kf.cov(i, i)), 1e-10));
  }

  TEST_CASE("da: the analyses and a cycled run work in float too") {
    // The same checks as above in single precision, against the long-double references, to float accuracy.
    context<cpu> ctx;
    const std::size_t experiments = 2, Nx = 3, N = 6;
    std::vector<std::size_t> idx{0, 2};
    const da::observation_model<float> obs(da::obs_operator<float>::subset(Nx, idx), 0.8f);
    tensor<float, cpu> E({experiments, Nx, N}), y({experiments, 2}), x({experiments, Nx});
    const auto e_values = normals(E.size(), 31), y_values = normals(y.size(), 32), x_values = normals(x.size(), 33);
    for (std::size_t i = 0; i < E.size(); ++i) E[i] = static_cast<float>(e_values[i]);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(y_values[i]);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(x_values[i]);
    tensor<float, cpu> prior({experiments, Nx, N}), xb({experiments, Nx});
    attractor::copy(ctx, E, prior);
    attractor::copy(ctx, x, xb);
    da::etkf_analysis(ctx, E.view(), y.view(), obs, 1.2f);
    da::external_ensemble_update(ctx, x.view(), prior.view(), y.view(), obs);
    const ld_matrix H = obs.H.matrix().cast<long double>();
    for (std::size_t e = 0; e < experiments; ++e) {
      ld_matrix Eb(Nx, N), Ea(Nx, N);
      for (std::size_t i = 0; i < Nx; ++i)
        for (std::size_t j = 0; j < N; ++j) {
          Eb(i, j) = prior[(e * Nx + i) * N + j];
          Ea(i, j) = E[(e * Nx + i) * N + j];
        }
      ld_vector ye(2), xe(Nx);
      for (std::size_t r = 0; r < 2; ++r) ye[r] = y[e * 2 + r];
      for (std::size_t i = 0; i < Nx; ++i) xe[i] = xb[e * Nx + i];
      const kalman kf = kalman_analysis(row_mean(Eb), 1.2L * sample_cov(Eb), H, ye, 0.8L);
      CHECK(max_abs_diff(row_mean(Ea), kf.mean) < 1e-5);
      CHECK(max_abs_diff(sample_cov(Ea), kf.cov) < 1e-5);
      const kalman about_run = kalman_analysis(xe, sample_cov(Eb), H, ye, 0.8L);
      for (std::size_t i = 0; i < Nx; ++i)
        CHECK(double(x[e * Nx + i]) == absolute(double(about_run.mean[i]), 1e-5));  // as the mean above
    }
    // A short cycled ETKF on Lorenz-63 in float.
    const systems::lorenz63<float> model;
    philox gen(3);
    const auto truth0 =
        da::spun_up_states<systems::lorenz63<float>, float>(ctx, model, 0.01f, 2, 2000, gen, {0.0f, 0.0f, 25.0f}, 5.0f);
    const auto pool = da::spun_up_states<systems::lorenz63<float>, float>(ctx, model, 0.01f, 2 * 8, 1000, gen,
                                                                          {0.0f, 0.0f, 25.0f}, 5.0f);
    const auto initial = da::draw_initial_states<float>(ctx, pool.view(), 2, 8, gen);
    const da::observation_model<float> full(da::obs_operator<float>::identity(3), 2.0f);
    da::twin_options o;
    o.burn_in = 100;
    o.cycles = 300;
    o.scale.assign(systems::lorenz63_climatology::std.begin(), systems::lorenz63_climatology::std.end());
    da::etkf<float> method(8, 1.1f);
    const auto r = da::run_twin(ctx, model, 0.01f, method, full, truth0.view(), initial.view(), gen, o);
    CHECK(r.diverged() == 0);
    CHECK(r.analysis().mean < 0.15);
  }

  TEST_CASE("da: the random rotation keeps the analysis mean and covariance") {
    context<cpu> ctx;
    const std::size_t experiments = 2, Nx = 4, N = 7, Ny = 2;
    const da::observation_model<double> obs(make_operator(false, Nx, Ny, 0), 1.0);
    const auto prior = from_values(normals(experiments * Nx * N, 3), {experiments, Nx, N});
    const auto y = from_values(normals(experiments * Ny, 4), {experiments, Ny});
    tensor<double, cpu> plain({experiments, Nx, N}), rotated({experiments, Nx, N});
    attractor::copy(ctx, prior, plain);
    attractor::copy(ctx, prior, rotated);
    da::etkf_analysis(ctx, plain.view(), y.view(), obs, 1.1);
    philox gen(99);
    da::etkf_analysis(ctx, rotated.view(), y.view(), obs, 1.1, &gen);
    CHECK(gen.offset() > 0);
    for (std::size_t e = 0; e < experiments; ++e) {
      const ld_matrix a = block(plain, e), b = block(rotated, e);
      CHECK(max_abs_diff(row_mean(a), row_mean(b)) < 1e-13);
      CHECK(max_abs_diff(sample_cov(a), sample_cov(b)) < 1e-13);
      CHECK(max_abs_diff(a, b) > 1e-3);  // the members themselves moved
    }
  }

  TEST_CASE("da: 3D-Var equals the closed-form optimal interpolation, and the spec's sigma points give it") {
    context<cpu> ctx;
    const auto B0 = da::lorenz63_paper_b0<double>();
    const double cov_inf = 1.72, sigma = 2.0;
    for (bool subset : {false, true}) {
      CAPTURE(subset);
      const auto H = subset ? da::obs_operator<double>::subset(3, {0, 2}) : da::obs_operator<double>::identity(3);
      const da::observation_model<double> obs(H, sigma);
      const std::size_t experiments = 4, Ny = obs.Ny();
      auto x = from_values(normals(experiments * 3, 5, 8.0), {experiments, 3});
      const auto y = from_values(normals(experiments * Ny, 6, 8.0), {experiments, Ny});
      tensor<double, cpu> xb({experiments, 3}), x_sigma({experiments, 3});
      attractor::copy(ctx, x, xb);
      attractor::copy(ctx, x, x_sigma);
      da::var3d_analysis(ctx, x.view(), y.view(), obs, B0, cov_inf);
      // The closed form x_b + B H^T (H B H^T + R)^-1 (y - H x_b), B = cov_inf^2 B0, in long double.
      const ld_matrix B = to_ld(B0.matrix()) * (long double)(cov_inf * cov_inf);
      const ld_matrix Hm = to_ld(H.matrix());
      // The sigma-point EnOI.
      da::sigma_point_source<double> points(B0, cov_inf);
      tensor<double, cpu> E({experiments, 3, 6});
      philox unused(0);
      points(ctx, xb.view(), E.view(), unused);
      da::external_ensemble_update(ctx, x_sigma.view(), E.view(), y.view(), obs);
      for (std::size_t e = 0; e < experiments; ++e) {
        ld_vector xe(3), ye(Ny);
        for (std::size_t i = 0; i < 3; ++i) xe[i] = xb[e * 3 + i];
        for (std::size_t r = 0; r < Ny; ++r) ye[r] = y[e * Ny + r];
        const kalman kf = kalman_analysis(xe, B, Hm, ye, sigma);
        for (std::size_t i = 0; i < 3; ++i) {
          // States of order 10 (any sign): absolute.
          CHECK(x[e * 3 + i] == absolute(double(kf.mean[i]), 1e-12));
          CHECK(x_sigma[e * 3 + i] == absolute(double(kf.mean[i]), 1e-11));
        }
        // The sigma points' sample covariance is exactly cov_inf^2 B0.
        CHECK(max_abs_diff(sample_cov(block(E, e)), B) < 1e-13);
      }
    }
  }

  TEST_CASE("da: EnOI with a very large static-B ensemble approaches 3D-Var") {
    context<cpu> ctx;
    const auto B0 = da::lorenz63_paper_b0<double>();
    for (bool diagonal : {false, true}) {
      CAPTURE(diagonal);
      const auto B = diagonal ? B0.diagonal_part() : B0;
      const double cov_inf = 1.82;
      const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
      const std::size_t experiments = 2, N = 100000;
      auto x = from_values(normals(experiments * 3, 8, 8.0), {experiments, 3});
      const auto y = from_values(normals(experiments * 3, 9, 8.0), {experiments, 3});
      tensor<double, cpu> x_var({experiments, 3}), E({experiments, 3, N});
      attractor::copy(ctx, x, x_var);
      da::static_b_source<double> source(B, cov_inf);
      philox gen(2024);
      source(ctx, x.view(), E.view(), gen);
      // Drawn around x_det and re-centred: the members' mean is x_det to rounding; the covariance cov_inf^2 B.
      const ld_matrix B_eff = to_ld(B.matrix()) * (long double)(cov_inf * cov_inf);
      for (std::size_t e = 0; e < experiments; ++e) {
        const ld_matrix Ee = block(E, e);
        for (std::size_t i = 0; i < 3; ++i) CHECK(std::abs(double(row_mean(Ee)[i]) - x[e * 3 + i]) < 1e-12);
        CHECK(max_abs_diff(sample_cov(Ee), B_eff) < 0.05 * double(B_eff.cwiseAbs().maxCoeff()));
      }
      da::external_ensemble_update(ctx, x.view(), E.view(), y.view(), obs);
      da::var3d_analysis(ctx, x_var.view(), y.view(), obs, B, cov_inf);
      for (std::size_t e = 0; e < experiments; ++e) {
        double increment = 0, diff = 0;
        for (std::size_t i = 0; i < 3; ++i) {
          increment = std::max(increment, std::abs(y[e * 3 + i] - x[e * 3 + i]));
          diff = std::max(diff, std::abs(x[e * 3 + i] - x_var[e * 3 + i]));
        }
        CHECK(diff < 0.02 * increment);
      }
    }
  }

  TEST_CASE("da: the external-ensemble update is a Kalman update about the deterministic run, for any linear H") {
    context<cpu> ctx;
    const std::size_t experiments = 3, Nx = 5, N = 9;
    for (const std::size_t Ny : {3, 12}) {
      CAPTURE(Ny);
      const da::observation_model<double> obs(make_operator(true, Nx, Ny, 21), 0.9);
      const auto E = from_values(normals(experiments * Nx * N, 22), {experiments, Nx, N});
      auto x = from_values(normals(experiments * Nx, 23), {experiments, Nx});
      const auto y = from_values(normals(experiments * Ny, 24), {experiments, Ny});
      tensor<double, cpu> xb({experiments, Nx}), Ea({experiments, Nx, N});
      attractor::copy(ctx, x, xb);
      da::analysis_diagnostics<double> diag(experiments, Nx);
      da::external_ensemble_update(ctx, x.view(), E.view(), y.view(), obs, &diag, Ea.view());
      const ld_matrix H = to_ld(obs.H.matrix());
      for (std::size_t e = 0; e < experiments; ++e) {
        ld_vector xe(Nx), ye(Ny);
        for (std::size_t i = 0; i < Nx; ++i) xe[i] = xb[e * Nx + i];
        for (std::size_t r = 0; r < Ny; ++r) ye[r] = y[e * Ny + r];
        // B_e is the drawn ensemble's covariance about its own mean; the innovation is about x_det.
        const kalman kf = kalman_analysis(xe, sample_cov(block(E, e)), H, ye, 0.9L);
        for (std::size_t i = 0; i < Nx; ++i) {
          CHECK(x[e * Nx + i] == absolute(double(kf.mean[i]), 1e-12));
          CHECK(diag.an_var[e * Nx + i] == relative(double(kf.cov(i, i)), 1e-10));
        }
        CHECK(max_abs_diff(row_mean(block(Ea, e)), kf.mean) < 1e-12);
        CHECK(max_abs_diff(sample_cov(block(Ea, e)), kf.cov) < 1e-12);
      }
    }
  }

  TEST_CASE("da: synthetic observations are H x plus noise of standard deviation sigma_o") {
    context<cpu> ctx;
    const da::observation_model<double> obs(da::obs_operator<double>::subset(3, {2, 0}), 2.0);
    const std::size_t experiments = 20000;
    tensor<double, cpu> truth({experiments, 3}), y({experiments, 2});
    for (std::size_t e = 0; e < experiments; ++e)
      for (std::size_t i = 0; i < 3; ++i) truth[e * 3 + i] = double(i + 1) * 10.0;
    philox gen(3);
    da::observe(ctx, obs, truth.view(), gen, y.view());
    double mean0 = 0, mean1 = 0, var0 = 0;
    for (std::size_t e = 0; e < experiments; ++e) {
      mean0 += y[e * 2] / double(experiments);
      mean1 += y[e * 2 + 1] / double(experiments);
      var0 += (y[e * 2] - 30.0) * (y[e * 2] - 30.0) / double(experiments);
    }
    // Five standard errors: sigma / sqrt(n) for the means, sigma / sqrt(2 n) for the standard deviation.
    const double n = double(experiments);
    CHECK(mean0 == absolute(30.0, 5 * 2.0 / std::sqrt(n)));
    CHECK(mean1 == absolute(10.0, 5 * 2.0 / std::sqrt(n)));
    CHECK(std::sqrt(var0) == absolute(2.0, 5 * 2.0 / std::sqrt(2 * n)));
  }

  TEST_CASE("da: summaries are the mean and unbiased standard deviation of the finite values") {
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<double> v{1.0, 2.0, inf, 4.0};
    const auto s = da::summarise(v.data(), v.size());
    CHECK(s.mean == relative(7.0 / 3.0, 1e-14));
    CHECK(s.std_dev == relative(std::sqrt(((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3) +
                                           (4 - 7.0 / 3) * (4 - 7.0 / 3)) /
                                          2.0),
                                1e-14));
    CHECK(s.count == 3);
    CHECK(s.excluded == 1);
  }

  TEST_CASE("da: a cycled ETKF on Lorenz-63 tracks the truth, the same with stored or integrated truth") {
    twin_setup t;
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
    const auto initial = t.initial(10, 1);
    const auto o = t.options(100, 400);
    da::etkf<double> method(10, 1.05);
    philox gen(5);
    const auto r = da::run_twin(t.ctx, t.model, t.dt, method, obs, t.truth0.view(), initial.view(), gen, o);
    CHECK(r.diverged() == 0);
    CHECK(r.leads() == 11);
    const auto an = r.analysis(), bg = r.background();
    CHECK(an.count == 3);
    // Table 5's ETKF x 12 scores about 0.08 (analysis) and 0.11 (background); short runs scatter more.
    CHECK(an.mean > 0.04);
    CHECK(an.mean < 0.13);
    CHECK(bg.mean > an.mean);
    CHECK(r.background_spread().mean > 0);
    CHECK(r.analysis_spread().mean < r.background_spread().mean);
    // The forecast mean at the observation time is the background the ETKF used.
    for (std::size_t e = 0; e < 3; ++e)
      CHECK(r.ensemble[e * 3 + 2] == relative(r.nrmse[e * 11 + 10], 1e-10));  // scores of order 0.1

    // The same truth stored (rk4_trajectory from the same states) gives the same run up to rounding: the two
    // integrations may round differently (the compiler may fuse multiply-adds differently where rk4_step is
    // inlined), and chaos amplifies that over a long run, so the comparison is over 30 cycles (3 time units).
    const auto short_run = t.options(0, 30);
    tensor<double, cpu> x0({3, 3}), stored({3, 30 * 10 + 1, 3});
    attractor::copy(t.ctx, t.truth0, x0);
    systems::rk4_trajectory(t.ctx, t.model, x0.view(), 30 * 10, 0.01, stored.view());
    da::etkf<double> a(10, 1.05), b(10, 1.05);
    philox gen_a(5), gen_b(5);
    const auto ra = da::run_twin(t.ctx, t.model, t.dt, a, obs, t.truth0.view(), initial.view(), gen_a, short_run);
    const auto rb = da::run_twin(t.ctx, t.model, t.dt, b, obs, stored.view(), initial.view(), gen_b, short_run);
    for (std::size_t i = 0; i < ra.nrmse.size(); ++i) CHECK(ra.nrmse[i] == relative(rb.nrmse[i], 1e-9));
  }

  TEST_CASE("da: twin results do not depend on the thread count") {
    twin_setup t;
    const da::observation_model<double> obs(da::obs_operator<double>::subset(3, {0, 2}), 2.0);
    const auto initial = t.initial(6, 2);
    const auto o = t.options(20, 100);
    std::vector<double> scores[2];
    for (int threads : {1, 2}) {
      context<cpu> ctx(threads);
      da::etkf<double> method(6, 1.1, true);
      philox gen(8);
      const auto r = da::run_twin(ctx, t.model, t.dt, method, obs, t.truth0.view(), initial.view(), gen, o);
      scores[threads - 1].assign(r.nrmse.begin(), r.nrmse.end());
    }
    CHECK(scores[0] == scores[1]);
  }

  TEST_CASE("da: EnOI and 3D-Var cycle on Lorenz-63 and beat the observations") {
    twin_setup t;
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
    const auto initial = t.initial(1, 3);
    const auto o = t.options(50, 300);
    const auto B0 = da::lorenz63_paper_b0<double>();
    // The error of the observations alone, normalised: 2 / scale averaged over the variables, about 0.24.
    da::enoi<double, da::static_b_source<double>> enoi(da::static_b_source<double>(B0, 1.82), 50, "enoi-full");
    da::var3d<double> var(B0, 1.72);
    philox gen(4), gen2(4);
    const auto r1 = da::run_twin(t.ctx, t.model, t.dt, enoi, obs, t.truth0.view(), initial.view(), gen, o);
    const auto r2 = da::run_twin(t.ctx, t.model, t.dt, var, obs, t.truth0.view(), initial.view(), gen2, o);
    for (const auto* r : {&r1, &r2}) {
      CAPTURE(r->method);
      CHECK(r->diverged() == 0);
      CHECK(r->analysis().mean < 0.2);
      CHECK(r->background().mean > r->analysis().mean);
      CHECK(r->analysis_spread().mean < r->background_spread().mean);
    }
    CHECK(r1.method == "enoi-full");
    CHECK(r2.method == "3dvar");
  }

  TEST_CASE("da: every method runs on Lorenz-96, with all or half of the variables observed") {
    context<cpu> ctx;
    using l96 = systems::lorenz96<double>;
    const l96 model;
    const double dt = 0.05;
    const std::size_t experiments = 2;
    philox gen(10);
    const auto truth0 =
        da::spun_up_states<l96, double>(ctx, model, dt, experiments, 1000, gen, std::vector<double>(40, 8.0), 1.0);
    std::vector<std::size_t> every_other;
    for (std::size_t i = 0; i < 40; i += 2) every_other.push_back(i);
    const da::observation_model<double> all(da::obs_operator<double>::identity(40), 1.0);
    const da::observation_model<double> half(da::obs_operator<double>::subset(40, every_other), 1.0);
    da::twin_options o;
    o.obs_every = 1;
    o.burn_in = 100;
    o.cycles = 200;
    o.scale.assign(40, 3.6);  // the climatological standard deviation at F = 8
    const auto B = da::static_covariance<double>::diagonal(std::vector<double>(40, 1.0));
    const auto run = [&](auto& method, const da::observation_model<double>& obs, std::uint64_t seed) {
      philox g(seed);
      const auto pool = da::spun_up_states<l96, double>(ctx, model, dt, experiments * method.members(), 500, g,
                                                        std::vector<double>(40, 8.0), 1.0);
      const auto initial = da::draw_initial_states<double>(ctx, pool.view(), experiments, method.members(), g);
      return da::run_twin(ctx, model, dt, method, obs, truth0.view(), initial.view(), g, o);
    };
    da::etkf<double> etkf(30, 1.05), etkf_half(40, 1.1);
    da::var3d<double> var(B, 1.0), var_half(B, 1.0);
    da::enoi<double, da::static_b_source<double>> enoi(da::static_b_source<double>(B, 1.0), 40);
    // Climatology would score about 1.4 (sqrt 2); these runs score 0.08 to 0.2 (ETKF lowest); half observed,
    // no localisation: the ETKF needs more members and inflation, and 3D-Var's diagonal B leaves the unobserved
    // variables to the dynamics.
    for (const auto& r :
         {run(etkf, all, 1), run(var, all, 2), run(enoi, all, 3), run(etkf_half, half, 4), run(var_half, half, 5)}) {
      CAPTURE(r.method);
      CHECK(r.diverged() == 0);
      CHECK(r.analysis().mean < (r.method == "3dvar" ? 0.6 : 0.3));
    }
  }

  TEST_CASE("da: a diverging filter is reported in the statistics, not thrown") {
    twin_setup t;
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
    SUBCASE("NaN in one experiment of a per-experiment method") {
      // A method that works as 3D-Var but poisons experiment 1 at its fourth analysis.
      struct poisoned {
        da::var3d<double> inner{da::lorenz63_paper_b0<double>(), 1.72};
        int calls = 0;
        std::string_view name() const { return "poisoned"; }
        std::size_t members() const { return 1; }
        void prepare(context<cpu>& ctx, const da::observation_model<double>& o, std::size_t n) {
          inner.prepare(ctx, o, n);
        }
        void analyse_one(const da::observation_model<double>& o, std::size_t e, double* state, const double* y,
                         philox& gen, da::analysis_diagnostics<double>& d) {
          inner.analyse_one(o, e, state, y, gen, d);
          if (e == 1 && ++calls == 4) state[0] = std::numeric_limits<double>::quiet_NaN();
        }
      } method;
      static_assert(da::experiment_method<poisoned, double>);
      const auto initial = t.initial(1, 4);
      philox gen(1);
      auto o = t.options(2, 50);
      o.record_series = true;
      const auto r = da::run_twin(t.ctx, t.model, t.dt, method, obs, t.truth0.view(), initial.view(), gen, o);
      CHECK(r.diverged() == 1);
      CHECK(r.diverged_at[1] == 3);
      CHECK(r.diverged_at[0] == -1);
      CHECK(std::isinf(r.nrmse[1 * 11]));
      CHECK(std::isnan(r.series[1 * 52 + 3]));
      CHECK(std::isfinite(r.series[1 * 52 + 2]));
      const auto an = r.analysis();
      CHECK(an.count == 2);
      CHECK(an.excluded == 1);
      CHECK(std::isfinite(an.mean));
    }
    SUBCASE("an external ensemble source that returns NaN") {
      // Any callable is a source; this one (batched only) draws static-B members, then spoils experiment 2's
      // ensemble at its tenth call.
      int calls = 0;
      da::static_b_source<double> inner(da::lorenz63_paper_b0<double>(), 1.82);
      auto source = [&](context<cpu>& ctx, attractor::const_tensor_view<double, cpu> x, tensor_view<double, cpu> E,
                        philox& gen) {
        inner(ctx, x, E, gen);
        if (++calls == 11 && E.extent(0) == 3) E.at(2, 1, 3) = std::numeric_limits<double>::infinity();
      };
      da::enoi<double, decltype(source)> method(source, 20, "enoi-lambda");
      static_assert(da::batched_method<decltype(method), double>);
      static_assert(!da::experiment_method<decltype(method), double>);
      const auto initial = t.initial(1, 6);
      philox gen(2);
      const auto r =
          da::run_twin(t.ctx, t.model, t.dt, method, obs, t.truth0.view(), initial.view(), gen, t.options(5, 40));
      CHECK(r.diverged() == 1);
      CHECK(r.diverged_at[2] == 9);  // prepare() made the first call
      CHECK(r.analysis().count == 2);
      CHECK(r.analysis().mean < 0.2);
    }
    SUBCASE("a model that blows up") {
      // RK4 at dt = 0.2 is unstable on Lorenz-63: every forecast overflows, while the stored truth (dt = 0.01)
      // stays finite.
      tensor<double, cpu> x0({3, 3}), stored({3, 20 * 10 + 1, 3});
      attractor::copy(t.ctx, t.truth0, x0);
      systems::rk4_trajectory(t.ctx, t.model, x0.view(), 20 * 10, 0.01, stored.view());
      da::etkf<double> method(4, 1.0);
      const auto initial = t.initial(4, 5);
      philox gen(1);
      const auto r =
          da::run_twin(t.ctx, t.model, 0.2, method, obs, stored.view(), initial.view(), gen, t.options(0, 20));
      CHECK(r.diverged() == 3);
      CHECK(r.analysis().count == 0);
      CHECK(std::isnan(r.analysis().mean));
    }
  }

  TEST_CASE("da: the sweep keeps every point and picks the best run without divergence") {
    da::twin_result proto;
    const auto fake = [](double factor) {
      da::twin_result r;
      r.experiments = 2;
      r.obs_every = 1;
      r.nrmse = tensor<double, cpu>({2, 2});
      const double score = (factor - 1.1) * (factor - 1.1) + 0.1;
      r.nrmse[0] = r.nrmse[2] = score;
      r.nrmse[1] = r.nrmse[3] = 2 * score;
      r.diverged_at = {-1, factor > 1.25 ? 7 : -1};
      if (factor > 1.25) r.nrmse[2] = std::numeric_limits<double>::infinity();
      return r;
    };
    std::size_t seen = 0;
    const auto s = da::sweep({1.0, 1.1, 1.2, 1.3}, fake, [&](const da::sweep_point&) { ++seen; });
    CHECK(seen == 4);
    REQUIRE(s.points.size() == 4);
    REQUIRE(s.best.has_value());
    CHECK(s.points[*s.best].factor == 1.1);
    CHECK(s.points[3].diverged == 1);
    CHECK(s.points[1].background.mean == relative(0.2, 1e-14));
  }

  TEST_CASE("da: bad input raises attractor::error") {
    context<cpu> ctx;
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
    SUBCASE("a B that is not positive definite") {
      attractor::eigen_matrix<double> B(3, 3);
      B << 1, 2, 0, 2, 1, 0, 0, 0, 1;  // eigenvalues 3, -1, 1
      CHECK_THROWS_WITH_AS(da::static_covariance<double>::full(B), doctest::Contains("positive-definite"),
                           attractor::error);
      CHECK_THROWS_WITH_AS(da::static_covariance<double>::diagonal({1.0, 0.0, 2.0}),
                           doctest::Contains("positive-definite"), attractor::error);
      B << 1, 0.5, 0, 0.4, 1, 0, 0, 0, 1;
      CHECK_THROWS_WITH_AS(da::static_covariance<double>::full(B), doctest::Contains("symmetric"), attractor::error);
    }
    SUBCASE("observations with NaN") {
      auto E = from_values(normals(2 * 3 * 4, 1), {2, 3, 4});
      auto y = from_values(normals(2 * 3, 2), {2, 3});
      y[4] = std::numeric_limits<double>::quiet_NaN();
      CHECK_THROWS_WITH_AS(da::etkf_analysis(ctx, E.view(), y.view(), obs), doctest::Contains("finite values"),
                           attractor::error);
      auto x = from_values(normals(2 * 3, 3), {2, 3});
      CHECK_THROWS_AS(da::var3d_analysis(ctx, x.view(), y.view(), obs, da::lorenz63_paper_b0<double>()),
                      attractor::error);
      CHECK_THROWS_AS(da::external_ensemble_update(ctx, x.view(), E.view(), y.view(), obs), attractor::error);
    }
    SUBCASE("fewer than 2 members") {
      auto E = from_values(normals(2 * 3, 1), {2, 3, 1});
      const auto y = from_values(normals(2 * 3, 2), {2, 3});
      CHECK_THROWS_WITH_AS(da::etkf_analysis(ctx, E.view(), y.view(), obs), doctest::Contains("at least 2 members"),
                           attractor::error);
      CHECK_THROWS_AS(da::etkf<double>(1), attractor::error);
      CHECK_THROWS_AS((da::enoi<double, da::static_b_source<double>>(
                          da::static_b_source<double>(da::lorenz63_paper_b0<double>(), 1.0), 1)),
                      attractor::error);
    }
    SUBCASE("mismatched sizes") {
      auto E = from_values(normals(2 * 4 * 5, 1), {2, 4, 5});  // 4 variables, the operator has 3
      const auto y = from_values(normals(2 * 3, 2), {2, 3});
      CHECK_THROWS_WITH_AS(da::etkf_analysis(ctx, E.view(), y.view(), obs), doctest::Contains("da::etkf_analysis"),
                           attractor::error);
      auto E3 = from_values(normals(2 * 3 * 5, 1), {2, 3, 5});
      const auto y_short = from_values(normals(2 * 2, 2), {2, 2});
      CHECK_THROWS_AS(da::etkf_analysis(ctx, E3.view(), y_short.view(), obs), attractor::error);
      const auto y3 = from_values(normals(3 * 3, 2), {3, 3});  // three experiments of observations for two
      CHECK_THROWS_AS(da::etkf_analysis(ctx, E3.view(), y3.view(), obs), attractor::error);
      const da::observation_model<double> obs4(da::obs_operator<double>::identity(4), 1.0);
      auto x4 = from_values(normals(2 * 4, 3), {2, 4});
      const auto y4 = from_values(normals(2 * 4, 2), {2, 4});
      CHECK_THROWS_WITH_AS(da::var3d_analysis(ctx, x4.view(), y4.view(), obs4, da::lorenz63_paper_b0<double>()),
                           doctest::Contains("B of size 4"), attractor::error);
      CHECK_THROWS_AS(da::obs_operator<double>::subset(3, {0, 3}), attractor::error);
      CHECK_THROWS_AS(da::observation_model<double>(da::obs_operator<double>::identity(3), 0.0), attractor::error);
      // The runner: an initial state with the wrong number of members, and a stored truth that is too short.
      twin_setup t;
      da::etkf<double> method(4);
      philox gen(1);
      const auto wrong = t.initial(5, 1);
      CHECK_THROWS_AS(
          da::run_twin(t.ctx, t.model, t.dt, method, obs, t.truth0.view(), wrong.view(), gen, t.options(1, 2)),
          attractor::error);
      const auto initial = t.initial(4, 1);
      tensor<double, cpu> short_truth({3, 20, 3});
      for (auto& v : short_truth) v = 1.0;
      CHECK_THROWS_WITH_AS(
          da::run_twin(t.ctx, t.model, t.dt, method, obs, short_truth.view(), initial.view(), gen, t.options(1, 2)),
          doctest::Contains("at least 31 states"), attractor::error);
    }
  }
}
