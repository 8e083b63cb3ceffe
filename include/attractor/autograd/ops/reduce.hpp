// Reductions to a scalar: sum, mean, and the mean squared error (torch.nn.MSELoss).
#pragma once

#include <cstddef>
#include <memory>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/reduce.hpp"

namespace attractor::autograd {

namespace detail {

/// scale * sum(x), as a rank-0 tensor.
template <floating_scalar Scalar, class Backend>
value scaled_sum(graph<Scalar, Backend>& g, value x, Scalar scale) {
  const std::size_t n = g.shape_of(x).size();
  const value y = g.make_result(shape{}, {x});
  g.add_op(
      [=, &g] {
        reduce_to(g.ctx(), reduction::sum, g.data(x), n, g.data(y));
        if (scale != Scalar(1)) for_each_index(g.ctx(), 1, kernels::scale_scalar<Scalar>{g.data(y), g.data(y), scale});
      },
      [=, &g] {
        if (g.needs_grad(x))
          for_each_index(
              g.ctx(), n,
              kernels::broadcast_scalar<Scalar>{g.grad_data(x), g.grad_data(y), scale, g.accumulate_into(x)});
      });
  return y;
}

}  // namespace detail

/// The sum of all elements, as a rank-0 tensor.
template <floating_scalar Scalar, class Backend>
value sum(graph<Scalar, Backend>& g, value x) {
  return detail::scaled_sum(g, x, Scalar(1));
}

/// The mean of all elements, as a rank-0 tensor.
template <floating_scalar Scalar, class Backend>
value mean(graph<Scalar, Backend>& g, value x) {
  const std::size_t n = g.shape_of(x).size();
  require(n > 0, "autograd::mean", "a non-empty tensor", g.shape_of(x));
  return detail::scaled_sum(g, x, Scalar(1) / Scalar(n));
}

/// mean((pred - target)^2) over all elements, as torch.nn.MSELoss: a rank-0 tensor.
template <floating_scalar Scalar, class Backend>
value mse(graph<Scalar, Backend>& g, value pred, value target) {
  const shape ps = g.shape_of(pred);
  require(ps == g.shape_of(target), "autograd::mse", attractor::detail::text("a target of shape ", ps),
          g.shape_of(target));
  require(ps.size() > 0, "autograd::mse", "non-empty tensors", ps);
  const std::size_t n = ps.size();
  const value loss = g.make_result(shape{}, {pred, target});
  auto diff = std::make_shared<tensor<Scalar, Backend>>(shape{n});
  const Scalar inv_n = Scalar(1) / Scalar(n);
  g.add_op(
      [=, &g] {
        for_each_index(g.ctx(), n, kernels::difference<Scalar>{diff->data(), g.data(pred), g.data(target)});
        reduce_to(g.ctx(), reduction::sum_squares, diff->data(), n, g.data(loss));
        for_each_index(g.ctx(), 1, kernels::scale_scalar<Scalar>{g.data(loss), g.data(loss), inv_n});
      },
      [=, &g] {
        if (g.needs_grad(pred))
          for_each_index(g.ctx(), n,
                         kernels::scaled_by_upstream<Scalar>{g.grad_data(pred), diff->data(), g.grad_data(loss),
                                                             2 * inv_n, g.accumulate_into(pred)});
        if (g.needs_grad(target))
          for_each_index(g.ctx(), n,
                         kernels::scaled_by_upstream<Scalar>{g.grad_data(target), diff->data(), g.grad_data(loss),
                                                             -2 * inv_n, g.accumulate_into(target)});
      });
  return loss;
}

}  // namespace attractor::autograd
