// 2-D convolution with circular (periodic) padding over NCHW tensors, as torch.nn.Conv2d(padding=k // 2,
// padding_mode='circular'): the fields of the dynamical systems live on a torus, so the kernel wraps around.
//
// Lowered onto im2col and GEMMs, as ggml does (over chunks of the batch on cpu, the whole batch on a GPU): the column
// matrix col (C k k x N Ho Wo) holds in column (n, oy, ox) the k x k patch of every input channel that output pixel
// reads, so y' = W col (O x N Ho Wo) is every output at once, and a transpose kernel lays y' out as NCHW. The backward
// pass is GEMMs too: dW = dy' col^T (summed over the batch through the GEMM's inner dimension) and db = dy' ones. dx
// at stride 1 is the circular convolution of dy with the flipped kernel: im2col of dy and a GEMM, whose columns have
// O k k rows where those of the stride-2 route have C k k (a decoder layer has C = 2 to 64 O; measured, this took
// the output convolution from 100 to 52 ms and tconv2 from 421 to 340 ms a step, one thread). At stride 2,
// dcol = W^T dy' and col2im written as a gather: each input pixel sums the column entries that read it, so no two
// threads write one element (no atomics, the same sums in the same order on every backend).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/tags.hpp"

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

// The layout kernels below do their index arithmetic, with its divisions, once per call, and their inner loops are
// copies or short sums split where the circular padding wraps, so that they vectorise. On cpu a call takes whole
// planes (per 4-value row of a 4 x 4 layer the divisions cost more than the copy; with im2col written per row and
// element, im2col alone was 41 % of a U-Net training step), on a GPU one row (many small items).

/// The rows per call of col2im on a backend: whole planes where few cores each want long runs.
template <class Backend>
constexpr std::size_t rows_per_item(std::size_t plane_rows) {
  return cache_blocked<Backend> ? plane_rows : 1;
}

/// dst[i] = src[(first + stride i) mod n] for i < count, where first < n and first + stride (count - 1) < 2 n (one
/// wrap at most): the run before the wrap and the run after it, each a plain loop that vectorises.
template <class S>
ATTRACTOR_HOST_DEVICE ATTRACTOR_FORCE_INLINE void copy_wrapped(S* dst, const S* src, std::size_t first,
                                                               std::size_t stride, std::size_t count, std::size_t n) {
  // The outputs whose index first + stride i is still below n.
  const std::size_t before = std::min(count, (n - first + stride - 1) / stride);
  if (stride == 1) {
    for (std::size_t i = 0; i < before; ++i) dst[i] = src[first + i];
    for (std::size_t i = before; i < count; ++i) dst[i] = src[first + i - n];
    return;
  }
  for (std::size_t i = 0; i < before; ++i) dst[i] = src[first + stride * i];
  for (std::size_t i = before; i < count; ++i) dst[i] = src[first + stride * i - n];
}

/// col[(c, dy, dx), (n, oy, ox)] = x[n, c, (stride oy + dy - k/2) mod H, (stride ox + dx - k/2) mod W], over the
/// (C k k) x (N Ho Wo) column matrix. With `whole_planes` (cpu) item i writes every tap and row of the (c, n) plane
/// i, C N items with two divisions per tap; otherwise (a GPU) one row (tap, n, oy) of Wo values, C k k N Ho items.
template <class S>
struct im2col_circular {
  S* col;
  const S* x;
  conv_geometry g;
  bool whole_planes;
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::size_t items() const {
    return whole_planes ? g.channels * g.batch : g.channels * g.k * g.k * g.batch * g.out_height;
  }
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t item) const {
    if (whole_planes) {
      const std::size_t c = item / g.batch, n = item % g.batch;
      for (std::size_t dy = 0; dy < g.k; ++dy)
        for (std::size_t dx = 0; dx < g.k; ++dx) copy_rows(c, dy, dx, n, 0, g.out_height);
      return;
    }
    const std::size_t rows_per_tap = g.batch * g.out_height, tap = item / rows_per_tap, rest = item % rows_per_tap;
    copy_rows(tap / (g.k * g.k), (tap / g.k) % g.k, tap % g.k, rest / g.out_height, rest % g.out_height, 1);
  }
  /// Output rows oy0 .. oy0 + rows - 1 of tap (c, dy, dx) for sample n.
  ATTRACTOR_HOST_DEVICE ATTRACTOR_FORCE_INLINE void copy_rows(std::size_t c, std::size_t dy, std::size_t dx,
                                                              std::size_t n, std::size_t oy0, std::size_t rows) const {
    const std::size_t first_x = (dx + g.shift_w) % g.width;
    std::size_t iy = (g.stride * oy0 + dy + g.shift_h) % g.height;
    const S* src = x + (n * g.channels + c) * g.height * g.width;
    S* dst = col + ((c * g.k + dy) * g.k + dx) * g.ld + (n * g.out_height + oy0) * g.out_width;
    for (std::size_t row = 0; row < rows; ++row, dst += g.out_width) {
      copy_wrapped(dst, src + iy * g.width, first_x, g.stride, g.out_width, g.width);
      iy += g.stride;  // stride <= H, as the stride divides H
      iy -= iy >= g.height ? g.height : 0;
    }
  }
};

