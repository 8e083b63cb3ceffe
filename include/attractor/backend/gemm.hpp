// GEMM in row-major terms: C = alpha * op(A) * op(B) + beta * C, with op(A) m x k, op(B) k x n and C m x n, each
// stored row-major with a leading dimension (the distance between rows). As in BLAS, beta = 0 means C is not
// read, so it may hold garbage. The cpu version uses Eigen, parallel over the context's threads through Eigen's
// OpenMP support; the cuda version (cuda/gemm.cuh) uses cuBLAS.
#pragma once

#include "attractor/core/eigen.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor {

enum class transpose : bool { no = false, yes = true };

/// The argument checks shared by every backend's gemm.
struct gemm_shape {
  transpose trans_a, trans_b;
  std::size_t m, n, k, lda, ldb, ldc;

  [[nodiscard]] std::size_t a_rows() const { return trans_a == transpose::no ? m : k; }
  [[nodiscard]] std::size_t a_cols() const { return trans_a == transpose::no ? k : m; }
  [[nodiscard]] std::size_t b_rows() const { return trans_b == transpose::no ? k : n; }
  [[nodiscard]] std::size_t b_cols() const { return trans_b == transpose::no ? n : k; }

  void validate(const char* function) const {
    // As in BLAS, a leading dimension is at least 1 even for an empty matrix.
    require(lda >= std::max<std::size_t>(1, a_cols()), function, detail::text("lda >= ", a_cols()), lda);
    require(ldb >= std::max<std::size_t>(1, b_cols()), function, detail::text("ldb >= ", b_cols()), ldb);
    require(ldc >= std::max<std::size_t>(1, n), function, detail::text("ldc >= ", n), ldc);
  }
};

namespace detail {

template <class Scalar>
using row_major_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class Scalar>
using const_matrix_map = Eigen::Map<const row_major_matrix<Scalar>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class Scalar>
using matrix_map = Eigen::Map<row_major_matrix<Scalar>, Eigen::Unaligned, Eigen::OuterStride<>>;

/// c[r, j] = 0 over an m x n block with leading dimension ldc.
template <class Scalar>
struct zero_strided {
  Scalar* c;
  std::size_t ldc;
  void operator()(std::size_t r, std::size_t j) const { c[r * ldc + j] = Scalar(0); }
};

template <class Scalar>
void gemm_eigen(const gemm_shape& s, Scalar alpha, const Scalar* a, const Scalar* b, Scalar beta, Scalar* c) {
  const_matrix_map<Scalar> A(a, static_cast<Eigen::Index>(s.a_rows()), static_cast<Eigen::Index>(s.a_cols()),
                             Eigen::OuterStride<>(static_cast<Eigen::Index>(s.lda)));
  const_matrix_map<Scalar> B(b, static_cast<Eigen::Index>(s.b_rows()), static_cast<Eigen::Index>(s.b_cols()),
                             Eigen::OuterStride<>(static_cast<Eigen::Index>(s.ldb)));
  matrix_map<Scalar> C(c, static_cast<Eigen::Index>(s.m), static_cast<Eigen::Index>(s.n),
                       Eigen::OuterStride<>(static_cast<Eigen::Index>(s.ldc)));
  auto run = [&](const auto& op_a, const auto& op_b) {
    if (s.k == 0) {
      if (beta == Scalar(0)) {
        C.setZero();
      } else {
        C *= beta;
      }
    } else if (beta == Scalar(0)) {
      C.noalias() = alpha * (op_a * op_b);
    } else {
      if (beta != Scalar(1)) C *= beta;
      C.noalias() += alpha * (op_a * op_b);
    }
  };
  const bool ta = s.trans_a == transpose::yes;
  const bool tb = s.trans_b == transpose::yes;
  if (!ta && !tb) run(A, B);
  if (!ta && tb) run(A, B.transpose());
  if (ta && !tb) run(A.transpose(), B);
  if (ta && tb) run(A.transpose(), B.transpose());
}

/// Whether a product is better split along k across threads than left to Eigen's threading: a small C and a long
/// inner dimension (a weight gradient summed over a batch of pixels, e.g. 64 x 576 over k = 32768), where Eigen
/// splits C's few blocks and, on a busy machine, waits on its threads (measured 830 ms against 20 ms on one).
inline bool split_inner(std::size_t m, std::size_t n, std::size_t k, int threads) {
  return threads > 1 && k >= 4096 && k >= 16 * std::max(m, n) && m * n <= (std::size_t{1} << 20);
}

/// C = alpha op(A) op(B) + beta C with the k range cut into one contiguous chunk per thread: thread 0 accumulates
/// into C with beta, the others into private m x n sums added to C at the end. The chunks depend on the thread count
/// only, so a result is reproducible for a given number of threads.
template <class Scalar>
void gemm_split_inner(const gemm_shape& s, int threads, Scalar alpha, const Scalar* a, const Scalar* b, Scalar beta,
                      Scalar* c) {
  const std::size_t m = s.m, n = s.n;
  std::vector<Scalar> partial((static_cast<std::size_t>(threads) - 1) * m * n);
  ATTRACTOR_OMP(parallel num_threads(threads)) {
    // The team may be smaller than asked for: the chunks follow the team that runs.
    const auto parts = static_cast<std::size_t>(omp_team_size()), t = static_cast<std::size_t>(omp_thread_index());
    const std::size_t k0 = s.k * t / parts, k1 = s.k * (t + 1) / parts;
    gemm_shape chunk = s;
    chunk.k = k1 - k0;
    if (t > 0) chunk.ldc = n;
    const Scalar* a_t = a + (s.trans_a == transpose::no ? k0 : k0 * s.lda);
    const Scalar* b_t = b + (s.trans_b == transpose::no ? k0 * s.ldb : k0);
    gemm_eigen(chunk, alpha, a_t, b_t, t == 0 ? beta : Scalar(0), t == 0 ? c : partial.data() + (t - 1) * m * n);
    ATTRACTOR_OMP(barrier)
    ATTRACTOR_OMP(for schedule(static))
    for (std::ptrdiff_t r = 0; r < static_cast<std::ptrdiff_t>(m); ++r) {
      const auto row = static_cast<std::size_t>(r);
      for (std::size_t p = 1; p < parts; ++p)
        for (std::size_t j = 0; j < n; ++j) c[row * s.ldc + j] += partial[((p - 1) * m + row) * n + j];
    }
  }
}

}  // namespace detail

