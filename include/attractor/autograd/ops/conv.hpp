// 2-D convolution with circular (periodic) padding over NCHW tensors, as torch.nn.Conv2d(padding=k // 2,
// padding_mode='circular'): the fields of the dynamical systems live on a torus, so the kernel wraps around.
//
// Lowered onto im2col and one GEMM over the whole batch, as ggml does: the column matrix col (C k k x N Ho Wo) holds
// in column (n, oy, ox) the k x k patch of every input channel that output pixel reads, so y' = W col (O x N Ho Wo)
// is every output at once, and a transpose kernel lays y' out as NCHW. The backward pass is three GEMMs (dW = dy'
// col^T sums over the batch through the GEMM's inner dimension; dcol = W^T dy'; db = dy' ones) and col2im written as
// a gather: each input pixel sums the column entries that read it, so no two threads write one element (no
// atomics, the same sums in the same order on every backend).
#pragma once

#include <cstddef>
#include <memory>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"

namespace attractor::autograd {

namespace kernels {

/// The geometry of a circular convolution: input (N, C, H, W), kernel k x k (odd), output (N, O, Ho, Wo).
struct conv_geometry {
  std::size_t batch, channels, height, width, k, stride, out_height, out_width;
  // (k / 2) as a shift in [1, extent]: the input row of output row oy and tap dy is (stride oy + dy + shift_h) mod
  // height, with no negative intermediate even where k / 2 exceeds the extent.
  std::size_t shift_h, shift_w;
  std::size_t ld;  // the row stride of the column matrices: N Ho Wo, padded off large powers of two
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::size_t pixels() const { return out_height * out_width; }
};

/// col[(c, dy, dx), (n, oy, ox)] = x[n, c, (stride oy + dy - k/2) mod H, (stride ox + dx - k/2) mod W], run over
/// (C k k N Ho) x Wo, the (C k k) x (N Ho Wo) column matrix in runs of Wo: everything but ox is the run's, so the
/// divisions stay out of the inner loop, and the wrap of ix is one conditional subtraction.
template <class S>
struct im2col_circular {
  S* col;
  const S* x;
  conv_geometry g;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t ox) const {
    const std::size_t rows_per_tap = g.batch * g.out_height, tap = r / rows_per_tap, rest = r % rows_per_tap;
    const std::size_t n = rest / g.out_height, oy = rest % g.out_height;
    const std::size_t c = tap / (g.k * g.k), dy = (tap / g.k) % g.k, dx = tap % g.k;
    const std::size_t iy = (g.stride * oy + dy + g.shift_h) % g.height;
    const std::size_t base = (dx + g.shift_w) % g.width;  // stride ox + base < 2 W
    std::size_t ix = g.stride * ox + base;
    ix -= ix >= g.width ? g.width : 0;
    col[tap * g.ld + rest * g.out_width + ox] = x[((n * g.channels + c) * g.height + iy) * g.width + ix];
  }
};

/// y[n, o, p] = y'[o, n P + p] (+ b[o]): the GEMM's (O x N P) result laid out as NCHW, run over (N O) x P.
template <class S>
struct columns_to_nchw {
  S* y;
  const S* y_columns;
  const S* bias;  // null for none
  std::size_t out_channels, pixels, ld;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t p) const {
    const std::size_t n = r / out_channels, o = r % out_channels;
    const S v = y_columns[o * ld + n * pixels + p];
    y[r * pixels + p] = bias ? v + bias[o] : v;
  }
};

/// dy'[o, n P + p] = dy[n, o, p]: the inverse layout, run over O x (N P).
template <class S>
struct nchw_to_columns {
  S* dy_columns;
  const S* dy;
  std::size_t out_channels, pixels, ld;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t o, std::size_t j) const {
    const std::size_t n = j / pixels, p = j % pixels;
    dy_columns[o * ld + j] = dy[(n * out_channels + o) * pixels + p];
  }
};

