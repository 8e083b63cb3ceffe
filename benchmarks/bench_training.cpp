// One full training step of the paper's denoising network, nn::denoising_resnet<float, cpu> (1,185,283
// parameters): forward, MSE loss, backward and an Adam step at lr 3e-4, as a training loop runs it.
//
//   ./bench_training --benchmark_min_time=2
//
// The inputs are random noised states z ~ N(0, 1) and random targets; the diffusion-specific part of a real step
// (drawing x, eps and forming z and the velocity target) is not timed. The pseudo-times are uniform in 1..1000, one
// per sample, as in the paper: eight batches of them are drawn up front and cycled through, and set_time() runs
// inside the timed loop, because a real step calls it too (for per_tau it finds the batch's distinct times).
//
// Benchmarks: BM_training_step<conditioning::{per_sample,per_tau}>/batch:B/threads:T/real_time, with T the
// context's thread count (all of OpenMP's threads, and 1). The figure is samples/s (batch / wall-clock time per
// step). The method and the recorded results are in docs/benchmarks.md; benchmarks/compare_pytorch.py runs this
// program beside the same step in PyTorch.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/backend/context.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/random/philox.hpp"

#if ATTRACTOR_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::nn::conditioning;

constexpr std::size_t tau_batches = 8;
constexpr std::int32_t max_tau = 1000;

/// Everything one configuration needs, built once: the network, its graph with the MSE loss, Adam, the inputs and
/// eight batches of pseudo-times.
struct training_setup {
  using net_type = attractor::nn::denoising_resnet<float, cpu>;
  using graph_type = attractor::autograd::graph<float, cpu>;

  training_setup(std::size_t batch, conditioning mode, int threads)
      : ctx(threads),
        gen(2026),
        net(ctx, gen),
        g(ctx),
        pass(net.build(g, batch, mode)),
        target(g.input({batch, 3})),
        loss(attractor::autograd::mse(g, pass.output, target)),
        opt(ctx, net.parameters(), 3e-4) {
    attractor::fill_normal(ctx, gen, g.value_of(pass.input).data(), batch * 3);
    attractor::fill_normal(ctx, gen, g.value_of(target).data(), batch * 3);
    std::vector<double> u(batch);
    for (auto& taus : tau) {
      attractor::fill_uniform(ctx, gen, u.data(), batch);
      taus.resize(batch);
      for (std::size_t i = 0; i < batch; ++i)
        taus[i] = 1 + static_cast<std::int32_t>(u[i] * max_tau);  // u in (0, 1): 1..1000
    }
  }

  void step(std::size_t i) {
    net.set_time(g, pass, tau[i % tau_batches].data());
    g.forward();
    g.backward(loss);
    opt.step(ctx);
  }

  context<cpu> ctx;
  philox gen;
  net_type net;
  graph_type g;
  net_type::pass pass;
  attractor::autograd::value target, loss;
  attractor::nn::adam<float, cpu> opt;
  std::array<std::vector<std::int32_t>, tau_batches> tau;
};

/// Google Benchmark calls a benchmark function several times while it settles the iteration count; the setup is
/// built once per configuration and kept (only the latest, so that the large graphs do not pile up), and one
/// untimed step touches every buffer before the first timed one.
training_setup& setup_for(std::size_t batch, conditioning mode, int threads) {
  static std::unique_ptr<training_setup> current;
  static std::size_t current_batch = 0;
  static conditioning current_mode = conditioning::per_tau;
  static int current_threads = -1;
  if (!current || current_batch != batch || current_mode != mode || current_threads != threads) {
    current.reset();
    current = std::make_unique<training_setup>(batch, mode, threads);
    current_batch = batch;
    current_mode = mode;
    current_threads = threads;
    current->step(0);
  }
  return *current;
}

int all_threads() {
#if ATTRACTOR_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

template <conditioning Mode>
void BM_training_step(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const auto threads = static_cast<int>(state.range(1));
  training_setup& s = setup_for(batch, Mode, threads);
  std::size_t i = 0;
  for (auto _ : state) {
    s.step(++i);
    float* loss = s.g.value_of(s.loss).data();
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["loss"] = static_cast<double>(s.g.value_of(s.loss)[0]);
}

void configurations(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"});
  b->Args({16384, all_threads()});
  b->Args({2048, all_threads()});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

}  // namespace

BENCHMARK_TEMPLATE(BM_training_step, conditioning::per_sample)->Apply(configurations);
BENCHMARK_TEMPLATE(BM_training_step, conditioning::per_tau)->Apply(configurations)->Args({2048, 1});

BENCHMARK_MAIN();