/// y[n, o, p] (+)= y'[o, n P + p] (+ b[o]): the GEMM's (O x N P) result laid out as NCHW, one (n, o) row of P
/// values per call.
template <class S>
struct columns_to_nchw {
  S* y;
  const S* y_columns;
  const S* bias;  // null for none
  std::size_t out_channels, pixels, ld;
  bool accumulate = false;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r) const {
    const std::size_t n = r / out_channels, o = r % out_channels;
    const S* src = y_columns + o * ld + n * pixels;
    S* dst = y + r * pixels;
    const S b = bias ? bias[o] : S(0);
    if (accumulate)
      for (std::size_t p = 0; p < pixels; ++p) dst[p] += src[p] + b;
    else
      for (std::size_t p = 0; p < pixels; ++p) dst[p] = src[p] + b;
  }
};

/// dy'[o, n P + p] = dy[n, o, p]: the inverse layout, one (o, n) row of P values per call.
template <class S>
struct nchw_to_columns {
  S* dy_columns;
  const S* dy;
  std::size_t batch, out_channels, pixels, ld;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r) const {
    const std::size_t o = r / batch, n = r % batch;
    const S* src = dy + (n * out_channels + o) * pixels;
    S* dst = dy_columns + o * ld + n * pixels;
    for (std::size_t p = 0; p < pixels; ++p) dst[p] = src[p];
  }
};

