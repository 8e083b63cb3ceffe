// Dense operations: linear (torch.nn.Linear) and the affine_rows kernel sequence it and the per-tau FiLM share.
#pragma once

#include <cstddef>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"

namespace attractor::autograd {

/// y = x W^T + b for x (batch x in), W (out x in), b (out, or null for none), y (batch x out), as torch's addmm: the
/// bias goes into y first and the GEMM adds onto it (beta 1), one pass over y fewer than a GEMM and a bias pass.
template <floating_scalar Scalar, class Backend>
void affine_rows(context<Backend>& ctx, std::size_t batch, std::size_t in, std::size_t out, const Scalar* x,
                 const Scalar* weight, const Scalar* bias, Scalar* y) {
  if (bias != nullptr) for_each_row_col(ctx, batch, out, kernels::set_row_vector<Scalar>{y, bias, out});
  gemm(ctx, transpose::no, transpose::yes, batch, out, in, Scalar(1), x, in, weight, in,
       bias != nullptr ? Scalar(1) : Scalar(0), y, out);
}

/// y = x W^T + b, as torch.nn.Linear: x (batch x in), W (out x in), b (out) or no bias (a default value{}).
template <floating_scalar Scalar, class Backend>
value linear(graph<Scalar, Backend>& g, value x, value weight, value bias = {}) {
  constexpr const char* fn = "autograd::linear";
  const shape xs = g.shape_of(x);
  const shape ws = g.shape_of(weight);
  require(xs.rank() == 2 && ws.rank() == 2 && xs[1] == ws[1], fn, "x (batch x in) and weight (out x in)",
          attractor::detail::text("x ", xs, ", weight ", ws));
  const std::size_t batch = xs[0], in = xs[1], out = ws[0];
  const bool has_bias = bias.valid();
  if (has_bias)
    require(g.shape_of(bias) == shape{out}, fn, attractor::detail::text("bias of shape (", out, ")"), g.shape_of(bias));
  const value y = g.make_result({batch, out}, {x, weight, bias});
  // Column sums of dy (the bias gradient) are a GEMM with a row of ones.
  const auto ones = g.ones_if(has_bias && g.needs_grad(bias), batch);
  g.add_op(
      [=, &g] {
        affine_rows(g.ctx(), batch, in, out, static_cast<const Scalar*>(g.data(x)),
                    static_cast<const Scalar*>(g.data(weight)), has_bias ? g.data(bias) : nullptr, g.data(y));
      },
      [=, &g] {
        const Scalar* dy = g.grad_data(y);
        if (g.needs_grad(x))
          gemm(g.ctx(), transpose::no, transpose::no, batch, in, out, Scalar(1), dy, out, g.data(weight), in,
               g.gemm_beta(x), g.grad_data(x), in);
        if (g.needs_grad(weight))
          gemm(g.ctx(), transpose::yes, transpose::no, out, in, batch, Scalar(1), dy, out, g.data(x), in,
               g.gemm_beta(weight), g.grad_data(weight), in);
        if (has_bias && g.needs_grad(bias))
          gemm(g.ctx(), transpose::no, transpose::no, 1, out, batch, Scalar(1), ones->data(), batch, dy, out,
               g.gemm_beta(bias), g.grad_data(bias), out);
      });
  return y;
}

}  // namespace attractor::autograd