/// col2im as a gather: dx[n, c, iy, ix] (+)= the sum of dcol[(c, dy, dx), (n, oy, ox)] over the taps whose output
/// pixel reads (iy, ix), run over (N C H) x W. Tap (dy, dx) reads row iy from output row oy when stride oy = iy - dy +
/// k/2 (mod H), which holds for one oy or (stride 2, the other parity) none; so for the columns. The offsets
/// -dy + k/2 (mod H) step down by one per tap, kept in [0, H) without a division.
template <class S>
struct col2im_circular {
  S* dx;
  const S* dcol;
  conv_geometry g;
  bool accumulate;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t ix) const {
    const std::size_t n = r / (g.channels * g.height), c = (r / g.height) % g.channels, iy = r % g.height;
    const std::size_t columns = g.ld, odd = g.stride - 1;  // stride 1 or 2: a shift and a mask
    // k/2 mod H and mod W: the offsets of tap 0, as H - shift_h lies in [0, H).
    const std::size_t first_y = g.height - g.shift_h, first_x = g.width - g.shift_w;
    const S* base = dcol + c * g.k * g.k * columns + n * g.pixels();
    S sum = S(0);
    std::size_t off_y = first_y;
    for (std::size_t dy = 0; dy < g.k; ++dy) {
      std::size_t sy = iy + off_y;
      sy -= sy >= g.height ? g.height : 0;
      off_y = off_y == 0 ? g.height - 1 : off_y - 1;
      if ((sy & odd) != 0) continue;
      const S* tap_row = base + dy * g.k * columns + (sy >> odd) * g.out_width;
      std::size_t off_x = first_x;
      for (std::size_t dxx = 0; dxx < g.k; ++dxx) {
        std::size_t sx = ix + off_x;
        sx -= sx >= g.width ? g.width : 0;
        off_x = off_x == 0 ? g.width - 1 : off_x - 1;
        if ((sx & odd) == 0) sum += tap_row[dxx * columns + (sx >> odd)];
      }
    }
    contribute(dx[r * g.width + ix], sum, accumulate);
  }
};

}  // namespace kernels