template <floating_scalar Scalar>
void gemm(context<cpu>& ctx, transpose trans_a, transpose trans_b, std::size_t m, std::size_t n, std::size_t k,
          Scalar alpha, const Scalar* a, std::size_t lda, const Scalar* b, std::size_t ldb, Scalar beta, Scalar* c,
          std::size_t ldc) {
  const gemm_shape shape{trans_a, trans_b, m, n, k, lda, ldb, ldc};
  shape.validate("gemm");
  if (m == 0 || n == 0) return;
  if (detail::split_inner(m, n, k, ctx.threads())) {
    Eigen::setNbThreads(1);
    detail::gemm_split_inner(shape, ctx.threads(), alpha, a, b, beta, c);
    return;
  }
  // Eigen's C = A B zero-fills C on one thread before accumulating into it: fill it on all of them, then add.
  if (beta == Scalar(0) && k > 0) {
    for_each_row_col(ctx, m, n, detail::zero_strided<Scalar>{c, ldc});
    beta = Scalar(1);
  }
  Eigen::setNbThreads(ctx.threads());
  detail::gemm_eigen(shape, alpha, a, b, beta, c);
}

/// `batch` independent GEMMs; matrix i of A, B and C starts at a + i * stride_a, and so on.
template <floating_scalar Scalar>
void gemm_strided_batched(context<cpu>& ctx, transpose trans_a, transpose trans_b, std::size_t m, std::size_t n,
                          std::size_t k, Scalar alpha, const Scalar* a, std::size_t lda, std::size_t stride_a,
                          const Scalar* b, std::size_t ldb, std::size_t stride_b, Scalar beta, Scalar* c,
                          std::size_t ldc, std::size_t stride_c, std::size_t batch) {
  const gemm_shape shape{trans_a, trans_b, m, n, k, lda, ldb, ldc};
  shape.validate("gemm_strided_batched");
  if (m == 0 || n == 0 || batch == 0) return;
  // Many small products: one per thread, Eigen single-threaded inside (it detects the enclosing parallel
  // region). Few large ones: one after another, each parallel inside Eigen.
  const int threads = ctx.threads();
  [[maybe_unused]] const bool across_batch =
      batch >= static_cast<std::size_t>(threads) && m * n * k < (std::size_t{1} << 21);
  Eigen::setNbThreads(threads);
  const auto count = static_cast<std::ptrdiff_t>(batch);
ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads) if (across_batch && threads > 1))
for (std::ptrdiff_t i = 0; i < count; ++i) {
  const auto u = static_cast<std::size_t>(i);
  detail::gemm_eigen(shape, alpha, a + u * stride_a, b + u * stride_b, beta, c + u * stride_c);
}
}

}  // namespace attractor
