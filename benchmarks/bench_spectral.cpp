// The FFT primitive and the spectral SPDE steps on cpu: batched 32 x 32 real transforms (FFTW through
// backend/fft.hpp), the figure being transforms/s (a forward and an inverse count as two), and steps of the
// Allen-Cahn and Navier-Stokes steppers (systems/spectral/) on 128 members in double, the figure being member-steps/s.
// The peer is numpy (pocketfft: numpy.fft.rfft2 / irfft2 on the same batch, and the same Allen-Cahn scheme written
// with them), run beside this program by benchmarks/compare_numpy_spectral.py.
//
//   OMP_NUM_THREADS=2 ./bench_spectral --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cstddef>
#include <vector>

#include "attractor/backend/fft.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/spectral/allen_cahn.hpp"
#include "attractor/systems/spectral/navier_stokes.hpp"

namespace {

using attractor::context;
using attractor::cpu;

/// fft_forward then fft_inverse of `batch` fields of n x n.
template <class Scalar>
void BM_fft_round_trip(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  context<cpu> ctx;
  const attractor::fft_dims dims{n, n};
  std::vector<Scalar> x(batch * dims.real_size()), spectrum(2 * batch * dims.complex_size());
  attractor::philox gen(1);
  attractor::fill_normal(ctx, gen, x.data(), x.size());
  attractor::fft_forward(ctx, dims, batch, x.data(), spectrum.data());  // makes the plans
  for (auto _ : state) {
    attractor::fft_forward(ctx, dims, batch, x.data(), spectrum.data());
    attractor::fft_inverse(ctx, dims, batch, spectrum.data(), x.data());
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  state.counters["transforms/s"] =
      benchmark::Counter(static_cast<double>(2 * batch), benchmark::Counter::kIsIterationInvariantRate);
}

/// `steps` steps of a spectral stepper on `members` members from its initial states, in one advance call.
template <class Model>
void step_benchmark(benchmark::State& state, const Model& model, std::size_t steps) {
  const auto members = static_cast<std::size_t>(state.range(0));
  context<cpu> ctx;
  attractor::philox gen(1);
  attractor::tensor<double, cpu> states({model.dimension(), members});
  model.initial_states(ctx, states.view(), gen);
  model.advance(ctx, states.view(), steps, gen);  // plans and scratch
  for (auto _ : state) {
    model.advance(ctx, states.view(), steps, gen);
    benchmark::DoNotOptimize(states.data());
    benchmark::ClobberMemory();
  }
  state.counters["member-steps/s"] =
      benchmark::Counter(static_cast<double>(members * steps), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_allen_cahn_step(benchmark::State& state) {
  step_benchmark(state, attractor::systems::spectral::allen_cahn<double>(), 32);
}
void BM_navier_stokes_step(benchmark::State& state) {
  step_benchmark(state, attractor::systems::spectral::navier_stokes<double>(), 8);
}

}  // namespace

BENCHMARK(BM_allen_cahn_step)->ArgName("members")->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_navier_stokes_step)->ArgName("members")->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_fft_round_trip, double)->ArgNames({"n", "batch"})->Args({32, 128})->UseRealTime();
BENCHMARK_TEMPLATE(BM_fft_round_trip, float)->ArgNames({"n", "batch"})->Args({32, 128})->UseRealTime();

BENCHMARK_MAIN();
