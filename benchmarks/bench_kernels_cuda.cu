// The cuda primitive kernels: cuBLAS GEMM at the paper network's sizes (FP32 and TF32), element-wise maps,
// reductions and segment_sum. Times come from CUDA events around each batch of iterations.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "attractor/cuda.cuh"
#include "attractor/random/philox.hpp"
#include "cuda_timing.cuh"

using namespace attractor;

namespace {

using attractor::cuda;  // CCCL declares a global namespace `cuda`; this declaration takes precedence over both

context<cuda>& gpu() {
  static context<cuda> ctx;
  return ctx;
}

/// Times `body` on the shared context (cuda_timing.cuh).
template <class Body>
void time_on_gpu(benchmark::State& state, Body body) {
  attractor_bench::time_on_gpu(state, gpu(), body);
}

template <class Scalar>
tensor<Scalar, cuda> random_tensor(const shape& s, std::uint64_t seed) {
  tensor<Scalar, cuda> t(s);
  philox gen(seed);
  fill_uniform(gpu(), gen, t.view(), Scalar(-1), Scalar(1));
  return t;
}

template <class Scalar>
void BM_gemm_cuda(benchmark::State& state) {
  const auto m = static_cast<std::size_t>(state.range(0)), n = static_cast<std::size_t>(state.range(1)),
             k = static_cast<std::size_t>(state.range(2));
  const bool tf32 = state.range(3) != 0;
  auto a = random_tensor<Scalar>({m, k}, 1), b = random_tensor<Scalar>({k, n}, 2);
  tensor<Scalar, cuda> c({m, n});
  gpu().allow_tf32(tf32);
  time_on_gpu(state, [&] { matmul(gpu(), a, b, c); });
  gpu().allow_tf32(false);
  state.counters["TFLOP/s"] =
      benchmark::Counter(2e-12 * double(m) * double(n) * double(k), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(tf32 ? "tf32" : "fp32");
}

void gemm_sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "tf32"});
  for (int tf32 : {0, 1}) {
    b->Args({16384, 256, 256, tf32});
    b->Args({16384, 512, 512, tf32});
    b->Args({1000, 512, 512, tf32});
  }
  b->UseManualTime();
}
BENCHMARK(BM_gemm_cuda<float>)->Apply(gemm_sizes);
BENCHMARK(BM_gemm_cuda<double>)->Args({16384, 256, 256, 0})->ArgNames({"M", "N", "K", "tf32"})->UseManualTime();

void BM_map_axpy_cuda(benchmark::State& state) {
  const std::size_t n = std::size_t{1} << 24;
  auto x = random_tensor<float>({n}, 3), y = random_tensor<float>({n}, 4);
  tensor<float, cuda> out({n});
  time_on_gpu(state, [&] { map(gpu(), out, ops::axpy<float>{2.0f}, x, y); });
  state.counters["GB/s"] =
      benchmark::Counter(1e-9 * 3.0 * sizeof(float) * double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_map_axpy_cuda)->UseManualTime();

void BM_sum_cuda(benchmark::State& state) {
  const std::size_t n = std::size_t{1} << 24;
  auto x = random_tensor<float>({n}, 5);
  time_on_gpu(state, [&] { benchmark::DoNotOptimize(sum(gpu(), x)); });
  state.counters["GB/s"] =
      benchmark::Counter(1e-9 * sizeof(float) * double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_sum_cuda)->UseManualTime();

void BM_reduce_rows_cuda(benchmark::State& state) {
  const std::size_t rows = 16384, cols = 256;
  auto x = random_tensor<float>({rows, cols}, 6);
  tensor<float, cuda> out({rows});
  time_on_gpu(state, [&] { reduce_last_axis(gpu(), reduction::sum, x, out); });
  state.counters["GB/s"] = benchmark::Counter(1e-9 * sizeof(float) * double(rows * (cols + 1)),
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_reduce_rows_cuda)->UseManualTime();

void BM_segment_sum_cuda(benchmark::State& state) {
  const std::size_t rows = 16384, cols = 512, segments = 1000;
  auto x = random_tensor<float>({rows, cols}, 7);
  std::vector<std::int32_t> host_keys(rows);
  for (std::size_t i = 0; i < rows; ++i) host_keys[i] = static_cast<std::int32_t>((i * 7919) % segments);
  tensor<std::int32_t, cuda> keys({rows});
  transfer<cpu, cuda>::run(gpu(), host_keys.data(), keys.data(), rows);
  tensor<float, cuda> out({segments, cols});
  time_on_gpu(state, [&] { segment_sum(gpu(), keys, x, out); });
  state.counters["GB/s"] = benchmark::Counter(1e-9 * sizeof(float) * double((rows + segments) * cols),
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_segment_sum_cuda)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
