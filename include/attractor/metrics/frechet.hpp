// The Fréchet distance between two Gaussians fitted to feature vectors (spec §5, torchmetrics' _compute_fid):
//
//   FD = ||mu_1 - mu_2||^2 + tr S_1 + tr S_2 - 2 tr sqrt(S_1 S_2),
//
// with tr sqrt(S_1 S_2) = tr sqrt(S_1^1/2 S_2 S_1^1/2): S_1 S_2 is similar to the symmetric positive semi-definite
// S_1^1/2 S_2 S_1^1/2, so both are taken from symmetric eigendecompositions (Eigen's SelfAdjointEigenSolver), in
// double, with eigenvalues that rounding made slightly negative set to zero. The result is never NaN.
//
// moment_accumulator streams the mean and covariance of feature rows chunk by chunk on any backend, in double:
// the column sums and the cross products sum f f^T are GEMMs (the backend's, in double) added into running totals,
// and cov = (sum f f^T - n mu mu^T) / (n - 1) as the reference computes it (which accumulates in float).
#pragma once

#include "attractor/core/eigen.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "attractor/backend/copy.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/core/error.hpp"
#include "attractor/metrics/check.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics {

/// The mean and covariance of a set of feature vectors, and how many there were.
struct gaussian_statistics {
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  std::size_t count = 0;
};

/// The Fréchet distance between N(a.mean, a.cov) and N(b.mean, b.cov), in double, >= 0. Throws unless both have the
/// same size (>= 1), square symmetric covariances of that size, finite values, and covariances that are positive
/// semi-definite up to rounding (no eigenvalue below -1e-8 times the largest).
inline double frechet_distance(const gaussian_statistics& a, const gaussian_statistics& b) {
  constexpr const char* fn = "metrics::frechet_distance";
  const Eigen::Index f = a.mean.size();
  require(f > 0 && b.mean.size() == f, fn, "two means of one size >= 1",
          attractor::detail::text(a.mean.size(), " and ", b.mean.size()));
  auto square = [&](const Eigen::MatrixXd& c) { return c.rows() == f && c.cols() == f; };
  require(square(a.cov) && square(b.cov), fn, attractor::detail::text("covariances of ", f, " x ", f),
          attractor::detail::text(a.cov.rows(), " x ", a.cov.cols(), " and ", b.cov.rows(), " x ", b.cov.cols()));
  require(a.mean.allFinite() && b.mean.allFinite() && a.cov.allFinite() && b.cov.allFinite(), fn,
          "finite means and covariances", "NaN or Inf");
  const Eigen::MatrixXd s1 = 0.5 * (a.cov + a.cov.transpose());
  const Eigen::MatrixXd s2 = 0.5 * (b.cov + b.cov.transpose());
  auto require_psd = [&](const Eigen::VectorXd& eigenvalues, const char* which) {
    const double largest = std::max(eigenvalues.maxCoeff(), 0.0);
    const double smallest = eigenvalues.minCoeff();
    require(smallest >= -1e-8 * largest, fn, attractor::detail::text("a positive semi-definite covariance ", which),
            attractor::detail::text("an eigenvalue ", smallest, " (largest ", largest, ")"));
  };
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e1(s1);
  require(e1.info() == Eigen::Success, fn, "a converged eigendecomposition of the first covariance", "a failure");
  require_psd(e1.eigenvalues(), "(first)");
  const Eigen::VectorXd root = e1.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const Eigen::MatrixXd half = e1.eigenvectors() * root.asDiagonal() * e1.eigenvectors().transpose();
  Eigen::MatrixXd inner = half * s2 * half;
  inner = (0.5 * (inner + inner.transpose())).eval();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e2(inner, Eigen::EigenvaluesOnly);
  require(e2.info() == Eigen::Success, fn, "a converged eigendecomposition of S1^1/2 S2 S1^1/2", "a failure");
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e3(s2, Eigen::EigenvaluesOnly);
  require_psd(e3.eigenvalues(), "(second)");
  const double trace_sqrt = e2.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  const double distance = (a.mean - b.mean).squaredNorm() + s1.trace() + s2.trace() - 2.0 * trace_sqrt;
  return std::max(distance, 0.0);
}

