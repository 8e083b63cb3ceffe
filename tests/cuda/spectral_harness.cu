// Host-callable wrappers around the spectral systems on cuda (declared in spectral_harness.hpp): the same generic
// steppers the cpu tests run, on context<device>, with their inputs and outputs copied to and from the host.
#include <cstddef>
#include <cstdint>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/copy.cuh"
#include "attractor/backend/cuda/fft.cuh"
#include "attractor/backend/cuda/for_each.cuh"
#include "attractor/backend/cuda/memory.cuh"
#include "attractor/backend/cuda/reduce.cuh"
#include "attractor/systems/spectral.hpp"
#include "attractor/tensor/tensor.hpp"
#include "spectral_harness.hpp"

namespace {

using host = attractor::cpu;
using device = attractor::cuda;  // plain `cuda` would be ambiguous with CUDA's own namespace
namespace spectral = attractor::systems::spectral;

/// Calls f with the system of that kind, default parameters on a grid of n.
template <class Scalar, class F>
void with_system(attractor_test::spectral_system system, std::size_t n, F f) {
  switch (system) {
    case attractor_test::spectral_system::ornstein_uhlenbeck: {
      spectral::ornstein_uhlenbeck_parameters p;
      p.n = n;
      f(spectral::ornstein_uhlenbeck<Scalar, device>(p));
      return;
    }
    case attractor_test::spectral_system::allen_cahn: {
      spectral::allen_cahn_parameters p;
      p.n = n;
      f(spectral::allen_cahn<Scalar, device>(p));
      return;
    }
    case attractor_test::spectral_system::navier_stokes: {
      spectral::navier_stokes_parameters p;
      p.n = n;
      f(spectral::navier_stokes<Scalar, device>(p));
      return;
    }
  }
}

}  // namespace

namespace attractor_test {

template <class Scalar>
void cuda_spectral_advance(spectral_system system, std::size_t n, Scalar* states, std::size_t members,
                           std::size_t steps, std::uint64_t seed) {
  with_system<Scalar>(system, n, [&](const auto& model) {
    attractor::context<device> ctx;
    const std::size_t d = model.dimension();
    attractor::tensor<Scalar, device> E(attractor::shape{d, members});
    attractor::transfer<host, device>::run(ctx, states, E.data(), E.size());
    attractor::philox gen(seed);
    model.advance(ctx, E.view(), steps, gen);
    attractor::transfer<device, host>::run(ctx, E.data(), states, E.size());
  });
}

template <class Scalar>
void cuda_spectral_score(spectral_system system, std::size_t n, const Scalar* fields, std::size_t batch, Scalar* out) {
  with_system<Scalar>(system, n, [&](const auto& model) {
    if constexpr (requires(attractor::context<device> & c, attractor::tensor<Scalar, device> & t) {
                    model.score(c, t.view(), t.view());
                  }) {
      attractor::context<device> ctx;
      attractor::tensor<Scalar, device> x(attractor::shape{batch, n * n}), s(attractor::shape{batch, n * n});
      attractor::transfer<host, device>::run(ctx, fields, x.data(), x.size());
      model.score(ctx, x.view(), s.view());
      attractor::transfer<device, host>::run(ctx, s.data(), out, s.size());
    } else {
      throw attractor::error("cuda_spectral_score: the system has no score");
    }
  });
}

template <class Scalar>
void cuda_spectral_initial_states(spectral_system system, std::size_t n, Scalar* states, std::size_t members,
                                  std::uint64_t seed) {
  with_system<Scalar>(system, n, [&](const auto& model) {
    if constexpr (requires(attractor::context<device> & c, attractor::tensor<Scalar, device> & t,
                           attractor::philox & g) { model.initial_states(c, t.view(), g); }) {
      attractor::context<device> ctx;
      attractor::tensor<Scalar, device> E(attractor::shape{model.dimension(), members});
      attractor::philox gen(seed);
      model.initial_states(ctx, E.view(), gen);
      attractor::transfer<device, host>::run(ctx, E.data(), states, E.size());
    } else {
      throw attractor::error("cuda_spectral_initial_states: the system has no initial_states");
    }
  });
}

#define ATTRACTOR_SPECTRAL_HARNESS(Scalar)                                                                      \
  template void cuda_spectral_advance<Scalar>(spectral_system, std::size_t, Scalar*, std::size_t, std::size_t,  \
                                              std::uint64_t);                                                   \
  template void cuda_spectral_score<Scalar>(spectral_system, std::size_t, const Scalar*, std::size_t, Scalar*); \
  template void cuda_spectral_initial_states<Scalar>(spectral_system, std::size_t, Scalar*, std::size_t, std::uint64_t);
ATTRACTOR_SPECTRAL_HARNESS(float)
ATTRACTOR_SPECTRAL_HARNESS(double)
#undef ATTRACTOR_SPECTRAL_HARNESS

}  // namespace attractor_test
