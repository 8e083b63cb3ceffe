// The element-wise and per-row kernels of the autograd operations, as named functors run by for_each_index, so
// each is written once for every backend. Pointers are raw; shapes were checked when the graph was built.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "attractor/core/config.hpp"

namespace attractor::autograd::kernels {

// std:: overloads for float and double, on the host and (through CUDA's math headers) on the device.
using std::cos;
using std::exp;
using std::sin;
using std::sqrt;
using std::tanh;

/// A contribution v to a gradient: the first one of a backward pass overwrites (so gradients need no zero-fill
/// before the pass), later ones add. `accumulate` comes from graph::accumulate_into.
template <class S>
ATTRACTOR_HOST_DEVICE inline void contribute(S& gradient, S v, bool accumulate) {
  gradient = accumulate ? gradient + v : v;
}

/// dst[i] += src[i]
template <class S>
struct accumulate {
  S* dst;
  const S* src;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { dst[i] += src[i]; }
};

// Kernels called with (row, column) run on for_each_row_col over the rows x cols array they describe; those called
// with one index run on for_each_index.

/// y[r, c] = b[c] over a rows x cols array: a bias written into every row.
template <class S>
struct set_row_vector {
  S* y;
  const S* b;
  std::size_t cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const { y[r * cols + c] = b[c]; }
};

/// How the second operand of a binary operation is laid out against the first (rows x cols): of its shape, a row
/// vector (cols) added to every row, a column (rows) added to every column, or per channel: rows = outer x channels
/// and b[r % channels] added to row r (a per-channel vector of an (outer, channel, inner) split, inner = cols).
enum class broadcast { none, per_feature, per_row, per_channel };

/// The element of a broadcast b that meets a[r, c].
template <broadcast B>
ATTRACTOR_HOST_DEVICE inline std::size_t broadcast_index(std::size_t r, std::size_t c, std::size_t channels) {
  static_assert(B != broadcast::none);
  if constexpr (B == broadcast::per_feature) {
    return c;
  } else if constexpr (B == broadcast::per_row) {
    return r;
  } else {
    return r % channels;
  }
}

/// out = a + b or a * b: by flat index where b has a's shape, by (row, column) where it is broadcast.
template <class S, broadcast B, bool Multiply>
struct binary_forward {
  S* out;
  const S* a;
  const S* b;
  std::size_t cols;
  std::size_t channels = 1;  // per_channel only
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { apply(i, b[i]); }
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    apply(r * cols + c, b[broadcast_index<B>(r, c, channels)]);
  }
  ATTRACTOR_HOST_DEVICE void apply(std::size_t i, S bv) const { out[i] = Multiply ? a[i] * bv : a[i] + bv; }
};

/// da (+)= dy (add) or dy * b (multiply), indexed as binary_forward.
template <class S, broadcast B, bool Multiply>
struct binary_backward_a {
  S* da;
  const S* dy;
  const S* b;
  std::size_t cols;
  bool accumulate;
  std::size_t channels = 1;  // per_channel only
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { apply(i, b[i]); }
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    apply(r * cols + c, b[broadcast_index<B>(r, c, channels)]);
  }
  ATTRACTOR_HOST_DEVICE void apply(std::size_t i, S bv) const {
    contribute(da[i], Multiply ? dy[i] * bv : dy[i], accumulate);
  }
};

/// db[i] (+)= dy[i] (add) or dy[i] * a[i] (multiply): the gradient of an operand of a's own shape. (Broadcast
/// operands sum over rows, columns or both with GEMMs instead.)
template <class S, broadcast B, bool Multiply>
struct binary_backward_b {
  static_assert(B == broadcast::none);
  S* db;
  const S* dy;
  const S* a;
  bool accumulate;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t j) const {
    contribute(db[j], Multiply ? dy[j] * a[j] : dy[j], accumulate);
  }
};

enum class activation { relu, silu, tanh };

template <class S, activation A>
struct activation_forward {
  S* y;
  const S* x;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const S v = x[i];
    if constexpr (A == activation::relu) {
      y[i] = v > S(0) ? v : S(0);
    } else if constexpr (A == activation::silu) {
      y[i] = v / (S(1) + exp(-v));
    } else {
      y[i] = tanh(v);
    }
  }
};

template <class S, activation A>
struct activation_backward {
  S* dx;
  const S* dy;
  const S* x;
  const S* y;
  bool accumulate;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    if constexpr (A == activation::relu) {
      contribute(dx[i], x[i] > S(0) ? dy[i] : S(0), accumulate);
    } else if constexpr (A == activation::silu) {
      const S s = S(1) / (S(1) + exp(-x[i]));
      contribute(dx[i], dy[i] * s * (S(1) + x[i] * (S(1) - s)), accumulate);
    } else {
      contribute(dx[i], dy[i] * (S(1) - y[i] * y[i]), accumulate);
    }
  }
};

