// The same seeds give the same DDIM and DDPM samples, and the same diffusion ensemble for data assimilation, on cuda
// as on cpu, to float tolerance (the normals agree to 2.5 ulp and the GEMMs sum in other orders).
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include "cuda/harness.hpp"
#include "sampling_fixture.hpp"

TEST_CASE("cuda samplers reproduce the cpu samples") {
  attractor::context<attractor::cpu> host;
  const std::size_t samples = 4096;
  const auto expected = attractor_test::sampled_states(host, samples);
  std::vector<float> gpu(expected.size());
  attractor_test::cuda_sampled_states(samples, gpu.data());
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    REQUIRE(std::isfinite(gpu[i]));
    worst = std::fmax(worst, std::fabs(double(gpu[i]) - double(expected[i])) / (1.0 + std::fabs(double(expected[i]))));
  }
  INFO("largest relative difference ", worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("cuda diffusion ensembles reproduce the cpu ensembles") {
  attractor::context<attractor::cpu> host;
  const std::size_t experiments = 16, members = 50;
  const auto expected = attractor_test::diffusion_members(host, experiments, members);
  std::vector<double> gpu(expected.size());
  attractor_test::cuda_diffusion_members(experiments, members, gpu.data());
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    REQUIRE(std::isfinite(gpu[i]));
    worst = std::fmax(worst, std::fabs(gpu[i] - expected[i]) / (1.0 + std::fabs(expected[i])));
  }
  INFO("largest relative difference ", worst);
  CHECK(worst < 1e-4);
  // The members spread around their runs: the comparison is not of constants.
  double spread = 0;
  for (std::size_t m = 1; m < members; ++m) spread = std::fmax(spread, std::fabs(expected[m] - expected[0]));
  CHECK(spread > 0.01);
}
