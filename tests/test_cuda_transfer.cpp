// The transfer-learning layer on cuda against the same code on cpu, on the same inputs: backbone features, random
// Fourier features, the ridge solution, a head's training losses and roll-out scores. Runs only where a GPU is
// present (cuda_main.cpp).
#include "attractor/core/eigen.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "attractor/transfer.hpp"
#include "cuda/transfer_harness.hpp"
#include "reference.hpp"
#include "tolerance.hpp"

using namespace attractor;
using namespace attractor_test;
namespace tl = attractor::transfer_learning;

namespace {
tensor<float, cpu> host_tensor(const std::vector<float>& v, const shape& s) {
  tensor<float, cpu> t(s);
  std::copy(v.begin(), v.end(), t.begin());
  return t;
}
}  // namespace

TEST_CASE("cuda transfer: backbone and random Fourier features equal cpu's") {
  const std::size_t n = 100;
  const auto x = random_vector<float>(3 * n, 41, -2.0, 2.0);
  context<cpu> ctx;
  const auto xs = host_tensor(x, {n, 3});
  philox gen(7);
  nn::denoising_resnet<float, cpu> net(ctx, gen);
  const std::vector<std::size_t> taus = tl::six_taus();
  tl::backbone_features<float, cpu> features(ctx, net, taus);
  const auto expected = features.apply(ctx, xs.view());
  std::vector<float> got(n * 1536);
  cuda_backbone_features(x.data(), n, 7, taus.data(), taus.size(), got.data());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == absolute(expected.data()[i], 1e-4));
  philox rgen(8);
  tl::random_fourier_features<float, cpu> rff(ctx, rgen, 256);
  tensor<float, cpu> phi(shape{n, 256});
  rff.apply(ctx, xs.view(), phi.view());
  std::vector<float> rgot(n * 256);
  cuda_random_fourier(x.data(), n, 8, 256, rgot.data());
  for (std::size_t i = 0; i < rgot.size(); ++i) CHECK(rgot[i] == absolute(phi.data()[i], 1e-4));
}

TEST_CASE("cuda transfer: the ridge solution equals cpu's") {
  const std::size_t n = 3000, f = 12, o = 3;
  const auto x = random_vector<float>(n * f, 42);
  auto y = random_vector<float>(n * o, 43, -0.1, 0.1);
  for (std::size_t s = 0; s < n; ++s) y[s * o] += 2 * x[s * f] - x[s * f + 5];
  context<cpu> ctx;
  const auto xs = host_tensor(x, {n, f}), ys = host_tensor(y, {n, o});
  tl::ridge_accumulator<float, cpu> acc(ctx, f, o, 700);
  acc.add(ctx, xs.view(), ys.view());
  const auto expected = acc.solve(ctx, 1e-4);
  std::vector<double> w(f * o), b(o);
  cuda_ridge(x.data(), y.data(), n, f, o, 700, 1e-4, w.data(), b.data());
  for (std::size_t i = 0; i < f; ++i)
    for (std::size_t k = 0; k < o; ++k)
      CHECK(w[i * o + k] == absolute(expected.weights()(Eigen::Index(i), Eigen::Index(k)), 1e-4));
  for (std::size_t k = 0; k < o; ++k) CHECK(b[k] == absolute(expected.bias()[Eigen::Index(k)], 1e-5));
}

TEST_CASE("cuda transfer: a head's training losses and a baseline's roll-out scores equal cpu's") {
  const std::size_t n = 256;
  const auto x = random_vector<float>(3 * n, 44, -1.5, 1.5);
  std::vector<float> y(3 * n);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = 0.1f * std::sin(x[i]);
  context<cpu> ctx;
  const auto xs = host_tensor(x, {n, 3}), ys = host_tensor(y, {n, 3});
  philox gen(9);
  tl::random_fourier_features<float, cpu> rff(ctx, gen, 64);
  tl::mlp_head<float, cpu> head(ctx, gen, {64});
  using objective =
      tl::regression_objective<float, cpu, tl::mlp_head<float, cpu>, tl::random_fourier_features<float, cpu>>;
  objective ob(ctx, head, rff, xs.view(), ys.view(), 32);
  auto options = tl::head_fit_options(32, 20);
  options.lr = 1e-3;
  nn::fit<objective> run(ctx, ob, options);
  run.train();
  std::vector<double> losses(20);
  cuda_train_rff_head(x.data(), y.data(), n, 9, 20, losses.data());
  for (std::size_t s = 0; s < 20; ++s) CHECK(losses[s] == relative(run.losses()[s], 1e-3));

  const std::size_t members = 2, steps = 300, iterations = 20, lead = 5, stride = 7;
  const auto traj = random_vector<float>(members * steps * 3, 45, -2.0, 2.0);
  const auto ts = host_tensor(traj, {members, steps, 3});
  philox dgen(10);
  auto dense = tl::dense_baseline<float, cpu>(ctx, dgen, 2);
  auto params = dense.parameters();
  for (std::size_t i = params.size() - 2; i < params.size(); ++i)
    for (float& v : params[i]->value) v *= 0.01f;
  tl::network_map<float, cpu, metrics::dense_surrogate<float, cpu>> g(ctx, dense, 256);
  tl::rollout_score_options o;
  o.iterations = iterations;
  o.lead = lead;
  o.start_stride = stride;
  o.hellinger_first = iterations / 2 + 1;
  o.hellinger_last = iterations;
  o.chunk = 100;
  const auto expected = tl::score_rollouts<float, cpu>(ctx, g, ts.view(), o);
  std::vector<double> scores(iterations + 2);
  cuda_rollout_scores(traj.data(), members, steps, 10, iterations, lead, stride, scores.data());
  for (std::size_t k = 0; k <= iterations; ++k) CHECK(scores[k] == relative(expected.nrmse[k], 1e-4));
  CHECK(scores[iterations + 1] == absolute(expected.hellinger, 0.02));
}
