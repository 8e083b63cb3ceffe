// Lorenz-63 (spec §1): dx/dt = [sigma (y - x), x (rho - z) - y, x y - beta z] with sigma = 10, rho = 28,
// beta = 8/3, its climatology (the normalisation constants the paper's code hard-codes), and the paper's data set.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "attractor/backend/map.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/rk4.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems {

template <floating_scalar Scalar>
struct lorenz63 {
  static constexpr std::size_t dimension = 3;
  Scalar sigma = Scalar(10);
  Scalar rho = Scalar(28);
  Scalar beta = Scalar(8) / Scalar(3);

  ATTRACTOR_HOST_DEVICE void derivative(const Scalar* x, Scalar* dx) const {
    dx[0] = sigma * (x[1] - x[0]);
    dx[1] = x[0] * (rho - x[2]) - x[1];
    dx[2] = x[0] * x[1] - beta * x[2];
  }
};

/// The train-set mean and standard deviation per variable (spec §1, dyn_ddim/climatology.py): the paper's code
/// normalises every state as (x - mean) / std with these constants, and scores nRMSE against std.
struct lorenz63_climatology {
  static constexpr std::array<double, 3> mean{0.0450, 0.0451, 23.5463};
  static constexpr std::array<double, 3> std{7.9239, 9.0124, 8.6261};
};

namespace detail {
template <class Scalar>
struct affine_last_axis3 {
  Scalar* x;
  Scalar a0, a1, a2, b0, b1, b2;  // x = a x + b per variable
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t k = i % 3;
    const Scalar a = k == 0 ? a0 : (k == 1 ? a1 : a2);
    const Scalar b = k == 0 ? b0 : (k == 1 ? b1 : b2);
    x[i] = a * x[i] + b;
  }
};

template <class Scalar, class Backend>
void affine3(context<Backend>& ctx, tensor_view<Scalar, Backend> x, bool to_normalised, const char* fn) {
  require(x.rank() >= 1 && x.extent(x.rank() - 1) == 3, fn, "states with 3 variables along the last axis", x.shape());
  using c = lorenz63_climatology;
  std::array<Scalar, 3> a{}, b{};
  for (std::size_t k = 0; k < 3; ++k) {
    a[k] = to_normalised ? Scalar(1.0 / c::std[k]) : Scalar(c::std[k]);
    b[k] = to_normalised ? Scalar(-c::mean[k] / c::std[k]) : Scalar(c::mean[k]);
  }
  for_each_index(ctx, x.size(), affine_last_axis3<Scalar>{x.data(), a[0], a[1], a[2], b[0], b[1], b[2]});
}
}  // namespace detail

/// (x - mean) / std in place, on any tensor whose last axis holds the 3 variables.
template <class Scalar, class Backend>
void lorenz63_normalise(context<Backend>& ctx, tensor_view<Scalar, Backend> x) {
  detail::affine3(ctx, x, true, "systems::lorenz63_normalise");
}

/// x std + mean in place: back to physical units.
template <class Scalar, class Backend>
void lorenz63_denormalise(context<Backend>& ctx, tensor_view<Scalar, Backend> x) {
  detail::affine3(ctx, x, false, "systems::lorenz63_denormalise");
}

/// The paper's data set (spec §1), sizes configurable. The defaults are the paper's: 16 train, 1 validation and
/// 16 test trajectories, each from N(0, 0.001^2 I), 1e5 spin-up steps discarded, then 1e6 + 1 kept states at
/// dt = 0.01, all three sets drawn one after another from one generator.
struct lorenz63_dataset_options {
  std::size_t train_members = 16;
  std::size_t validation_members = 1;
  std::size_t test_members = 16;
  std::size_t spin_up = 100'000;
  std::size_t steps = 1'000'000;  ///< kept states per trajectory: steps + 1
  double dt = 0.01;
  double initial_std = 0.001;
  std::uint64_t seed = 42;
  bool normalise = true;  ///< store (x - mean) / std, as the paper's files do
  /// Called after each chunk of integration with the set's name ("train", "validation", "test") and the steps done
  /// out of spin_up + steps; may be empty.
  std::function<void(std::string_view set, std::size_t done, std::size_t total)> progress;
  std::size_t progress_every = 50'000;  ///< steps between progress calls
};

template <floating_scalar Scalar, class Backend>
struct lorenz63_dataset {
  tensor<Scalar, Backend> train, validation, test;  ///< members x (steps + 1) x 3 each
};

/// One set of `members` trajectories (members x (steps + 1) x 3), drawn from `gen`.
template <floating_scalar Scalar, class Backend>
tensor<Scalar, Backend> lorenz63_trajectories(context<Backend>& ctx, philox& gen, std::size_t members,
                                              const lorenz63_dataset_options& o,
                                              std::string_view name = "trajectories") {
  constexpr const char* fn = "systems::lorenz63_trajectories";
  require(o.dt > 0 && std::isfinite(o.dt), fn, "a finite dt > 0", o.dt);
  require(o.initial_std >= 0 && std::isfinite(o.initial_std), fn, "a finite initial_std >= 0", o.initial_std);
  require(o.progress_every > 0, fn, "progress_every > 0", o.progress_every);
  const lorenz63<Scalar> system{};
  const auto dt = static_cast<Scalar>(o.dt);
  tensor<Scalar, Backend> states({members, 3});
  fill_normal(ctx, gen, states, Scalar(0), static_cast<Scalar>(o.initial_std));
  const std::size_t total = o.spin_up + o.steps;
  std::size_t done = 0;
  auto report = [&] {
    if (o.progress) o.progress(name, done, total);
  };
  while (done < o.spin_up) {
    const std::size_t chunk = std::min(o.progress_every, o.spin_up - done);
    rk4_advance(ctx, system, states.view(), chunk, dt);
    done += chunk;
    report();
  }
  tensor<Scalar, Backend> out({members, o.steps + 1, 3});
  const std::size_t stride = (o.steps + 1) * 3;
  // The first kept state is the last spin-up state; each chunk then records its own steps after it.
  for (std::size_t m = 0; m < members; ++m)
    transfer<Backend, Backend>::run(ctx, states.data() + m * 3, out.data() + m * stride, 3);
  std::size_t kept = 0;
  while (kept < o.steps) {
    const std::size_t chunk = std::min(o.progress_every, o.steps - kept);
    // Record from slot `kept` on: the chunk's first record (slot kept) rewrites the state already there.
    for_each_index_coarse(ctx, members,
                          detail::rk4_members<lorenz63<Scalar>, Scalar>{system, states.data(), 3, 1, chunk, dt,
                                                                        out.data() + kept * 3, stride});
    kept += chunk;
    done += chunk;
    report();
  }
  if (o.normalise) lorenz63_normalise(ctx, out.view());
  return out;
}

/// The three sets, in the reference's order (train, validation, test) from one generator seeded with o.seed.
template <floating_scalar Scalar, class Backend>
lorenz63_dataset<Scalar, Backend> make_lorenz63_dataset(context<Backend>& ctx, const lorenz63_dataset_options& o = {}) {
  philox gen(o.seed);
  lorenz63_dataset<Scalar, Backend> data;
  data.train = lorenz63_trajectories<Scalar>(ctx, gen, o.train_members, o, "train");
  data.validation = lorenz63_trajectories<Scalar>(ctx, gen, o.validation_members, o, "validation");
  data.test = lorenz63_trajectories<Scalar>(ctx, gen, o.test_members, o, "test");
  return data;
}

}  // namespace attractor::systems
