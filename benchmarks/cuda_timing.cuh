// Timing for the CUDA benchmarks: CUDA events around each iteration on the context's stream, reported to Google
// Benchmark as manual time (use ->UseManualTime()).
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include "attractor/backend/cuda/check.cuh"
#include "attractor/backend/cuda/context.cuh"

namespace attractor_bench {

/// Runs `body` once to warm up, then times each iteration.
template <class Body>
void time_on_gpu(benchmark::State& state, attractor::context<attractor::cuda>& ctx, Body body) {
  body();
  ctx.synchronize();
  cudaEvent_t start, stop;
  ATTRACTOR_CUDA_CHECK(cudaEventCreate(&start));
  ATTRACTOR_CUDA_CHECK(cudaEventCreate(&stop));
  for (auto _ : state) {
    ATTRACTOR_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
    body();
    ATTRACTOR_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
    ATTRACTOR_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    ATTRACTOR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms / 1e3);
  }
  ATTRACTOR_CUDA_CHECK(cudaEventDestroy(start));
  ATTRACTOR_CUDA_CHECK(cudaEventDestroy(stop));
}

}  // namespace attractor_bench
