// Host-callable wrappers around the spectral systems on the cuda backend (tests/cuda/spectral_harness.cu), so the
// doctest suite, compiled by g++, can compare them with the cpu systems on the same inputs. Every function takes and
// returns host arrays.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attractor_test {

enum class spectral_system { ornstein_uhlenbeck, allen_cahn, navier_stokes };

/// Advances `states` (dimension x members, one member per column, on the host) by `steps` steps of the system with
/// its default parameters on a grid of n, with philox(seed), on the GPU, in place.
template <class Scalar>
void cuda_spectral_advance(spectral_system system, std::size_t n, Scalar* states, std::size_t members,
                           std::size_t steps, std::uint64_t seed);

/// The system's analytic score (Ornstein-Uhlenbeck or Allen-Cahn, default parameters on a grid of n) of `fields`
/// (batch x n^2) into `out` (batch x n^2), on the GPU.
template <class Scalar>
void cuda_spectral_score(spectral_system system, std::size_t n, const Scalar* fields, std::size_t batch, Scalar* out);

/// The system's initial_states (Allen-Cahn or Navier-Stokes) from philox(seed) into `states` (dimension x members),
/// on the GPU.
template <class Scalar>
void cuda_spectral_initial_states(spectral_system system, std::size_t n, Scalar* states, std::size_t members,
                                  std::uint64_t seed);

}  // namespace attractor_test
