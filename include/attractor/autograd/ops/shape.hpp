// Shape operations: concat and split along the last axis of a matrix, concat along the channels of NCHW tensors, an
// aliasing reshape, and a row gather.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/segment_sum.hpp"

namespace attractor::autograd {

namespace detail {

/// Copies a rows x width block between arrays of different row lengths: dst[r, dst_col + c] (=|+=) src[r, src_col +
/// c].
template <floating_scalar Scalar, class Backend>
void copy_block(context<Backend>& ctx, bool accumulate, Scalar* dst, std::size_t dst_cols, std::size_t dst_col,
                const Scalar* src, std::size_t src_cols, std::size_t src_col, std::size_t rows, std::size_t width) {
  if (accumulate) {
    for_each_row_col(ctx, rows, width,
                     kernels::copy_columns<Scalar, true>{dst, src, dst_cols, dst_col, src_cols, src_col});
  } else {
    for_each_row_col(ctx, rows, width,
                     kernels::copy_columns<Scalar, false>{dst, src, dst_cols, dst_col, src_cols, src_col});
  }
}

}  // namespace detail

/// [a, b] along the channel axis of (N, Ca, ...) and (N, Cb, ...) tensors with equal other axes: (N, Ca + Cb, ...),
/// as torch.cat(dim=1). Each sample is a row whose two blocks are a's and b's channels: block copies of (N x Ca S)
/// and (N x Cb S) for S the spatial size (S = 1 for rank 2, which is concat).
template <floating_scalar Scalar, class Backend>
value concat_channels(graph<Scalar, Backend>& g, value a, value b) {
  const shape as = g.shape_of(a), bs = g.shape_of(b);
  bool match = as.rank() >= 2 && bs.rank() == as.rank() && as[0] == bs[0];
  for (std::size_t j = 2; match && j < as.rank(); ++j) match = as[j] == bs[j];
  require(match, "autograd::concat_channels", "(N, Ca, ...) and (N, Cb, ...) tensors equal but for axis 1",
          attractor::detail::text("a ", as, ", b ", bs));
  const std::size_t rows = as[0], ca = as.stride(0), cb = bs.stride(0), cols = ca + cb;
  std::size_t extents[max_rank] = {};
  for (std::size_t j = 0; j < as.rank(); ++j) extents[j] = j == 1 ? as[1] + bs[1] : as[j];
  const value y = g.make_result(shape(extents, extents + as.rank()), {a, b});
  g.add_op(
      [=, &g] {
        detail::copy_block(g.ctx(), false, g.data(y), cols, 0, g.data(a), ca, 0, rows, ca);
        detail::copy_block(g.ctx(), false, g.data(y), cols, ca, g.data(b), cb, 0, rows, cb);
      },
      [=, &g] {
        if (g.needs_grad(a))
          detail::copy_block(g.ctx(), g.accumulate_into(a), g.grad_data(a), ca, 0, g.grad_data(y), cols, 0, rows, ca);
        if (g.needs_grad(b))
          detail::copy_block(g.ctx(), g.accumulate_into(b), g.grad_data(b), cb, 0, g.grad_data(y), cols, ca, rows, cb);
      });
  return y;
}

/// [a, b] along the last axis of two (rows x cols) tensors with the same rows: concat_channels of rank 2.
template <floating_scalar Scalar, class Backend>
value concat(graph<Scalar, Backend>& g, value a, value b) {
  const shape as = g.shape_of(a), bs = g.shape_of(b);
  require(as.rank() == 2 && bs.rank() == 2 && as[0] == bs[0], "autograd::concat", "two rank-2 tensors with equal rows",
          attractor::detail::text("a ", as, ", b ", bs));
  return concat_channels(g, a, b);
}

/// The first `first` columns and the rest, of a (rows x cols) tensor.
template <floating_scalar Scalar, class Backend>
std::pair<value, value> split(graph<Scalar, Backend>& g, value x, std::size_t first) {
  const shape xs = g.shape_of(x);
  require(xs.rank() == 2 && first <= xs[1], "autograd::split",
          attractor::detail::text("a rank-2 tensor with >= ", first, " columns"), xs);
  const std::size_t rows = xs[0], cols = xs[1], rest = cols - first;
  const value a = g.make_result({rows, first}, {x});
  const value b = g.make_result({rows, rest}, {x});
  g.add_op(
      [=, &g] {
        detail::copy_block(g.ctx(), false, g.data(a), first, 0, g.data(x), cols, 0, rows, first);
        detail::copy_block(g.ctx(), false, g.data(b), rest, 0, g.data(x), cols, first, rows, rest);
      },
      [=, &g] {
        if (!g.needs_grad(x)) return;
        const bool accumulate = g.accumulate_into(x);  // the two blocks write disjoint columns: one contribution
        detail::copy_block(g.ctx(), accumulate, g.grad_data(x), cols, 0, g.grad_data(a), first, 0, rows, first);
        detail::copy_block(g.ctx(), accumulate, g.grad_data(x), cols, first, g.grad_data(b), rest, 0, rows, rest);
      });
  return {a, b};
}

/// x under shape s (of x's size), as torch's view: it aliases x's storage and gradient, with no copy and no pass.
template <floating_scalar Scalar, class Backend>
value reshape(graph<Scalar, Backend>& g, value x, const shape& s) {
  return g.view(x, s);
}

/// out[i, :] = x[index[i], :] for a (rows x cols) x: a row gather. The backward pass sums the gradients of rows
/// that share an index (segment_sum). Indices must lie in [0, rows): graph::set_indices checks them on the host before
/// it uploads them, on every backend, and on a backend whose memory the host reads (host_accessible), where index_of
/// may also write them, every forward() checks them again.
template <floating_scalar Scalar, class Backend>
value gather_rows(graph<Scalar, Backend>& g, value x, index_value index) {
  const shape xs = g.shape_of(x);
  require(xs.rank() == 2, "autograd::gather_rows", "x of rank 2", xs);
  const std::size_t rows = xs[0], cols = xs[1], n = g.index_of(index).size();
  g.bound_indices(index, rows);
  const value y = g.make_result({n, cols}, {x});
  const auto gathered = g.scratch_if(g.needs_grad(x), shape{rows, cols});
  g.add_op(
      [=, &g] {
        const std::int32_t* idx = g.index_of(index).data();
        if constexpr (host_accessible<Backend>) validate_segment_keys(idx, n, rows, "autograd::gather_rows");
        for_each_row_col(g.ctx(), n, cols, kernels::gather_rows<Scalar>{g.data(y), g.data(x), idx, cols});
      },
      [=, &g] {
        if (!g.needs_grad(x)) return;
        const std::int32_t* idx = g.index_of(index).data();
        // segment_sum writes every row of its output (zero where no index points), so a first contribution goes
        // straight into the gradient.
        if (!g.accumulate_into(x)) {
          segment_sum(g.ctx(), idx, g.grad_data(y), n, cols, rows, g.grad_data(x));
          return;
        }
        segment_sum(g.ctx(), idx, g.grad_data(y), n, cols, rows, gathered->data());
        for_each_index(g.ctx(), rows * cols, kernels::accumulate<Scalar>{g.grad_data(x), gathered->data()});
      });
  return y;
}

}  // namespace attractor::autograd
