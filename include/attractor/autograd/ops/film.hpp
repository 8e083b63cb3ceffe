// FiLM evaluated once per distinct conditioning row (the per-tau FiLM of nn::denoising_resnet): the FiLM layer
// [scale, shift] = emb W^T + b runs on a small table of the distinct embeddings only (the distinct pseudo-times of
// a batch), and each sample is modulated, x * (1 + scale) + shift, straight from its row of that table through its
// slot. The per-sample (batch x 2 hidden) FiLM output is never formed in the forward pass; the backward pass writes
// the per-sample FiLM gradient in the layout the segment sum by slot reads, and sums it per row before the weight
// and bias gradients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/ops/dense.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/backend/segment_sum.hpp"
#include "attractor/core/config.hpp"

namespace attractor::autograd {

namespace kernels {

/// y[r, c] = x[r, c] * (1 + table[slot[r], c]) + table[slot[r], hidden + c], over batch x hidden (for_each_row_col);
/// the table's rows are [scale, shift] (2 hidden wide).
template <class S>
struct modulate_by_slot {
  S* y;
  const S* x;
  const S* table;
  const std::int32_t* slot;
  std::size_t hidden;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t i = r * hidden + c;
    const S* row = table + static_cast<std::size_t>(slot[r]) * 2 * hidden;
    y[i] = x[i] * (S(1) + row[c]) + row[hidden + c];
  }
};

/// The backward pass of modulate_by_slot: dx (+)= dy * (1 + scale) where dx is wanted (non-null), and the
/// per-sample FiLM gradient film_grad[r, :] = [dy * x, dy] (batch x 2 hidden), overwritten, where it is wanted.
template <class S>
struct modulate_by_slot_backward {
  S* dx;
  S* film_grad;
  const S* dy;
  const S* x;
  const S* table;
  const std::int32_t* slot;
  std::size_t hidden;
  bool accumulate_x;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t i = r * hidden + c;
    const S d = dy[i];
    if (dx) contribute(dx[i], d * (S(1) + table[static_cast<std::size_t>(slot[r]) * 2 * hidden + c]), accumulate_x);
    if (film_grad) {
      film_grad[r * 2 * hidden + c] = d * x[i];
      film_grad[r * 2 * hidden + hidden + c] = d;
    }
  }
};

}  // namespace kernels

/// Which row of the conditioning table each sample of a batch reads, and the samples grouped by row for the
/// backward pass's segment sum (a segment_sum_sorted plan: make_segment_plan builds it on the host). The caller
/// fills it before each forward(): `distinct` on the host, the three index inputs through graph::index_of.
struct slot_plan {
  std::size_t distinct = 0;  ///< rows of the table in use this batch (at most the table's rows)
  index_value slot;          ///< (batch): each sample's row of the table
  index_value order;         ///< (batch): the plan's order of the samples, as int32 bits
  index_value offsets;       ///< (rows + 1): the plan's segment offsets
};

