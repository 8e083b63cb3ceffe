// transfer_learning::rollout: the additive surrogate x_{k+1} = x_k + g(x_k) of spec §6, fed its own output, for a
// batch of starts at once on the map's backend. g is any row map from d to d values (a head chained after a feature
// map, a network_map, a ridge solution on the states). Non-finite states are not refused: a diverging surrogate
// produces NaN or Inf, which the scores report.
#pragma once

#include <cstddef>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"
#include "attractor/transfer/row_map.hpp"

namespace attractor::transfer_learning {

namespace kernels {

template <class S>
struct add_in_place {
  S* x;
  const S* increment;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { x[i] += increment[i]; }
};

}  // namespace kernels

/// Advances `states` (n x d, on Backend) in place by `iterations` (>= 1) applications of x <- x + g(x), calling
/// each(k, states) after iteration k = 1..iterations with a const view of the states. `increment` is a (n x d)
/// scratch array on Backend. Throws on a wrong shape, g not from d to d values, or no iterations.
template <floating_scalar Scalar, class Backend, class Map, class Each>
requires row_map<Map, Scalar, Backend>
void rollout(context<Backend>& ctx, Map& g, tensor_view<Scalar, Backend> states, std::size_t iterations,
             tensor_view<Scalar, Backend> increment, Each&& each) {
  constexpr const char* fn = "transfer_learning::rollout";
  require(iterations >= 1, fn, "at least one iteration", iterations);
  require(g.inputs() == g.outputs(), fn, "a map from d to d values",
          attractor::detail::text(g.inputs(), " -> ", g.outputs()));
  detail::require_row_shapes(states, increment, g.inputs(), g.outputs(), fn);
  const const_tensor_view<Scalar, Backend> x = states;
  for (std::size_t k = 1; k <= iterations; ++k) {
    g.apply(ctx, x, increment);
    for_each_index(ctx, states.size(), kernels::add_in_place<Scalar>{states.data(), increment.data()});
    each(k, x);
  }
}

/// The roll-outs of the starts (n x d, on Backend) as a new (iterations + 1) x n x d tensor, lead 0 the starts.
template <floating_scalar Scalar, class Backend, class Map>
requires row_map<Map, Scalar, Backend> tensor<Scalar, Backend> rollout(context<Backend>& ctx, Map& g,
                                                                       const_tensor_view<Scalar, Backend> starts,
                                                                       std::size_t iterations) {
  constexpr const char* fn = "transfer_learning::rollout";
  require(iterations >= 1, fn, "at least one iteration", iterations);
  require(starts.rank() == 2 && starts.extent(0) > 0 && starts.extent(1) == g.inputs(), fn,
          attractor::detail::text("starts of shape (n >= 1, ", g.inputs(), ")"), starts.shape());
  const std::size_t n = starts.extent(0), d = starts.extent(1);
  tensor<Scalar, Backend> out(shape{iterations + 1, n, d}), state(shape{n, d}), increment(shape{n, d});
  copy(ctx, starts, state.view());
  copy(ctx, starts, out.view().row(0));
  rollout(ctx, g, state.view(), iterations, increment.view(),
          [&](std::size_t k, const_tensor_view<Scalar, Backend> x) { copy(ctx, x, out.view().row(k)); });
  return out;
}

}  // namespace attractor::transfer_learning
