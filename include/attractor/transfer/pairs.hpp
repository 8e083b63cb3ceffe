// transfer_learning::increment_pairs: the training pairs of spec §6 (datasets/surrogate.py): x = a state, y = the
// state `lead` steps later minus x (the normalised increment over 0.1 time units for lead = 10 steps of 0.01).
// Starts run over every member and every step t with t + lead inside the member, `stride` steps apart; unlike the
// reference, which flattens the members first, no pair crosses from one trajectory into the next (the reference has
// 150 such pairs among 16e6).
#pragma once

#include <cstddef>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::transfer_learning {

template <floating_scalar Scalar, class Backend>
struct pairs {
  tensor<Scalar, Backend> x;  ///< (n x d): the states
  tensor<Scalar, Backend> y;  ///< (n x d): their increments over the lead
};

namespace kernels {

/// Pair p = (member, start index s): x = traj[member, s stride], y = traj[member, s stride + lead] - x.
template <class S>
struct increment_pair {
  S* x;
  S* y;
  const S* traj;
  std::size_t steps, per_member, stride, lead, d;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t p = i / d, k = i % d, member = p / per_member, t = (p % per_member) * stride;
    const S* state = traj + (member * steps + t) * d;
    x[i] = state[k];
    y[i] = state[lead * d + k] - state[k];
  }
};

}  // namespace kernels

/// The pairs of `trajectories` (members x steps x d, finite, on Backend) at `lead` steps (>= 1, < steps), starts
/// `stride` (>= 1) steps apart. Throws on a wrong shape, a bad lead or stride, or NaN or Inf in the trajectories.
template <floating_scalar Scalar, class Backend>
pairs<Scalar, Backend> increment_pairs(context<Backend>& ctx, const_tensor_view<Scalar, Backend> trajectories,
                                       std::size_t lead = 10, std::size_t stride = 1) {
  constexpr const char* fn = "transfer_learning::increment_pairs";
  const auto& t = trajectories;
  require(t.rank() == 3 && t.extent(0) > 0 && t.extent(2) > 0, fn, "trajectories of shape (members, steps, d)",
          t.shape());
  require(lead >= 1 && lead < t.extent(1), fn, attractor::detail::text("a lead in [1, ", t.extent(1), ")"), lead);
  require(stride >= 1, fn, "a stride >= 1", stride);
  require_finite(ctx, t, fn, "the trajectories");
  const std::size_t steps = t.extent(1), d = t.extent(2), per_member = (steps - lead - 1) / stride + 1;
  const std::size_t n = checked_product(t.extent(0), per_member, fn, "pairs");
  pairs<Scalar, Backend> p{tensor<Scalar, Backend>(shape{n, d}), tensor<Scalar, Backend>(shape{n, d})};
  for_each_index(ctx, n * d,
                 kernels::increment_pair<Scalar>{p.x.data(), p.y.data(), t.data(), steps, per_member, stride, lead, d});
  return p;
}

}  // namespace attractor::transfer_learning
