// Lag (cross-)covariances through an FFT in time (spec §5, §7, §12), on any backend.
//
//   C_xy(tau)_ij = mean_t x_i(t + tau) y_j(t)
//
// with the means removed (pooled over time and members; `lag_options::remove_means = false` keeps them), averaged
// over independent members. Unbiased by default: the series are zero-padded in time (to at least T + lags, so no lag
// wraps around) and lag tau is divided by the T - tau products it has. `lag_options::circular` reproduces the
// paper's code instead: the series are taken as periodic in time (no padding) and every lag is divided by T, which
// biases lag tau by about (1 - tau/T).
//
// Two routes:
//   lag_covariance        any state: x and y of shape T x n (one member) or members x T x n; returns every pair,
//                         (lags + 1) x n x n, [tau][i][j] = C_xy(tau)_ij. One FFT per component and member; the
//                         cross-spectra of a block of columns j at a time (lag_options::block_bytes).
//   field_lag_covariance  translation-invariant periodic fields u and v of shape T x (n_side n_side) or members x T x
//                         (n_side n_side), pixel p = iy n_side + ix; returns c(d, tau) = mean over x, t and members of
//                         u(x + d, t + tau) v(x, t) as (lags + 1) x (n_side n_side), [tau][dy n_side + dx], with the
//                         displacement d periodic. One 3-D FFT over (time, y, x) per member; the global means
//                         (one scalar per field) are removed.
//
// The work (padding, FFTs, cross-spectra) runs on the data's backend in double, whatever the data's Scalar; the
// result is a small host tensor<double, cpu>. Programs link attractor::fftw (cpu) or attractor::cufft (cuda, with
// backend/cuda/fft.cuh included before instantiation). Bad input (a shape that is not one of these, x and y of
// different shapes, lags >= T, NaN or Inf data) throws attractor::error naming the function.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/fft.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::response {

struct lag_options {
  /// Periodic in time, every lag divided by T (the paper's code); otherwise zero-padded and unbiased (T - tau).
  bool circular = false;
  /// Remove the means (per component for the dense route, one per field for the field route) before the products.
  bool remove_means = true;
  /// The dense route's cross-spectra and their transforms use about this many bytes at a time (at least one column).
  std::size_t block_bytes = std::size_t{256} << 20;
};

namespace detail {

/// The smallest m >= n whose only prime factors are 2, 3, 5 and 7: lengths FFTW and cuFFT transform fast.
inline std::size_t fft_length_at_least(std::size_t n) {
  for (std::size_t m = std::max<std::size_t>(n, 1);; ++m) {
    std::size_t r = m;
    for (std::size_t p : {2u, 3u, 5u, 7u})
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

/// n host values to a new tensor on Backend, and back.
template <class Backend, class T>
tensor<T, Backend> upload(context<Backend>& ctx, const T* host, std::size_t n) {
  tensor<T, Backend> out(shape{n});
  transfer<cpu, Backend>::run(ctx, host, out.data(), n);
  return out;
}
template <class Backend, class T>
std::vector<T> download(context<Backend>& ctx, const T* device, std::size_t n) {
  std::vector<T> out(n);
  transfer<Backend, cpu>::run(ctx, device, out.data(), n);
  return out;
}

/// out[b cols + c] = the sum, in double, of x[r cols + c] over the rows r of chunk b: rows [b chunk, (b + 1) chunk)
/// when contiguous (cache lines on the host), rows b, b + chunks, ... otherwise (coalesced loads on a GPU).
template <class S>
struct column_chunk_sums {
  const S* x;
  double* out;
  std::size_t rows, cols, chunk, chunks;
  bool contiguous;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    const std::size_t c = idx % cols, b = idx / cols;
    double s = 0;
    if (contiguous) {
      const std::size_t begin = b * chunk, end = begin + chunk < rows ? begin + chunk : rows;
      for (std::size_t r = begin; r < end; ++r) s += static_cast<double>(x[r * cols + c]);
    } else {
      for (std::size_t r = b; r < rows; r += chunks) s += static_cast<double>(x[r * cols + c]);
    }
    out[idx] = s;
  }
};

/// The column means of a rows x cols array on Backend, in double: partial sums over chunks of rows on the backend,
/// added on the host in a fixed order.
template <class S, class Backend>
std::vector<double> column_means(context<Backend>& ctx, const S* x, std::size_t rows, std::size_t cols) {
  const std::size_t chunk = 4096, chunks = (rows + chunk - 1) / chunk;
  tensor<double, Backend> partial(shape{chunks * cols});
  for_each_index(ctx, chunks * cols,
                 column_chunk_sums<S>{x, partial.data(), rows, cols, chunk, chunks, host_accessible<Backend>});
  const std::vector<double> host = download(ctx, partial.data(), chunks * cols);
  std::vector<double> means(cols, 0.0);
  for (std::size_t b = 0; b < chunks; ++b)
    for (std::size_t c = 0; c < cols; ++c) means[c] += host[b * cols + c];
  for (double& m : means) m /= static_cast<double>(rows);
  return means;
}

/// Member m of a members x T x n series, transposed to n series of `padded` values: out[i padded + t] =
/// x[m][t][i] - mean[i] for t < T, 0 after.
template <class S>
struct pad_components {
  const S* x;  // this member's T x n block
  const double* mean;
  double* out;
  std::size_t T, n, padded;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    const std::size_t i = idx / padded, t = idx % padded;
    out[idx] = t < T ? static_cast<double>(x[t * n + i]) - mean[i] : 0.0;
  }
};

/// A T x frame block followed by zeros up to padded x frame, less one mean: the field route's padded member.
template <class S>
struct pad_frames {
  const S* x;
  double mean;
  double* out;
  std::size_t valid;  // T x frame
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    out[idx] = idx < valid ? static_cast<double>(x[idx]) - mean : 0.0;
  }
};