/// A 2-D convolution (cross-correlation, as torch.nn.Conv2d) with circular padding of k / 2 on both spatial axes:
/// x (N, C, H, W), weight (O, C, k, k) with k odd, bias (O) or none (a default value{}), stride 1 or 2 (dividing H
/// and W). y (N, O, H / stride, W / stride), y[n, o, oy, ox] = b[o] + sum over c, dy, dx of
/// weight[o, c, dy, dx] x[n, c, (stride oy + dy - k/2) mod H, (stride ox + dx - k/2) mod W].
template <floating_scalar Scalar, class Backend>
value conv2d(graph<Scalar, Backend>& g, value x, value weight, value bias = {}, std::size_t stride = 1) {
  constexpr const char* fn = "autograd::conv2d";
  const shape xs = g.shape_of(x), ws = g.shape_of(weight);
  require(xs.rank() == 4, fn, "x of shape (N, C, H, W)", xs);
  require(ws.rank() == 4 && ws[1] == xs[1] && ws[2] == ws[3], fn,
          attractor::detail::text("weight of shape (O, ", xs[1], ", k, k)"), ws);
  require(ws[2] % 2 == 1, fn, "an odd kernel size k (1, 3, 5, ...)", ws[2]);
  require(stride == 1 || stride == 2, fn, "stride 1 or 2", stride);
  require(xs[2] > 0 && xs[3] > 0 && xs[2] % stride == 0 && xs[3] % stride == 0, fn,
          attractor::detail::text("H and W positive and divisible by the stride ", stride),
          attractor::detail::text("x ", xs));
  const bool has_bias = bias.valid();
  const std::size_t batch = xs[0], channels = xs[1], out_channels = ws[0], k = ws[2];
  if (has_bias)
    require(g.shape_of(bias) == shape{out_channels}, fn, attractor::detail::text("bias of shape (", out_channels, ")"),
            g.shape_of(bias));
  const std::size_t height = xs[2], width = xs[3], out_height = height / stride, out_width = width / stride;
  const std::size_t taps = channels * k * k, pixels = out_height * out_width, columns = batch * pixels;
  // A row stride that is a large power of two (N Ho Wo = 128 x 16 x 16) maps the rows of every panel the GEMM packs
  // to the same cache sets: measured on one core, 16 elements of padding took W col from 23 to 17 ms and dW from 23
  // to 17 ms (x (128, 64, 16, 16), 64 -> 64, k 3, float).
  const std::size_t ld = columns % 512 == 0 ? columns + 16 : columns;  // >= 1, as a GEMM's leading dimension
  const kernels::conv_geometry geo{batch,
                                   channels,
                                   height,
                                   width,
                                   k,
                                   stride,
                                   out_height,
                                   out_width,
                                   height - (k / 2) % height,
                                   width - (k / 2) % width,
                                   ld};
  const value y = g.make_result({batch, out_channels, out_height, out_width}, {x, weight, bias});
  // Built once with the graph: the column matrix (read again by dW), the GEMM's result (reused for dy' in the
  // backward pass, as the next forward rewrites it), and dcol only where x needs a gradient.
  auto col = std::make_shared<tensor<Scalar, Backend>>(shape{taps, ld});
  auto y_columns = std::make_shared<tensor<Scalar, Backend>>(shape{out_channels, ld});
  const auto dcol = g.scratch_if(g.needs_grad(x), shape{taps, ld});
  const auto ones = g.ones_if(has_bias && g.needs_grad(bias), columns);
  g.add_op(
      [=, &g] {
        for_each_row_col(g.ctx(), taps * batch * out_height, out_width,
                         kernels::im2col_circular<Scalar>{col->data(), g.data(x), geo});
        gemm(g.ctx(), transpose::no, transpose::no, out_channels, columns, taps, Scalar(1),
             static_cast<const Scalar*>(g.data(weight)), taps, static_cast<const Scalar*>(col->data()), ld, Scalar(0),
             y_columns->data(), ld);
        for_each_row_col(g.ctx(), batch * out_channels, pixels,
                         kernels::columns_to_nchw<Scalar>{g.data(y), y_columns->data(),
                                                          has_bias ? g.data(bias) : nullptr, out_channels, pixels, ld});
      },
      [=, &g] {
        Scalar* dy = y_columns->data();
        for_each_row_col(g.ctx(), out_channels, columns,
                         kernels::nchw_to_columns<Scalar>{dy, g.grad_data(y), out_channels, pixels, ld});
        if (g.needs_grad(weight))  // dW (O x C k k) = dy' col^T, summed over the batch by the inner dimension
          gemm(g.ctx(), transpose::no, transpose::yes, out_channels, taps, columns, Scalar(1),
               static_cast<const Scalar*>(dy), ld, static_cast<const Scalar*>(col->data()), ld, g.gemm_beta(weight),
               g.grad_data(weight), taps);
        if (has_bias && g.needs_grad(bias))  // db (O) = dy' ones
          gemm(g.ctx(), transpose::no, transpose::no, out_channels, 1, columns, Scalar(1),
               static_cast<const Scalar*>(dy), ld, static_cast<const Scalar*>(ones->data()), 1, g.gemm_beta(bias),
               g.grad_data(bias), 1);
        if (!g.needs_grad(x)) return;
        gemm(g.ctx(), transpose::yes, transpose::no, taps, columns, out_channels, Scalar(1),
             static_cast<const Scalar*>(g.data(weight)), taps, static_cast<const Scalar*>(dy), ld, Scalar(0),
             dcol->data(), ld);
        for_each_row_col(g.ctx(), batch * channels * height, width,
                         kernels::col2im_circular<Scalar>{g.grad_data(x), dcol->data(), geo, g.accumulate_into(x)});
      });
  return y;
}

}  // namespace attractor::autograd
