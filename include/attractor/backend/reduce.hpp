// Reductions over all elements and along the last axis: sum, max and sum of squares. The cuda overloads are in
// cuda/reduce.cuh.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string_view>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor {

enum class reduction { sum, max, sum_squares };

inline constexpr std::string_view to_string(reduction op) {
  switch (op) {
    case reduction::sum: return "sum";
    case reduction::max: return "max";
    case reduction::sum_squares: return "sum_squares";
  }
  return "?";
}

namespace detail {

/// Reduces x[0..n) in Scalar with SIMD lanes; callers keep n small enough that rounding stays bounded. (An
/// explicit array of accumulators was measured 0.8x as fast as this on rows of 256 floats.)
template <reduction Op, floating_scalar Scalar>
Scalar reduce_contiguous(const Scalar* x, std::size_t n) {
  if constexpr (Op == reduction::max) {
    Scalar acc = -std::numeric_limits<Scalar>::infinity();
    ATTRACTOR_OMP(simd reduction(max : acc))
    for (std::size_t i = 0; i < n; ++i) acc = x[i] > acc ? x[i] : acc;
    return acc;
  } else {
    Scalar acc = 0;
    ATTRACTOR_OMP(simd reduction(+ : acc))
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (Op == reduction::sum) {
        acc += x[i];
      } else {
        acc += x[i] * x[i];
      }
    }
    return acc;
  }
}

/// Whole-array reduction: Scalar SIMD sums over chunks, chunk results combined in double, so a float sum of
/// 10^8 elements keeps about 7 significant digits.
template <reduction Op, floating_scalar Scalar>
Scalar reduce_all_cpu(context<cpu>& ctx, const Scalar* x, std::size_t n) {
  constexpr std::size_t chunk = 4096;
  const auto chunks = static_cast<std::ptrdiff_t>((n + chunk - 1) / chunk);
  const bool is_max = Op == reduction::max;
  double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
  [[maybe_unused]] const int threads = n >= 4 * chunk ? ctx.threads() : 1;
  if constexpr (is_max) {
ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads) reduction(max : acc) if (threads > 1))
for (std::ptrdiff_t c = 0; c < chunks; ++c) {
  const std::size_t begin = static_cast<std::size_t>(c) * chunk;
  const double part = reduce_contiguous<Op>(x + begin, std::min(chunk, n - begin));
  acc = part > acc ? part : acc;
}
  } else {
ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads) reduction(+ : acc) if (threads > 1))
for (std::ptrdiff_t c = 0; c < chunks; ++c) {
  const std::size_t begin = static_cast<std::size_t>(c) * chunk;
  acc += reduce_contiguous<Op>(x + begin, std::min(chunk, n - begin));
}
  }
  return static_cast<Scalar>(acc);
}

template <reduction Op, floating_scalar Scalar>
void reduce_rows_cpu(context<cpu>& ctx, const Scalar* x, std::size_t rows, std::size_t cols, Scalar* out) {
  const auto count = static_cast<std::ptrdiff_t>(rows);
  [[maybe_unused]] const int threads = rows * cols >= 16384 ? ctx.threads() : 1;
ATTRACTOR_OMP(parallel for schedule(static) num_threads(threads) if (threads > 1))
for (std::ptrdiff_t r = 0; r < count; ++r) {
  const Scalar* row = x + static_cast<std::size_t>(r) * cols;
  if constexpr (Op == reduction::max) {
    out[r] = reduce_contiguous<Op>(row, cols);
  } else {
    // Chunks of 4096 summed in double, as in reduce_all_cpu, so long rows keep their precision.
    double acc = 0;
    for (std::size_t begin = 0; begin < cols; begin += 4096) {
      acc += reduce_contiguous<Op>(row + begin, std::min<std::size_t>(4096, cols - begin));
    }
    out[r] = static_cast<Scalar>(acc);
  }
}
}

}  // namespace detail

/// Reduces all n elements of x. The max of no elements is an error; the sums of no elements are 0.
template <floating_scalar Scalar>
Scalar reduce(context<cpu>& ctx, reduction op, const Scalar* x, std::size_t n) {
  if (op == reduction::max) require(n > 0, "reduce(max)", "at least one element", n);
  switch (op) {
    case reduction::sum: return detail::reduce_all_cpu<reduction::sum>(ctx, x, n);
    case reduction::max: return detail::reduce_all_cpu<reduction::max>(ctx, x, n);
    case reduction::sum_squares: return detail::reduce_all_cpu<reduction::sum_squares>(ctx, x, n);
  }
  fail("reduce", "a known reduction", static_cast<int>(op));
}

/// *out = the reduction of all n elements of x, written on the backend: no round trip to the host on cuda.
template <floating_scalar Scalar>
void reduce_to(context<cpu>& ctx, reduction op, const Scalar* x, std::size_t n, Scalar* out) {
  *out = reduce(ctx, op, x, n);
}

/// out[r] = op over x[r, 0..cols) for a row-major rows x cols array: a reduction along the last axis.
template <floating_scalar Scalar>
void reduce_rows(context<cpu>& ctx, reduction op, const Scalar* x, std::size_t rows, std::size_t cols, Scalar* out) {
  if (op == reduction::max) require(cols > 0 || rows == 0, "reduce_rows(max)", "at least one column", cols);
  switch (op) {
    case reduction::sum: return detail::reduce_rows_cpu<reduction::sum>(ctx, x, rows, cols, out);
    case reduction::max: return detail::reduce_rows_cpu<reduction::max>(ctx, x, rows, cols, out);
    case reduction::sum_squares: return detail::reduce_rows_cpu<reduction::sum_squares>(ctx, x, rows, cols, out);
  }
  fail("reduce_rows", "a known reduction", static_cast<int>(op));
}

}  // namespace attractor
