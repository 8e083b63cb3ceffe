// Naive double-precision references and random inputs for the kernel tests. The inputs come from std::mt19937_64,
// independent of the library's own generator.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace attractor_test {

template <class Scalar>
std::vector<Scalar> random_vector(std::size_t n, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<Scalar> v(n);
  for (auto& x : v) x = static_cast<Scalar>(dist(engine));
  return v;
}

/// Row-major op(A) (m x k) times op(B) (k x n) in double, with BLAS alpha/beta semantics, plus the matrix of
/// sum_l |alpha a_il b_lj| + |beta c_ij| that bounds the rounding error of any summation order.
struct gemm_reference {
  std::vector<double> c, magnitude;
};

template <class Scalar>
gemm_reference naive_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const Scalar* a,
                          const Scalar* b, double beta, const Scalar* c) {
  gemm_reference out{std::vector<double>(m * n), std::vector<double>(m * n)};
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double acc = 0, mag = 0;
      for (std::size_t l = 0; l < k; ++l) {
        const double x = ta ? a[l * m + i] : a[i * k + l];
        const double y = tb ? b[j * k + l] : b[l * n + j];
        acc += x * y;
        mag += std::abs(x * y);
      }
      const double prior = beta == 0 ? 0.0 : beta * static_cast<double>(c[i * n + j]);
      out.c[i * n + j] = alpha * acc + prior;
      out.magnitude[i * n + j] = std::abs(alpha) * mag + std::abs(prior);
    }
  }
  return out;
}

/// The tolerance for a computed value whose exact terms have total magnitude `magnitude` after `terms` additions:
/// the worst-case bound terms * eps * magnitude, plus a few ulps of slack.
template <class Scalar>
double sum_tolerance(double magnitude, std::size_t terms) {
  const double eps = std::numeric_limits<Scalar>::epsilon();
  return (static_cast<double>(terms) + 4.0) * eps * magnitude + 4.0 * std::numeric_limits<Scalar>::min();
}

}  // namespace attractor_test
