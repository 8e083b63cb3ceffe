// One full training step of the periodic U-Net of the response paper, nn::unet<float, cpu>, under the VE SDE
// denoising score-matching objective, as nn::fit takes it: draw the batch (x_t = x0 + sigma(t) z, t ~ U(1e-5, 1)),
// forward, backward, clipping of the global gradient norm to 1, Adam at lr 2e-4, EMA 0.999 of the weights.
//
//   ./bench_unet --benchmark_min_time=2
//
// Configurations (fields 1 x 32 x 32, batch 128, diffusion::ve_sde's default sigma_max = 14):
//   allen_cahn  unet_options{} (channels 32, 64, 128, 256, 8 residual blocks, embedding 256), the paper's;
//   small       channels 16, 32, 64, 2 residual blocks, embedding 64: the cpu default of examples/response_spde.
//
// BM_unet_step/<config>/batch:128/threads:T: the figure is samples/s (batch / wall-clock time per step); "conv
// GFLOP/s" divides the convolutions' FLOPs of one step (computed analytically, below) by the whole step's time.
// BM_conv2d/<config>/<layer>: the forward and backward of one autograd::conv2d of each distinct convolution shape
// of the network, alone in a graph, at batch 128; "GFLOP/s" is its rate and "per step" how many convolutions of
// that shape one step of the network runs, so that sum(per step x time) / step time is the convolutions' share of
// the step. FLOPs count 2 per multiply-add: forward 2 N O C k^2 Ho Wo, the same again for dW, and again for dx
// where the input needs a gradient (all but the first convolution, which reads the network's input).
//
// T is the context's thread count (all of OpenMP's threads: set OMP_NUM_THREADS). The method and the results are
// in docs/benchmarks.md; benchmarks/compare_pytorch_unet.py runs this program beside the same step in PyTorch and
// JAX.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/conv.hpp"
#include "attractor/backend/context.hpp"
#include "attractor/nn/conv2d.hpp"
#include "attractor/nn/unet.hpp"
#include "attractor/random/philox.hpp"
#include "unet_step.hpp"

#if ATTRACTOR_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::nn::unet_options;

constexpr std::size_t batch = 128;

unet_options config(const std::string& name) { return attractor_bench::unet_config(name); }

/// One convolution of the network: in -> out channels on an input of side x side, stride, bias, and whether its
/// input needs a gradient.
struct conv_shape {
  std::size_t in, out, side, stride;
  bool bias, input_grad;
  std::string layer;
  [[nodiscard]] auto key() const { return std::make_tuple(in, out, side, stride, bias, input_grad); }
  /// FLOPs of the forward and backward pass at `n` samples (2 per multiply-add).
  [[nodiscard]] double flops(std::size_t n, std::size_t k) const {
    const double out_side = static_cast<double>(side / stride);
    const double forward = 2.0 * static_cast<double>(n * out * in * k * k) * out_side * out_side;
    return forward * (input_grad ? 3 : 2);
  }
};

/// Every convolution of nn::unet with options o, in the order of its forward pass (see the top of nn/unet.hpp).
std::vector<conv_shape> network_convs(const unet_options& o) {
  const auto& c = o.channels;
  const std::size_t levels = c.size();
  std::vector<conv_shape> out;
  for (std::size_t l = 0; l < levels; ++l)  // conv1 at full size; conv2..convL stride 2
    out.push_back({l == 0 ? o.in_channels : c[l - 1], c[l], l == 0 ? o.height : o.height >> (l - 1), l == 0 ? 1u : 2u,
                   false, l > 0, "conv" + std::to_string(l + 1)});
  for (std::size_t b = 0; b < 2 * o.residual_blocks; ++b)
    out.push_back({c.back(), c.back(), o.height >> (levels - 1), 1, true, true, "resnet_blocks"});
  for (std::size_t l = levels; l >= 2; --l)  // tconvL..tconv2 after the upsampling, at level l - 2's size
    out.push_back({l == levels ? c[l - 1] : 2 * c[l - 1], c[l - 2], o.height >> (l - 2), 1, false, true,
                   "tconv" + std::to_string(l)});
  out.push_back({2 * c[0], o.in_channels, o.height, 1, true, true, "tconv1"});
  return out;
}

