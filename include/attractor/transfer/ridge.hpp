// transfer_learning::ridge_accumulator and ridge_solution: the streamed ridge regression of spec §6
// (LinearRegressionModule, least_squares.py). With n samples, E the mean over them:
//
//   mu = E[x],  sigma = sqrt(n (E[x^2] - E[x]^2) / (n + 1))   (the reference's n + 1; sigma = 1 where sigma^2 < 1e-8)
//   C  = (E[x x^T] - mu mu^T) / (sigma sigma^T) n / (n + 1) + lambda I
//   c  = (E[x y^T] - mu E[y]^T) / sigma n / (n + 1)
//   W  = C^-1 c,   prediction = W^T ((x - mu) / sigma) + E[y]
//
// so lambda (1e-4 in the paper) is relative to unit-variance features and the bias E[y] is not penalised.
//
// Accumulation runs on the features' backend, chunk by chunk: each chunk is shifted by a fixed reference (the mean
// of the first chunk), its sums x^T x (a GEMM), x^T y, sum x and sum y are formed in Scalar and added into
// accumulators in double on the same backend; the shift keeps the float sums free of the cancellation that raw
// second moments of features with a large mean would suffer. solve() moves the accumulators to the host and solves
// in double (Eigen's LDLT), refusing a system that is not finite.
#pragma once

#include "attractor/core/eigen.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "attractor/autograd/ops/dense.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/transfer/row_map.hpp"

namespace attractor::transfer_learning {

namespace kernels {

/// y[r, c] = x[r, c] - shift[c] over rows x cols.
template <class S>
struct subtract_row {
  S* y;
  const S* x;
  const S* shift;
  std::size_t cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    y[r * cols + c] = x[r * cols + c] - shift[c];
  }
};

/// y[r, c] = (x[r, c] - mean[c]) / scale[c] over rows x cols.
template <class S>
struct standardise_row {
  S* y;
  const S* x;
  const S* mean;
  const S* scale;
  std::size_t cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    y[r * cols + c] = (x[r * cols + c] - mean[c]) / scale[c];
  }
};

/// acc[i] += double(x[i]).
template <class S>
struct accumulate_double {
  double* acc;
  const S* x;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { acc[i] += static_cast<double>(x[i]); }
};

}  // namespace kernels

/// A solved ridge regression: a row map from features (n x features()) to predictions (n x outputs()).
template <floating_scalar Scalar, class Backend>
class ridge_solution {
public:
  using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;
  using vector = Eigen::Matrix<double, Eigen::Dynamic, 1>;

  /// From the host values of a solve (mean, scale: features; weights: features x outputs; bias: outputs).
  ridge_solution(context<Backend>& ctx, vector mean, vector scale, matrix weights, vector bias, double lambda,
                 std::uint64_t samples, std::size_t chunk = 4096)
      : mean_(std::move(mean)),
        scale_(std::move(scale)),
        weights_(std::move(weights)),
        bias_(std::move(bias)),
        lambda_(lambda),
        samples_(samples),
        chunk_(chunk) {
    constexpr const char* fn = "transfer_learning::ridge_solution";
    const auto f = static_cast<std::size_t>(mean_.size()), o = static_cast<std::size_t>(bias_.size());
    require(f > 0 && o > 0 && static_cast<std::size_t>(scale_.size()) == f &&
                static_cast<std::size_t>(weights_.rows()) == f && static_cast<std::size_t>(weights_.cols()) == o,
            fn, "mean and scale of F, weights F x O and bias of O values (F, O > 0)",
            attractor::detail::text(mean_.size(), ", ", scale_.size(), ", ", weights_.rows(), " x ", weights_.cols(),
                                    ", ", bias_.size()));
    require(chunk > 0, fn, "a chunk of at least one row", chunk);
    std::vector<Scalar> m(f), s(f), w(f * o), b(o);
    for (std::size_t i = 0; i < f; ++i) {
      m[i] = static_cast<Scalar>(mean_[Eigen::Index(i)]);
      s[i] = static_cast<Scalar>(scale_[Eigen::Index(i)]);
      for (std::size_t k = 0; k < o; ++k)
        w[k * f + i] = static_cast<Scalar>(weights_(Eigen::Index(i), Eigen::Index(k)));
    }
    for (std::size_t k = 0; k < o; ++k) b[k] = static_cast<Scalar>(bias_[Eigen::Index(k)]);
    require_finite(w.data(), w.size(), fn, "the weights");
    require_finite(m.data(), m.size(), fn, "the mean");
    mean_dev_ = upload(ctx, m, {f});
    scale_dev_ = upload(ctx, s, {f});
    weights_dev_ = upload(ctx, w, {o, f});
    bias_dev_ = upload(ctx, b, {o});
  }

