// Host-callable wrappers around the response layer on the cuda backend (tests/cuda/response_harness.cu), called from
// tests/test_cuda_response.cpp, which runs the same functions on cpu and compares. Every array is on the host.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attractor_test {

/// response::lag_covariance of x (members x T x n) with itself on cuda: out (lags + 1) x n x n.
template <class Scalar>
void cuda_response_lag_covariance(const Scalar* x, std::size_t members, std::size_t T, std::size_t n, std::size_t lags,
                                  bool circular, double* out);

/// response::field_lag_covariance of u with v (members x T x pixels each) on cuda: out (lags + 1) x pixels.
template <class Scalar>
void cuda_response_field_lag_covariance(const Scalar* u, const Scalar* v, std::size_t members, std::size_t T,
                                        std::size_t pixels, std::size_t lags, bool circular, double* out);

/// response::gaussian (dense) of x (members x T x n) on cuda: out (lags + 1) x n x n.
void cuda_response_gaussian(const double* x, std::size_t members, std::size_t T, std::size_t n, std::size_t lags,
                            double* out);

/// response::gaussian_field of u (members x T x pixels) to a kick at `kick` on cuda: out (lags + 1) x pixels.
void cuda_response_gaussian_field(const double* u, std::size_t members, std::size_t T, std::size_t pixels,
                                  std::size_t lags, std::size_t kick, double* out);

/// response::score_based_field of u (members x T x pixels) with the score s(x) = -P x, P (pixels x pixels) the
/// precision, evaluated on cuda in batches of `batch`: raw and normalised, (lags + 1) x pixels each.
void cuda_response_score_based_field(const double* u, std::size_t members, std::size_t T, std::size_t pixels,
                                     std::size_t lags, std::size_t kick, const double* precision, std::size_t batch,
                                     double* raw, double* normalised);

/// response::dynamical on cuda of the stepper x <- A x + q xi (A n x n) from theta (n x members, advanced in place),
/// kick at component `kick`, delta = 2 dt: out (lags + 1) x n.
void cuda_response_dynamical(const double* A, std::size_t n, double q, double* theta, std::size_t members,
                             std::size_t lags, std::size_t steps_per_lag, std::size_t resets, double dt,
                             std::size_t kick, std::uint64_t seed, double* out);

/// Whether response::lag_covariance on cuda refuses a series with a NaN (its message copied into `message`).
bool cuda_response_rejects_nan(char* message, std::size_t capacity);

}  // namespace attractor_test