/// x * (1 + scale) + shift with [scale, shift] = emb W^T + b evaluated on the first plan->distinct rows of emb only,
/// read per sample through its slot. x (batch x hidden), emb (rows x in), W (2 hidden x in), b (2 hidden). The plan
/// is read at every pass, so its row count may change from batch to batch while every tensor keeps its size.
template <floating_scalar Scalar, class Backend>
value film_modulate_by_slot(graph<Scalar, Backend>& g, value x, value emb, value weight, value bias,
                            std::shared_ptr<const slot_plan> plan) {
  constexpr const char* fn = "autograd::film_modulate_by_slot";
  const shape xs = g.shape_of(x), es = g.shape_of(emb), ws = g.shape_of(weight);
  require(xs.rank() == 2 && es.rank() == 2 && ws.rank() == 2 && ws[0] == 2 * xs[1] && ws[1] == es[1], fn,
          "x (batch x hidden), emb (rows x in) and weight (2 hidden x in)",
          attractor::detail::text("x ", xs, ", emb ", es, ", weight ", ws));
  require(g.shape_of(bias) == shape{ws[0]}, fn, attractor::detail::text("bias of shape (", ws[0], ")"),
          g.shape_of(bias));
  require(plan != nullptr, fn, "a slot plan", "none");
  const std::size_t rows = es[0], in = es[1], out = ws[0], hidden = xs[1], batch = xs[0];
  require(g.index_of(plan->slot).size() == batch && g.index_of(plan->order).size() == batch &&
              g.index_of(plan->offsets).size() == rows + 1,
          fn, attractor::detail::text("a plan of ", batch, " slots and ", rows + 1, " offsets"),
          attractor::detail::text(g.index_of(plan->slot).size(), " slots and ", g.index_of(plan->offsets).size(),
                                  " offsets"));
  const value y = g.make_result({batch, hidden}, {x, emb, weight, bias});
  auto per_row = std::make_shared<tensor<Scalar, Backend>>(shape{rows, out});
  // The backward pass sums the per-sample FiLM gradient per row where an operand of the FiLM layer has a gradient.
  const bool film_trains = g.needs_grad(weight) || g.needs_grad(bias) || g.needs_grad(emb);
  const auto per_row_grad = graph<Scalar, Backend>::scratch_if(film_trains, shape{rows, out});
  const auto film_grad = graph<Scalar, Backend>::scratch_if(film_trains, shape{batch, out});
  const auto ones = g.ones_if(g.needs_grad(bias), rows);
  g.add_op(
      [=, &g] {
        const std::size_t u = plan->distinct;
        require(u <= rows, fn, attractor::detail::text("at most ", rows, " distinct rows"), u);
        affine_rows(g.ctx(), u, in, out, static_cast<const Scalar*>(g.data(emb)),
                    static_cast<const Scalar*>(g.data(weight)), g.data(bias), per_row->data());
        for_each_row_col(g.ctx(), batch, hidden,
                         kernels::modulate_by_slot<Scalar>{g.data(y), g.data(x), per_row->data(),
                                                           g.index_of(plan->slot).data(), hidden});
      },
      [=, &g] {
        const std::size_t u = plan->distinct;
        const bool grad_x = g.needs_grad(x), accumulate_x = grad_x && g.accumulate_into(x);
        for_each_row_col(
            g.ctx(), batch, hidden,
            kernels::modulate_by_slot_backward<Scalar>{
                grad_x ? g.grad_data(x) : nullptr, film_trains ? film_grad->data() : nullptr, g.grad_data(y), g.data(x),
                per_row->data(), g.index_of(plan->slot).data(), hidden, accumulate_x});
        if (!film_trains) return;
        // uint32 and int32 may alias: the plan's row order was uploaded as int32 bits.
        segment_sum_sorted(g.ctx(), reinterpret_cast<const std::uint32_t*>(g.index_of(plan->order).data()),
                           g.index_of(plan->offsets).data(), static_cast<const Scalar*>(film_grad->data()), out, u,
                           per_row_grad->data());
        if (g.needs_grad(weight))
          gemm(g.ctx(), transpose::yes, transpose::no, out, in, u, Scalar(1), per_row_grad->data(), out, g.data(emb),
               in, g.gemm_beta(weight), g.grad_data(weight), in);
        if (g.needs_grad(bias))
          gemm(g.ctx(), transpose::no, transpose::no, 1, out, u, Scalar(1), ones->data(), u, per_row_grad->data(), out,
               g.gemm_beta(bias), g.grad_data(bias), out);
        if (g.needs_grad(emb)) {  // d emb (u x in) = per-row gradient (u x out) . W; the unused rows get none
          const bool accumulate = g.accumulate_into(emb);
          gemm(g.ctx(), transpose::no, transpose::no, u, in, out, Scalar(1), per_row_grad->data(), out, g.data(weight),
               in, accumulate ? Scalar(1) : Scalar(0), g.grad_data(emb), in);
          if (!accumulate) attractor::fill(g.ctx(), (rows - u) * in, g.grad_data(emb) + u * in, Scalar(0));
        }
      });
  return y;
}

}  // namespace attractor::autograd
