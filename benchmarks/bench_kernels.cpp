// Microbenchmarks of the cpu primitive kernels (GEMM, element-wise maps, reductions, segment sums) and of this
// machine's peak floating-point rate, so that every kernel can be read as a fraction of what the hardware does.
//
//   OMP_NUM_THREADS=2 ./bench_kernels --benchmark_min_time=0.2
//
// Figures: GEMM and the peak kernels report GFLOP/s (2 flop per multiply-add); memory-bound kernels report GB/s
// (10^9 bytes read plus bytes written, counting each array once per pass) and, for the maps, GFLOP/s; the console
// prints them with SI prefixes ("GFLOP/s=121G/s" is 121 GFLOP/s, "GB/s=24.4G/s" is 24.4 GB/s). Every benchmark
// runs on wall-clock time (UseRealTime) because the kernels are multithreaded. BM_bandwidth_* are plain OpenMP
// loops, not library kernels: the memory references for the GB/s figures. The method and the recorded results
// are in docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "attractor/backend/context.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/backend/segment_sum.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::shape;
using attractor::tensor;
using attractor::transpose;

constexpr std::size_t big_n = std::size_t{1} << 24;  // 2^24 elements: 64 MiB of float, well beyond the L3 cache

/// Deterministic uniform numbers in [-1, 1) from a 64-bit LCG: fast enough for 2^24-element arrays.
template <class T>
void fill_uniform(T* x, std::size_t n, std::uint64_t seed) {
  std::uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (std::size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = static_cast<T>(static_cast<double>(s >> 11) * (2.0 / 9007199254740992.0) - 1.0);
  }
}

/// Google Benchmark calls a benchmark function several times while it settles the iteration count; the arrays are
/// made once per (name, shape) and kept, so that setup and first-touch page faults stay out of every timed run.
template <class T>
tensor<T, cpu>& cached(const std::string& name, const shape& s, std::uint64_t seed) {
  static std::map<std::string, std::unique_ptr<tensor<T, cpu>>> pool;
  const std::string key = name + s.str();
  auto it = pool.find(key);
  if (it == pool.end()) {
    auto t = std::make_unique<tensor<T, cpu>>(s);
    fill_uniform(t->data(), t->size(), seed);
    it = pool.emplace(key, std::move(t)).first;
  }
  return *it->second;
}

context<cpu>& ctx() {
  static context<cpu> c;  // threads = OMP_NUM_THREADS or the core count
  return c;
}

