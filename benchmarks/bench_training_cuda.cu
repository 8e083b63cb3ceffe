// One full training step (forward, backward, Adam) of the paper's denoising_resnet on cuda, in samples per second,
// with per-sample and per-tau time conditioning. Times are CUDA-event times of whole steps, including set_time's
// host work and uploads.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "attractor/cuda.cuh"
#include "cuda_timing.cuh"

namespace {

using attractor::cuda;
using namespace attractor;

void BM_training_step_cuda(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const bool per_tau = state.range(1) != 0;
  context<cuda> ctx;
  philox init(1);
  nn::denoising_resnet<float, cuda> net(ctx, init);
  autograd::graph<float, cuda> g(ctx);
  const auto pass = net.build(g, batch, per_tau ? nn::conditioning::per_tau : nn::conditioning::per_sample);
  const auto target = g.input({batch, 3});
  const auto loss = autograd::mse(g, pass.output, target);
  nn::adam<float, cuda> opt(ctx, net.parameters(), 3e-4);
  philox data(2);
  fill_normal(ctx, data, g.value_of(pass.input));
  fill_normal(ctx, data, g.value_of(target));
  // A few batches of pseudo-times, cycled: set_time is part of every real step.
  context<cpu> host;
  std::vector<std::vector<std::int32_t>> taus(8, std::vector<std::int32_t>(batch));
  tensor<float, cpu> u({batch});
  for (auto& tau : taus) {
    fill_uniform(host, data, u);
    for (std::size_t i = 0; i < batch; ++i) tau[i] = 1 + static_cast<std::int32_t>(u[i] * 1000.0f) % 1000;
  }
  std::size_t k = 0;
  auto step = [&] {
    net.set_time(g, pass, taus[k++ % taus.size()].data());
    g.forward();
    g.backward(loss);
    opt.step(ctx);
  };
  for (int i = 0; i < 2; ++i) step();  // plus one more in time_on_gpu: three warm-up steps, as before
  attractor_bench::time_on_gpu(state, ctx, step);
  state.counters["samples/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(per_tau ? "per_tau" : "per_sample");
}
BENCHMARK(BM_training_step_cuda)
    ->ArgNames({"batch", "per_tau"})
    ->Args({16384, 0})
    ->Args({16384, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
