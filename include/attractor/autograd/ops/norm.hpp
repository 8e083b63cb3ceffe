// Normalisation and modulation: layer_norm (without affine parameters) and modulate (FiLM's x * (1 + scale) +
// shift).
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/backend/reduce.hpp"

namespace attractor::autograd {

/// Layer norm over the last axis without affine parameters (torch.nn.LayerNorm(elementwise_affine=False)).
template <floating_scalar Scalar, class Backend>
value layer_norm(graph<Scalar, Backend>& g, value x, std::type_identity_t<Scalar> eps = Scalar(1e-5)) {
  const shape xs = g.shape_of(x);
  require(xs.rank() >= 1 && xs[xs.rank() - 1] > 0, "autograd::layer_norm", "a non-empty last axis", xs);
  require(eps > 0, "autograd::layer_norm", "eps > 0", eps);
  const std::size_t cols = xs[xs.rank() - 1], rows = xs.size() / cols;
  const value y = g.make_result(xs, {x});
  auto rstd = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
  auto row_a = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
  auto row_b = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
  const auto product = g.scratch_if(g.needs_grad(x), xs);
  const std::size_t n = rows * cols;
  g.add_op(
      [=, &g] {
        reduce_rows(g.ctx(), reduction::sum, g.data(x), rows, cols, row_a->data());
        for_each_row_col(g.ctx(), rows, cols, kernels::centre_rows<Scalar>{g.data(y), g.data(x), row_a->data(), cols});
        reduce_rows(g.ctx(), reduction::sum_squares, g.data(y), rows, cols, row_b->data());
        for_each_index(g.ctx(), rows, kernels::rstd_from_sum_squares<Scalar>{rstd->data(), row_b->data(), cols, eps});
        for_each_row_col(g.ctx(), rows, cols, kernels::scale_rows<Scalar>{g.data(y), rstd->data(), cols});
      },
      [=, &g] {
        if (!g.needs_grad(x)) return;
        reduce_rows(g.ctx(), reduction::sum, g.grad_data(y), rows, cols, row_a->data());
        map(g.ctx(), n, product->data(), ops::multiplies{}, static_cast<const Scalar*>(g.grad_data(y)),
            static_cast<const Scalar*>(g.data(y)));
        reduce_rows(g.ctx(), reduction::sum, product->data(), rows, cols, row_b->data());
        for_each_row_col(
            g.ctx(), rows, cols,
            kernels::layer_norm_backward<Scalar>{g.grad_data(x), g.grad_data(y), g.data(y), rstd->data(), row_a->data(),
                                                 row_b->data(), cols, g.accumulate_into(x)});
      });
  return y;
}

/// x * (1 + scale) + shift, element-wise over three tensors of one shape: the modulation of FiLM.
template <floating_scalar Scalar, class Backend>
value modulate(graph<Scalar, Backend>& g, value x, value scale, value shift) {
  const shape xs = g.shape_of(x);
  require(g.shape_of(scale) == xs && g.shape_of(shift) == xs, "autograd::modulate",
          attractor::detail::text("scale and shift of shape ", xs),
          attractor::detail::text("scale ", g.shape_of(scale), ", shift ", g.shape_of(shift)));
  const std::size_t n = xs.size();
  const value y = g.make_result(xs, {x, scale, shift});
  g.add_op(
      [=, &g] {
        for_each_index(g.ctx(), n,
                       kernels::modulate_forward<Scalar>{g.data(y), g.data(x), g.data(scale), g.data(shift)});
      },
      [=, &g] {
        // Flags taken in the order the kernel writes (x, scale, shift), so operands that are one tensor add up.
        const bool gx = g.needs_grad(x), gs = g.needs_grad(scale), gt = g.needs_grad(shift);
        const bool ax = gx && g.accumulate_into(x), as = gs && g.accumulate_into(scale),
                   at = gt && g.accumulate_into(shift);
        for_each_index(g.ctx(), n,
                       kernels::modulate_backward<Scalar>{
                           gx ? g.grad_data(x) : nullptr, gs ? g.grad_data(scale) : nullptr,
                           gt ? g.grad_data(shift) : nullptr, g.grad_data(y), g.data(x), g.data(scale), ax, as, at});
      });
  return y;
}

}  // namespace attractor::autograd