/// Streams the mean and covariance of rows of `features` values on Backend, in double.
template <class Backend>
class moment_accumulator {
public:
  moment_accumulator(context<Backend>& ctx, std::size_t features)
      : sum_(shape{1, features}), cross_(shape{features, features}), ones_(shape{0}), staging_(shape{0, features}) {
    require(features > 0, "metrics::moment_accumulator", "at least one feature", features);
    fill(ctx, sum_, 0.0);
    fill(ctx, cross_, 0.0);
  }

  /// Adds the rows of a (n x features) float or double tensor or view on Backend.
  template <tensor_like Rows>
  void add(context<Backend>& ctx, const Rows& rows) {
    auto x = as_view(rows);
    using scalar = typename decltype(x)::value_type;
    static_assert(std::is_same_v<typename decltype(x)::backend_type, Backend>, "add: rows on another backend");
    const std::size_t f = features();
    require(x.rank() == 2 && x.extent(1) == f, "metrics::moment_accumulator::add",
            attractor::detail::text("rows of shape (n, ", f, ")"), x.shape());
    const std::size_t n = x.extent(0);
    if (n == 0) return;
    const double* values = nullptr;
    if constexpr (std::is_same_v<scalar, double>) {
      values = x.data();
    } else {
      staging_.resize(shape{n, f});
      map(ctx, n * f, staging_.data(), ops::identity{}, static_cast<const scalar*>(x.data()));
      values = staging_.data();
    }
    if (ones_.size() < n) {
      ones_ = tensor<double, Backend>(shape{n});
      fill(ctx, ones_, 1.0);
    }
    // sum += 1^T X (1 x f); cross += X^T X (f x f).
    gemm(ctx, transpose::no, transpose::no, 1, f, n, 1.0, ones_.data(), n, values, f, 1.0, sum_.data(), f);
    gemm(ctx, transpose::yes, transpose::no, f, f, n, 1.0, values, f, values, f, 1.0, cross_.data(), f);
    count_ += n;
  }

  [[nodiscard]] std::size_t count() const { return count_; }
  [[nodiscard]] std::size_t features() const { return sum_.extent(1); }

  /// The mean and the covariance (sum f f^T - n mu mu^T) / (n - 1), on the host. Throws unless at least two rows
  /// were added and everything is finite.
  [[nodiscard]] gaussian_statistics statistics(context<Backend>& ctx) const {
    constexpr const char* fn = "metrics::moment_accumulator::statistics";
    require(count_ >= 2, fn, "at least two rows", count_);
    const auto f = static_cast<Eigen::Index>(features());
    std::vector<double> sum(sum_.size()), cross(cross_.size());
    transfer<Backend, cpu>::run(ctx, sum_.data(), sum.data(), sum.size());
    transfer<Backend, cpu>::run(ctx, cross_.data(), cross.data(), cross.size());
    gaussian_statistics s;
    const auto n = static_cast<double>(count_);
    s.count = count_;
    s.mean = Eigen::Map<const Eigen::VectorXd>(sum.data(), f) / n;
    // Row-major f x f is its own transpose's column-major layout; cross is symmetric anyway.
    const Eigen::Map<const Eigen::MatrixXd> products(cross.data(), f, f);
    s.cov = (products - n * s.mean * s.mean.transpose()) / (n - 1.0);
    require(s.mean.allFinite() && s.cov.allFinite(), fn, "finite features", "NaN or Inf in the sums");
    return s;
  }

private:
  tensor<double, Backend> sum_, cross_, ones_, staging_;
  std::size_t count_ = 0;
};

}  // namespace attractor::metrics