  [[nodiscard]] std::size_t inputs() const { return static_cast<std::size_t>(mean_.size()); }
  [[nodiscard]] std::size_t outputs() const { return static_cast<std::size_t>(bias_.size()); }
  /// (features + 1) x outputs: the weights and the bias, as Table 3 counts them.
  [[nodiscard]] std::size_t trainable_parameters() const { return (inputs() + 1) * outputs(); }
  [[nodiscard]] const vector& mean() const { return mean_; }
  [[nodiscard]] const vector& scale() const { return scale_; }
  /// W (features x outputs), on standardised features.
  [[nodiscard]] const matrix& weights() const { return weights_; }
  [[nodiscard]] const vector& bias() const { return bias_; }
  [[nodiscard]] double lambda() const { return lambda_; }
  [[nodiscard]] std::uint64_t samples() const { return samples_; }

  /// out (n x outputs) = W^T ((x - mu) / sigma) + bias for features x (n x features), in Scalar on Backend.
  void apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, tensor_view<Scalar, Backend> out) {
    detail::require_row_shapes(x, out, inputs(), outputs(), "transfer_learning::ridge_solution::apply");
    const std::size_t f = inputs(), o = outputs(), n = x.extent(0);
    if (scratch_.size() == 0) scratch_ = tensor<Scalar, Backend>(shape{chunk_, f});
    for (std::size_t begin = 0; begin < n; begin += chunk_) {
      const std::size_t count = std::min(chunk_, n - begin);
      for_each_row_col(ctx, count, f,
                       kernels::standardise_row<Scalar>{scratch_.data(), x.data() + begin * f, mean_dev_.data(),
                                                        scale_dev_.data(), f});
      autograd::affine_rows(ctx, count, f, o, static_cast<const Scalar*>(scratch_.data()),
                            static_cast<const Scalar*>(weights_dev_.data()), bias_dev_.data(), out.data() + begin * o);
    }
  }

private:
  static tensor<Scalar, Backend> upload(context<Backend>& ctx, const std::vector<Scalar>& host, const shape& s) {
    tensor<Scalar, Backend> t(s);
    transfer<cpu, Backend>::run(ctx, host.data(), t.data(), host.size());
    return t;
  }

  vector mean_, scale_;
  matrix weights_;
  vector bias_;
  double lambda_;
  std::uint64_t samples_;
  std::size_t chunk_;
  tensor<Scalar, Backend> mean_dev_, scale_dev_, weights_dev_, bias_dev_, scratch_;
};

/// The sums of a streamed ridge regression of `outputs` targets on `features` features, on Backend.
template <floating_scalar Scalar, class Backend>
class ridge_accumulator {
public:
  /// Accumulates chunks of at most `chunk` rows (the scratch is chunk x (features + outputs)).
  ridge_accumulator(context<Backend>& ctx, std::size_t features, std::size_t outputs = 3, std::size_t chunk = 4096)
      : features_(features), outputs_(outputs), chunk_(chunk) {
    constexpr const char* fn = "transfer_learning::ridge_accumulator";
    require(features > 0 && outputs > 0, fn, "features > 0 and outputs > 0",
            attractor::detail::text(features, " and ", outputs));
    require(chunk > 0, fn, "a chunk of at least one row", chunk);
    const std::size_t f = features, o = outputs;
    sxx_ = zeros<double>(ctx, {f, f});
    sxy_ = zeros<double>(ctx, {f, o});
    sx_ = zeros<double>(ctx, {f});
    sy_ = zeros<double>(ctx, {o});
    shift_x_ = zeros<Scalar>(ctx, {f});
    shift_y_ = zeros<Scalar>(ctx, {o});
    xc_ = tensor<Scalar, Backend>(shape{chunk, f});
    yc_ = tensor<Scalar, Backend>(shape{chunk, o});
    gxx_ = tensor<Scalar, Backend>(shape{f, f});
    gxy_ = tensor<Scalar, Backend>(shape{f, o});
    gx_ = tensor<Scalar, Backend>(shape{f});
    gy_ = tensor<Scalar, Backend>(shape{o});
    ones_ = tensor<Scalar, Backend>(shape{chunk});
    fill(ctx, ones_, Scalar(1));
  }

