// Group normalisation, as torch.nn.GroupNorm(groups, C, eps, affine=True): x (N, C, ...) with channels on axis 1,
// statistics over each (sample, group) of C / groups channels and every spatial position (biased variance), then a
// per-channel gamma x^ + beta.
//
// In NCHW a group's channels are contiguous, so x is a (N groups) x (C / groups x spatial) matrix whose rows are the
// groups: the normalisation is layer_norm's kernels on that matrix, and the affine map and the gamma and beta
// gradients run over the (N C) x spatial view of the same storage.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/backend/reduce.hpp"

namespace attractor::autograd {

namespace kernels {

/// y = x^ gamma[c] + beta[c] over the (N C) x spatial view, c = row mod C.
template <class S>
struct channel_affine {
  S* y;
  const S* x_hat;
  const S* gamma;
  const S* beta;
  std::size_t channels, cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t i = r * cols + c, ch = r % channels;
    y[i] = x_hat[i] * gamma[ch] + beta[ch];
  }
};

/// out = dy gamma[c] over the (N C) x spatial view: the gradient of x^.
template <class S>
struct scale_by_channel {
  S* out;
  const S* dy;
  const S* gamma;
  std::size_t channels, cols;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t i = r * cols + c;
    out[i] = dy[i] * gamma[r % channels];
  }
};

}  // namespace kernels

/// Group norm with affine parameters (torch.nn.GroupNorm(groups, C, eps)): x (N, C, ...) of rank >= 2, groups
/// dividing C, gamma and beta of shape (C).
template <floating_scalar Scalar, class Backend>
value group_norm(graph<Scalar, Backend>& g, value x, std::size_t groups, value gamma, value beta,
                 std::type_identity_t<Scalar> eps = Scalar(1e-5)) {
  constexpr const char* fn = "autograd::group_norm";
  const shape xs = g.shape_of(x);
  require(xs.rank() >= 2 && xs[1] > 0 && xs.stride(1) > 0, fn,
          "x of shape (N, C, ...) with C > 0 and no empty axis after it", xs);
  const std::size_t batch = xs[0], channels = xs[1];
  require(groups > 0 && channels % groups == 0, fn,
          attractor::detail::text("a number of groups dividing the ", channels, " channels"), groups);
  require(g.shape_of(gamma) == shape{channels} && g.shape_of(beta) == shape{channels}, fn,
          attractor::detail::text("gamma and beta of shape (", channels, ")"),
          attractor::detail::text("gamma ", g.shape_of(gamma), ", beta ", g.shape_of(beta)));
  require(eps > 0, fn, "eps > 0", eps);
  const std::size_t spatial = xs.stride(1), rows = batch * groups, cols = channels / groups * spatial;
  const std::size_t n = xs.size();
  const value y = g.make_result(xs, {x, gamma, beta});
  // x^ is kept for the backward pass; the row and per-(sample, channel) sums, a full-size buffer that holds dy x^
  // and then dx^, and one for dx^ x^, are allocated once here.
  auto x_hat = std::make_shared<tensor<Scalar, Backend>>(xs);
  auto rstd = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
  auto row_a = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
  auto row_b = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
  const bool any_grad = g.needs_grad(x) || g.needs_grad(gamma) || g.needs_grad(beta);
  const auto work = g.scratch_if(any_grad, xs);
  const auto product = g.scratch_if(g.needs_grad(x), xs);
  const auto per_channel = g.scratch_if(g.needs_grad(gamma) || g.needs_grad(beta), shape{batch * channels});
  const auto ones = g.ones_if(g.needs_grad(gamma) || g.needs_grad(beta), batch);
  g.add_op(
      [=, &g] {
        Scalar* xh = x_hat->data();
        reduce_rows(g.ctx(), reduction::sum, g.data(x), rows, cols, row_a->data());
        for_each_row_col(g.ctx(), rows, cols, kernels::centre_rows<Scalar>{xh, g.data(x), row_a->data(), cols});
        reduce_rows(g.ctx(), reduction::sum_squares, static_cast<const Scalar*>(xh), rows, cols, row_b->data());
        for_each_index(g.ctx(), rows, kernels::rstd_from_sum_squares<Scalar>{rstd->data(), row_b->data(), cols, eps});
        for_each_row_col(g.ctx(), rows, cols, kernels::scale_rows<Scalar>{xh, rstd->data(), cols});
        for_each_row_col(
            g.ctx(), batch * channels, spatial,
            kernels::channel_affine<Scalar>{g.data(y), xh, g.data(gamma), g.data(beta), channels, spatial});
      },
      [=, &g] {
        const Scalar* dy = g.grad_data(y);
        const Scalar* xh = x_hat->data();
        // Per-channel sums over samples and positions: a row reduction to (N x C), then ones (1 x N) . that.
        auto channel_sum = [&](const Scalar* v, value into) {
          reduce_rows(g.ctx(), reduction::sum, v, batch * channels, spatial, per_channel->data());
          gemm(g.ctx(), transpose::no, transpose::no, 1, channels, batch, Scalar(1),
               static_cast<const Scalar*>(ones->data()), std::max<std::size_t>(batch, 1),
               static_cast<const Scalar*>(per_channel->data()), channels, g.gemm_beta(into), g.grad_data(into),
               channels);
        };
        if (g.needs_grad(gamma)) {
          map(g.ctx(), n, work->data(), ops::multiplies{}, dy, xh);
          channel_sum(work->data(), gamma);
        }
        if (g.needs_grad(beta)) channel_sum(dy, beta);
        if (!g.needs_grad(x)) return;
        // dx = layer_norm's backward on the group rows, with dx^ = dy gamma in place of dy.
        Scalar* dxh = work->data();
        for_each_row_col(g.ctx(), batch * channels, spatial,
                         kernels::scale_by_channel<Scalar>{dxh, dy, g.data(gamma), channels, spatial});
        reduce_rows(g.ctx(), reduction::sum, static_cast<const Scalar*>(dxh), rows, cols, row_a->data());
        map(g.ctx(), n, product->data(), ops::multiplies{}, static_cast<const Scalar*>(dxh), xh);
        reduce_rows(g.ctx(), reduction::sum, static_cast<const Scalar*>(product->data()), rows, cols, row_b->data());
        for_each_row_col(g.ctx(), rows, cols,
                         kernels::layer_norm_backward<Scalar>{g.grad_data(x), dxh, xh, rstd->data(), row_a->data(),
                                                              row_b->data(), cols, g.accumulate_into(x)});
      });
  return y;
}

}  // namespace attractor::autograd
