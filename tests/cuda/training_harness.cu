// The cuda side of the training parity test (see training_fixture.hpp).
#include "attractor/cuda.cuh"
#include "harness.hpp"
#include "training_fixture.hpp"

namespace attractor_test {

void cuda_training_losses(bool per_tau, std::size_t batch, int steps, float* losses) {
  attractor::context<attractor::cuda> ctx;
  const auto result = training_losses(ctx, per_tau, batch, steps);
  for (int i = 0; i < steps; ++i) losses[i] = result[static_cast<std::size_t>(i)];
}

}  // namespace attractor_test
