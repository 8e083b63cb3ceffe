// Classical fourth-order Runge-Kutta for ensembles of an autonomous system, and rk4_stepper, which makes a stepper
// (systems/stepper.hpp) of it.
//
// A right-hand side is a struct with derivative(x, dx) and a size, fixed or run-time:
//   static constexpr std::size_t dimension;                              // fixed size (Lorenz-63, lorenz96<S, 40>)
//   std::size_t dimension() const;                                       // or run-time size (lorenz96<S,
//   runtime_dimension>) ATTRACTOR_HOST_DEVICE void derivative(const Scalar* x, Scalar* dx) const;
// and the step is the spec's: k1 = f(x), k2 = f(x + dt/2 k1), k3 = f(x + dt/2 k2), k4 = f(x + dt k3),
// x + dt (k1 + 2 k2 + 2 k3 + k4) / 6, every operation in Scalar, written once (detail::rk4_step_in) for both sizes so
// that they round alike.
//
// Fixed size, on every backend: a trivially copyable System; each member is integrated by one thread, in registers,
// for as many steps as asked, so that a long run costs one launch rather than several per step (on cpu, blocks of
// members stepped step-major, which vectorises across members). Run-time size, on cpu: one member at a time in a
// workspace from ctx.scratch, so a System may hold what it likes (a coupling matrix, a user's lambda).
//
// States are held either one member per row (members x dimension: network batches) or one member per column
// (dimension x members: data-assimilation ensembles, DAPPER's layout).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/systems/stepper.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems {

enum class layout {
  members_in_rows,     ///< members x dimension
  members_in_columns,  ///< dimension x members
};

/// A right-hand side of compile-time size.
template <class System, class Scalar>
concept fixed_size_system = requires(const System& s, const Scalar* x, Scalar* dx) {
  typename std::integral_constant<std::size_t, System::dimension>;
  s.derivative(x, dx);
};

/// A right-hand side of run-time size.
template <class System, class Scalar>
concept runtime_size_system = requires(const System& s, const Scalar* x, Scalar* dx) {
  { s.dimension() } -> std::convertible_to<std::size_t>;
  s.derivative(x, dx);
};

template <class System, class Scalar>
concept right_hand_side = fixed_size_system<System, Scalar> || runtime_size_system<System, Scalar>;

/// The state size of a right-hand side of either kind.
template <class System>
constexpr std::size_t dimension_of(const System& system) {
  if constexpr (requires { std::integral_constant<std::size_t, System::dimension>{}; })
    return System::dimension;
  else
    return static_cast<std::size_t>(system.dimension());
}