/// FiLM modulation: y = x * (1 + scale) + shift, all of one shape.
template <class S>
struct modulate_forward {
  S* y;
  const S* x;
  const S* scale;
  const S* shift;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { y[i] = x[i] * (S(1) + scale[i]) + shift[i]; }
};

/// The three gradients of modulate, each contributed where wanted (a null pointer skips it). One thread writes all
/// three at i, in order, so operands that are one tensor still sum rightly.
template <class S>
struct modulate_backward {
  S* dx;
  S* dscale;
  S* dshift;
  const S* dy;
  const S* x;
  const S* scale;
  bool accumulate_x, accumulate_scale, accumulate_shift;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    if (dx) contribute(dx[i], dy[i] * (S(1) + scale[i]), accumulate_x);
    if (dscale) contribute(dscale[i], dy[i] * x[i], accumulate_scale);
    if (dshift) contribute(dshift[i], dy[i], accumulate_shift);
  }
};

/// Layer norm without affine parameters (torch.nn.LayerNorm(elementwise_affine=False), biased variance) in
/// element-wise passes around row reductions (reduce_rows), so every pass is coalesced on a GPU:
///   centre: y = x - sum(x) / cols;  rstd = 1 / sqrt(sum(y^2) / cols + eps);  y *= rstd.
template <class S>
struct centre_rows {
  S* y;
  const S* x;
  const S* row_sum;
  std::size_t cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    y[r * cols + c] = x[r * cols + c] - row_sum[r] / S(cols);
  }
};

template <class S>
struct rstd_from_sum_squares {
  S* rstd;
  const S* row_sum_squares;
  std::size_t cols;
  S eps;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r) const {
    rstd[r] = S(1) / sqrt(row_sum_squares[r] / S(cols) + eps);
  }
};

template <class S>
struct scale_rows {
  S* y;
  const S* row_scale;
  std::size_t cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const { y[r * cols + c] *= row_scale[r]; }
};

/// dx (+)= rstd * (dy - sum(dy) / cols - y * sum(dy * y) / cols), per row.
template <class S>
struct layer_norm_backward {
  S* dx;
  const S* dy;
  const S* y;
  const S* rstd;
  const S* row_sum_dy;
  const S* row_sum_dy_y;
  std::size_t cols;
  bool accumulate;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t i = r * cols + c;
    contribute(dx[i], rstd[r] * (dy[i] - row_sum_dy[r] / S(cols) - y[i] * row_sum_dy_y[r] / S(cols)), accumulate);
  }
};

/// Copies a rows x width block between arrays of different row lengths: dst[r, dst_col + c] (=|+=) src[r, src_col + c].
template <class S, bool Accumulate>
struct copy_columns {
  S* dst;
  const S* src;
  std::size_t dst_cols, dst_col, src_cols, src_col;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const S v = src[r * src_cols + src_col + c];
    if constexpr (Accumulate) {
      dst[r * dst_cols + dst_col + c] += v;
    } else {
      dst[r * dst_cols + dst_col + c] = v;
    }
  }
};

/// out[i, :] = x[index[i], :]
template <class S>
struct gather_rows {
  S* out;
  const S* x;
  const std::int32_t* index;
  std::size_t cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    out[r * cols + c] = x[static_cast<std::size_t>(index[r]) * cols + c];
  }
};

/// diff[i] = pred[i] - target[i]; the loss is sum(diff^2) / n.
template <class S>
struct difference {
  S* diff;
  const S* pred;
  const S* target;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { diff[i] = pred[i] - target[i]; }
};

/// dx[i] (+)= scale * dloss[0] * v[i], where dloss lives on the backend (no host round trip).
template <class S>
struct scaled_by_upstream {
  S* dx;
  const S* v;
  const S* dloss;
  S scale;
  bool accumulate;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { contribute(dx[i], scale * dloss[0] * v[i], accumulate); }
};

/// out[0] = scale * in[0] (on the backend).
template <class S>
struct scale_scalar {
  S* out;
  const S* in;
  S scale;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t) const { out[0] = scale * in[0]; }
};

/// dx[i] (+)= scale * dy[0]: the gradient of a (scaled) sum.
template <class S>
struct broadcast_scalar {
  S* dx;
  const S* dy;
  S scale;
  bool accumulate;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { contribute(dx[i], scale * dy[0], accumulate); }
};

}  // namespace attractor::autograd::kernels