/// col2im as a gather: dx[n, c, iy, ix] (+)= the sum of dcol[(c, dy, dx), (n, oy, ox)] over the taps whose output
/// pixel reads (iy, ix); item i writes rows_per_item rows of W values of the (n, c) plane i / (H / rows_per_item).
/// Tap (dy, dx) reads row iy from output row oy when stride oy = iy - dy + k/2 (mod H), which holds for one oy or
/// (stride 2, the other parity) none; so for the columns. The offsets -dy + k/2 (mod H) step down by one per tap,
/// kept in [0, H) without a division.
template <class S>
struct col2im_circular {
  S* dx;
  const S* dcol;
  conv_geometry g;
  bool accumulate;
  std::size_t rows_per_item;  // divides H
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t item) const {
    const std::size_t blocks = g.height / rows_per_item, plane = item / blocks;
    const std::size_t iy0 = (item % blocks) * rows_per_item, n = plane / g.channels, c = plane % g.channels;
    const std::size_t columns = g.ld, odd = g.stride - 1;  // stride 1 or 2: a shift and a mask
    // k/2 mod H and mod W: the offsets of tap 0, as H - shift_h lies in [0, H).
    const std::size_t first_y = g.height - g.shift_h, first_x = g.width - g.shift_w;
    const S* base = dcol + c * g.k * g.k * columns + n * g.pixels();
    for (std::size_t iy = iy0; iy < iy0 + rows_per_item; ++iy) {
      S* out = dx + (plane * g.height + iy) * g.width;
      if (!accumulate)
        for (std::size_t ix = 0; ix < g.width; ++ix) out[ix] = S(0);
      std::size_t off_y = first_y;
      for (std::size_t dy = 0; dy < g.k; ++dy) {
        std::size_t sy = iy + off_y;
        sy -= sy >= g.height ? g.height : 0;
        off_y = off_y == 0 ? g.height - 1 : off_y - 1;
        if ((sy & odd) != 0) continue;
        const S* tap_row = base + dy * g.k * columns + (sy >> odd) * g.out_width;
        std::size_t off_x = first_x;
        for (std::size_t dxx = 0; dxx < g.k; ++dxx) {
          const S* row = tap_row + dxx * columns;
          // Input column ix reads output column (ix + off_x) mod W, halved for stride 2 where even.
          if (odd == 0) {  // two contiguous runs, either side of the wrap
            const std::size_t wrap = g.width - off_x;
            for (std::size_t ix = 0; ix < wrap; ++ix) out[ix] += row[ix + off_x];
            for (std::size_t ix = wrap; ix < g.width; ++ix) out[ix] += row[ix - wrap];
          } else {
            std::size_t sx = off_x;
            for (std::size_t ix = 0; ix < g.width; ++ix, ++sx) {
              sx -= sx >= g.width ? g.width : 0;
              if ((sx & odd) == 0) out[ix] += row[sx >> odd];
            }
          }
          off_x = off_x == 0 ? g.width - 1 : off_x - 1;
        }
      }
    }
  }
};

/// The kernel of the transposed convolution at stride 1, as a (C x O k k) matrix: flipped[c, (o, ty, tx)] =
/// w[o, c, k-1-ty, k-1-tx]. dx is the circular convolution of dy with it (see conv2d), one element per call.
template <class S>
struct flip_kernel {
  S* flipped;
  const S* w;
  std::size_t channels, out_channels, taps_per_channel;  // C, O, k k
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t row = out_channels * taps_per_channel, c = i / row, o = (i % row) / taps_per_channel;
    const std::size_t t = i % taps_per_channel;
    flipped[i] = w[(o * channels + c) * taps_per_channel + (taps_per_channel - 1 - t)];
  }
};

}  // namespace kernels

/// Samples per im2col chunk: on cpu, as many as keep the column matrix near 4 MB, so that it is still in cache when
/// the GEMM reads it (a whole batch of 32 x 32 fields at 64 channels is 300 MB, and writing and reading it from
/// memory cost more than the GEMM: measured, the im2col, col2im and layout kernels took over half a U-Net training
/// step); on a GPU the whole batch, one large GEMM.
namespace detail {
/// The cpu column budget in bytes (a variable so that the tests can force one sample per chunk).
inline std::size_t conv_chunk_bytes = std::size_t{4} << 20;
}  // namespace detail

template <class Backend>
std::size_t conv_chunk(std::size_t batch, std::size_t taps, std::size_t pixels) {
  if constexpr (cache_blocked<Backend>) {
    const std::size_t per_sample = taps * pixels * 4;
    return std::clamp<std::size_t>(detail::conv_chunk_bytes / std::max<std::size_t>(per_sample, 1), 1, batch);
  } else {
    return batch;
  }
}