/// A rate counter: `per_iteration` flop or bytes, divided by the wall-clock time; printed with SI prefixes
/// ("GFLOP/s=95.1G/s" reads 95.1 GFLOP/s), and in plain flop/s or bytes/s in the JSON output.
benchmark::Counter rate(double per_iteration) {
  return benchmark::Counter(per_iteration, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void set_gflops(benchmark::State& state, double flop) { state.counters["GFLOP/s"] = rate(flop); }
void set_gbytes(benchmark::State& state, double bytes) { state.counters["GB/s"] = rate(bytes); }

// ---------------------------------------------------------------------------------------------------------- GEMM

/// C (M x N) = A (M x K) * op(B), all row-major; op(B) = B (K x N) or, with TransB, Bᵀ for B stored N x K as a
/// linear layer's weight is (x Wᵀ).
template <class T, transpose TransB>
void run_gemm(benchmark::State& state, context<cpu>& c) {
  const auto m = static_cast<std::size_t>(state.range(0));
  const auto n = static_cast<std::size_t>(state.range(1));
  const auto k = static_cast<std::size_t>(state.range(2));
  const bool tb = TransB == transpose::yes;
  auto& a = cached<T>("gemm.a", shape{m, k}, 1);
  auto& b = cached<T>(tb ? "gemm.bt" : "gemm.b", tb ? shape{n, k} : shape{k, n}, 2);
  auto& out = cached<T>("gemm.c", shape{m, n}, 3);
  const std::size_t ldb = tb ? k : n;
  for (auto _ : state) {
    attractor::gemm(c, transpose::no, TransB, m, n, k, T(1), a.data(), k, b.data(), ldb, T(0), out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["threads"] = c.threads();
  set_gflops(state, 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k));
}

template <class T>
void BM_gemm(benchmark::State& state) {
  run_gemm<T, transpose::no>(state, ctx());
}

/// A · Bᵀ: the product a linear layer computes (x Wᵀ with W stored out_features x in_features).
template <class T>
void BM_gemm_nt(benchmark::State& state) {
  run_gemm<T, transpose::yes>(state, ctx());
}

/// The same product on one thread, to show how GEMM scales from one core to two.
template <class T>
void BM_gemm_1thread(benchmark::State& state) {
  context<cpu> one(1);
  run_gemm<T, transpose::no>(state, one);
}

/// `batch` independent products C_i (M x N) = A_i (M x K) B_i (K x N), as in attention or per-sample Jacobians.
template <class T>
void BM_gemm_strided_batched(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const auto m = static_cast<std::size_t>(state.range(1));
  const auto n = static_cast<std::size_t>(state.range(2));
  const auto k = static_cast<std::size_t>(state.range(3));
  auto& a = cached<T>("batched.a", shape{batch, m, k}, 4);
  auto& b = cached<T>("batched.b", shape{batch, k, n}, 5);
  auto& out = cached<T>("batched.c", shape{batch, m, n}, 6);
  for (auto _ : state) {
    attractor::gemm_strided_batched(ctx(), transpose::no, transpose::no, m, n, k, T(1), a.data(), k, m * k, b.data(), n,
                                    k * n, T(0), out.data(), n, m * n, batch);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * static_cast<double>(batch * m * n * k));
}

// ------------------------------------------------------------------------------------------- element-wise maps

/// out = alpha * x: one input, 1 flop per element.
template <class T>
void BM_map_scale(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& x = cached<T>("map.x", shape{n}, 7);
  auto& out = cached<T>("map.out", shape{n}, 8);
  for (auto _ : state) {
    attractor::map(ctx(), n, out.data(), attractor::ops::scale<T>{T(0.5)}, x.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_gbytes(state, 2.0 * static_cast<double>(n * sizeof(T)));
  set_gflops(state, 1.0 * static_cast<double>(n));
}

/// out = alpha * x + y: two inputs, 2 flop per element.
template <class T>
void BM_map_axpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& x = cached<T>("map.x", shape{n}, 7);
  auto& y = cached<T>("map.y", shape{n}, 9);
  auto& out = cached<T>("map.out", shape{n}, 8);
  for (auto _ : state) {
    attractor::map(ctx(), n, out.data(), attractor::ops::axpy<T>{T(0.5)}, x.data(), y.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_gbytes(state, 3.0 * static_cast<double>(n * sizeof(T)));
  set_gflops(state, 2.0 * static_cast<double>(n));
}

/// out = a * b + c: three inputs, 2 flop per element.
template <class T>
void BM_map_fma(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& x = cached<T>("map.x", shape{n}, 7);
  auto& y = cached<T>("map.y", shape{n}, 9);
  auto& z = cached<T>("map.z", shape{n}, 10);
  auto& out = cached<T>("map.out", shape{n}, 8);
  for (auto _ : state) {
    attractor::map(ctx(), n, out.data(), attractor::ops::fma{}, x.data(), y.data(), z.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_gbytes(state, 4.0 * static_cast<double>(n * sizeof(T)));
  set_gflops(state, 2.0 * static_cast<double>(n));
}

// ------------------------------------------------------------------------------------------------- reductions

/// sum, max or sum_squares over all elements (attractor::sum / max / sum_squares on a tensor).
template <class T, attractor::reduction Op>
void BM_reduce_all(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& x = cached<T>("reduce.x", shape{n}, 11);
  for (auto _ : state) {
    T r{};
    if constexpr (Op == attractor::reduction::sum) r = attractor::sum(ctx(), x);
    if constexpr (Op == attractor::reduction::max) r = attractor::max(ctx(), x);
    if constexpr (Op == attractor::reduction::sum_squares) r = attractor::sum_squares(ctx(), x);
    benchmark::DoNotOptimize(std::as_const(r));
  }
  set_gbytes(state, static_cast<double>(n * sizeof(T)));
}

template <class T>
void BM_sum(benchmark::State& state) {
  BM_reduce_all<T, attractor::reduction::sum>(state);
}
template <class T>
void BM_max(benchmark::State& state) {
  BM_reduce_all<T, attractor::reduction::max>(state);
}
template <class T>
void BM_sum_squares(benchmark::State& state) {
  BM_reduce_all<T, attractor::reduction::sum_squares>(state);
}

/// reduce_last_axis (reduce_rows) of a rows x cols array to rows values.
template <class T, attractor::reduction Op>
void BM_reduce_last_axis(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const auto cols = static_cast<std::size_t>(state.range(1));
  auto& x = cached<T>("rows.x", shape{rows, cols}, 12);
  auto& out = cached<T>("rows.out", shape{rows}, 13);
  for (auto _ : state) {
    attractor::reduce_last_axis(ctx(), Op, x, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_gbytes(state, static_cast<double>((rows * cols + rows) * sizeof(T)));
}

template <class T>
void BM_reduce_last_axis_sum(benchmark::State& state) {
  BM_reduce_last_axis<T, attractor::reduction::sum>(state);
}
template <class T>
void BM_reduce_last_axis_max(benchmark::State& state) {
  BM_reduce_last_axis<T, attractor::reduction::max>(state);
}
template <class T>
void BM_reduce_last_axis_sum_squares(benchmark::State& state) {
  BM_reduce_last_axis<T, attractor::reduction::sum_squares>(state);
}

// ------------------------------------------------------------------------------------------------ segment_sum

/// out[key[r], :] += x[r, :] for rows x cols into `segments` rows, random int32 keys: the gather of per-sample
/// gradients into per-diffusion-step sums.
template <class T>
void BM_segment_sum(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const auto cols = static_cast<std::size_t>(state.range(1));
  const auto segments = static_cast<std::size_t>(state.range(2));
  auto& x = cached<T>("segment.x", shape{rows, cols}, 14);
  auto& out = cached<T>("segment.out", shape{segments, cols}, 15);
  static std::map<std::size_t, tensor<std::int32_t, cpu>> key_pool;
  auto it = key_pool.find(rows * 1000003 + segments);
  if (it == key_pool.end()) {
    tensor<std::int32_t, cpu> keys(shape{rows});
    std::uint64_t s = 16;
    for (std::size_t r = 0; r < rows; ++r) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      keys[r] = static_cast<std::int32_t>((s >> 33) % segments);
    }
    it = key_pool.emplace(rows * 1000003 + segments, std::move(keys)).first;
  }
  const auto& keys = it->second;
  for (auto _ : state) {
    attractor::segment_sum(ctx(), keys, x, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_gbytes(state,
             static_cast<double>(rows * cols * sizeof(T) + rows * sizeof(std::int32_t) + segments * cols * sizeof(T)));
}

// ------------------------------------------------------------------------------------------- memory references

// Plain OpenMP loops, not library kernels: the memory bandwidth the element-wise kernels and reductions should be
// read against. Both split the array into one contiguous part per thread, as for_each_index does.

/// Reads n floats with 32 independent partial sums (four 8-wide vector chains), so the loop is bound by memory,
/// not by the latency of one add chain. n = 2^24 (64 MiB) streams from DRAM; n = 2^22 (16 MiB, the size of the
/// reduce_last_axis input) stays in the 32 MiB L3 cache.
void BM_bandwidth_read(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& x = cached<float>("bandwidth.x", shape{n}, 17);
  const float* p = x.data();
  const int threads = ctx().threads();
  for (auto _ : state) {
    double total = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : total)
    for (std::ptrdiff_t t = 0; t < threads; ++t) {
      const std::size_t begin = n * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
      const std::size_t end = n * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(threads);
      float acc[32] = {};
      std::size_t i = begin;
      for (; i + 32 <= end; i += 32) {
        for (int j = 0; j < 32; ++j) acc[j] += p[i + static_cast<std::size_t>(j)];
      }
      for (; i < end; ++i) acc[0] += p[i];
      for (float a : acc) total += static_cast<double>(a);
    }
    benchmark::DoNotOptimize(std::as_const(total));
  }
  set_gbytes(state, static_cast<double>(n * sizeof(float)));
}

/// Copies 2^24 floats with memcpy, one contiguous part per thread: the reference for a one-input map.
void BM_bandwidth_copy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& x = cached<float>("bandwidth.x", shape{n}, 17);
  auto& out = cached<float>("bandwidth.out", shape{n}, 18);
  const int threads = ctx().threads();
  for (auto _ : state) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::ptrdiff_t t = 0; t < threads; ++t) {
      const std::size_t begin = n * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
      const std::size_t end = n * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(threads);
      std::memcpy(out.data() + begin, x.data() + begin, (end - begin) * sizeof(float));
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_gbytes(state, 2.0 * static_cast<double>(n * sizeof(float)));
}

// ------------------------------------------------------------------------------------------------------- peak

// The peak kernel: per thread, `peak_chains` independent accumulators, each updated by one full-width (256-bit)
// FMA per loop trip: acc = acc * a + b. A Zen 2/3/4 core issues two 256-bit FMAs per cycle with a latency of 4 to
// 5 cycles, so at least 2 x 5 = 10 chains must be in flight to keep both pipes busy; 12 chains plus the two
// operands take 14 of the 16 ymm registers, so nothing spills (the loop is 12 register-to-register vfmadd and an
// increment-compare-branch). a < 1 and b > 0 keep every accumulator near b / (1 - a): no overflow, no
// subnormals. The operands and the trip count pass through empty asm statements, so the compiler can neither fold
// nor shorten the loop, and the accumulators are summed into the result, so it cannot drop it.
//
// The function is compiled for AVX2 + FMA whatever the flags of this file (target attribute), and run only where
// the CPU has them, so the peak is the hardware's even when the library itself is built without -march=native.
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define ATTRACTOR_BENCH_HAS_FMA_KERNEL 1
typedef float v8sf __attribute__((vector_size(32)));
typedef double v4df __attribute__((vector_size(32)));

constexpr int peak_chains = 12;

/// Runs `trips` trips of `peak_chains` FMAs on 256-bit vectors of S; returns a value that depends on all of them.
template <class S>
__attribute__((noinline, target("avx2,fma"))) double fma_chains(std::int64_t trips) {
  using V = std::conditional_t<std::is_same_v<S, float>, v8sf, v4df>;
  constexpr int lanes = sizeof(V) / sizeof(S);
  V a, b;
  for (int l = 0; l < lanes; ++l) {
    a[l] = S(0.999999);
    b[l] = S(1e-6);
  }
  V acc[peak_chains];
  for (int j = 0; j < peak_chains; ++j) {
    for (int l = 0; l < lanes; ++l) acc[j][l] = S(j + l) * S(0.01);
  }
  asm volatile("" : "+x"(a), "+x"(b), "+r"(trips));
  for (std::int64_t t = 0; t < trips; ++t) {
#pragma GCC unroll 12
    for (int j = 0; j < peak_chains; ++j) {
      if constexpr (std::is_same_v<S, float>) {
        acc[j] = _mm256_fmadd_ps(acc[j], a, b);
      } else {
        acc[j] = _mm256_fmadd_pd(acc[j], a, b);
      }
    }
  }
  V total = acc[0];
  for (int j = 1; j < peak_chains; ++j) total += acc[j];
  double r = 0;
  for (int l = 0; l < lanes; ++l) r += static_cast<double>(total[l]);
  return r;
}

/// `threads` threads each run fma_chains<S>; reports the aggregate GFLOP/s.
template <class S>
void run_peak(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    state.SkipWithError("this CPU has no AVX2 + FMA");
    return;
  }
  const int threads = static_cast<int>(state.range(0));
  constexpr int lanes = 32 / sizeof(S);
  const std::int64_t trips = std::int64_t{1} << 20;  // 25 M FMAs per thread: a few ms per iteration
  // `trips` is hidden from the optimiser inside fma_chains. Not with benchmark::DoNotOptimize here: its "+m,r"
  // constraint made GCC 12 drop the store of a local that is then shared into the OpenMP region, and the loop ran
  // for a stack address's worth of trips.
  std::vector<double> sink(static_cast<std::size_t>(threads));
  for (auto _ : state) {
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
    sink[static_cast<std::size_t>(omp_get_thread_num())] = fma_chains<S>(trips);
#else
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&sink, t, trips] { sink[static_cast<std::size_t>(t)] = fma_chains<S>(trips); });
    }
    for (auto& th : pool) th.join();
#endif
    benchmark::DoNotOptimize(sink.data());
    benchmark::ClobberMemory();
  }
  state.counters["chains"] = peak_chains;
  state.counters["lanes"] = lanes;
  set_gflops(state, 2.0 * lanes * peak_chains * static_cast<double>(trips) * threads);
}

void BM_peak_fma_f32(benchmark::State& state) { run_peak<float>(state); }
void BM_peak_fma_f64(benchmark::State& state) { run_peak<double>(state); }
#else
void BM_peak_fma_f32(benchmark::State& state) { state.SkipWithError("the FMA kernel needs GCC or Clang on x86"); }
void BM_peak_fma_f64(benchmark::State& state) { state.SkipWithError("the FMA kernel needs GCC or Clang on x86"); }
#endif

}  // namespace

// ------------------------------------------------------------------------------------------------ registration

BENCHMARK(BM_peak_fma_f32)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_peak_fma_f64)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The paper's denoising ResNet: batch 16384 (training) or 1000 (sampling), widths 256 and 512.
BENCHMARK_TEMPLATE(BM_gemm, float)
    ->ArgNames({"M", "N", "K"})
    ->Args({16384, 256, 256})
    ->Args({16384, 512, 512})
    ->Args({1000, 512, 512})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_gemm, double)
    ->ArgNames({"M", "N", "K"})
    ->Args({16384, 256, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_gemm_nt, float)
    ->ArgNames({"M", "N", "K"})
    ->Args({16384, 256, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_gemm_1thread, float)
    ->ArgNames({"M", "N", "K"})
    ->Args({16384, 512, 512})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_gemm_strided_batched, float)
    ->ArgNames({"batch", "M", "N", "K"})
    ->Args({64, 128, 64, 64})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_bandwidth_read)->ArgName("n")->Arg(big_n)->Arg(big_n / 4)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bandwidth_copy)->ArgName("n")->Arg(big_n)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_map_scale, float)->ArgName("n")->Arg(big_n)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_map_axpy, float)->ArgName("n")->Arg(big_n)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_map_fma, float)->ArgName("n")->Arg(big_n)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_TEMPLATE(BM_sum, float)->ArgName("n")->Arg(big_n)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_max, float)->ArgName("n")->Arg(big_n)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_sum_squares, float)->ArgName("n")->Arg(big_n)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_TEMPLATE(BM_reduce_last_axis_sum, float)
    ->ArgNames({"rows", "cols"})
    ->Args({16384, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_reduce_last_axis_max, float)
    ->ArgNames({"rows", "cols"})
    ->Args({16384, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_reduce_last_axis_sum_squares, float)
    ->ArgNames({"rows", "cols"})
    ->Args({16384, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_TEMPLATE(BM_segment_sum, float)
    ->ArgNames({"rows", "cols", "segments"})
    ->Args({16384, 512, 1000})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
