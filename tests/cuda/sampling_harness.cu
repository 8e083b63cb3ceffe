// The cuda side of the sampler and diffusion-source parity tests (see sampling_fixture.hpp).
#include <algorithm>

#include "attractor/cuda.cuh"
#include "harness.hpp"
#include "sampling_fixture.hpp"

namespace attractor_test {

void cuda_sampled_states(std::size_t samples, float* out) {
  attractor::context<attractor::cuda> ctx;
  const auto result = sampled_states(ctx, samples);
  std::copy(result.begin(), result.end(), out);
}

void cuda_diffusion_members(std::size_t experiments, std::size_t members, double* out) {
  attractor::context<attractor::cuda> ctx;
  const auto result = diffusion_members(ctx, experiments, members);
  std::copy(result.begin(), result.end(), out);
}

}  // namespace attractor_test
