// The transfer-learning layer on context<cuda> (declared in transfer_harness.hpp), for tests/test_cuda_transfer.cpp.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "attractor/cuda.cuh"
#include "attractor/transfer.hpp"
#include "transfer_harness.hpp"

namespace attractor_test {

using namespace attractor;
using attractor::cuda;  // CCCL declares a global namespace `cuda`; this declaration takes precedence over both
namespace tl = attractor::transfer_learning;

namespace {
template <class T>
tensor<T, cuda> upload(context<cuda>& ctx, const T* host, const shape& s) {
  tensor<T, cuda> out(s);
  transfer<cpu, cuda>::run(ctx, host, out.data(), s.size());
  return out;
}
template <class T>
void download(context<cuda>& ctx, const tensor<T, cuda>& t, T* host) {
  transfer<cuda, cpu>::run(ctx, t.data(), host, t.size());
}
}  // namespace

void cuda_backbone_features(const float* x, std::size_t n, std::uint64_t seed, const std::size_t* taus,
                            std::size_t n_tau, float* out) {
  context<cuda> ctx;
  philox gen(seed);
  nn::denoising_resnet<float, cuda> net(ctx, gen);
  tl::backbone_features<float, cuda> features(ctx, net, std::vector<std::size_t>(taus, taus + n_tau), 64);
  const auto dx = upload(ctx, x, {n, 3});
  download(ctx, features.apply(ctx, dx.view()), out);
}

void cuda_random_fourier(const float* x, std::size_t n, std::uint64_t seed, std::size_t d, float* out) {
  context<cuda> ctx;
  philox gen(seed);
  tl::random_fourier_features<float, cuda> rff(ctx, gen, d);
  const auto dx = upload(ctx, x, {n, 3});
  tensor<float, cuda> phi(shape{n, d});
  rff.apply(ctx, dx.view(), phi.view());
  download(ctx, phi, out);
}

void cuda_ridge(const float* x, const float* y, std::size_t n, std::size_t f, std::size_t o, std::size_t chunk,
                double lambda, double* weights, double* bias) {
  context<cuda> ctx;
  const auto dx = upload(ctx, x, {n, f});
  const auto dy = upload(ctx, y, {n, o});
  tl::ridge_accumulator<float, cuda> acc(ctx, f, o, chunk);
  acc.add(ctx, dx.view(), dy.view());
  const auto solution = acc.solve(ctx, lambda);
  for (std::size_t i = 0; i < f; ++i)
    for (std::size_t k = 0; k < o; ++k) weights[i * o + k] = solution.weights()(Eigen::Index(i), Eigen::Index(k));
  for (std::size_t k = 0; k < o; ++k) bias[k] = solution.bias()[Eigen::Index(k)];
}

void cuda_train_rff_head(const float* x, const float* y, std::size_t n, std::uint64_t seed, std::size_t steps,
                         double* losses) {
  context<cuda> ctx;
  philox gen(seed);
  tl::random_fourier_features<float, cuda> rff(ctx, gen, 64);
  tl::mlp_head<float, cuda> head(ctx, gen, {64});
  const auto dx = upload(ctx, x, {n, 3});
  const auto dy = upload(ctx, y, {n, 3});
  using objective =
      tl::regression_objective<float, cuda, tl::mlp_head<float, cuda>, tl::random_fourier_features<float, cuda>>;
  objective o(ctx, head, rff, dx.view(), dy.view(), 32);
  auto options = tl::head_fit_options(32, steps);
  options.lr = 1e-3;
  nn::fit<objective> run(ctx, o, options);
  run.train();
  for (std::size_t s = 0; s < steps; ++s) losses[s] = run.losses()[s];
}

void cuda_rollout_scores(const float* trajectories, std::size_t members, std::size_t steps, std::uint64_t seed,
                         std::size_t iterations, std::size_t lead, std::size_t stride, double* scores) {
  context<cuda> ctx;
  philox gen(seed);
  auto dense = tl::dense_baseline<float, cuda>(ctx, gen, 2);
  auto params = dense.parameters();
  for (std::size_t i = params.size() - 2; i < params.size(); ++i)  // the head: slow drift
    for_each_index(ctx, params[i]->size(), nn::detail::scale_kernel<float>{params[i]->value.data(), 0.01f});
  tl::network_map<float, cuda, metrics::dense_surrogate<float, cuda>> g(ctx, dense, 256);
  const auto traj = upload(ctx, trajectories, {members, steps, 3});
  tl::rollout_score_options o;
  o.iterations = iterations;
  o.lead = lead;
  o.start_stride = stride;
  o.hellinger_first = iterations / 2 + 1;
  o.hellinger_last = iterations;
  o.chunk = 100;
  const auto s = tl::score_rollouts<float, cuda>(ctx, g, traj.view(), o);
  for (std::size_t k = 0; k <= iterations; ++k) scores[k] = s.nrmse[k];
  scores[iterations + 1] = s.hellinger;
}

}  // namespace attractor_test
