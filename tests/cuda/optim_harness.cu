// Host-callable wrappers around nn/init.hpp and nn/optim.hpp on the cuda backend (declared in harness.hpp): the same
// generic adam, ema and initialisers the cpu tests use, run on context<cuda> over host-provided arrays.
#include <cstddef>
#include <cstdint>

#include "attractor/cuda.cuh"
#include "attractor/nn/init.hpp"
#include "attractor/nn/optim.hpp"
#include "harness.hpp"

namespace attractor_test {

using attractor::cuda;  // CCCL declares a global namespace `cuda`; this declaration takes precedence over both

namespace {
template <class T>
void upload(attractor::context<cuda>& ctx, const T* host, attractor::tensor<T, cuda>& device) {
  attractor::transfer<attractor::cpu, cuda>::run(ctx, host, device.data(), device.size());
}
template <class T>
void download(attractor::context<cuda>& ctx, const attractor::tensor<T, cuda>& device, T* host) {
  attractor::transfer<cuda, attractor::cpu>::run(ctx, device.data(), host, device.size());  // waits for the stream
}
template <class T>
void download(attractor::context<cuda>& ctx, attractor::const_tensor_view<T, cuda> device, T* host) {
  attractor::transfer<cuda, attractor::cpu>::run(ctx, device.data(), host, device.size());
}
}  // namespace

template <class Scalar>
void cuda_adam_steps(Scalar* p, const Scalar* grads, std::size_t n, std::size_t steps, double lr, double beta1,
                     double beta2, double eps, Scalar* exp_avg, Scalar* exp_avg_sq, std::size_t* allocations) {
  attractor::context<cuda> ctx;
  attractor::nn::parameter<Scalar, cuda> w("w", attractor::shape{n});
  upload(ctx, p, w.value);
  attractor::nn::adam<Scalar, cuda> opt(ctx, {&w}, attractor::nn::adam_options{lr, beta1, beta2, eps});
  const std::size_t before = attractor::allocation_counter<cuda>::count;
  for (std::size_t k = 0; k < steps; ++k) {
    upload(ctx, grads + k * n, w.grad);
    opt.step(ctx);
  }
  *allocations = attractor::allocation_counter<cuda>::count - before;
  download(ctx, w.value, p);
  const auto state = opt.state();
  download(ctx, state.exp_avg[0], exp_avg);
  download(ctx, state.exp_avg_sq[0], exp_avg_sq);
}

template <class Scalar>
void cuda_ema_updates(const Scalar* initial, const Scalar* weights, std::size_t n, std::size_t updates, double decay,
                      bool zeros, Scalar* shadow, Scalar* swapped_in, Scalar* swapped_back, std::size_t* allocations) {
  attractor::context<cuda> ctx;
  attractor::nn::parameter<Scalar, cuda> w("w", attractor::shape{n});
  upload(ctx, initial, w.value);
  attractor::nn::ema<Scalar, cuda> avg(ctx, {&w}, decay,
                                       zeros ? attractor::nn::ema_init::zeros : attractor::nn::ema_init::copy);
  const std::size_t before = attractor::allocation_counter<cuda>::count;
  for (std::size_t k = 0; k < updates; ++k) {
    upload(ctx, weights + k * n, w.value);
    avg.update(ctx);
  }
  download(ctx, avg.shadow()[0], shadow);
  avg.swap(ctx);
  download(ctx, w.value, swapped_in);
  avg.swap(ctx);
  download(ctx, w.value, swapped_back);
  *allocations = attractor::allocation_counter<cuda>::count - before;
}

template <class Scalar>
void cuda_linear_default_init(std::uint64_t seed, std::size_t out, std::size_t in, Scalar* weight, Scalar* bias) {
  attractor::context<cuda> ctx;
  attractor::tensor<Scalar, cuda> w(attractor::shape{out, in}), b(attractor::shape{out});
  attractor::philox gen(seed);
  attractor::nn::linear_default_init(ctx, gen, w, b);
  download(ctx, w, weight);
  download(ctx, b, bias);
}

template void cuda_adam_steps<float>(float*, const float*, std::size_t, std::size_t, double, double, double, double,
                                     float*, float*, std::size_t*);
template void cuda_adam_steps<double>(double*, const double*, std::size_t, std::size_t, double, double, double, double,
                                      double*, double*, std::size_t*);
template void cuda_ema_updates<float>(const float*, const float*, std::size_t, std::size_t, double, bool, float*,
                                      float*, float*, std::size_t*);
template void cuda_ema_updates<double>(const double*, const double*, std::size_t, std::size_t, double, bool, double*,
                                       double*, double*, std::size_t*);
template void cuda_linear_default_init<float>(std::uint64_t, std::size_t, std::size_t, float*, float*);
template void cuda_linear_default_init<double>(std::uint64_t, std::size_t, std::size_t, double*, double*);

}  // namespace attractor_test
