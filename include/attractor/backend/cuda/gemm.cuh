// GEMM on cuda through cuBLAS. cuBLAS is column-major; a row-major C = op(A) op(B) is the column-major
// C^T = op(B)^T op(A)^T, so the operands are passed swapped and no data moves.
#pragma once

#include <cublas_v2.h>

#include <climits>
#include <cstddef>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/gemm.hpp"

namespace attractor {

namespace detail {

inline cublasOperation_t cublas_op(transpose t) { return t == transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N; }

inline int cublas_int(std::size_t v, const char* function, const char* what) {
  require(v <= static_cast<std::size_t>(INT_MAX), function, detail::text(what, " <= ", INT_MAX), v);
  return static_cast<int>(v);
}

inline cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const float* alpha, const float* a, int lda, const float* b, int ldb,
                                  const float* beta, float* c, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const double* alpha, const double* a, int lda, const double* b, int ldb,
                                  const double* beta, double* c, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline cublasStatus_t cublas_gemm_strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const float* alpha, const float* a, int lda, long long sa,
                                          const float* b, int ldb, long long sb, const float* beta, float* c, int ldc,
                                          long long sc, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
inline cublasStatus_t cublas_gemm_strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const double* alpha, const double* a, int lda, long long sa,
                                          const double* b, int ldb, long long sb, const double* beta, double* c,
                                          int ldc, long long sc, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

}  // namespace detail

template <floating_scalar Scalar>
void gemm(context<cuda>& ctx, transpose trans_a, transpose trans_b, std::size_t m, std::size_t n, std::size_t k,
          Scalar alpha, const Scalar* a, std::size_t lda, const Scalar* b, std::size_t ldb, Scalar beta, Scalar* c,
          std::size_t ldc) {
  constexpr const char* fn = "gemm";
  const gemm_shape shape{trans_a, trans_b, m, n, k, lda, ldb, ldc};
  shape.validate(fn);
  if (m == 0 || n == 0) return;
  using detail::cublas_int;
  ATTRACTOR_CUBLAS_CHECK(detail::cublas_gemm(ctx.cublas(), detail::cublas_op(trans_b), detail::cublas_op(trans_a),
                                             cublas_int(n, fn, "n"), cublas_int(m, fn, "m"), cublas_int(k, fn, "k"),
                                             &alpha, b, cublas_int(ldb, fn, "ldb"), a, cublas_int(lda, fn, "lda"),
                                             &beta, c, cublas_int(ldc, fn, "ldc")));
}

template <floating_scalar Scalar>
void gemm_strided_batched(context<cuda>& ctx, transpose trans_a, transpose trans_b, std::size_t m, std::size_t n,
                          std::size_t k, Scalar alpha, const Scalar* a, std::size_t lda, std::size_t stride_a,
                          const Scalar* b, std::size_t ldb, std::size_t stride_b, Scalar beta, Scalar* c,
                          std::size_t ldc, std::size_t stride_c, std::size_t batch) {
  constexpr const char* fn = "gemm_strided_batched";
  const gemm_shape shape{trans_a, trans_b, m, n, k, lda, ldb, ldc};
  shape.validate(fn);
  if (m == 0 || n == 0 || batch == 0) return;
  using detail::cublas_int;
  ATTRACTOR_CUBLAS_CHECK(detail::cublas_gemm_strided(
      ctx.cublas(), detail::cublas_op(trans_b), detail::cublas_op(trans_a), cublas_int(n, fn, "n"),
      cublas_int(m, fn, "m"), cublas_int(k, fn, "k"), &alpha, b, cublas_int(ldb, fn, "ldb"),
      static_cast<long long>(stride_b), a, cublas_int(lda, fn, "lda"), static_cast<long long>(stride_a), &beta, c,
      cublas_int(ldc, fn, "ldc"), static_cast<long long>(stride_c), cublas_int(batch, fn, "batch")));
}

}  // namespace attractor
