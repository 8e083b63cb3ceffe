// Tests of the stepper concept (systems/stepper.hpp) and of RK4 of run-time size: the run-time path rounds exactly as
// the fixed-size one (Lorenz-96 with 40 variables, Lorenz-63), follows the exact RK4 polynomial of a linear system
// and converges at order 4, model noise is the generator's normals and nothing else, da::run_twin assimilates into a
// model written by hand (against the steady-state Kalman filter computed here), and bad input is refused by name.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "attractor/da.hpp"
#include "attractor/systems.hpp"
#include "tolerance.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::shape;
using attractor::tensor;
using attractor::tensor_view;
using attractor_test::relative;
namespace da = attractor::da;
namespace systems = attractor::systems;

/// Lorenz-63 behind a run-time dimension, to run the library's own derivative through the run-time path.
struct runtime_lorenz63 {
  systems::lorenz63<double> f;
  [[nodiscard]] std::size_t dimension() const { return 3; }
  void derivative(const double* x, double* dx) const { f.derivative(x, dx); }
};

/// dx_i/dt = -rate_i x_i on a run-time number of variables.
struct decay {
  std::vector<double> rate;
  [[nodiscard]] std::size_t dimension() const { return rate.size(); }
  void derivative(const double* x, double* dx) const {
    for (std::size_t i = 0; i < rate.size(); ++i) dx[i] = -rate[i] * x[i];
  }
};

/// dx/dt = 0 on n variables: RK4 leaves the state as it is, so only model noise moves it.
struct still {
  std::size_t n;
  [[nodiscard]] std::size_t dimension() const { return n; }
  void derivative(const double*, double* dx) const {
    for (std::size_t i = 0; i < n; ++i) dx[i] = 0;
  }
};

/// The header's example: x <- a x + q xi per step, written by hand as a user would.
struct ar1 {
  std::size_t n;
  double a, q;
  [[nodiscard]] std::size_t dimension() const { return n; }
  void advance(context<cpu>& ctx, tensor_view<double, cpu> E, std::size_t steps, philox& gen) const {
    attractor::require(E.rank() == 2 && E.extent(0) == n, "ar1::advance", "states of shape n x N", E.shape());
    for (std::size_t s = 0; s < steps; ++s) {
      for (double& v : E) v *= a;
      systems::add_model_noise(ctx, E, q, gen);
    }
  }
};

static_assert(systems::stepper<ar1, double>);
static_assert(systems::stepper<systems::rk4_stepper<systems::lorenz63<double>, double>, double>);
static_assert(systems::stepper<systems::rk4_stepper<systems::lorenz63<float>, float>, float>);
static_assert(systems::stepper<systems::rk4_stepper<decay, double>, double>);
static_assert(
    systems::stepper<systems::rk4_stepper<systems::lorenz96<double, systems::runtime_dimension>, double>, double>);
static_assert(!systems::stepper<systems::lorenz63<double>, double>);  // a right-hand side, not a stepper
static_assert(!systems::stepper<ar1, float>);                         // ar1 steps double states only
static_assert(systems::fixed_size_system<systems::lorenz96<double>, double>);
static_assert(systems::runtime_size_system<systems::lorenz96<double, systems::runtime_dimension>, double>);
static_assert(!systems::fixed_size_system<decay, double> && systems::runtime_size_system<decay, double>);

/// n x members states, member j variable i at i * members + j, spread around `centre`.
tensor<double, cpu> spread_states(std::size_t n, std::size_t members, double centre) {
  tensor<double, cpu> x({n, members});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < members; ++j) x[i * members + j] = centre + 0.01 * double(i + 1) + 0.02 * double(j);
  return x;
}

}  // namespace