/// acc[(jj n + i) K + k] += X[i K + k] conj(Y[(j0 + jj) K + k]): the cross-spectra of a block of columns.
struct accumulate_cross_spectra {
  const double* X;
  const double* Y;
  double* acc;
  std::size_t n, K, j0;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    const std::size_t k = idx % K, i = (idx / K) % n, jj = idx / (K * n);
    const double* a = X + 2 * (i * K + k);
    const double* b = Y + 2 * ((j0 + jj) * K + k);
    acc[2 * idx] += a[0] * b[0] + a[1] * b[1];
    acc[2 * idx + 1] += a[1] * b[0] - a[0] * b[1];
  }
};

/// acc[k] += U[k] conj(V[k]) over the complex numbers of one spectrum.
struct accumulate_cross_spectrum {
  const double* U;
  const double* V;
  double* acc;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t k) const {
    const double* a = U + 2 * k;
    const double* b = V + 2 * k;
    acc[2 * k] += a[0] * b[0] + a[1] * b[1];
    acc[2 * k + 1] += a[1] * b[0] - a[0] * b[1];
  }
};

/// Lag tau's divisor: the products it averages (T - tau, or T when circular), times the members, times the FFT's
/// unnormalised factor and any spatial count.
struct lag_divisor {
  std::size_t T;
  bool circular;
  double scale;  // members x fft real size x spatial points
  ATTRACTOR_HOST_DEVICE double operator()(std::size_t tau) const {
    return scale * static_cast<double>(circular ? T : T - tau);
  }
};

/// C[(tau n + i) n + j0 + jj] = res[(jj n + i) padded + tau] / divisor(tau), for a block of jb columns.
struct extract_dense_lags {
  const double* res;
  double* C;
  std::size_t n, jb, j0, padded;
  lag_divisor divisor;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const {
    const std::size_t jj = idx % jb, i = (idx / jb) % n, tau = idx / (jb * n);
    C[(tau * n + i) * n + j0 + jj] = res[(jj * n + i) * padded + tau] / divisor(tau);
  }
};

/// c[tau frame + d] = res[tau frame + d] / divisor(tau).
struct extract_field_lags {
  const double* res;
  double* c;
  std::size_t frame;
  lag_divisor divisor;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t idx) const { c[idx] = res[idx] / divisor(idx / frame); }
};

/// Members, time steps and values per frame of a T x n or members x T x n series.
struct series_shape {
  std::size_t members, T, n;
};

template <class S, class Backend>
series_shape check_series(context<Backend>& ctx, const_tensor_view<S, Backend> x, std::size_t lags, std::string_view fn,
                          std::string_view what) {
  require(x.rank() == 2 || x.rank() == 3, fn, attractor::detail::text(what, " of shape T x n or members x T x n"),
          x.shape());
  const series_shape s =
      x.rank() == 2 ? series_shape{1, x.extent(0), x.extent(1)} : series_shape{x.extent(0), x.extent(1), x.extent(2)};
  require(s.members >= 1 && s.T >= 1 && s.n >= 1, fn, attractor::detail::text(what, " with no empty axis"), x.shape());
  require(lags < s.T, fn, attractor::detail::text("lags < T = ", s.T, " (the time steps of ", what, ")"), lags);
  require_finite(ctx, x, fn, what);
  return s;
}

/// The side of a square periodic field of `pixels` pixels, or attractor::error.
inline std::size_t field_side(std::size_t pixels, std::string_view fn) {
  std::size_t side = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(pixels))));
  while (side * side > pixels) --side;
  while ((side + 1) * (side + 1) <= pixels) ++side;
  require(side >= 1 && side * side == pixels, fn, "frames of n_side x n_side pixels (a square number)",
          attractor::detail::text(pixels, " pixels per frame"));
  return side;
}