namespace detail {

/// One RK4 step of a d-variable system in place on x, with k, stage and sum d values of workspace each. Forced
/// inline, so that rk4_step, whose arrays are local, rounds as it did when it held this body itself.
template <class System, class Scalar>
ATTRACTOR_HOST_DEVICE ATTRACTOR_FORCE_INLINE void rk4_step_in(const System& system, Scalar* x, Scalar dt, std::size_t d,
                                                              Scalar* k, Scalar* stage, Scalar* sum) {
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

}  // namespace detail

/// One RK4 step of a fixed-size `system`, in place on x (dimension values).
template <class System, class Scalar>
ATTRACTOR_HOST_DEVICE inline void rk4_step(const System& system, Scalar* x, Scalar dt) {
  constexpr std::size_t d = System::dimension;
  Scalar k[d], stage[d], sum[d];
  detail::rk4_step_in(system, x, dt, d, k, stage, sum);
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

/// Rough flops of `steps` RK4 steps of one member of d variables (four right-hand sides of about ten flops per
/// variable), for for_each_index_coarse; saturates instead of wrapping.
inline std::size_t rk4_work(std::size_t d, std::size_t steps) {
  const std::size_t per_step = 40 * d;
  return per_step == 0 || steps <= std::size_t(-1) / per_step ? steps * per_step : std::size_t(-1);
}

/// The members of `states`, checked to hold d variables along the state axis of `where`.
template <class Scalar, class Backend>
std::size_t checked_members(const tensor_view<Scalar, Backend>& states, std::size_t d, layout where, const char* fn) {
  require(states.rank() == 2, fn, "a rank-2 tensor of states", states.shape());
  const std::size_t state_axis = where == layout::members_in_rows ? 1 : 0;
  require(states.extent(state_axis) == d, fn, attractor::detail::text(d, " state variables along axis ", state_axis),
          states.shape());
  return states.extent(1 - state_axis);
}

template <class Scalar>
void require_step(Scalar dt, const char* fn) {
  require(std::isfinite(dt) && dt > 0, fn, "a finite step dt > 0", dt);
}

/// Run-time size on cpu: part p of `parts` takes a contiguous range of members, one at a time, through every step in
/// its own 4 d values of workspace (x, k, stage, sum).
template <class System, class Scalar>
struct rk4_member_parts {
  const System* system;
  Scalar* states;
  std::size_t member_stride, variable_stride, members, parts, d, steps;
  Scalar dt;
  Scalar* work;
  void operator()(std::size_t p) const {
    Scalar* x = work + p * 4 * d;
    Scalar *k = x + d, *stage = k + d, *sum = stage + d;
    for (std::size_t m = p * members / parts; m < (p + 1) * members / parts; ++m) {
      for (std::size_t i = 0; i < d; ++i) x[i] = states[m * member_stride + i * variable_stride];
      for (std::size_t s = 0; s < steps; ++s) rk4_step_in(*system, x, dt, d, k, stage, sum);
      for (std::size_t i = 0; i < d; ++i) states[m * member_stride + i * variable_stride] = x[i];
    }
  }
};

}  // namespace detail

/// Advances every member of `states` by `steps` RK4 steps of size dt, in place. Throws attractor::error on a shape
/// that does not hold System::dimension variables along the state axis, or a dt that is not finite and > 0. The
/// values are not checked: a blown-up member becomes Inf/NaN and stays so (data assimilation reports divergence).
template <class System, class Scalar, class Backend>
requires fixed_size_system<System, Scalar>
void rk4_advance(context<Backend>& ctx, const System& system, tensor_view<Scalar, Backend> states, std::size_t steps,
                 Scalar dt, layout where = layout::members_in_rows) {
  constexpr const char* fn = "systems::rk4_advance";
  const std::size_t members = detail::checked_members(states, System::dimension, where, fn);
  detail::require_step(dt, fn);
  if (members == 0 || steps == 0) return;
  const bool rows = where == layout::members_in_rows;
  for_each_index_coarse(ctx, members,
                        detail::rk4_members<System, Scalar>{system, states.data(), rows ? System::dimension : 1,
                                                            rows ? 1 : members, steps, dt, nullptr, 0},
                        detail::rk4_work(System::dimension, steps));
}

/// rk4_advance on cpu: blocks of members stepped step-major (detail::rk4_member_blocks), in parallel over blocks where
/// the work is large enough. Same contract and results as the generic version.
template <class System, class Scalar>
requires fixed_size_system<System, Scalar>
void rk4_advance(context<cpu>& ctx, const System& system, tensor_view<Scalar, cpu> states, std::size_t steps, Scalar dt,
                 layout where = layout::members_in_rows) {
  constexpr const char* fn = "systems::rk4_advance";
  const std::size_t members = detail::checked_members(states, System::dimension, where, fn);
  detail::require_step(dt, fn);
  if (members == 0 || steps == 0) return;
  const bool rows = where == layout::members_in_rows;
  using blocks = detail::rk4_member_blocks<System, Scalar>;
  const std::size_t block_count = (members + blocks::width - 1) / blocks::width;
  const std::size_t block_work = detail::rk4_work(System::dimension, steps);
  for_each_index_coarse(
      ctx, block_count,
      blocks{system, states.data(), rows ? System::dimension : 1, rows ? 1 : members, members, steps, dt},
      block_work > std::size_t(-1) / blocks::width ? std::size_t(-1) : block_work * blocks::width);
}

/// rk4_advance of a run-time-size system, on cpu: the members in up to ctx.threads() parts in parallel, each member
/// integrated through all its steps in a workspace from ctx.scratch. Same contract as the fixed-size versions, and
/// the same results as them for a system of either kind.
template <class System, class Scalar>
requires runtime_size_system<System, Scalar>
void rk4_advance(context<cpu>& ctx, const System& system, tensor_view<Scalar, cpu> states, std::size_t steps, Scalar dt,
                 layout where = layout::members_in_rows) {
  constexpr const char* fn = "systems::rk4_advance";
  const std::size_t d = dimension_of(system);
  require(d >= 1, fn, "a system of at least one variable", d);
  const std::size_t members = detail::checked_members(states, d, where, fn);
  detail::require_step(dt, fn);
  if (members == 0 || steps == 0) return;
  const bool rows = where == layout::members_in_rows;
  const std::size_t parts = std::min(members, static_cast<std::size_t>(std::max(ctx.threads(), 1)));
  const std::size_t per_part = checked_product(checked_product(parts, 4, fn, "parts and 4"), d, fn, "workspace");
  auto* work = static_cast<Scalar*>(ctx.scratch(checked_product(per_part, sizeof(Scalar), fn, "workspace bytes")));
  const std::size_t member_work = detail::rk4_work(d, steps);
  for_each_index_coarse(
      ctx, parts,
      detail::rk4_member_parts<System, Scalar>{&system, states.data(), rows ? d : 1, rows ? 1 : members, members, parts,
                                               d, steps, dt, work},
      member_work > std::size_t(-1) / members ? std::size_t(-1) : member_work * (members / parts));
}

/// A stepper (systems/stepper.hpp) of `steps` RK4 steps of size dt of a right-hand side of either size, with
/// optional additive model noise: after every step each variable of each member gets noise_std * N(0, 1)
/// (add_model_noise), drawn from the generator advance is given; with noise_std = 0 (the default) it draws nothing
/// and advance is rk4_advance in the members_in_columns layout. Fixed-size systems step on every backend, run-time
/// ones on cpu.
///
///   systems::rk4_stepper l96(systems::lorenz96<double, systems::runtime_dimension>(40), 0.05);
///   l96.advance(ctx, E.view(), 10, gen);  // E: 40 x N
template <class System, floating_scalar Scalar>
requires right_hand_side<System, Scalar>
class rk4_stepper {
public:
  using system_type = System;

