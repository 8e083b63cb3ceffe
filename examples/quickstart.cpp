// quickstart: a tour of the foundation on the cpu backend, doing the work the paper's network will do.
//   1. draws a batch of 16384 Lorenz-63-sized normal states from Philox and checks their moments;
//   2. runs the network's widest product, a 16384 x 256 by 256 x 256 GEMM, and reports GFLOP/s;
//   3. reduces the result along rows and over all elements;
//   4. sums the rows per diffusion step (segment_sum over 1000 keys), as the time-conditioning gradient will;
//   5. writes the activations as .npy, reads them back and compares.
// Usage: quickstart [--threads N] [--out DIR] [--repeat R]
#include <attractor/io/npy.hpp>
#include <attractor/random/philox.hpp>
#include <attractor/tensor/ops.hpp>
#include <attractor/tensor/tensor.hpp>

#include "cli.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

using namespace attractor;

namespace {

struct options {
  int threads = 0;
  std::filesystem::path out = "out";
  int repeat = 20;
};

options parse(int argc, char** argv) {
  options o;
  CLI::App app(
      "A tour of the foundation on the cpu backend: Philox draws, the network's widest GEMM, reductions, "
      "segment sums and a .npy round trip.",
      "quickstart");
  app.add_option("--threads", o.threads, "cpu threads (default 0: all OpenMP offers)")
      ->check(examples::count_in(0, 1024));
  app.add_option("--out", o.out, "where activations.npy is written (default: out); checked for writing first");
  app.add_option("--repeat", o.repeat, "GEMM repetitions to time (default: 20)")
      ->check(examples::count_in(1, 1'000'000));
  examples::parse_or_exit(app, argc, argv);
  examples::require_writable_folder(o.out, "quickstart", "--out");
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  const options opt = parse(argc, argv);
  context<cpu> ctx(opt.threads);
  philox gen(2023);
  const std::size_t batch = 16384, width = 256, steps = 1000;
  std::printf("attractor quickstart: cpu backend, %d threads\n\n", ctx.threads());

  // 1. States and weights from Philox.
  tensor<float, cpu> states({batch, 3});
  fill_normal(ctx, gen, states);
  const double mean = sum(ctx, states) / double(states.size());
  const double var = sum_squares(ctx, states) / double(states.size()) - mean * mean;
  std::printf("1. %zu x 3 normal draws: mean %+.4f (expect 0 +- %.4f), variance %.4f (expect 1)\n", batch, mean,
              3.0 / std::sqrt(double(states.size())), var);

  tensor<float, cpu> w_in({width, 3}), hidden({batch, width}), w({width, width}), out({batch, width});
  const float bound = 1.0f / std::sqrt(float(width));  // PyTorch's default Linear scale
  fill_uniform(ctx, gen, w_in, -1.0f, 1.0f);
  fill_uniform(ctx, gen, w, -bound, bound);
  matmul(ctx, states, w_in, hidden, transpose::no, transpose::yes);  // hidden = x W_in^T

  // 2. The widest product of the network, timed.
  matmul(ctx, hidden, w, out, transpose::no, transpose::yes);  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < opt.repeat; ++r) matmul(ctx, hidden, w, out, transpose::no, transpose::yes);
  const double per_gemm = seconds_since(t0) / opt.repeat;
  const double flops = 2.0 * batch * width * width;
  std::printf("2. GEMM %zu x %zu by %zu x %zu: %.2f ms, %.1f GFLOP/s (mean of %d)\n", batch, width, width, width,
              per_gemm * 1e3, flops / per_gemm * 1e-9, opt.repeat);

  // 3. Reductions.
  tensor<float, cpu> row_max({batch});
  reduce_last_axis(ctx, reduction::max, out, row_max);
  std::printf("3. activations: sum %.3f, max %.3f, max of the first row %.3f\n", double(sum(ctx, out)),
              double(max(ctx, out)), double(row_max[0]));

  // 4. Per-step sums of the rows, keyed by a random diffusion step in [0, 1000).
  tensor<std::int32_t, cpu> tau({batch});
  tensor<float, cpu> u({batch});
  fill_uniform(ctx, gen, u);
  for (std::size_t i = 0; i < batch; ++i) tau[i] = static_cast<std::int32_t>(u[i] * float(steps)) % int(steps);
  tensor<float, cpu> per_step({steps, width});
  const auto t1 = std::chrono::steady_clock::now();
  segment_sum(ctx, tau, out, per_step);
  const double seg_time = seconds_since(t1);
  const double total = sum(ctx, per_step), direct = sum(ctx, out);
  std::printf("4. segment_sum into %zu steps: %.2f ms; totals agree: %.4f vs %.4f\n", steps, seg_time * 1e3, total,
              direct);

  // 5. .npy round trip.
  const auto path = opt.out / "activations.npy";
  save_npy(path, out);
  const auto back = load_npy<float>(path);
  bool same = back.shape() == out.shape();
  for (std::size_t i = 0; same && i < out.size(); ++i) same = back[i] == out[i];
  std::printf("5. wrote %s (%zu x %zu float32) and read it back: %s\n", path.c_str(), back.extent(0), back.extent(1),
              same ? "identical" : "DIFFERENT");
  return same && std::abs(total - direct) <= 1e-3 * (1 + std::abs(direct)) ? 0 : 1;
} catch (const attractor::error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