double network_conv_flops(const unet_options& o, std::size_t n) {
  double total = 0;
  for (const auto& s : network_convs(o)) total += s.flops(n, o.kernel);
  return total;
}

int all_threads() {
#if ATTRACTOR_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void BM_unet_step(benchmark::State& state, const std::string& name) {
  const unet_options options = config(name);
  context<cpu> ctx(all_threads());
  attractor_bench::unet_step<cpu> s(ctx, options, batch);
  s(0);  // touches every buffer
  std::size_t i = 0;
  for (auto _ : state) {
    s(++i);
    float* loss = s.objective.graph().value_of(s.objective.loss()).data();
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["conv GFLOP/s"] =
      benchmark::Counter(network_conv_flops(options, batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["parameters"] = static_cast<double>(attractor::nn::parameter_count(s.params));
  state.counters["loss"] = static_cast<double>(s.objective.graph().value_of(s.objective.loss())[0]);
}

/// The forward and backward pass of one convolution alone: a graph with the convolution and a loss whose
/// backward writes a fixed random gradient into its output.
void BM_conv2d(benchmark::State& state, conv_shape shape, std::size_t per_step, std::size_t kernel) {
  context<cpu> ctx(all_threads());
  philox gen(7);
  attractor::nn::conv2d<float, cpu> conv(ctx, gen, "conv", shape.in, shape.out,
                                         attractor::nn::conv2d_options{kernel, shape.stride, shape.bias});
  attractor::autograd::graph<float, cpu> g(ctx);
  const auto x = g.input({batch, shape.in, shape.side, shape.side}, shape.input_grad);
  const auto y = conv(g, x);
  const std::size_t out_size = g.shape_of(y).size();
  attractor::tensor<float, cpu> dy({out_size});
  attractor::fill_normal(ctx, gen, dy);
  attractor::autograd::value loss;
  loss = g.custom(
      {1}, {y}, [&] { g.data(loss)[0] = 0; },
      [&] {
        float* d = g.grad_data(y);
        const float* src = dy.data();
        if (g.accumulate_into(y))
          for (std::size_t j = 0; j < out_size; ++j) d[j] += src[j];
        else
          std::copy(src, src + out_size, d);
      },
      attractor::autograd::gradient_writes::overwrite_first);
  attractor::fill_normal(ctx, gen, g.value_of(x).data(), g.shape_of(x).size());
  g.forward();
  g.backward(loss);
  for (auto _ : state) {
    g.forward();
    g.backward(loss);
    benchmark::DoNotOptimize(g.grad_data(x));
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(shape.flops(batch, kernel) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["per step"] = static_cast<double>(per_step);
}

void register_all() {
  for (const std::string name : {"allen_cahn", "small"}) {
    benchmark::RegisterBenchmark(
        ("BM_unet_step/" + name + "/batch:128/threads:" + std::to_string(all_threads())).c_str(), BM_unet_step, name)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (const std::string name : {"allen_cahn", "small"}) {
    const unet_options o = config(name);
    std::map<decltype(conv_shape{}.key()), std::pair<conv_shape, std::size_t>> distinct;
    std::vector<decltype(conv_shape{}.key())> order;
    for (const auto& s : network_convs(o)) {
      auto [it, fresh] = distinct.try_emplace(s.key(), s, 0);
      if (fresh) order.push_back(s.key());
      ++it->second.second;
    }
    for (const auto& key : order) {
      const auto& [s, count] = distinct.at(key);
      const std::string label = "BM_conv2d/" + name + "/" + s.layer + "/" + std::to_string(s.in) + "x" +
                                std::to_string(s.side) + "x" + std::to_string(s.side) + "->" + std::to_string(s.out) +
                                "/stride:" + std::to_string(s.stride) + "/threads:" + std::to_string(all_threads());
      benchmark::RegisterBenchmark(label.c_str(), BM_conv2d, s, count, o.kernel)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

// Registered before main, as the BENCHMARK macros register theirs, so that BENCHMARK_MAIN runs them.
const bool registered = (register_all(), true);

}  // namespace

BENCHMARK_MAIN();
