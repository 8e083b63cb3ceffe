// nn::adam, nn::ema and the Linear initialisation on cuda against the same code on cpu, on the same inputs. Runs
// only where a GPU is present (see cuda_main.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "attractor/nn/init.hpp"
#include "attractor/nn/optim.hpp"
#include "cuda/harness.hpp"
#include "reference.hpp"

using namespace attractor;
using namespace attractor_test;

TEST_CASE_TEMPLATE("cuda adam matches cpu adam on the same inputs", Scalar, float, double) {
  const std::size_t n = 100003, steps = 25;  // more than one grid's worth of elements
  const double lr = 1e-2, beta1 = 0.9, beta2 = 0.999, eps = 1e-6;
  const auto p0 = random_vector<Scalar>(n, 11);
  auto grads = random_vector<Scalar>(n * steps, 12, -2.0, 2.0);
  for (std::size_t i = 0; i < grads.size(); i += 7) grads[i] *= Scalar(1e-5);  // some gradients near eps

  std::vector<Scalar> p_gpu = p0, m_gpu(n), v_gpu(n);
  std::size_t allocations = 1;
  cuda_adam_steps<Scalar>(p_gpu.data(), grads.data(), n, steps, lr, beta1, beta2, eps, m_gpu.data(), v_gpu.data(),
                          &allocations);
  CHECK(allocations == 0);

  context<cpu> host;
  nn::parameter<Scalar, cpu> w("w", shape{n});
  std::copy(p0.begin(), p0.end(), w.value.begin());
  nn::adam<Scalar, cpu> opt(host, {&w}, nn::adam_options{lr, beta1, beta2, eps});
  for (std::size_t k = 0; k < steps; ++k) {
    std::copy(grads.begin() + k * n, grads.begin() + (k + 1) * n, w.grad.begin());
    opt.step(host);
  }
  const auto state = opt.state();
  // nvcc contracts a * b + c into FMAs and the host compiler need not: a few roundings per step may differ.
  const double e = std::numeric_limits<Scalar>::epsilon();
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double tol_p = 16 * e * (std::abs(double(w.value[i])) + steps * lr);
    worst = std::max(worst, std::abs(double(p_gpu[i]) - double(w.value[i])) / tol_p);
    REQUIRE(std::abs(double(p_gpu[i]) - double(w.value[i])) <= tol_p);
    REQUIRE(std::abs(double(m_gpu[i]) - double(state.exp_avg[0][i])) <= 16 * e * 2.0);
    REQUIRE(std::abs(double(v_gpu[i]) - double(state.exp_avg_sq[0][i])) <= 16 * e * double(state.exp_avg_sq[0][i]));
  }
  MESSAGE("largest cpu/cuda difference of the weights as a fraction of the tolerance: ", worst);
}

TEST_CASE_TEMPLATE("cuda ema matches cpu ema, and swap round-trips on the device", Scalar, float, double) {
  const std::size_t n = 70001, updates = 40;
  const auto initial = random_vector<Scalar>(n, 21);
  const auto weights = random_vector<Scalar>(n * updates, 22);
  for (bool zeros : {false, true}) {
    CAPTURE(zeros);
    std::vector<Scalar> shadow(n), swapped_in(n), swapped_back(n);
    std::size_t allocations = 1;
    cuda_ema_updates<Scalar>(initial.data(), weights.data(), n, updates, 0.9, zeros, shadow.data(), swapped_in.data(),
                             swapped_back.data(), &allocations);
    CHECK(allocations == 0);

    context<cpu> host;
    nn::parameter<Scalar, cpu> w("w", shape{n});
    std::copy(initial.begin(), initial.end(), w.value.begin());
    nn::ema<Scalar, cpu> avg(host, {&w}, 0.9, zeros ? nn::ema_init::zeros : nn::ema_init::copy);
    for (std::size_t k = 0; k < updates; ++k) {
      std::copy(weights.begin() + k * n, weights.begin() + (k + 1) * n, w.value.begin());
      avg.update(host);
    }
    const double e = std::numeric_limits<Scalar>::epsilon();
    const auto cpu_shadow = avg.shadow()[0];
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE(std::abs(double(shadow[i]) - double(cpu_shadow[i])) <= 32 * e);  // weights in [-1, 1]
      REQUIRE(swapped_in[i] == shadow[i]);
      REQUIRE(swapped_back[i] == weights[(updates - 1) * n + i]);
    }
  }
}

TEST_CASE_TEMPLATE("cuda linear_default_init draws what cpu draws", Scalar, float, double) {
  const std::size_t out = 300, in = 257;
  std::vector<Scalar> w_gpu(out * in), b_gpu(out);
  cuda_linear_default_init<Scalar>(99, out, in, w_gpu.data(), b_gpu.data());
  context<cpu> host;
  tensor<Scalar, cpu> w(shape{out, in}), b(shape{out});
  philox gen(99);
  nn::linear_default_init(host, gen, w, b);
  // low + (high - low) u: bit-identical u, but nvcc may fuse the affine map into one FMA (one rounding fewer).
  const double ulp = std::numeric_limits<Scalar>::epsilon() / std::sqrt(double(in));
  for (std::size_t i = 0; i < w.size(); ++i) REQUIRE(std::abs(double(w_gpu[i]) - double(w[i])) <= ulp);
  for (std::size_t i = 0; i < b.size(); ++i) REQUIRE(std::abs(double(b_gpu[i]) - double(b[i])) <= ulp);
}
