// Classical fourth-order Runge-Kutta for ensembles of a small autonomous system, written once for every backend:
// each member is integrated by one thread, in registers, for as many steps as asked, so that a long run costs one
// launch rather than several per step.
//
// A System is a trivially copyable struct with
//   static constexpr std::size_t dimension;                              // state size
//   ATTRACTOR_HOST_DEVICE void derivative(const Scalar* x, Scalar* dx) const;
// and the step is the spec's: k1 = f(x), k2 = f(x + dt/2 k1), k3 = f(x + dt/2 k2), k4 = f(x + dt k3),
// x + dt (k1 + 2 k2 + 2 k3 + k4) / 6, every operation in Scalar.
//
// States are held either one member per row (members x dimension: network batches) or one member per column
// (dimension x members: data-assimilation ensembles, DAPPER's layout).
#pragma once

#include <cmath>
#include <cstddef>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems {

enum class layout {
  members_in_rows,     ///< members x dimension
  members_in_columns,  ///< dimension x members
};

/// One RK4 step of `system`, in place on x (dimension values).
template <class System, class Scalar>
ATTRACTOR_HOST_DEVICE inline void rk4_step(const System& system, Scalar* x, Scalar dt) {
  constexpr std::size_t d = System::dimension;
  Scalar k[d], stage[d], sum[d];
  const Scalar half = dt / Scalar(2);
  system.derivative(x, k);
  for (std::size_t i = 0; i < d; ++i) {
    sum[i] = k[i];
    stage[i] = x[i] + half * k[i];
  }
  system.derivative(stage, k);
  for (std::size_t i = 0; i < d; ++i) {
    sum[i] += Scalar(2) * k[i];
    stage[i] = x[i] + half * k[i];
  }
  system.derivative(stage, k);
  for (std::size_t i = 0; i < d; ++i) {
    sum[i] += Scalar(2) * k[i];
    stage[i] = x[i] + dt * k[i];
  }
  system.derivative(stage, k);
  for (std::size_t i = 0; i < d; ++i) x[i] += dt * (sum[i] + k[i]) / Scalar(6);
}

namespace detail {

/// Member m: load, take `steps` steps (recording each state if asked), store.
template <class System, class Scalar>
struct rk4_members {
  System system;
  Scalar* states;
  std::size_t member_stride, variable_stride;
  std::size_t steps;
  Scalar dt;
  Scalar* record;  // null, or the start and every step: member m's states at record + m * record_stride
  std::size_t record_stride;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t m) const {
    constexpr std::size_t d = System::dimension;
    Scalar x[d];
    for (std::size_t i = 0; i < d; ++i) x[i] = states[m * member_stride + i * variable_stride];
    Scalar* out = record == nullptr ? nullptr : record + m * record_stride;
    if (out != nullptr)
      for (std::size_t i = 0; i < d; ++i) out[i] = x[i];
    for (std::size_t s = 0; s < steps; ++s) {
      rk4_step(system, x, dt);
      if (out != nullptr)
        for (std::size_t i = 0; i < d; ++i) out[(s + 1) * d + i] = x[i];
    }
    for (std::size_t i = 0; i < d; ++i) states[m * member_stride + i * variable_stride] = x[i];
  }
};

/// cpu: a block of up to `width` members, stepped step-major. The loop over the block's members at each step is
/// straight-line code on independent states, which the compiler vectorises across members (contiguous in the
/// members_in_columns layout); one member's own steps form a dependency chain that cannot be. The arithmetic of each
/// member is rk4_step's, so the result is the member-at-a-time one.
template <class System, class Scalar>
struct rk4_member_blocks {
  static constexpr std::size_t width = 64;
  System system;
  Scalar* states;
  std::size_t member_stride, variable_stride, members, steps;
  Scalar dt;
  void operator()(std::size_t block) const {
    constexpr std::size_t d = System::dimension;
    const std::size_t first = block * width, last = first + width < members ? first + width : members;
    for (std::size_t s = 0; s < steps; ++s) {
      for (std::size_t m = first; m < last; ++m) {
        Scalar x[d];
        for (std::size_t i = 0; i < d; ++i) x[i] = states[m * member_stride + i * variable_stride];
        rk4_step(system, x, dt);
        for (std::size_t i = 0; i < d; ++i) states[m * member_stride + i * variable_stride] = x[i];
      }
    }
  }
};

