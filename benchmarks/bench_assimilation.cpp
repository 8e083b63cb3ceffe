// Assimilation cycles per second on Lorenz-63 (spec §7, Table 5's setup): 16 experiments batched, sigma_o = 2,
// H = I, an analysis every 10 RK4 steps of dt = 0.01, double precision, through da::run_twin exactly as the example
// runs a Table 5 row (forecast of every member and of the truth, observations, analysis, scores by lead).
//
//   OMP_NUM_THREADS=2 ./bench_assimilation --benchmark_min_time=2
//
// Benchmarks: BM_<method>/threads:T/real_time for ETKF x 12 (rho 1.07), ETKF x 3 (rho 1.34), EnOI full and
// diagonal (50 members), 3D-Var, with T the context's thread count (all of OpenMP's threads, and 1). One iteration
// is a run of 2000 cycles; the figure is cycles/s (16 experiments advance together, so one cycle is 16 analyses).
// Target (issue 5): ETKF x 12 at >= 4430 cycles/s on 2 cores, 10x the PyTorch figure of 443 cycles/s, so that the
// 55,000 cycles of a Table 5 row take under 15 s. benchmarks/compare_pytorch_assimilation.py runs the same ETKF x 12
// cycle in PyTorch beside this program; results are in docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

#include "attractor/da.hpp"
#include "attractor/systems/lorenz63.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::tensor;
namespace da = attractor::da;
namespace systems = attractor::systems;

constexpr std::size_t experiments = 16;
constexpr std::size_t cycles_per_iteration = 2000;

/// Runs `method` for cycles_per_iteration cycles per iteration from climatological states.
template <class Method>
void run_cycles(benchmark::State& state, Method& method) {
  context<cpu> ctx(static_cast<int>(state.range(0)));
  const systems::lorenz63<double> model;
  const double dt = 0.01;
  philox setup(42);
  const auto truth = da::spun_up_states<systems::lorenz63<double>, double>(ctx, model, dt, experiments, 5000, setup,
                                                                           {0.0, 0.0, 25.0}, 5.0);
  const auto pool = da::spun_up_states<systems::lorenz63<double>, double>(
      ctx, model, dt, experiments * method.members(), 2000, setup, {0.0, 0.0, 25.0}, 5.0);
  const auto initial = da::draw_initial_states<double>(ctx, pool.view(), experiments, method.members(), setup);
  const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
  da::twin_options o;
  o.obs_every = 10;
  o.burn_in = 0;
  o.cycles = cycles_per_iteration;
  o.scale.assign(systems::lorenz63_climatology::std.begin(), systems::lorenz63_climatology::std.end());
  o.progress_every = 1000;
  philox gen(1);
  double analysis = 0;
  for (auto _ : state) {
    const auto r = da::run_twin(ctx, model, dt, method, obs, truth.view(), initial.view(), gen, o);
    analysis = r.analysis().mean;
    benchmark::DoNotOptimize(analysis);
  }
  state.counters["cycles/s"] =
      benchmark::Counter(double(cycles_per_iteration), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["analysis_nrmse"] = analysis;
}

void BM_etkf12(benchmark::State& state) {
  da::etkf<double> method(12, 1.07);
  run_cycles(state, method);
}
void BM_etkf3(benchmark::State& state) {
  da::etkf<double> method(3, 1.34);
  run_cycles(state, method);
}
void BM_enoi_full(benchmark::State& state) {
  da::enoi<double, da::static_b_source<double>> method(
      da::static_b_source<double>(da::lorenz63_paper_b0<double>(), 1.82), 50, "enoi-full");
  run_cycles(state, method);
}
void BM_enoi_diag(benchmark::State& state) {
  da::enoi<double, da::static_b_source<double>> method(
      da::static_b_source<double>(da::lorenz63_paper_b0<double>().diagonal_part(), 2.22), 50, "enoi-diag");
  run_cycles(state, method);
}
void BM_3dvar(benchmark::State& state) {
  da::var3d<double> method(da::lorenz63_paper_b0<double>(), 1.72);
  run_cycles(state, method);
}

void thread_counts(benchmark::internal::Benchmark* b) {
  b->ArgName("threads");
  const int all = context<cpu>().threads();  // every thread OpenMP offers
  b->Arg(all);
  if (all != 1) b->Arg(1);
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_etkf12)->Apply(thread_counts);
BENCHMARK(BM_etkf3)->Apply(thread_counts);
BENCHMARK(BM_enoi_full)->Apply(thread_counts);
BENCHMARK(BM_enoi_diag)->Apply(thread_counts);
BENCHMARK(BM_3dvar)->Apply(thread_counts);

BENCHMARK_MAIN();