  /// Throws attractor::error on a system of no variables, a dt that is not finite and > 0, or a noise_std that is
  /// not finite and >= 0.
  rk4_stepper(System system, Scalar dt, Scalar noise_std = Scalar(0))
      : system_(std::move(system)), dt_(dt), noise_std_(noise_std) {
    constexpr const char* fn = "systems::rk4_stepper";
    require(dimension() >= 1, fn, "a system of at least one variable", dimension());
    detail::require_step(dt, fn);
    require(std::isfinite(noise_std) && noise_std >= 0, fn, "a finite noise_std >= 0", noise_std);
  }

  [[nodiscard]] std::size_t dimension() const { return dimension_of(system_); }
  [[nodiscard]] const System& system() const { return system_; }
  [[nodiscard]] Scalar dt() const { return dt_; }
  [[nodiscard]] Scalar noise_std() const { return noise_std_; }

  /// Advances states (dimension() x N) by `steps` steps in place.
  template <class Backend>
  void advance(context<Backend>& ctx, tensor_view<Scalar, Backend> states, std::size_t steps, philox& gen) const {
    if (noise_std_ == 0) {
      rk4_advance(ctx, system_, states, steps, dt_, layout::members_in_columns);
      return;
    }
    for (std::size_t s = 0; s < steps; ++s) {
      rk4_advance(ctx, system_, states, 1, dt_, layout::members_in_columns);
      add_model_noise(ctx, states, noise_std_, gen);
    }
  }

private:
  System system_;
  Scalar dt_;
  Scalar noise_std_;
};

/// True for an rk4_stepper over a fixed-size system (which da::run_twin steps in registers when it has no noise).
template <class Stepper>
inline constexpr bool is_fixed_size_rk4 = false;
template <class System, class Scalar>
inline constexpr bool is_fixed_size_rk4<rk4_stepper<System, Scalar>> = fixed_size_system<System, Scalar>;

/// rk4_advance that also writes every state, the start included, to `out` (members x (steps + 1) x dimension);
/// `states` (members x dimension) ends at the last one.
template <class System, class Scalar, class Backend>
requires fixed_size_system<System, Scalar>
void rk4_trajectory(context<Backend>& ctx, const System& system, tensor_view<Scalar, Backend> states, std::size_t steps,
                    Scalar dt, tensor_view<Scalar, Backend> out) {
  constexpr const char* fn = "systems::rk4_trajectory";
  constexpr std::size_t d = System::dimension;
  const std::size_t members = detail::checked_members(states, d, layout::members_in_rows, fn);
  require(out.shape() == shape{members, steps + 1, d}, fn,
          attractor::detail::text("an output of shape ", shape{members, steps + 1, d}), out.shape());
  detail::require_step(dt, fn);
  if (members == 0) return;
  for_each_index_coarse(
      ctx, members,
      detail::rk4_members<System, Scalar>{system, states.data(), d, 1, steps, dt, out.data(), (steps + 1) * d},
      detail::rk4_work(System::dimension, steps));
}

}  // namespace attractor::systems
