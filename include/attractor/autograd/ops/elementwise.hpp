// Element-wise operations: add and mul with broadcasting, and the activations relu, silu and tanh.
//
// Broadcasting: b has a's shape, or is a per-channel vector over an (outer, channel, inner) split of a: b's shape is
// (a_k, 1, ..., 1) for one axis k of a, with as many trailing ones as a has axes after k, and b[c] meets every
// a[o, c, i]. A row vector added to every row of a matrix is the case k = last axis (inner = 1), a column added to
// every column is k = 0 of a matrix (outer = 1), and a per-channel bias of an NCHW tensor (N, C, H, W) is b of shape
// (C, 1, 1).
//
// b may also be a leading prefix of a padded with ones to a's rank: (a_0, ..., a_k, 1, ..., 1), each b element meeting
// a whole trailing block of a (a per-row vector over rows = a_0 x ... x a_k). This is a time embedding added to every
// pixel of an NCHW tensor: b of shape (N, C, 1, 1). Where a shape matches both rules (k = 0), the per-channel rule is
// taken; the two lay b out alike there.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"

namespace attractor::autograd {

namespace detail {

/// How a broadcast b meets a: b[c] meets a[o, c, i] over a's (outer x channel x inner) elements.
struct channel_split {
  std::size_t outer = 1, channel = 1, inner = 1;
};

/// The (a_k, 1, ..., 1) shape of a per-channel vector along axis k of a.
inline shape channel_vector_shape(const shape& a, std::size_t k) {
  std::size_t extents[max_rank] = {};
  extents[0] = a[k];
  for (std::size_t j = 1; j < a.rank() - k; ++j) extents[j] = 1;
  return shape(extents, extents + (a.rank() - k));
}

/// The (a_0, ..., a_k, 1, ..., 1) shape of a's leading axes up to k, padded with ones to a's rank.
inline shape leading_prefix_shape(const shape& a, std::size_t k) {
  std::size_t extents[max_rank] = {};
  for (std::size_t j = 0; j < a.rank(); ++j) extents[j] = j <= k ? a[j] : 1;
  return shape(extents, extents + a.rank());
}

/// The split over which b broadcasts against a, or none where b is no per-channel vector nor leading prefix of a. A
/// leading prefix is a per-channel vector of one channel axis of a_0 x ... x a_k (outer 1).
inline std::optional<channel_split> broadcast_split(const shape& a, const shape& b) {
  for (std::size_t k = 0; k < a.rank(); ++k) {
    if (b != channel_vector_shape(a, k)) continue;
    channel_split s;
    for (std::size_t j = 0; j < k; ++j) s.outer *= a[j];
    s.channel = a[k];
    s.inner = a.stride(k);
    return s;
  }
  // k = 0 is the per-channel rule's, and k = rank - 1 is a's own shape.
  for (std::size_t k = 1; k + 1 < a.rank(); ++k) {
    if (b != leading_prefix_shape(a, k)) continue;
    channel_split s;
    s.inner = a.stride(k);
    s.channel = s.inner == 0 ? 0 : a.size() / s.inner;
    return s;
  }
  return std::nullopt;
}

/// The shapes b may have against a, for messages: "(5, 4), (4) or (5, 1)"; with the leading prefixes of rank-4 a,
/// "(2, 3, 4, 4), (4), (4, 1), (3, 1, 1), (2, 1, 1, 1), (2, 3, 1, 1) or (2, 3, 4, 1)".
inline std::string broadcast_shapes(const shape& a) {
  std::vector<shape> shapes{a};
  for (std::size_t k = a.rank(); k-- > 0;) shapes.push_back(channel_vector_shape(a, k));
  for (std::size_t k = 1; k + 1 < a.rank(); ++k) shapes.push_back(leading_prefix_shape(a, k));
  std::ostringstream out;
  for (std::size_t i = 0; i < shapes.size(); ++i)
    out << (i == 0 ? "" : i + 1 == shapes.size() ? " or " : ", ") << shapes[i];
  return out.str();
}

/// Runs f over a rows x cols array: by flat index where nothing is broadcast (no index to split), else by (row,
/// column).
template <kernels::broadcast B, class Backend, class F>
void for_each_element(context<Backend>& ctx, std::size_t rows, std::size_t cols, F f) {
  if constexpr (B == kernels::broadcast::none) {
    for_each_index(ctx, rows * cols, f);
  } else {
    for_each_row_col(ctx, rows, cols, f);
  }
}

/// a + b or a * b (Multiply) over a rows x cols array, b laid out as B says (per_channel: rows = outer x channels).
template <bool Multiply, kernels::broadcast B, floating_scalar Scalar, class Backend>
value binary_with(graph<Scalar, Backend>& g, value a, value b, std::size_t rows, std::size_t cols, std::size_t b_size,
                  std::size_t channels) {
  using kernels::broadcast;
  const value y = g.make_result(g.shape_of(a), {a, b});
  const std::size_t n = rows * cols;
  // The extents of the sum over the broadcast axes: outer x channels x inner (one of outer and inner is 1 but for
  // per_channel).
  const std::size_t outer = B == broadcast::per_feature ? rows : B == broadcast::per_row ? 1 : rows / channels;
  const std::size_t inner = B == broadcast::per_feature ? 1 : cols;
  // A broadcast b's gradient sums over rows (per feature) or columns (per row), or both (per channel): a GEMM with
  // a vector of ones, of dy, or of dy * a (kept in `product`) for mul. One thread per element of b would starve a
  // GPU.
  std::shared_ptr<tensor<Scalar, Backend>> ones, product, per_outer;
  if constexpr (B != broadcast::none) {
    ones = g.ones_if(g.needs_grad(b), B == broadcast::per_feature ? rows
                                      : B == broadcast::per_row   ? cols
                                                                  : std::max(outer, inner));
    product = g.scratch_if(Multiply && g.needs_grad(b), shape{rows, cols});
    if constexpr (B == broadcast::per_channel) per_outer = g.scratch_if(g.needs_grad(b), shape{outer * channels});
  }
  g.add_op(
      [=, &g] {
        for_each_element<B>(
            g.ctx(), rows, cols,
            kernels::binary_forward<Scalar, B, Multiply>{g.data(y), g.data(a), g.data(b), cols, channels});
      },
      [=, &g] {
        if (g.needs_grad(a))
          for_each_element<B>(g.ctx(), rows, cols,
                              kernels::binary_backward_a<Scalar, B, Multiply>{g.grad_data(a), g.grad_data(y), g.data(b),
                                                                              cols, g.accumulate_into(a), channels});
        if (!g.needs_grad(b)) return;
        if constexpr (B == broadcast::none) {
          for_each_index(g.ctx(), b_size,
                         kernels::binary_backward_b<Scalar, B, Multiply>{g.grad_data(b), g.grad_data(y), g.data(a),
                                                                         g.accumulate_into(b)});
        } else {
          const Scalar* summand = g.grad_data(y);
          if (Multiply) {
            map(g.ctx(), n, product->data(), ops::multiplies{}, static_cast<const Scalar*>(g.grad_data(y)),
                static_cast<const Scalar*>(g.data(a)));
            summand = product->data();
          }
          if constexpr (B == broadcast::per_feature) {  // db (1 x cols) += ones (1 x rows) . summand
            gemm(g.ctx(), transpose::no, transpose::no, 1, cols, rows, Scalar(1), ones->data(),
                 std::max<std::size_t>(rows, 1), summand, cols, g.gemm_beta(b), g.grad_data(b), cols);
          } else if constexpr (B == broadcast::per_row) {  // db (rows x 1) += summand (rows x cols) . ones (cols x 1)
            gemm(g.ctx(), transpose::no, transpose::no, rows, 1, cols, Scalar(1), summand, cols, ones->data(), 1,
                 g.gemm_beta(b), g.grad_data(b), 1);
          } else {  // per_outer (outer x channels) = summand . ones (inner); db (1 x channels) += ones . per_outer
            gemm(g.ctx(), transpose::no, transpose::no, rows, 1, cols, Scalar(1), summand, cols, ones->data(), 1,
                 Scalar(0), per_outer->data(), 1);
            gemm(g.ctx(), transpose::no, transpose::no, 1, channels, outer, Scalar(1), ones->data(), outer,
                 static_cast<const Scalar*>(per_outer->data()), channels, g.gemm_beta(b), g.grad_data(b), channels);
          }
        }
      });
  return y;
}

template <bool Multiply, floating_scalar Scalar, class Backend>
value binary(graph<Scalar, Backend>& g, value a, value b, const char* fn) {
  using kernels::broadcast;
  const shape as = g.shape_of(a), bs = g.shape_of(b);
  if (as == bs) {
    const std::size_t cols = as.rank() == 0 ? 1 : as[as.rank() - 1], rows = cols == 0 ? 0 : as.size() / cols;
    return binary_with<Multiply, broadcast::none>(g, a, b, rows, cols, as.size(), 1);
  }
  const auto split = broadcast_split(as, bs);
  if (!split) fail(fn, attractor::detail::concat("b of shape ", broadcast_shapes(as)), bs);
  const auto [outer, channel, inner] = *split;
  if (inner == 1) return binary_with<Multiply, broadcast::per_feature>(g, a, b, outer, channel, channel, channel);
  if (outer == 1) return binary_with<Multiply, broadcast::per_row>(g, a, b, channel, inner, channel, channel);
  return binary_with<Multiply, broadcast::per_channel>(g, a, b, outer * channel, inner, channel, channel);
}

template <kernels::activation A, floating_scalar Scalar, class Backend>
value unary(graph<Scalar, Backend>& g, value x) {
  const value y = g.make_result(g.shape_of(x), {x});
  const std::size_t n = g.shape_of(x).size();
  g.add_op(
      [=, &g] {
        for_each_index(g.ctx(), n, kernels::activation_forward<Scalar, A>{g.data(y), g.data(x)});
      },
      [=, &g] {
        if (g.needs_grad(x))
          for_each_index(g.ctx(), n,
                         kernels::activation_backward<Scalar, A>{g.grad_data(x), g.grad_data(y), g.data(x), g.data(y),
                                                                 g.accumulate_into(x)});
      });
  return y;
}

}  // namespace detail

/// a + b, where b has a's shape, is a per-channel vector of a or a leading prefix of a (the broadcasts above).
template <floating_scalar Scalar, class Backend>
value add(graph<Scalar, Backend>& g, value a, value b) {
  return detail::binary<false>(g, a, b, "autograd::add");
}
/// a * b element-wise, with the broadcasts of add.
template <floating_scalar Scalar, class Backend>
value mul(graph<Scalar, Backend>& g, value a, value b) {
  return detail::binary<true>(g, a, b, "autograd::mul");
}

template <floating_scalar Scalar, class Backend>
value relu(graph<Scalar, Backend>& g, value x) {
  return detail::unary<kernels::activation::relu>(g, x);
}
template <floating_scalar Scalar, class Backend>
value silu(graph<Scalar, Backend>& g, value x) {
  return detail::unary<kernels::activation::silu>(g, x);
}
/// Flux's swish, x * sigmoid(x): silu under the name the U-Net of score_sde and CliMAgen uses.
template <floating_scalar Scalar, class Backend>
value swish(graph<Scalar, Backend>& g, value x) {
  return silu(g, x);
}
template <floating_scalar Scalar, class Backend>
value tanh(graph<Scalar, Backend>& g, value x) {
  return detail::unary<kernels::activation::tanh>(g, x);
}

}  // namespace attractor::autograd
