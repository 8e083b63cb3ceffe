// Transfer-learning throughput (spec §6): the frozen denoising network of the paper (hidden 256, 3 blocks, untrained:
// the cost does not depend on the weights) as a feature map, and roll-outs of surrogates built on it.
//
//   ./bench_transfer --benchmark_min_time=2
//
// BM_features/taus:N runs transfer_learning::backbone_features on 16384 states at N pseudo-times (1: tau400, 2:
// [50, 400], 6: [0, 50, 100, 200, 400, 600]); the figure is states/s (each state gets N x 256 features).
// BM_rollout_linear/taus:N rolls x + g(x) out for 10 iterations from 16384 starts with g a ridge head on the N-tau
// features; BM_rollout_mlp/taus:N with the MLP head (F -> 256 -> 3). Their figure is states/s, starts x iterations
// per second. benchmarks/compare_pytorch_transfer.py runs this program beside the same computations in PyTorch.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "attractor/random/philox.hpp"
#include "attractor/transfer.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::shape;
using attractor::tensor;
namespace tl = attractor::transfer_learning;

constexpr std::size_t states = 16384, iterations = 10;

std::vector<std::size_t> taus_for(std::size_t n) {
  if (n == 1) return {400};
  if (n == 2) return {50, 400};
  return tl::six_taus();
}

struct setup {
  explicit setup(std::size_t n_tau)
      : gen(2026),
        net(ctx, gen),
        features(ctx, net, taus_for(n_tau)),
        x({states, 3}),
        phi({states, features.outputs()}) {
    attractor::fill_normal(ctx, gen, x.view());
  }
  context<cpu> ctx;
  philox gen;
  attractor::nn::denoising_resnet<float, cpu> net;
  tl::backbone_features<float, cpu> features;
  tensor<float, cpu> x, phi;
};

tl::ridge_solution<float, cpu> random_ridge(context<cpu>& ctx, std::size_t f) {
  using matrix = tl::ridge_solution<float, cpu>::matrix;
  using vector = tl::ridge_solution<float, cpu>::vector;
  // Small weights keep the roll-out bounded; the cost does not depend on them.
  return tl::ridge_solution<float, cpu>(ctx, vector::Zero(Eigen::Index(f)), vector::Ones(Eigen::Index(f)),
                                        matrix::Random(Eigen::Index(f), 3) * 1e-4, vector::Zero(3), 1e-4, 1);
}

void BM_features(benchmark::State& state) {
  setup s(static_cast<std::size_t>(state.range(0)));
  s.features.apply(s.ctx, s.x.view(), s.phi.view());  // touches every buffer
  for (auto _ : state) {
    s.features.apply(s.ctx, s.x.view(), s.phi.view());
    benchmark::DoNotOptimize(s.phi.data());
    benchmark::ClobberMemory();
  }
  state.counters["states/s"] = benchmark::Counter(
      static_cast<double>(states), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

template <class Head>
void rollout_loop(benchmark::State& state, setup& s, Head& head) {
  tl::chained<float, cpu, tl::backbone_features<float, cpu>, Head> g(s.features, head);
  tensor<float, cpu> x({states, 3}), increment({states, 3});
  const auto run = [&] {
    attractor::copy(s.ctx, attractor::const_tensor_view<float, cpu>(s.x.view()), x.view());
    tl::rollout(s.ctx, g, x.view(), iterations, increment.view(), [](std::size_t, auto) {});
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  state.counters["states/s"] =
      benchmark::Counter(static_cast<double>(states * iterations), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

void BM_rollout_linear(benchmark::State& state) {
  setup s(static_cast<std::size_t>(state.range(0)));
  auto head = random_ridge(s.ctx, s.features.outputs());
  rollout_loop(state, s, head);
}

void BM_rollout_mlp(benchmark::State& state) {
  setup s(static_cast<std::size_t>(state.range(0)));
  philox gen(7);
  tl::mlp_head<float, cpu> module(s.ctx, gen, {s.features.outputs(), 256, 3});
  tl::network_map<float, cpu, tl::mlp_head<float, cpu>> head(s.ctx, module);
  rollout_loop(state, s, head);
}

}  // namespace

BENCHMARK(BM_features)->ArgName("taus")->Arg(1)->Arg(6)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_rollout_linear)->ArgName("taus")->Arg(1)->Arg(6)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_rollout_mlp)->ArgName("taus")->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