template <floating_scalar Scalar, class Backend>
tensor<double, cpu> lag_covariance(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x,
                                   const_tensor_view<Scalar, Backend> y, std::size_t lags, const lag_options& options,
                                   std::string_view fn) {
  const detail::series_shape s = detail::check_series(ctx, x, lags, fn, "x");
  require(y.shape() == x.shape(), fn, attractor::detail::text("y of x's shape ", x.shape()), y.shape());
  const bool same = y.data() == x.data();
  if (!same) detail::check_series(ctx, y, lags, fn, "y");
  const std::size_t members = s.members, T = s.T, n = s.n;
  const std::size_t rows = checked_product(members, T, fn, "members x T");

  // Means pooled over time and members, or zeros.
  std::vector<double> mx(n, 0.0), my(n, 0.0);
  if (options.remove_means) {
    mx = detail::column_means(ctx, x.data(), rows, n);
    my = same ? mx : detail::column_means(ctx, y.data(), rows, n);
  }
  const auto dmx = detail::upload(ctx, mx.data(), n);
  const auto dmy = detail::upload(ctx, my.data(), n);

  const std::size_t padded = options.circular ? T : detail::fft_length_at_least(checked_sum(T, lags, fn, "T + lags"));
  const std::size_t K = padded / 2 + 1;
  const fft_dims dims{padded};
  // Columns per block: the accumulated cross-spectra (n K complex) and their transforms (n padded) per column.
  const std::size_t column_bytes = n * (2 * K + padded) * sizeof(double);
  const std::size_t block = std::clamp<std::size_t>(options.block_bytes / std::max<std::size_t>(column_bytes, 1), 1, n);

  tensor<double, Backend> pad(shape{checked_product(n, padded, fn, "n x padded T")});
  tensor<double, Backend> X(shape{n * 2 * K}), Y(shape{same ? std::size_t{0} : n * 2 * K});
  tensor<double, Backend> acc(shape{block * n * 2 * K}), res(shape{block * n * padded});
  tensor<double, Backend> C(shape{(lags + 1) * n * n});
  const detail::lag_divisor divisor{T, options.circular, static_cast<double>(members) * static_cast<double>(padded)};

  auto transform = [&](const Scalar* member, const double* mean, double* spectrum) {
    for_each_index(ctx, n * padded, detail::pad_components<Scalar>{member, mean, pad.data(), T, n, padded});
    fft_forward<double>(ctx, dims, n, pad.data(), spectrum);
  };
  for (std::size_t j0 = 0; j0 < n; j0 += block) {
    const std::size_t jb = std::min(block, n - j0);
    fill(ctx, jb * n * 2 * K, acc.data(), 0.0);
    for (std::size_t m = 0; m < members; ++m) {
      transform(x.data() + m * T * n, dmx.data(), X.data());
      if (!same) transform(y.data() + m * T * n, dmy.data(), Y.data());
      for_each_index(ctx, jb * n * K,
                     detail::accumulate_cross_spectra{X.data(), same ? X.data() : Y.data(), acc.data(), n, K, j0});
    }
    fft_inverse<double>(ctx, dims, jb * n, acc.data(), res.data());
    for_each_index(ctx, (lags + 1) * n * jb,
                   detail::extract_dense_lags{res.data(), C.data(), n, jb, j0, padded, divisor});
  }
  tensor<double, cpu> out(shape{lags + 1, n, n});
  transfer<Backend, cpu>::run(ctx, C.data(), out.data(), out.size());
  return out;
}

