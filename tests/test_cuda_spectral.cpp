// The spectral systems on cuda against cpu, on the same inputs and generator: initial states, a few steps of each
// system, and the analytic scores agree to rounding (the normal draws differ in the last ulps between host and device
// libm, and cuFFT and FFTW sum in different orders, so not bit for bit).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "attractor/systems/spectral.hpp"
#include "cuda/spectral_harness.hpp"

namespace {

using attractor_test::spectral_system;
namespace spectral = attractor::systems::spectral;

/// The largest |a - b| over the largest |b|.
template <class Scalar>
double relative_difference(const std::vector<Scalar>& a, const std::vector<Scalar>& b) {
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return worst / scale;
}

/// Runs the cpu system of that kind, default parameters on a grid of n, from the same states and seed.
template <class Scalar>
void cpu_advance(spectral_system system, std::size_t n, std::vector<Scalar>& states, std::size_t members,
                 std::size_t steps, std::uint64_t seed) {
  attractor::context<attractor::cpu> ctx(1);
  attractor::philox gen(seed);
  auto run = [&](const auto& model) {
    attractor::tensor_view<Scalar, attractor::cpu> E(states.data(), attractor::shape{model.dimension(), members});
    model.advance(ctx, E, steps, gen);
  };
  if (system == spectral_system::ornstein_uhlenbeck) {
    spectral::ornstein_uhlenbeck_parameters p;
    p.n = n;
    run(spectral::ornstein_uhlenbeck<Scalar>(p));
  } else if (system == spectral_system::allen_cahn) {
    spectral::allen_cahn_parameters p;
    p.n = n;
    run(spectral::allen_cahn<Scalar>(p));
  } else {
    spectral::navier_stokes_parameters p;
    p.n = n;
    run(spectral::navier_stokes<Scalar>(p));
  }
}

}  // namespace

TEST_CASE_TEMPLATE("cuda spectral systems match cpu on the same inputs", Scalar, float, double) {
  const double tol = std::is_same_v<Scalar, float> ? 1e-4 : 1e-11;
  const std::size_t n = 32, members = 6;
  attractor::context<attractor::cpu> host(1);

  // Initial states: Allen-Cahn (smoothed normals over their maximum), Navier-Stokes (sin 3x sin 3y and phases).
  const spectral::allen_cahn<Scalar> ac;
  const spectral::navier_stokes<Scalar> ns;
  std::vector<Scalar> ac_cpu(ac.dimension() * members), ac_gpu(ac_cpu.size());
  std::vector<Scalar> ns_cpu(ns.dimension() * members), ns_gpu(ns_cpu.size());
  {
    attractor::philox gen(17);
    ac.initial_states(host, attractor::tensor_view<Scalar, attractor::cpu>(ac_cpu.data(), {ac.dimension(), members}),
                      gen);
    attractor::philox gen2(18);
    ns.initial_states(host, attractor::tensor_view<Scalar, attractor::cpu>(ns_cpu.data(), {ns.dimension(), members}),
                      gen2);
  }
  attractor_test::cuda_spectral_initial_states(spectral_system::allen_cahn, n, ac_gpu.data(), members, 17);
  attractor_test::cuda_spectral_initial_states(spectral_system::navier_stokes, n, ns_gpu.data(), members, 18);
  CHECK(relative_difference(ac_gpu, ac_cpu) <= tol);
  CHECK(relative_difference(ns_gpu, ns_cpu) <= tol);

  // A few steps of each system from the same states with the same generator.
  struct run {
    spectral_system system;
    std::vector<Scalar>* states;
    std::size_t steps;
  };
  std::vector<Scalar> ou_states(n * n * members);
  for (std::size_t i = 0; i < ou_states.size(); ++i) ou_states[i] = Scalar(0.1 * std::sin(0.37 * double(i)));
  for (const run& r :
       {run{spectral_system::ornstein_uhlenbeck, &ou_states, 10}, run{spectral_system::allen_cahn, &ac_cpu, 10},
        run{spectral_system::navier_stokes, &ns_cpu, 5}}) {
    CAPTURE(static_cast<int>(r.system));
    std::vector<Scalar> on_cpu = *r.states, on_gpu = *r.states;
    cpu_advance(r.system, n, on_cpu, members, r.steps, 99);
    attractor_test::cuda_spectral_advance(r.system, n, on_gpu.data(), members, r.steps, 99);
    CHECK(relative_difference(on_gpu, on_cpu) <= tol);
  }

  // The analytic scores of the Allen-Cahn fields (rows: the transposed states).
  std::vector<Scalar> fields(members * n * n), s_cpu(fields.size()), s_gpu(fields.size());
  for (std::size_t b = 0; b < members; ++b)
    for (std::size_t p = 0; p < n * n; ++p) fields[b * n * n + p] = ac_cpu[p * members + b];
  for (const spectral_system system : {spectral_system::ornstein_uhlenbeck, spectral_system::allen_cahn}) {
    CAPTURE(static_cast<int>(system));
    const attractor::tensor_view<const Scalar, attractor::cpu> x(fields.data(), {members, n * n});
    const attractor::tensor_view<Scalar, attractor::cpu> out(s_cpu.data(), {members, n * n});
    if (system == spectral_system::ornstein_uhlenbeck) {
      spectral::ornstein_uhlenbeck<Scalar>().score(host, x, out);
    } else {
      ac.score(host, x, out);
    }
    attractor_test::cuda_spectral_score(system, n, fields.data(), members, s_gpu.data());
    CHECK(relative_difference(s_gpu, s_cpu) <= tol);
  }
}
