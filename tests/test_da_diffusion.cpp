// Tests of the diffusion ensemble source: driven by the exact denoiser of a Gaussian climatology, the members drawn
// around a deterministic run must follow the closed form of partial diffusion (the posterior of x given a diffused
// copy of the run, averaged over the diffusion noise), in physical units; and bad arguments are refused.
#include <doctest/doctest.h>

#include "attractor/core/eigen.hpp"  // first: see there

#include <Eigen/Dense>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

#include "attractor/da/diffusion_source.hpp"
#include "attractor/systems/lorenz63.hpp"
#include "gaussian_denoiser.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::tensor;
namespace diffusion = attractor::diffusion;
namespace da = attractor::da;
using source_type = attractor::da::diffusion_source<double, float, cpu, attractor_test::gaussian_denoiser>;

attractor_test::gaussian_denoiser climatology() {
  attractor_test::gaussian_denoiser g{Eigen::Vector3d(0.2, -0.3, 0.1), Eigen::Matrix3d(),
                                      diffusion::noise_schedule::cosine(), diffusion::parameterisation::velocity};
  g.cov << 1.0, 0.6, 0.0, 0.6, 1.0, 0.2, 0.0, 0.2, 0.8;
  return g;
}

/// The paper's normalisation: the Lorenz-63 climatology.
attractor::da::normaliser lorenz63_normaliser() {
  using c = attractor::systems::lorenz63_climatology;
  return {c::mean, c::std};
}

}  // namespace

TEST_CASE("da: the diffusion source draws members from the closed form of partial diffusion") {
  context<cpu> ctx;
  auto model = climatology();
  diffusion::sampler<float, cpu, attractor_test::gaussian_denoiser> sampler(ctx, model, model.schedule, model.head);
  // k = 130 on a 1000-step DDPM grid: t = 130, the paper's pseudo-time (13 steps of its 100-step grid), with a fine
  // grid so that the sampler's discretisation error is far below the sampling error.
  source_type source(ctx, sampler, lorenz63_normaliser(), 130, 1000);
  CHECK(source.pseudo_time() == 130);
  const std::array<double, 3> mean{1.0, -2.0, 20.0}, sd{2.0, 3.0, 4.0};
  source_type scaled(ctx, sampler, da::normaliser(mean, sd), 130, 1000, diffusion::sampler_kind::ddpm);
  const std::size_t experiments = 2, N = 6000;
  tensor<double, cpu> x_det({experiments, 3});
  const double runs[2][3] = {{3.0, 1.0, 22.0}, {-1.0, -5.0, 16.0}};  // physical units
  for (std::size_t e = 0; e < experiments; ++e)
    for (std::size_t i = 0; i < 3; ++i) x_det[e * 3 + i] = runs[e][i];
  tensor<double, cpu> E({experiments, 3, N});
  philox gen(3);
  scaled(ctx, x_det.view(), E.view(), gen);

  // In normalised units u = (x - mean) / sd, with a = sqrt(alpha_bar_130), s = sigma_130 and K = a C (a^2 C + s^2)^-1:
  // members ~ mean mu + a K (u_det - mu), covariance (C - a K C) + s^2 K K^T.
  const double a = model.schedule.sqrt_alpha_bar(130), s = model.schedule.sigma(130);
  const Eigen::Matrix3d C = model.cov;
  const Eigen::Matrix3d K = a * C * (a * a * C + s * s * Eigen::Matrix3d::Identity()).inverse();
  const Eigen::Matrix3d expected_cov = C - a * K * C + s * s * K * K.transpose();
  for (std::size_t e = 0; e < experiments; ++e) {
    CAPTURE(e);
    Eigen::Vector3d u_det;
    for (int i = 0; i < 3; ++i)
      u_det[i] = (runs[e][i] - mean[static_cast<std::size_t>(i)]) / sd[static_cast<std::size_t>(i)];
    const Eigen::Vector3d expected_mean = model.mu + a * K * (u_det - model.mu);
    Eigen::Matrix<double, 3, Eigen::Dynamic> U(3, N);
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t m = 0; m < N; ++m)
        U(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(m)) = (E[(e * 3 + i) * N + m] - mean[i]) / sd[i];
    const Eigen::Vector3d got_mean = U.rowwise().mean();
    const Eigen::Matrix3d centred_cov =
        (U.colwise() - got_mean) * (U.colwise() - got_mean).transpose() / static_cast<double>(N - 1);
    // The members' spread is about 0.2 per variable: standard errors near 0.003 for the mean, 0.001 for the cov.
    for (int i = 0; i < 3; ++i) CHECK(std::abs(got_mean[i] - expected_mean[i]) < 0.015);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) CHECK(std::abs(centred_cov(i, j) - expected_cov(i, j)) < 0.006);
  }
}

TEST_CASE("da: the diffusion source refuses bad arguments") {
  context<cpu> ctx;
  auto model = climatology();
  diffusion::sampler<float, cpu, attractor_test::gaussian_denoiser> sampler(ctx, model, model.schedule, model.head);
  CHECK_THROWS_AS(source_type(ctx, sampler, lorenz63_normaliser(), 0, 100), attractor::error);
  CHECK_THROWS_AS(source_type(ctx, sampler, lorenz63_normaliser(), 101, 100), attractor::error);
  CHECK_THROWS_AS(source_type(ctx, sampler, lorenz63_normaliser(), 13, 0), attractor::error);
  CHECK_THROWS_WITH_AS(da::normaliser({0.0, 1.0}, {1.0}), doctest::Contains("as many of each"), attractor::error);
  CHECK_THROWS_WITH_AS(da::normaliser({0.0, 1.0}, {1.0, 0.0}), doctest::Contains("finite standard deviations > 0"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(da::normaliser({std::nan(""), 1.0}, {1.0, 1.0}), doctest::Contains("the means"),
                       attractor::error);
  CHECK_THROWS_AS(da::normaliser({}, {}), attractor::error);
  source_type source(ctx, sampler, lorenz63_normaliser(), 13, 100);
  CHECK(source.pseudo_time() == 130);
  philox gen(1);
  tensor<double, cpu> x_det({2, 3}), wrong({2, 2}), E({2, 3, 5}), E_wrong({3, 3, 5});
  CHECK_THROWS_AS(source(ctx, wrong.view(), E.view(), gen), attractor::error);
  CHECK_THROWS_AS(source(ctx, x_det.view(), E_wrong.view(), gen), attractor::error);
  x_det[1] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(source(ctx, x_det.view(), E.view(), gen), doctest::Contains("finite values in states"),
                       attractor::error);
}
