// Peak over threshold (spec §5, the reference's ExtremeValue): per dimension, the 1% and 99% quantiles of the
// reference set; POT = the fraction of all (sample, dimension) entries at or below the lower one or at or above the
// upper one. A set distributed as the reference scores 0.02.
//
// Quantiles use linear interpolation between order statistics, exactly as numpy.quantile's default method (and
// torch.quantile's "linear"): with the values sorted v_0 <= ... <= v_{n-1}, the position is h = q (n - 1), and
// the quantile is v_i + (v_{i+1} - v_i) g for i = floor(h), g = h - i, evaluated as numpy's lerp does (from the
// upper value when g >= 0.5), in double. torch computes in the input's dtype, which can differ in the last bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "attractor/backend/copy.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/metrics/check.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics {

/// The q-quantile of `values` (numpy.quantile(values, q), method "linear"), reordering them. Throws unless values
/// is non-empty and finite and 0 <= q <= 1.
template <class T>
double quantile(std::vector<T>& values, double q) {
  constexpr const char* fn = "metrics::quantile";
  require(!values.empty(), fn, "at least one value", 0);
  require(q >= 0 && q <= 1, fn, "a level q in [0, 1]", q);
  require_finite(values.data(), values.size(), fn, "the values");
  const double h = q * static_cast<double>(values.size() - 1);
  const auto i = static_cast<std::size_t>(std::floor(h));
  const double g = h - static_cast<double>(i);
  const auto nth = values.begin() + static_cast<std::ptrdiff_t>(i);
  std::nth_element(values.begin(), nth, values.end());
  const auto a = static_cast<double>(*nth);
  // After nth_element every later value is >= v_i: v_{i+1} is the smallest of them.
  const double b = i + 1 < values.size() ? static_cast<double>(*std::min_element(nth + 1, values.end())) : a;
  const double diff = b - a;
  return g >= 0.5 ? b - diff * (1 - g) : a + diff * g;
}

/// Per-dimension thresholds of the peak-over-threshold score.
struct pot_thresholds {
  double lower_level = 0.01;
  double upper_level = 0.99;
  std::vector<double> lower;  ///< the lower_level quantile of each dimension
  std::vector<double> upper;  ///< the upper_level quantile of each dimension
};

/// The thresholds of a reference set (n x d) on any backend (copied to the host, one column at a time). Throws
/// on an empty set, NaN or Inf, or levels outside 0 <= lower_level < upper_level <= 1.
template <class Backend, tensor_like Reference>
pot_thresholds quantile_thresholds(context<Backend>& ctx, const Reference& reference, double lower_level = 0.01,
                                   double upper_level = 0.99) {
  constexpr const char* fn = "metrics::quantile_thresholds";
  auto r = as_view(reference);
  using scalar = typename decltype(r)::value_type;
  detail::require_state_set(r, 0, fn, "reference set");
  require(lower_level >= 0 && lower_level < upper_level && upper_level <= 1, fn, "levels with 0 <= lower < upper <= 1",
          attractor::detail::text(lower_level, " and ", upper_level));
  const std::size_t n = r.extent(0), d = r.extent(1);
  std::vector<scalar> copy;  // the host copy of a reference on another backend
  const scalar* host = r.data();
  if constexpr (!host_accessible<Backend>) {
    copy.resize(n * d);
    transfer<Backend, cpu>::run(ctx, r.data(), copy.data(), n * d);
    host = copy.data();
  }
  require_finite(host, n * d, fn, "the reference set");
  pot_thresholds t{lower_level, upper_level, std::vector<double>(d), std::vector<double>(d)};
  std::vector<scalar> column(n);
  for (std::size_t k = 0; k < d; ++k) {
    for (std::size_t i = 0; i < n; ++i) column[i] = host[i * d + k];
    t.lower[k] = quantile(column, lower_level);
    t.upper[k] = quantile(column, upper_level);
  }
  return t;
}

namespace detail {

/// flags[i] = 1 where entry i of a (rows x d) block is <= its dimension's lower threshold or >= its upper one.
/// thresholds holds the d lower thresholds, then the d upper ones.
template <class Scalar>
struct beyond_threshold {
  Scalar* flags;
  const Scalar* x;
  const double* thresholds;
  std::size_t d;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const auto v = static_cast<double>(x[i]);
    const std::size_t k = i % d;
    flags[i] = v <= thresholds[k] || v >= thresholds[d + k] ? Scalar(1) : Scalar(0);
  }
};

}  // namespace detail

/// POT of a sample set (m x d) on any backend: the fraction of its m d entries at or beyond the thresholds.
/// Throws on an empty set, a dimension other than the thresholds', or NaN or Inf.
template <class Backend, tensor_like Samples>
double peak_over_threshold(context<Backend>& ctx, const Samples& samples, const pot_thresholds& thresholds) {
  constexpr const char* fn = "metrics::peak_over_threshold";
  auto x = as_view(samples);
  using scalar = typename decltype(x)::value_type;
  const std::size_t d = thresholds.lower.size();
  require(d > 0 && thresholds.upper.size() == d, fn, "thresholds for at least one dimension",
          attractor::detail::text(thresholds.lower.size(), " lower and ", thresholds.upper.size(), " upper"));
  detail::require_state_set(x, d, fn, "sample set");
  require_finite(ctx, x, fn, "the samples");
  std::vector<double> host(thresholds.lower);
  host.insert(host.end(), thresholds.upper.begin(), thresholds.upper.end());
  tensor<double, Backend> bounds(shape{2 * d});
  transfer<cpu, Backend>::run(ctx, host.data(), bounds.data(), 2 * d);
  // Blocks of whole rows with fewer than 2^24 entries: their count is exact in float.
  const std::size_t total = x.size();
  const std::size_t chunk = std::min(total, ((std::size_t{1} << 23) / d) * d);
  tensor<scalar, Backend> flags(shape{chunk});
  double beyond = 0;
  for (std::size_t begin = 0; begin < total; begin += chunk) {
    const std::size_t count = std::min(chunk, total - begin);
    for_each_index(ctx, count, detail::beyond_threshold<scalar>{flags.data(), x.data() + begin, bounds.data(), d});
    beyond += static_cast<double>(reduce(ctx, reduction::sum, static_cast<const scalar*>(flags.data()), count));
  }
  return beyond / static_cast<double>(total);
}

}  // namespace attractor::metrics