TEST_CASE("stepper: run-time rk4 is bit-identical to fixed-size rk4 on Lorenz-96 (40) and Lorenz-63") {
  for (int threads : {1, 2}) {
    context<cpu> ctx(threads);
    // 70 members: more than one 64-member block on the fixed-size path, two parts on the run-time one.
    auto fixed = spread_states(40, 70, 8.0), runtime = spread_states(40, 70, 8.0);
    systems::rk4_advance(ctx, systems::lorenz96<double>{}, fixed.view(), 200, 0.05,
                         systems::layout::members_in_columns);
    systems::rk4_advance(ctx, systems::lorenz96<double, systems::runtime_dimension>(40), runtime.view(), 200, 0.05,
                         systems::layout::members_in_columns);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < fixed.size(); ++i) differ += fixed[i] != runtime[i];
    CHECK(differ == 0);
    for (std::size_t i = 0; i < fixed.size(); ++i) differ += !std::isfinite(fixed[i]);
    CHECK(differ == 0);
    CHECK(std::abs(fixed[0] - 8.0) > 0.1);  // it left the fixed point x = F

    // Lorenz-63, members in rows, through the two paths and through rk4_stepper (members in columns).
    tensor<double, cpu> rows({5, 3}), runtime_rows({5, 3});
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = runtime_rows[i] = 1.0 + 0.3 * double(i);
    systems::rk4_advance(ctx, systems::lorenz63<double>{}, rows.view(), 500, 0.01);
    systems::rk4_advance(ctx, runtime_lorenz63{}, runtime_rows.view(), 500, 0.01);
    auto columns = spread_states(3, 5, 0.0);
    for (std::size_t j = 0; j < 5; ++j)
      for (std::size_t i = 0; i < 3; ++i) columns[i * 5 + j] = 1.0 + 0.3 * double(j * 3 + i);
    philox gen(3);
    systems::rk4_stepper(runtime_lorenz63{}, 0.01).advance(ctx, columns.view(), 500, gen);
    differ = 0;
    for (std::size_t j = 0; j < 5; ++j)
      for (std::size_t i = 0; i < 3; ++i)
        differ += (rows[j * 3 + i] != runtime_rows[j * 3 + i]) + (rows[j * 3 + i] != columns[i * 5 + j]);
    CHECK(differ == 0);
    CHECK(gen.offset() == 0);  // no noise, no draws
  }
}

TEST_CASE("stepper: run-time rk4 on dx/dt = -r x is the RK4 polynomial and converges at order 4") {
  context<cpu> ctx(1);
  const decay model{{0.5, 1.0, 2.0, 3.5}};
  const double h = 0.1;
  tensor<double, cpu> x({4, 2});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.0 + double(i);
  systems::rk4_advance(ctx, model, x.view(), 1, h, systems::layout::members_in_columns);
  for (std::size_t i = 0; i < 4; ++i) {
    const double z = -model.rate[i] * h;
    const double r = 1 + z + z * z / 2 + z * z * z / 6 + z * z * z * z / 24;  // RK4's stability polynomial
    for (std::size_t j = 0; j < 2; ++j) CHECK(x[i * 2 + j] == relative(r * (1.0 + double(i * 2 + j)), 1e-14));
  }
  // The error at t = 1 against exp(-r t) falls by 2^4 when the step halves.
  double error[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const std::size_t steps = 40u << k;
    tensor<double, cpu> y({4, 1});
    for (std::size_t i = 0; i < 4; ++i) y[i] = 1.0;
    systems::rk4_advance(ctx, model, y.view(), steps, 1.0 / double(steps), systems::layout::members_in_columns);
    for (std::size_t i = 0; i < 4; ++i) error[k] = std::max(error[k], std::abs(y[i] - std::exp(-model.rate[i])));
  }
  CHECK(error[0] / error[1] == relative(16.0, 0.1));
}

TEST_CASE("stepper: model noise is the generator's normals, drawn after every step, and none at zero") {
  context<cpu> ctx(1);
  const std::size_t n = 5, members = 3, steps = 4;
  const systems::rk4_stepper noisy(still{n}, 0.1, 0.5);
  tensor<double, cpu> E({n, members});
  attractor::fill(ctx, E.view(), 0.0);
  philox gen(7, 2, 11);
  noisy.advance(ctx, E.view(), steps, gen);
  // Expected: the sum of `steps` fills of n x members normals with standard deviation 0.5 from the same stream.
  philox expected_gen(7, 2, 11);
  std::vector<double> expected(n * members, 0.0), draw(n * members);
  for (std::size_t s = 0; s < steps; ++s) {
    attractor::fill_normal(ctx, expected_gen, draw.data(), draw.size(), 0.0, 0.5);
    for (std::size_t i = 0; i < draw.size(); ++i) expected[i] += draw[i];
  }
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(E[i] == expected[i]);
  CHECK(gen == expected_gen);

  const systems::rk4_stepper quiet(still{n}, 0.1);
  philox untouched(7);
  quiet.advance(ctx, E.view(), steps, untouched);
  CHECK(untouched == philox(7));
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(E[i] == expected[i]);
}