  [[nodiscard]] std::size_t features() const { return features_; }
  [[nodiscard]] std::size_t outputs() const { return outputs_; }
  /// Samples added so far.
  [[nodiscard]] std::uint64_t count() const { return count_; }

  /// Adds the samples of features x (n x features) and targets y (n x outputs), n >= 1, both on Backend. Throws,
  /// adding nothing, on a wrong shape or a NaN or Inf in either.
  void add(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, const_tensor_view<Scalar, Backend> y) {
    constexpr const char* fn = "transfer_learning::ridge_accumulator::add";
    detail::require_row_shapes(x, y, features_, outputs_, fn);
    require_finite(ctx, x, fn, "the features");
    require_finite(ctx, y, fn, "the targets");
    const std::size_t f = features_, o = outputs_, n = x.extent(0);
    for (std::size_t begin = 0; begin < n; begin += chunk_) {
      const std::size_t m = std::min(chunk_, n - begin);
      const Scalar* xs = x.data() + begin * f;
      const Scalar* ys = y.data() + begin * o;
      if (count_ == 0) {  // the shift: the first chunk's column means
        gemm(ctx, transpose::no, transpose::no, 1, f, m, Scalar(1) / Scalar(m), ones_.data(), m, xs, f, Scalar(0),
             shift_x_.data(), f);
        gemm(ctx, transpose::no, transpose::no, 1, o, m, Scalar(1) / Scalar(m), ones_.data(), m, ys, o, Scalar(0),
             shift_y_.data(), o);
      }
      for_each_row_col(ctx, m, f, kernels::subtract_row<Scalar>{xc_.data(), xs, shift_x_.data(), f});
      for_each_row_col(ctx, m, o, kernels::subtract_row<Scalar>{yc_.data(), ys, shift_y_.data(), o});
      gemm(ctx, transpose::yes, transpose::no, f, f, m, Scalar(1), xc_.data(), f, xc_.data(), f, Scalar(0), gxx_.data(),
           f);
      gemm(ctx, transpose::yes, transpose::no, f, o, m, Scalar(1), xc_.data(), f, yc_.data(), o, Scalar(0), gxy_.data(),
           o);
      gemm(ctx, transpose::no, transpose::no, 1, f, m, Scalar(1), ones_.data(), m, xc_.data(), f, Scalar(0), gx_.data(),
           f);
      gemm(ctx, transpose::no, transpose::no, 1, o, m, Scalar(1), ones_.data(), m, yc_.data(), o, Scalar(0), gy_.data(),
           o);
      for_each_index(ctx, f * f, kernels::accumulate_double<Scalar>{sxx_.data(), gxx_.data()});
      for_each_index(ctx, f * o, kernels::accumulate_double<Scalar>{sxy_.data(), gxy_.data()});
      for_each_index(ctx, f, kernels::accumulate_double<Scalar>{sx_.data(), gx_.data()});
      for_each_index(ctx, o, kernels::accumulate_double<Scalar>{sy_.data(), gy_.data()});
      count_ += m;
    }
  }

