// Static background-error covariances B for EnOI and 3D-Var: full or diagonal, checked to be symmetric and
// positive definite, with their Cholesky factor; and the paper's B0 for Lorenz-63 (spec §7, Table D1).
#pragma once

#include "attractor/core/eigen.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>

#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/tensor/eigen.hpp"

namespace attractor::da {

/// A symmetric positive-definite Nx x Nx covariance, stored with its lower Cholesky factor L (B = L L^T).
template <floating_scalar Scalar = double>
class static_covariance {
public:
  /// A full matrix. Throws attractor::error unless B is square, finite, symmetric (to 1e-10 of its largest
  /// entry) and positive definite.
  static static_covariance full(const eigen_matrix<Scalar>& B) {
    constexpr const char* fn = "da::static_covariance::full";
    require(B.rows() > 0 && B.rows() == B.cols(), fn, "a non-empty square matrix",
            attractor::detail::text(B.rows(), " x ", B.cols()));
    require_finite(B.data(), static_cast<std::size_t>(B.size()), fn, "B");
    const Scalar largest = B.cwiseAbs().maxCoeff();
    const Scalar asymmetry = (B - B.transpose()).cwiseAbs().maxCoeff();
    require(asymmetry <= Scalar(1e-10) * largest, fn, "a symmetric B",
            attractor::detail::text("max |B - B^T| = ", asymmetry));
    static_covariance c;
    c.diagonal_ = false;
    c.B_ = B;
    Eigen::LLT<eigen_matrix<Scalar>> llt(B);
    // LLT fails on a non-positive pivot; a pivot lost to rounding is also a B that is not positive definite.
    if (llt.info() != Eigen::Success || !(llt.matrixL().toDenseMatrix().diagonal().minCoeff() > Scalar(0)))
      fail(fn, "a positive-definite B", "a matrix whose Cholesky factorisation fails");
    c.L_ = llt.matrixL();
    return c;
  }

  /// A diagonal matrix from its variances. Throws attractor::error unless every variance is finite and > 0.
  static static_covariance diagonal(const std::vector<Scalar>& variances) {
    constexpr const char* fn = "da::static_covariance::diagonal";
    require(!variances.empty(), fn, "at least one variance", "none");
    for (std::size_t i = 0; i < variances.size(); ++i)
      require(std::isfinite(variances[i]) && variances[i] > 0, fn, "finite variances > 0 (a positive-definite B)",
              attractor::detail::text(variances[i], " at index ", i));
    static_covariance c;
    c.diagonal_ = true;
    const auto n = static_cast<Eigen::Index>(variances.size());
    c.B_ = eigen_matrix<Scalar>::Zero(n, n);
    c.L_ = eigen_matrix<Scalar>::Zero(n, n);
    for (Eigen::Index i = 0; i < n; ++i) {
      c.B_(i, i) = variances[static_cast<std::size_t>(i)];
      c.L_(i, i) = std::sqrt(variances[static_cast<std::size_t>(i)]);
    }
    return c;
  }

  [[nodiscard]] std::size_t Nx() const { return static_cast<std::size_t>(B_.rows()); }
  [[nodiscard]] bool is_diagonal() const { return diagonal_; }
  [[nodiscard]] const eigen_matrix<Scalar>& matrix() const { return B_; }
  /// The lower Cholesky factor (for a diagonal B, the diagonal of standard deviations).
  [[nodiscard]] const eigen_matrix<Scalar>& cholesky() const { return L_; }
  /// The same covariance with only its diagonal kept.
  [[nodiscard]] static_covariance diagonal_part() const {
    std::vector<Scalar> v(Nx());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = B_(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i));
    return diagonal(v);
  }

private:
  static_covariance() = default;
  bool diagonal_ = false;
  eigen_matrix<Scalar> B_, L_;
};

/// The paper's static B0 for Lorenz-63 in physical units (spec §7, Table D1: the time-mean forecast sample
/// covariance of ETKF-12); the paper's EnOI-diagonal uses its diagonal (static_covariance::diagonal_part()).
template <floating_scalar Scalar = double>
static_covariance<Scalar> lorenz63_paper_b0() {
  eigen_matrix<Scalar> B(3, 3);
  B << Scalar(0.520), Scalar(0.747), Scalar(0.000), Scalar(0.747), Scalar(1.378), Scalar(0.001), Scalar(0.000),
      Scalar(0.001), Scalar(1.177);
  return static_covariance<Scalar>::full(B);
}

}  // namespace attractor::da
