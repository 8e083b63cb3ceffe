// Sampling throughput of the paper's denoising network: DDIM (eta 0) and DDPM steps of diffusion::sampler on
// chunks of 16384 states, nn::denoising_resnet<float, cpu> with its default 1,185,283 parameters (untrained: the
// cost of a step does not depend on the weights).
//
//   ./bench_sampling --benchmark_min_time=2
//
// Each iteration samples one chunk with 10 sampler steps from the prior: the figure is sample-steps/s, i.e. how
// many (state, step) pairs per second; 1e6 samples x 1000 steps is 1e9 of them. benchmarks/compare_pytorch_sampling.py
// runs this program beside the same sampler in PyTorch eager.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <memory>

#include "attractor/diffusion/network_denoiser.hpp"
#include "attractor/random/philox.hpp"

#if ATTRACTOR_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
namespace diffusion = attractor::diffusion;

constexpr std::size_t sampler_steps = 10;

struct sampling_setup {
  explicit sampling_setup(std::size_t chunk)
      : gen(2026),
        net(ctx, gen),
        sampler(ctx, net, diffusion::noise_schedule::cosine(), diffusion::parameterisation::velocity, chunk),
        x({chunk, 3}) {}
  context<cpu> ctx;
  philox gen;
  attractor::nn::denoising_resnet<float, cpu> net;
  diffusion::sampler<float, cpu> sampler;
  attractor::tensor<float, cpu> x;
};

template <diffusion::sampler_kind Kind>
void BM_sampling(benchmark::State& state) {
  const auto chunk = static_cast<std::size_t>(state.range(0));
  static std::unique_ptr<sampling_setup> s;
  if (!s || s->x.extent(0) != chunk) {
    s.reset();
    s = std::make_unique<sampling_setup>(chunk);
    s->sampler.sample(s->gen, s->x.view(), {Kind, sampler_steps, 0.0});  // builds the graph, touches every buffer
  }
  for (auto _ : state) {
    s->sampler.sample(s->gen, s->x.view(), {Kind, sampler_steps, 0.0});
    benchmark::DoNotOptimize(s->x.data());
    benchmark::ClobberMemory();
  }
  state.counters["sample-steps/s"] =
      benchmark::Counter(static_cast<double>(chunk * sampler_steps), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

}  // namespace

BENCHMARK_TEMPLATE(BM_sampling, diffusion::sampler_kind::ddim)
    ->ArgName("chunk")
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_sampling, diffusion::sampler_kind::ddpm)
    ->ArgName("chunk")
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