template <floating_scalar Scalar, class Backend>
tensor<double, cpu> field_lag_covariance(context<Backend>& ctx, const_tensor_view<Scalar, Backend> u,
                                         const_tensor_view<Scalar, Backend> v, std::size_t lags,
                                         const lag_options& options, std::string_view fn) {
  const detail::series_shape s = detail::check_series(ctx, u, lags, fn, "u");
  require(v.shape() == u.shape(), fn, attractor::detail::text("v of u's shape ", u.shape()), v.shape());
  const bool same = v.data() == u.data();
  if (!same) detail::check_series(ctx, v, lags, fn, "v");
  const std::size_t members = s.members, T = s.T, frame = s.n;
  const std::size_t side = detail::field_side(frame, fn);
  const std::size_t total = checked_product(checked_product(members, T, fn, "members x T"), frame, fn, "x pixels");

  double mu = 0, mv = 0;
  if (options.remove_means) {
    mu = detail::column_means(ctx, u.data(), total, 1)[0];
    mv = same ? mu : detail::column_means(ctx, v.data(), total, 1)[0];
  }
  const std::size_t padded = options.circular ? T : detail::fft_length_at_least(checked_sum(T, lags, fn, "T + lags"));
  const fft_dims dims{padded, side, side};
  const std::size_t real = checked_product(padded, frame, fn, "padded T x pixels"), K = dims.complex_size();

  tensor<double, Backend> pad(shape{real}), U(shape{2 * K}), V(shape{same ? std::size_t{0} : 2 * K});
  tensor<double, Backend> acc(shape{2 * K}), res(shape{real});
  fill(ctx, 2 * K, acc.data(), 0.0);
  for (std::size_t m = 0; m < members; ++m) {
    for_each_index(ctx, real, detail::pad_frames<Scalar>{u.data() + m * T * frame, mu, pad.data(), T * frame});
    fft_forward<double>(ctx, dims, 1, pad.data(), U.data());
    if (!same) {
      for_each_index(ctx, real, detail::pad_frames<Scalar>{v.data() + m * T * frame, mv, pad.data(), T * frame});
      fft_forward<double>(ctx, dims, 1, pad.data(), V.data());
    }
    for_each_index(ctx, K, detail::accumulate_cross_spectrum{U.data(), same ? U.data() : V.data(), acc.data()});
  }
  fft_inverse<double>(ctx, dims, 1, acc.data(), res.data());
  // res / (padded frame) sums over T - tau (or T) times, the frame's pixels and the members.
  const double scale = static_cast<double>(members) * static_cast<double>(real) * static_cast<double>(frame);
  tensor<double, Backend> c(shape{(lags + 1) * frame});
  for_each_index(ctx, (lags + 1) * frame,
                 detail::extract_field_lags{res.data(), c.data(), frame, {T, options.circular, scale}});
  tensor<double, cpu> out(shape{lags + 1, frame});
  transfer<Backend, cpu>::run(ctx, c.data(), out.data(), out.size());
  return out;
}

}  // namespace detail

/// A tensor or view of floating-point values on Backend.
template <class X, class Backend>
concept series_on = tensor_like<X> && floating_scalar<attractor::detail::value_of<X>> &&
    std::same_as<attractor::detail::backend_of<X>, Backend>;

/// Every pair's lag covariance C_xy(tau)_ij = mean_t x_i(t + tau) y_j(t), tau = 0..lags, of x and y of shape T x n
/// or members x T x n (the same shape and Scalar): (lags + 1) x n x n, [tau][i][j]. The header's comment gives the
/// conventions.
template <class Backend, series_on<Backend> X, series_on<Backend> Y>
requires std::same_as<attractor::detail::value_of<X>, attractor::detail::value_of<Y>> tensor<double, cpu>
lag_covariance(context<Backend>& ctx, const X& x, const Y& y, std::size_t lags, const lag_options& options = {}) {
  using S = attractor::detail::value_of<X>;
  return detail::lag_covariance<S, Backend>(ctx, const_tensor_view<S, Backend>(as_view(x)),
                                            const_tensor_view<S, Backend>(as_view(y)), lags, options,
                                            "response::lag_covariance");
}

/// The auto-covariances C_xx(tau) of x: lag_covariance(ctx, x, x, lags, options).
template <class Backend, series_on<Backend> X>
tensor<double, cpu> lag_covariance(context<Backend>& ctx, const X& x, std::size_t lags,
                                   const lag_options& options = {}) {
  return lag_covariance(ctx, x, x, lags, options);
}

/// The translation-invariant lag cross-covariance c(d, tau) = mean over x, t and members of u(x + d, t + tau) v(x, t)
/// of periodic fields u and v of shape T x (n_side n_side) or members x T x (n_side n_side) (the same shape and
/// Scalar): (lags + 1) x (n_side n_side), [tau][dy n_side + dx]. The header's comment gives the conventions.
template <class Backend, series_on<Backend> U, series_on<Backend> V>
requires std::same_as<attractor::detail::value_of<U>, attractor::detail::value_of<V>> tensor<double, cpu>
field_lag_covariance(context<Backend>& ctx, const U& u, const V& v, std::size_t lags, const lag_options& options = {}) {
  using S = attractor::detail::value_of<U>;
  return detail::field_lag_covariance<S, Backend>(ctx, const_tensor_view<S, Backend>(as_view(u)),
                                                  const_tensor_view<S, Backend>(as_view(v)), lags, options,
                                                  "response::field_lag_covariance");
}

/// The auto-covariance c(d, tau) of the field u: field_lag_covariance(ctx, u, u, lags, options).
template <class Backend, series_on<Backend> U>
tensor<double, cpu> field_lag_covariance(context<Backend>& ctx, const U& u, std::size_t lags,
                                         const lag_options& options = {}) {
  return field_lag_covariance(ctx, u, u, lags, options);
}

}  // namespace attractor::response