/// A 2-D convolution (cross-correlation, as torch.nn.Conv2d) with circular padding of k / 2 on both spatial axes:
/// x (N, C, H, W), weight (O, C, k, k) with k odd, bias (O) or none (a default value{}), stride 1 or 2 (dividing H
/// and W). y (N, O, H / stride, W / stride), y[n, o, oy, ox] = b[o] + sum over c, dy, dx of
/// weight[o, c, dy, dx] x[n, c, (stride oy + dy - k/2) mod H, (stride ox + dx - k/2) mod W].
/// The batch goes through in chunks of conv_chunk samples (the last one shorter).
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
  const std::size_t taps = channels * k * k, pixels = out_height * out_width;
  const std::size_t chunk = conv_chunk<Backend>(batch, taps, pixels), chunk_columns = chunk * pixels;
  // A row stride that is a large power of two (N Ho Wo = 128 x 16 x 16) maps the rows of every panel the GEMM packs
  // to the same cache sets: measured on one core, 16 elements of padding took W col from 23 to 17 ms and dW from 23
  // to 17 ms (x (128, 64, 16, 16), 64 -> 64, k 3, float).
  const std::size_t ld = chunk_columns % 512 == 0 ? chunk_columns + 16 : chunk_columns;  // >= 1 (a leading dimension)
  // The geometry of a chunk of `samples` samples starting at sample n0 (x and y offset by the caller).
  const auto geometry = [=](std::size_t samples) {
    return kernels::conv_geometry{samples,
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
  };
  const value y = g.make_result({batch, out_channels, out_height, out_width}, {x, weight, bias});
  // Built once with the graph: a chunk's column matrix (rebuilt for dW in the backward pass), the GEMM's result
  // (reused for dy', and for dx' of small fields), and dx's columns and the flipped kernel only where x needs a
  // gradient.
  auto col = std::make_shared<tensor<Scalar, Backend>>(shape{taps, ld});
  // dx's columns: of dy (O k k rows) at stride 1, dcol (C k k rows) at stride 2; the flipped kernel at stride 1.
  const bool transposed_route = stride == 1, gx_any = g.needs_grad(x);
  // At stride 1, dx of fields of 256 pixels or more is written by one GEMM per sample; below, where each of those
  // would pack the whole flipped kernel for few columns, by one GEMM over the chunk into y_columns, laid out after.
  const bool per_sample_dx = pixels >= 256, dx_in_columns = gx_any && transposed_route && !per_sample_dx;
  auto y_columns = std::make_shared<tensor<Scalar, Backend>>(
      shape{dx_in_columns ? std::max(out_channels, channels) : out_channels, ld});
  const std::size_t out_taps = out_channels * k * k;
  const auto dcol = g.scratch_if(gx_any, shape{transposed_route ? out_taps : taps, ld});
  const auto flipped = g.scratch_if(gx_any && transposed_route, shape{channels, out_taps});
  const auto ones = g.ones_if(has_bias && g.needs_grad(bias), chunk_columns);
  const std::size_t x_sample = channels * height * width, y_sample = out_channels * pixels;
  // Runs an im2col kernel over its items; the work per item is the values it writes.
  const auto im2col = [&g](const kernels::im2col_circular<Scalar>& kernel) {
    const kernels::conv_geometry& kg = kernel.g;
    for_each_index_coarse(g.ctx(), kernel.items(), kernel,
                          kernel.whole_planes ? kg.k * kg.k * kg.pixels() : kg.out_width);
  };
  // The columns of x over the chunk of `samples` samples from sample n0.
  const auto im2col_x = [=, &g](std::size_t n0, std::size_t samples) {
    im2col({col->data(), g.data(x) + n0 * x_sample, geometry(samples), cache_blocked<Backend>});
  };
  // The columns of dy over the same chunk, as the input of the stride-1 convolution with the flipped kernel: the
  // geometry of a convolution from O channels of H x W fields (which is what dy is at stride 1).
  const auto im2col_dy = [=, &g](std::size_t n0, std::size_t samples) {
    kernels::conv_geometry gd = geometry(samples);
    gd.channels = out_channels;
    im2col({dcol->data(), g.grad_data(y) + n0 * y_sample, gd, cache_blocked<Backend>});
  };
  g.add_op(
      [=, &g] {
        for (std::size_t n0 = 0; n0 < batch; n0 += chunk) {
          const std::size_t samples = std::min(chunk, batch - n0), columns = samples * pixels;
          im2col_x(n0, samples);
          gemm(g.ctx(), transpose::no, transpose::no, out_channels, columns, taps, Scalar(1),
               static_cast<const Scalar*>(g.data(weight)), taps, static_cast<const Scalar*>(col->data()), ld, Scalar(0),
               y_columns->data(), ld);
          for_each_index(g.ctx(), samples * out_channels,
                         kernels::columns_to_nchw<Scalar>{g.data(y) + n0 * y_sample, y_columns->data(),
                                                          has_bias ? g.data(bias) : nullptr, out_channels, pixels, ld});
        }
      },
      [=, &g] {
        Scalar* dy = y_columns->data();
        const bool gw = g.needs_grad(weight), gb = has_bias && g.needs_grad(bias), gx = g.needs_grad(x);
        // The first chunk overwrites or adds as the graph says; the later ones add to it.
        const Scalar beta_w = gw ? g.gemm_beta(weight) : Scalar(0), beta_b = gb ? g.gemm_beta(bias) : Scalar(0);
        const bool add_x = gx && g.accumulate_into(x);  // the chunks write disjoint parts of dx
        if (gx && transposed_route)
          for_each_index(g.ctx(), channels * out_taps,
                         kernels::flip_kernel<Scalar>{flipped->data(), g.data(weight), channels, out_channels, k * k});
        for (std::size_t n0 = 0; n0 < batch; n0 += chunk) {
          const std::size_t samples = std::min(chunk, batch - n0), columns = samples * pixels;
          const bool first = n0 == 0;
          for_each_index(
              g.ctx(), out_channels * samples,
              kernels::nchw_to_columns<Scalar>{dy, g.grad_data(y) + n0 * y_sample, samples, out_channels, pixels, ld});
          if (gw) {  // dW (O x C k k) += dy' col^T, summed over the chunk's pixels by the inner dimension
            if (chunk < batch) im2col_x(n0, samples);  // the forward pass left the last chunk's columns
            gemm(g.ctx(), transpose::no, transpose::yes, out_channels, taps, columns, Scalar(1),
                 static_cast<const Scalar*>(dy), ld, static_cast<const Scalar*>(col->data()), ld,
                 first ? beta_w : Scalar(1), g.grad_data(weight), taps);
          }
          if (gb)  // db (O) += dy' ones
            gemm(g.ctx(), transpose::no, transpose::no, out_channels, 1, columns, Scalar(1),
                 static_cast<const Scalar*>(dy), ld, static_cast<const Scalar*>(ones->data()), 1,
                 first ? beta_b : Scalar(1), g.grad_data(bias), 1);
          if (!gx) continue;
          if (transposed_route) {  // dx (C x N H W) (+)= flipped (C x O k k) . dy's columns
            im2col_dy(n0, samples);
            const auto* w_flipped = static_cast<const Scalar*>(flipped->data());
            const auto* dy_columns = static_cast<const Scalar*>(dcol->data());
            if (per_sample_dx) {  // straight into dx, one GEMM per sample
              gemm_strided_batched(g.ctx(), transpose::no, transpose::no, channels, pixels, out_taps, Scalar(1),
                                   w_flipped, out_taps, 0, dy_columns, ld, pixels, add_x ? Scalar(1) : Scalar(0),
                                   g.grad_data(x) + n0 * x_sample, pixels, x_sample, samples);
              continue;
            }
            gemm(g.ctx(), transpose::no, transpose::no, channels, columns, out_taps, Scalar(1), w_flipped, out_taps,
                 dy_columns, ld, Scalar(0), y_columns->data(), ld);
            for_each_index(g.ctx(), samples * channels,
                           kernels::columns_to_nchw<Scalar>{g.grad_data(x) + n0 * x_sample, y_columns->data(), nullptr,
                                                            channels, pixels, ld, add_x});
            continue;
          }
          gemm(g.ctx(), transpose::yes, transpose::no, taps, columns, out_channels, Scalar(1),
               static_cast<const Scalar*>(g.data(weight)), taps, static_cast<const Scalar*>(dy), ld, Scalar(0),
               dcol->data(), ld);
          const std::size_t rows = kernels::rows_per_item<Backend>(height);
          for_each_index_coarse(g.ctx(), samples * channels * (height / rows),
                                kernels::col2im_circular<Scalar>{g.grad_data(x) + n0 * x_sample, dcol->data(),
                                                                 geometry(samples), add_x, rows},
                                rows * width * k * k);
        }
      });
  return y;
}

}  // namespace attractor::autograd
