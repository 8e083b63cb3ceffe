// The same seed gives the same first training losses of the paper's network on cuda as on cpu, to float
// tolerance, in both time-conditioning modes.
#include <doctest/doctest.h>

#include <vector>

#include "cuda/harness.hpp"
#include "tolerance.hpp"
#include "training_fixture.hpp"

TEST_CASE("cuda training steps reproduce the cpu losses") {
  for (bool per_tau : {false, true}) {
    attractor::context<attractor::cpu> host;
    const int steps = 5;
    const auto expected = attractor_test::training_losses(host, per_tau, 2048, steps);
    std::vector<float> gpu(steps);
    attractor_test::cuda_training_losses(per_tau, 2048, steps, gpu.data());
    for (int s = 0; s < steps; ++s) {
      INFO("per_tau=", per_tau, " step ", s, ": cpu ", expected[s], ", cuda ", gpu[s]);
      // Losses of about 1.1 to 1.2 (cpu): relative 2e-4 is the tolerance the check had as Approx(...).epsilon(1e-4);
      // not tightened without a GPU to measure the difference on.
      CHECK(gpu[s] == attractor_test::relative(expected[s], 2e-4));
    }
    CHECK(expected.back() < expected.front());  // it learns
  }
}
