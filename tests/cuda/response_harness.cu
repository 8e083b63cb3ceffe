// Host-side wrappers around the response layer on the cuda backend (declared in response_harness.hpp): the same
// generic code the cpu tests run, on context<cuda>, with inputs and results in host arrays.
//
// Eigen's solvers behind the dense normalisation (response/normalise.hpp) raise nvcc's warning 20014 (a host-device
// function calling a host one); they run on the host only. Only -diag-suppress=20014 on the command line silences it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "attractor/backend/cuda/fft.cuh"
#include "attractor/cuda.cuh"
#include "attractor/response.hpp"
#include "response_harness.hpp"

namespace attractor_test {

using namespace attractor;
using attractor::cuda;  // CCCL declares a global namespace `cuda`; this declaration takes precedence over both

namespace {

template <class T>
tensor<T, cuda> upload(context<cuda>& ctx, const T* host, const shape& s) {
  tensor<T, cuda> out(s);
  transfer<cpu, cuda>::run(ctx, host, out.data(), out.size());
  return out;
}

void copy_out(const tensor<double, cpu>& t, double* out) {
  for (std::size_t k = 0; k < t.size(); ++k) out[k] = t[k];
}

/// out[b n + i] = -sum_j P[i n + j] x[b n + j]: the score of a zero-mean Gaussian with precision P.
struct gaussian_score_kernel {
  const double* P;
  const double* x;
  double* out;
  std::size_t n;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    const std::size_t b = idx / n, i = idx % n;
    double s = 0;
    for (std::size_t j = 0; j < n; ++j) s += P[i * n + j] * x[b * n + j];
    out[idx] = -s;
  }
};

struct gaussian_score {
  const double* P;  // on the device
  std::size_t n;
  void operator()(context<cuda>& ctx, const_tensor_view<double, cuda> frames, tensor_view<double, cuda> out) const {
    for_each_index(ctx, out.size(), gaussian_score_kernel{P, frames.data(), out.data(), n});
  }
};

/// out[i N + m] = sum_k A[i n + k] E[k N + m].
struct apply_matrix {
  const double* A;
  const double* E;
  double* out;
  std::size_t n, N;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    const std::size_t i = idx / N, m = idx % N;
    double s = 0;
    for (std::size_t k = 0; k < n; ++k) s += A[i * n + k] * E[k * N + m];
    out[idx] = s;
  }
};

/// x <- A x + q xi on cuda, members in columns.
struct linear_stepper {
  const double* A;  // on the device
  std::size_t n;
  double q;
  [[nodiscard]] std::size_t dimension() const { return n; }
  void advance(context<cuda>& ctx, tensor_view<double, cuda> E, std::size_t steps, philox& gen) const {
    require(E.rank() == 2 && E.extent(0) == n, "linear_stepper::advance", "n x N", E.shape());
    tensor<double, cuda> next(E.shape());
    for (std::size_t s = 0; s < steps; ++s) {
      for_each_index(ctx, E.size(), apply_matrix{A, E.data(), next.data(), n, E.extent(1)});
      transfer<cuda, cuda>::run(ctx, next.data(), E.data(), E.size());
      systems::add_model_noise(ctx, E, q, gen);
    }
  }
};

}  // namespace

template <class Scalar>
void cuda_response_lag_covariance(const Scalar* x, std::size_t members, std::size_t T, std::size_t n, std::size_t lags,
                                  bool circular, double* out) {
  context<cuda> ctx;
  const auto dx = upload(ctx, x, shape{members, T, n});
  response::lag_options o;
  o.circular = circular;
  copy_out(response::lag_covariance(ctx, dx, lags, o), out);
}

template <class Scalar>
void cuda_response_field_lag_covariance(const Scalar* u, const Scalar* v, std::size_t members, std::size_t T,
                                        std::size_t pixels, std::size_t lags, bool circular, double* out) {
  context<cuda> ctx;
  const auto du = upload(ctx, u, shape{members, T, pixels});
  const auto dv = upload(ctx, v, shape{members, T, pixels});
  response::lag_options o;
  o.circular = circular;
  copy_out(response::field_lag_covariance(ctx, du, dv, lags, o), out);
}

void cuda_response_gaussian(const double* x, std::size_t members, std::size_t T, std::size_t n, std::size_t lags,
                            double* out) {
  context<cuda> ctx;
  copy_out(response::gaussian(ctx, upload(ctx, x, shape{members, T, n}), lags), out);
}

void cuda_response_gaussian_field(const double* u, std::size_t members, std::size_t T, std::size_t pixels,
                                  std::size_t lags, std::size_t kick, double* out) {
  context<cuda> ctx;
  copy_out(response::gaussian_field(ctx, upload(ctx, u, shape{members, T, pixels}), lags, kick), out);
}

void cuda_response_score_based_field(const double* u, std::size_t members, std::size_t T, std::size_t pixels,
                                     std::size_t lags, std::size_t kick, const double* precision, std::size_t batch,
                                     double* raw, double* normalised) {
  context<cuda> ctx;
  const auto du = upload(ctx, u, shape{members, T, pixels});
  const auto P = upload(ctx, precision, shape{pixels, pixels});
  response::score_options o;
  o.batch = batch;
  const auto r = response::score_based_field(ctx, du, gaussian_score{P.data(), pixels}, lags, kick, o);
  copy_out(r.raw, raw);
  copy_out(r.normalised, normalised);
}

void cuda_response_dynamical(const double* A, std::size_t n, double q, double* theta, std::size_t members,
                             std::size_t lags, std::size_t steps_per_lag, std::size_t resets, double dt,
                             std::size_t kick, std::uint64_t seed, double* out) {
  context<cuda> ctx;
  const auto dA = upload(ctx, A, shape{n, n});
  auto dtheta = upload(ctx, theta, shape{n, members});
  response::dynamical_options o;
  o.lags = lags;
  o.steps_per_lag = steps_per_lag;
  o.resets = resets;
  o.dt = dt;
  philox gen(seed);
  const auto r = response::dynamical(ctx, linear_stepper{dA.data(), n, q}, dtheta, kick, o, gen);
  copy_out(r.response, out);
  transfer<cuda, cpu>::run(ctx, dtheta.data(), theta, dtheta.size());
}

bool cuda_response_rejects_nan(char* message, std::size_t capacity) {
  context<cuda> ctx;
  const double x[6] = {0.0, 1.0, 2.0, __builtin_nan(""), 1.0, 0.5};
  const auto dx = upload(ctx, x, shape{3, 2});
  try {
    (void)response::lag_covariance(ctx, dx, 1);
  } catch (const attractor::error& e) {
    std::snprintf(message, capacity, "%s", e.what());
    return true;
  }
  return false;
}

template void cuda_response_lag_covariance<float>(const float*, std::size_t, std::size_t, std::size_t, std::size_t,
                                                  bool, double*);
template void cuda_response_lag_covariance<double>(const double*, std::size_t, std::size_t, std::size_t, std::size_t,
                                                   bool, double*);
template void cuda_response_field_lag_covariance<float>(const float*, const float*, std::size_t, std::size_t,
                                                        std::size_t, std::size_t, bool, double*);
template void cuda_response_field_lag_covariance<double>(const double*, const double*, std::size_t, std::size_t,
                                                         std::size_t, std::size_t, bool, double*);

}  // namespace attractor_test