/// Rough flops of `steps` RK4 steps of one member (four right-hand sides of about ten flops per variable), for
/// for_each_index_coarse; saturates instead of wrapping.
template <class System>
std::size_t rk4_work(std::size_t steps) {
  constexpr std::size_t per_step = 40 * System::dimension;
  return steps > std::size_t(-1) / per_step ? std::size_t(-1) : steps * per_step;
}

template <class System, class Scalar, class Backend>
std::size_t checked_members(const tensor_view<Scalar, Backend>& states, layout where, const char* fn) {
  constexpr std::size_t d = System::dimension;
  require(states.rank() == 2, fn, "a rank-2 tensor of states", states.shape());
  const std::size_t state_axis = where == layout::members_in_rows ? 1 : 0;
  require(states.extent(state_axis) == d, fn, attractor::detail::text(d, " state variables along axis ", state_axis),
          states.shape());
  return states.extent(1 - state_axis);
}

}  // namespace detail

/// Advances every member of `states` by `steps` RK4 steps of size dt, in place. Throws attractor::error on a shape
/// that does not hold System::dimension variables along the state axis, or a dt that is not finite and > 0. The
/// values are not checked: a blown-up member becomes Inf/NaN and stays so (data assimilation reports divergence).
template <class System, class Scalar, class Backend>
void rk4_advance(context<Backend>& ctx, const System& system, tensor_view<Scalar, Backend> states, std::size_t steps,
                 Scalar dt, layout where = layout::members_in_rows) {
  constexpr const char* fn = "systems::rk4_advance";
  const std::size_t members = detail::checked_members<System>(states, where, fn);
  require(std::isfinite(dt) && dt > 0, fn, "a finite step dt > 0", dt);
  if (members == 0 || steps == 0) return;
  const bool rows = where == layout::members_in_rows;
  for_each_index_coarse(ctx, members,
                        detail::rk4_members<System, Scalar>{system, states.data(), rows ? System::dimension : 1,
                                                            rows ? 1 : members, steps, dt, nullptr, 0},
                        detail::rk4_work<System>(steps));
}

/// rk4_advance on cpu: blocks of members stepped step-major (detail::rk4_member_blocks), in parallel over blocks where
/// the work is large enough. Same contract and results as the generic version.
template <class System, class Scalar>
void rk4_advance(context<cpu>& ctx, const System& system, tensor_view<Scalar, cpu> states, std::size_t steps, Scalar dt,
                 layout where = layout::members_in_rows) {
  constexpr const char* fn = "systems::rk4_advance";
  const std::size_t members = detail::checked_members<System>(states, where, fn);
  require(std::isfinite(dt) && dt > 0, fn, "a finite step dt > 0", dt);
  if (members == 0 || steps == 0) return;
  const bool rows = where == layout::members_in_rows;
  using blocks = detail::rk4_member_blocks<System, Scalar>;
  const std::size_t block_count = (members + blocks::width - 1) / blocks::width;
  const std::size_t block_work = detail::rk4_work<System>(steps);
  for_each_index_coarse(
      ctx, block_count,
      blocks{system, states.data(), rows ? System::dimension : 1, rows ? 1 : members, members, steps, dt},
      block_work > std::size_t(-1) / blocks::width ? std::size_t(-1) : block_work * blocks::width);
}

/// rk4_advance that also writes every state, the start included, to `out` (members x (steps + 1) x dimension);
/// `states` (members x dimension) ends at the last one.
template <class System, class Scalar, class Backend>
void rk4_trajectory(context<Backend>& ctx, const System& system, tensor_view<Scalar, Backend> states, std::size_t steps,
                    Scalar dt, tensor_view<Scalar, Backend> out) {
  constexpr const char* fn = "systems::rk4_trajectory";
  constexpr std::size_t d = System::dimension;
  const std::size_t members = detail::checked_members<System>(states, layout::members_in_rows, fn);
  require(out.shape() == shape{members, steps + 1, d}, fn,
          attractor::detail::text("an output of shape ", shape{members, steps + 1, d}), out.shape());
  require(std::isfinite(dt) && dt > 0, fn, "a finite step dt > 0", dt);
  if (members == 0) return;
  for_each_index_coarse(
      ctx, members,
      detail::rk4_members<System, Scalar>{system, states.data(), d, 1, steps, dt, out.data(), (steps + 1) * d},
      detail::rk4_work<System>(steps));
}

}  // namespace attractor::systems