  /// The ridge solution at `lambda` (>= 0, finite; the paper's is 1e-4) of the samples added so far (at least
  /// one). Throws on a bad lambda, no samples, sums that are not finite, or a system LDLT cannot solve to finite
  /// weights.
  ridge_solution<Scalar, Backend> solve(context<Backend>& ctx, double lambda = 1e-4) const {
    constexpr const char* fn = "transfer_learning::ridge_accumulator::solve";
    require(std::isfinite(lambda) && lambda >= 0, fn, "a finite lambda >= 0", lambda);
    require(count_ > 0, fn, "at least one sample", count_);
    const auto f = static_cast<Eigen::Index>(features_), o = static_cast<Eigen::Index>(outputs_);
    using matrix = typename ridge_solution<Scalar, Backend>::matrix;
    using vector = typename ridge_solution<Scalar, Backend>::vector;
    const matrix sxx = host_matrix(ctx, sxx_, f, f), sxy = host_matrix(ctx, sxy_, f, o);
    const vector sx = host_matrix(ctx, sx_, f, 1), sy = host_matrix(ctx, sy_, o, 1);
    const vector cx = host_matrix(ctx, shift_x_, f, 1), cy = host_matrix(ctx, shift_y_, o, 1);
    require(sxx.allFinite() && sxy.allFinite() && sx.allFinite() && sy.allFinite(), fn, "finite sums",
            "a NaN or Inf (overflow)");
    const double n = static_cast<double>(count_), factor = n / (n + 1);
    const vector dx = sx / n, dy = sy / n;               // means of the shifted data
    const matrix cov = sxx / n - dx * dx.transpose();    // E[x x^T] - mu mu^T
    const matrix cross = sxy / n - dx * dy.transpose();  // E[x y^T] - mu E[y]^T
    vector scale(f);
    for (Eigen::Index i = 0; i < f; ++i) {
      const double variance = cov(i, i) * factor;
      scale[i] = variance < 1e-8 ? 1.0 : std::sqrt(variance);
    }
    const vector inv = scale.cwiseInverse();
    matrix system = inv.asDiagonal() * cov * inv.asDiagonal() * factor;
    system.diagonal().array() += lambda;
    const matrix rhs = inv.asDiagonal() * cross * factor;
    Eigen::LDLT<matrix> ldlt(system);
    require(ldlt.info() == Eigen::Success, fn, "a system LDLT can factor", "a numerical failure");
    matrix weights = ldlt.solve(rhs);
    require(weights.allFinite(), fn, "finite weights (lambda > 0 makes the system definite)", "a NaN or Inf");
    return ridge_solution<Scalar, Backend>(ctx, cx + dx, scale, std::move(weights), cy + dy, lambda, count_);
  }

private:
  template <class T>
  static tensor<T, Backend> zeros(context<Backend>& ctx, const shape& s) {
    tensor<T, Backend> t(s);
    fill(ctx, t, T(0));
    return t;
  }

  /// A backend array of r x c values, row-major, as a host r x c double matrix.
  template <class T>
  static Eigen::MatrixXd host_matrix(context<Backend>& ctx, const tensor<T, Backend>& t, Eigen::Index r,
                                     Eigen::Index c) {
    std::vector<T> host(t.size());
    transfer<Backend, cpu>::run(ctx, t.data(), host.data(), host.size());
    Eigen::MatrixXd m(r, c);
    for (Eigen::Index i = 0; i < r; ++i)
      for (Eigen::Index j = 0; j < c; ++j) m(i, j) = static_cast<double>(host[std::size_t(i * c + j)]);
    return m;
  }

  std::size_t features_, outputs_, chunk_;
  std::uint64_t count_ = 0;
  tensor<double, Backend> sxx_, sxy_, sx_, sy_;
  tensor<Scalar, Backend> shift_x_, shift_y_, xc_, yc_, gxx_, gxy_, gx_, gy_, ones_;
};

/// The ridge regression of targets y (n x outputs) on the features `features` gives to states x (n x inputs), all on
/// Backend, streamed `chunk` rows at a time through a (chunk x features) array.
template <floating_scalar Scalar, class Backend, class Features>
requires row_map<Features, Scalar, Backend> ridge_solution<Scalar, Backend> fit_ridge(
    context<Backend>& ctx, Features& features, const_tensor_view<Scalar, Backend> x,
    const_tensor_view<Scalar, Backend> y, double lambda = 1e-4, std::size_t chunk = 4096) {
  constexpr const char* fn = "transfer_learning::fit_ridge";
  require(chunk > 0, fn, "a chunk of at least one row", chunk);
  require(x.rank() == 2 && y.rank() == 2 && x.extent(0) == y.extent(0) && x.extent(0) > 0, fn,
          "states (n >= 1, inputs) and targets (n, outputs)", attractor::detail::text(x.shape(), " and ", y.shape()));
  ridge_accumulator<Scalar, Backend> acc(ctx, features.outputs(), y.extent(1), chunk);
  tensor<Scalar, Backend> phi(shape{chunk, features.outputs()});
  const std::size_t n = x.extent(0);
  for (std::size_t begin = 0; begin < n; begin += chunk) {
    const std::size_t count = std::min(chunk, n - begin);
    features.apply(ctx, x.rows(begin, begin + count), phi.rows(0, count));
    acc.add(ctx, const_tensor_view<Scalar, Backend>(phi.rows(0, count)), y.rows(begin, begin + count));
  }
  return acc.solve(ctx, lambda);
}

}  // namespace attractor::transfer_learning
