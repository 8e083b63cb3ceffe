// Host-side wrappers around the metrics layer on the cuda backend (declared in harness.hpp): the same generic code
// the cpu tests run, on context<cuda>, with inputs and results in host arrays.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "attractor/cuda.cuh"
#include "harness.hpp"

namespace attractor_test {

using namespace attractor;
using attractor::cuda;  // CCCL declares a global namespace `cuda`; this declaration takes precedence over both

namespace {
template <class T>
tensor<T, cuda> upload(context<cuda>& ctx, const T* host, std::size_t rows, std::size_t cols) {
  tensor<T, cuda> out({rows, cols});
  transfer<cpu, cuda>::run(ctx, host, out.data(), rows * cols);
  return out;
}
}  // namespace

template <class Scalar>
void cuda_cube_counts(const Scalar* x, std::size_t n, std::size_t d, std::size_t bins, double low, double high,
                      std::uint64_t* counts, std::uint64_t* out_of_range) {
  context<cuda> ctx;
  const auto dx = upload(ctx, x, n, d);
  metrics::cube_histogram h(d, metrics::cube_grid{bins, low, high});
  h.add(ctx, dx);
  for (std::size_t c = 0; c < h.cells(); ++c) counts[c] = h.counts()[c];
  *out_of_range = h.out_of_range();
}

template <class Scalar>
void cuda_nearest_sq_distances(const Scalar* queries, std::size_t m, const Scalar* reference, std::size_t n,
                               std::size_t d, Scalar* out, double* sum) {
  context<cuda> ctx;
  const auto dq = upload(ctx, queries, m, d);
  const auto dr = upload(ctx, reference, n, d);
  tensor<Scalar, cuda> dout({m});
  const metrics::nearest_search<Scalar, cuda> search(ctx, dr);
  search.sq_distances(ctx, dq, dout);
  transfer<cuda, cpu>::run(ctx, dout.data(), out, m);
  *sum = search.sum_sq_distances(ctx, dq);
}

void cuda_evaluate(const float* reference, std::size_t n, const float* source, std::size_t s, const float* generated,
                   std::size_t m, std::size_t hidden, std::uint64_t seed, std::size_t chunk, double* scores) {
  context<cuda> ctx;
  const auto dr = upload(ctx, reference, n, 3);
  const auto ds = upload(ctx, source, s, 3);
  const auto dg = upload(ctx, generated, m, 3);
  philox gen(seed);
  metrics::dense_surrogate<float, cuda> net(ctx, gen, {3, hidden, 2});
  metrics::evaluation_options o;
  o.chunk = chunk;
  o.feature_chunk = chunk;
  metrics::evaluator<float, cuda> eval(ctx, dr, ds, &net, o);
  const metrics::evaluation e = eval.evaluate(ctx, dg);
  const double out[7] = {e.hellinger, e.hellinger_floor,   static_cast<double>(e.out_of_range),
                         *e.frechet,  e.nearest_generated, e.nearest_reference,
                         e.pot};
  for (int i = 0; i < 7; ++i) scores[i] = out[i];
}

bool cuda_histogram_rejects_nan(char* message, std::size_t capacity) {
  context<cuda> ctx;
  const float x[6] = {0.0f, 0.0f, 0.0f, 1.0f, __builtin_nanf(""), 1.0f};
  const auto dx = upload(ctx, x, 2, 3);
  metrics::cube_histogram h;
  try {
    h.add(ctx, dx);
  } catch (const attractor::error& e) {
    std::snprintf(message, capacity, "%s", e.what());
    return h.in_range() == 0;  // and left unchanged
  }
  return false;
}

template void cuda_cube_counts<float>(const float*, std::size_t, std::size_t, std::size_t, double, double,
                                      std::uint64_t*, std::uint64_t*);
template void cuda_cube_counts<double>(const double*, std::size_t, std::size_t, std::size_t, double, double,
                                       std::uint64_t*, std::uint64_t*);
template void cuda_nearest_sq_distances<float>(const float*, std::size_t, const float*, std::size_t, std::size_t,
                                               float*, double*);
template void cuda_nearest_sq_distances<double>(const double*, std::size_t, const double*, std::size_t, std::size_t,
                                                double*, double*);

}  // namespace attractor_test
