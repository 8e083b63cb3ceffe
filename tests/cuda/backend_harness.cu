// Host-side wrappers that run the cuda primitive kernels on host arrays (see harness.hpp).
#include <cstdio>
#include <cstring>

#include "attractor/cuda.cuh"
#include "harness.hpp"

namespace attractor_test {

using namespace attractor;
using attractor::cuda;  // CCCL declares a global namespace `cuda`; this declaration takes precedence over both

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

namespace {
template <class T>
tensor<T, cuda> upload(context<cuda>& ctx, const T* host, std::size_t n) {
  tensor<T, cuda> out({n});
  transfer<cpu, cuda>::run(ctx, host, out.data(), n);
  return out;
}
template <class T>
void download(context<cuda>& ctx, const tensor<T, cuda>& src, T* host) {
  transfer<cuda, cpu>::run(ctx, src.data(), host, src.size());
}
}  // namespace

template <class Scalar>
void cuda_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, Scalar alpha, const Scalar* a,
               const Scalar* b, Scalar beta, Scalar* c) {
  context<cuda> ctx;
  auto da = upload(ctx, a, m * k), db = upload(ctx, b, k * n), dc = upload(ctx, c, m * n);
  gemm(ctx, ta ? transpose::yes : transpose::no, tb ? transpose::yes : transpose::no, m, n, k, alpha, da.data(),
       std::max<std::size_t>(1, ta ? m : k), db.data(), std::max<std::size_t>(1, tb ? k : n), beta, dc.data(),
       std::max<std::size_t>(1, n));
  download(ctx, dc, c);
}

template <class Scalar>
void cuda_gemm_strided_batched(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, Scalar alpha,
                               const Scalar* a, const Scalar* b, Scalar beta, Scalar* c, std::size_t batch) {
  context<cuda> ctx;
  auto da = upload(ctx, a, batch * m * k), db = upload(ctx, b, batch * k * n), dc = upload(ctx, c, batch * m * n);
  gemm_strided_batched(ctx, ta ? transpose::yes : transpose::no, tb ? transpose::yes : transpose::no, m, n, k, alpha,
                       da.data(), ta ? m : k, m * k, db.data(), tb ? k : n, k * n, beta, dc.data(), n, m * n, batch);
  download(ctx, dc, c);
}

template <class Scalar>
void cuda_maps(const Scalar* x, const Scalar* y, const Scalar* z, std::size_t n, Scalar a, Scalar* axpy_out,
               Scalar* fma_out, Scalar* scale_out) {
  context<cuda> ctx;
  auto dx = upload(ctx, x, n), dy = upload(ctx, y, n), dz = upload(ctx, z, n);
  tensor<Scalar, cuda> out({n});
  map(ctx, out, ops::axpy<Scalar>{a}, dx, dy);
  download(ctx, out, axpy_out);
  map(ctx, out, ops::fma{}, dx, dy, dz);
  download(ctx, out, fma_out);
  map(ctx, out, ops::scale<Scalar>{Scalar(2)}, dx);
  download(ctx, out, scale_out);
}

template <class Scalar>
void cuda_reductions(const Scalar* x, std::size_t rows, std::size_t cols, Scalar* all3, Scalar* row_sum,
                     Scalar* row_max, Scalar* row_sumsq) {
  context<cuda> ctx;
  auto dx = upload(ctx, x, rows * cols);
  all3[0] = sum(ctx, dx);
  all3[1] = max(ctx, dx);
  all3[2] = sum_squares(ctx, dx);
  const auto matrix = dx.reshape({rows, cols});
  tensor<Scalar, cuda> out({rows});
  reduce_last_axis(ctx, reduction::sum, matrix, out);
  download(ctx, out, row_sum);
  reduce_last_axis(ctx, reduction::max, matrix, out);
  download(ctx, out, row_max);
  reduce_last_axis(ctx, reduction::sum_squares, matrix, out);
  download(ctx, out, row_sumsq);
}

template <class Scalar>
void cuda_segment_sum(const std::int32_t* keys, const Scalar* x, std::size_t rows, std::size_t cols,
                      std::size_t segments, Scalar* out) {
  context<cuda> ctx;
  auto dk = upload(ctx, keys, rows);
  auto dx = upload(ctx, x, rows * cols);
  tensor<Scalar, cuda> dout({segments, cols});
  segment_sum(ctx, dk, dx.reshape({rows, cols}), dout);
  download(ctx, dout, out);
}

bool cuda_segment_sum_rejects_bad_key(char* message, std::size_t capacity) {
  context<cuda> ctx;
  const std::int32_t keys[3] = {0, 5, 1};
  const float x[6] = {};
  auto dk = upload(ctx, keys, 3);
  auto dx = upload(ctx, x, 6);
  tensor<float, cuda> out({2, 2});
  try {
    segment_sum(ctx, dk, dx.reshape({3, 2}), out);
  } catch (const attractor::error& e) {
    std::snprintf(message, capacity, "%s", e.what());
    return true;
  }
  return false;
}

namespace {
struct record_row_col {
  std::uint32_t* row_of;
  std::uint32_t* col_of;
  std::uint32_t* visits;
  std::size_t cols;
  __device__ void operator()(std::size_t r, std::size_t c) const {
    row_of[r * cols + c] = static_cast<std::uint32_t>(r);
    col_of[r * cols + c] = static_cast<std::uint32_t>(c);
    ++visits[r * cols + c];
  }
};
}  // namespace

void cuda_row_col_visits(std::size_t rows, std::size_t cols, std::uint32_t* row_of, std::uint32_t* col_of,
                         std::uint32_t* visits) {
  context<cuda> ctx;
  const std::size_t n = rows * cols;
  tensor<std::uint32_t, cuda> r({n}), c({n}), v({n});
  fill(ctx, v, std::uint32_t(0));
  for_each_row_col(ctx, rows, cols, record_row_col{r.data(), c.data(), v.data(), cols});
  download(ctx, r, row_of);
  download(ctx, c, col_of);
  download(ctx, v, visits);
}

#define ATTRACTOR_TEST_INSTANTIATE(Scalar)                                                                            \
  template void cuda_gemm<Scalar>(bool, bool, std::size_t, std::size_t, std::size_t, Scalar, const Scalar*,           \
                                  const Scalar*, Scalar, Scalar*);                                                    \
  template void cuda_gemm_strided_batched<Scalar>(bool, bool, std::size_t, std::size_t, std::size_t, Scalar,          \
                                                  const Scalar*, const Scalar*, Scalar, Scalar*, std::size_t);        \
  template void cuda_maps<Scalar>(const Scalar*, const Scalar*, const Scalar*, std::size_t, Scalar, Scalar*, Scalar*, \
                                  Scalar*);                                                                           \
  template void cuda_reductions<Scalar>(const Scalar*, std::size_t, std::size_t, Scalar*, Scalar*, Scalar*, Scalar*); \
  template void cuda_segment_sum<Scalar>(const std::int32_t*, const Scalar*, std::size_t, std::size_t, std::size_t,   \
                                         Scalar*);
ATTRACTOR_TEST_INSTANTIATE(float)
ATTRACTOR_TEST_INSTANTIATE(double)

}  // namespace attractor_test