TEST_CASE("stepper: run_twin assimilates into a hand-written model: ETKF on a stable AR(1) nears the Kalman filter") {
  // x <- a x + q xi on 8 independent variables, every variable observed with sigma_o = 1 at every step. The optimal
  // (Kalman) filter's steady state, from the scalar Riccati recursion: P_f = a^2 P_a + q^2, P_a = P_f R / (P_f + R).
  const double a = 0.9, q = 1.0, sigma_o = 1.0;
  double P_a = 1.0;
  for (int i = 0; i < 200; ++i) {
    const double P_f = a * a * P_a + q * q;
    P_a = P_f * sigma_o * sigma_o / (P_f + sigma_o * sigma_o);
  }
  const double kalman = std::sqrt(P_a);             // about 0.77
  const double climate = q / std::sqrt(1 - a * a);  // the free run's spread, about 2.29

  context<cpu> ctx(2);
  const ar1 model{8, a, q};
  const std::size_t experiments = 4, members = 30;
  philox setup(5);
  const auto truth0 = da::spun_up_states(ctx, model, experiments, 100, setup, std::vector<double>(8, 0.0), 1.0);
  const auto pool = da::spun_up_states(ctx, model, experiments * members, 100, setup, std::vector<double>(8, 0.0), 1.0);
  const auto initial = da::draw_initial_states<double>(ctx, pool.view(), experiments, members, setup);
  const da::observation_model<double> obs(da::obs_operator<double>::identity(8), sigma_o);
  da::twin_options o;
  o.obs_every = 1;
  o.burn_in = 50;
  o.cycles = 3000;
  da::etkf<double> method(members, 1.0);
  philox gen(9);
  const auto r = da::run_twin(ctx, model, method, obs, truth0.view(), initial.view(), gen, o);
  CHECK(r.Nx == 8);
  CHECK(r.diverged() == 0);
  const auto an = r.analysis();
  CHECK(an.mean < sigma_o);        // it beats the observations
  CHECK(an.mean > 0.95 * kalman);  // and no filter beats the optimal one (up to the time mean's sampling)
  CHECK(an.mean < 1.2 * kalman);   // an ensemble of 30 on 8 variables comes close to it
  CHECK(r.background().mean < climate);
}

TEST_CASE("stepper: bad input is refused by name") {
  context<cpu> ctx(1);
  philox gen(1);
  using ring = systems::lorenz96<double, systems::runtime_dimension>;
  CHECK_THROWS_WITH_AS(ring(3), doctest::Contains("systems::lorenz96: expected a ring of at least 4 variables, got 3"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(systems::rk4_stepper(still{0}, 0.1), doctest::Contains("systems::rk4_stepper"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(systems::rk4_stepper(still{2}, std::nan("")), doctest::Contains("a finite step dt > 0"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(systems::rk4_stepper(still{2}, 0.1, -1.0), doctest::Contains("a finite noise_std >= 0"),
                       attractor::error);
  const systems::rk4_stepper l96(ring(8), 0.05);
  tensor<double, cpu> wrong({5, 3}), flat({8});
  CHECK_THROWS_WITH_AS(l96.advance(ctx, wrong.view(), 1, gen),
                       doctest::Contains("systems::rk4_advance: expected 8 state variables along axis 0"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(l96.advance(ctx, flat.view(), 1, gen), doctest::Contains("a rank-2 tensor of states"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(systems::add_model_noise(ctx, wrong.view(), std::nan(""), gen),
                       doctest::Contains("systems::add_model_noise"), attractor::error);

  // run_twin and spun_up_states on a hand-written stepper.
  const ar1 model{4, 0.5, 1.0};
  const da::observation_model<double> obs3(da::obs_operator<double>::identity(3), 1.0);
  const da::observation_model<double> obs4(da::obs_operator<double>::identity(4), 1.0);
  tensor<double, cpu> truth({1, 4}), initial({1, 4, 3});
  attractor::fill(ctx, truth.view(), 0.5);
  attractor::fill(ctx, initial.view(), 0.5);
  da::etkf<double> method(3);
  da::twin_options o;
  o.burn_in = 0;
  o.cycles = 2;
  CHECK_THROWS_WITH_AS(da::run_twin(ctx, model, method, obs3, truth.view(), initial.view(), gen, o),
                       doctest::Contains("da::run_twin: expected an observation operator on the model's 4 variables"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(da::run_twin(ctx, ar1{0, 0.5, 1.0}, method, obs4, truth.view(), initial.view(), gen, o),
                       doctest::Contains("da::run_twin: expected a model of at least one variable"), attractor::error);
  initial[5] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(da::run_twin(ctx, model, method, obs4, truth.view(), initial.view(), gen, o),
                       doctest::Contains("finite values in the initial state"), attractor::error);
  CHECK_THROWS_WITH_AS(da::spun_up_states(ctx, model, 2, 10, gen, std::vector<double>(3, 0.0), 1.0),
                       doctest::Contains("da::spun_up_states: expected 4 centre values"), attractor::error);
  CHECK_THROWS_WITH_AS(
      da::spun_up_states(ctx, model, 2, 10, gen, std::vector<double>{0.0, std::nan(""), 0.0, 0.0}, 1.0),
      doctest::Contains("finite values in the centre"), attractor::error);
  // A run-time system whose state holds NaN is stepped, not refused (as on the fixed-size path): it stays NaN.
  tensor<double, cpu> nan_state({4, 1});
  attractor::fill(ctx, nan_state.view(), std::numeric_limits<double>::quiet_NaN());
  systems::rk4_advance(ctx, decay{{1, 1, 1, 1}}, nan_state.view(), 3, 0.1, systems::layout::members_in_columns);
  CHECK(std::isnan(nan_state[0]));
}
