// One full training step of the periodic U-Net of the response paper, nn::unet<float, cuda>, as bench_unet.cpp times
// it on cpu (benchmarks/unet_step.hpp: the batch drawn by the VE SDE score-matching objective, forward, backward,
// clipping to norm 1, Adam at lr 2e-4, EMA 0.999), in samples per second. Times are CUDA-event times of whole steps,
// the batch's host work and uploads included.
//
//   ./bench_unet_cuda --benchmark_min_time=1
//
// BM_unet_step_cuda/<config>/batch:B/tf32:0|1, config allen_cahn (the paper's) or small, B = 128 (the cpu
// comparison's batch) and 1024. benchmarks/compare_pytorch_unet.py --device cuda runs it beside PyTorch on the same
// GPU.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

#include "attractor/cuda.cuh"
#include "cuda_timing.cuh"
#include "unet_step.hpp"

namespace {

using attractor::context;
using attractor::cuda;

void BM_unet_step_cuda(benchmark::State& state, const std::string& name, std::size_t batch, bool tf32) {
  context<cuda> ctx;
  ctx.allow_tf32(tf32);
  attractor_bench::unet_step<cuda> step(ctx, attractor_bench::unet_config(name), batch);
  std::size_t i = 0;
  step(i++);  // touches every buffer; time_on_gpu warms up once more
  attractor_bench::time_on_gpu(state, ctx, [&] { step(i++); });
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["parameters"] = static_cast<double>(attractor::nn::parameter_count(step.params));
}

void register_all() {
  for (const std::string name : {"allen_cahn", "small"})
    for (const std::size_t batch : {128, 1024})
      for (const bool tf32 : {false, true})
        benchmark::RegisterBenchmark(
            ("BM_unet_step_cuda/" + name + "/batch:" + std::to_string(batch) + "/tf32:" + std::to_string(tf32 ? 1 : 0))
                .c_str(),
            BM_unet_step_cuda, name, batch, tf32)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
}

// Registered before main, as the BENCHMARK macros register theirs, so that BENCHMARK_MAIN runs them.
const bool registered = (register_all(), true);

}  // namespace

BENCHMARK_MAIN();
