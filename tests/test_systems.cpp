// Tests of the systems layer: the RK4 step against the exact fourth-order Taylor polynomial of a linear system,
// its order of convergence, both state layouts, recorded trajectories, Lorenz-63's derivative and its climatology,
// and argument validation.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "attractor/systems.hpp"
#include "tolerance.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::tensor;
using attractor_test::absolute;
using attractor_test::relative;
namespace systems = attractor::systems;

// dx/dt = A x with a fixed non-symmetric A: one RK4 step is exactly (I + hA + (hA)^2/2 + (hA)^3/6 + (hA)^4/24) x.
struct linear3 {
  static constexpr std::size_t dimension = 3;
  static constexpr double a[3][3] = {{-0.5, 1.0, 0.2}, {-1.0, -0.3, 0.4}, {0.1, -0.2, -0.7}};
  void derivative(const double* x, double* dx) const {
    for (int i = 0; i < 3; ++i) dx[i] = a[i][0] * x[0] + a[i][1] * x[1] + a[i][2] * x[2];
  }
};

std::array<double, 3> times_a(const std::array<double, 3>& x, double h) {
  std::array<double, 3> y{};
  for (int i = 0; i < 3; ++i) y[i] = h * (linear3::a[i][0] * x[0] + linear3::a[i][1] * x[1] + linear3::a[i][2] * x[2]);
  return y;
}

// Lorenz-63 integrated by plain double loops, written out here independently of the library.
std::array<double, 3> lorenz_rhs(const std::array<double, 3>& x) {
  return {10.0 * (x[1] - x[0]), x[0] * (28.0 - x[2]) - x[1], x[0] * x[1] - 8.0 / 3.0 * x[2]};
}
std::array<double, 3> lorenz_rk4(std::array<double, 3> x, double dt, std::size_t steps) {
  for (std::size_t s = 0; s < steps; ++s) {
    auto add = [](std::array<double, 3> a, const std::array<double, 3>& b, double c) {
      for (int i = 0; i < 3; ++i) a[i] += c * b[i];
      return a;
    };
    const auto k1 = lorenz_rhs(x), k2 = lorenz_rhs(add(x, k1, dt / 2)), k3 = lorenz_rhs(add(x, k2, dt / 2)),
               k4 = lorenz_rhs(add(x, k3, dt));
    for (int i = 0; i < 3; ++i) x[i] += dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  }
  return x;
}

}  // namespace

TEST_CASE("systems: one rk4 step of a linear system is its fourth-order Taylor polynomial") {
  const std::array<double, 3> x0{0.3, -1.2, 2.0};
  const double h = 0.1;
  std::array<double, 3> expected = x0, term = x0;
  for (int k = 1; k <= 4; ++k) {
    term = times_a(term, h);
    for (int i = 0; i < 3; ++i) term[i] /= k;
    for (int i = 0; i < 3; ++i) expected[i] += term[i];
  }
  double x[3] = {x0[0], x0[1], x0[2]};
  systems::rk4_step(linear3{}, x, h);
  for (int i = 0; i < 3; ++i) CHECK(x[i] == relative(expected[i], 1e-15));  // measured: within 2e-16
}

TEST_CASE("systems: rk4 converges at fourth order on Lorenz-63") {
  // Error at t = 0.5 against a dt = 1e-4 solution: halving dt divides it by about 2^4.
  context<cpu> ctx;
  const std::array<double, 3> x0{1.0, 2.0, 20.0};
  const auto reference = lorenz_rk4(x0, 1e-4, 5000);
  std::vector<double> errors;
  for (std::size_t steps : {50, 100, 200}) {
    tensor<double, cpu> x({1, 3});
    for (int i = 0; i < 3; ++i) x[i] = x0[i];
    systems::rk4_advance(ctx, systems::lorenz63<double>{}, x.view(), steps, 0.5 / static_cast<double>(steps));
    double e = 0;
    for (int i = 0; i < 3; ++i) e = std::max(e, std::abs(x[i] - reference[i]));
    errors.push_back(e);
  }
  for (std::size_t i = 1; i < errors.size(); ++i) {
    const double ratio = errors[i - 1] / errors[i];
    CHECK(ratio > 13.0);
    CHECK(ratio < 19.0);
  }
}

TEST_CASE("systems: rk4_advance agrees with an independent integration in both layouts") {
  context<cpu> ctx;
  const std::size_t members = 5, steps = 300;
  tensor<double, cpu> rows({members, 3}), columns({3, members});
  std::vector<std::array<double, 3>> expected;
  for (std::size_t m = 0; m < members; ++m) {
    const std::array<double, 3> x0{0.5 * m - 1.0, 1.0 + 0.1 * m, 15.0 + m};
    for (std::size_t i = 0; i < 3; ++i) {
      rows[m * 3 + i] = x0[i];
      columns[i * members + m] = x0[i];
    }
    expected.push_back(lorenz_rk4(x0, 0.01, steps));
  }
  systems::rk4_advance(ctx, systems::lorenz63<double>{}, rows.view(), steps, 0.01);
  systems::rk4_advance(ctx, systems::lorenz63<double>{}, columns.view(), steps, 0.01,
                       systems::layout::members_in_columns);
  for (std::size_t m = 0; m < members; ++m) {
    for (std::size_t i = 0; i < 3; ++i) {
      // States of either sign, some near zero: absolute. Chaos grows the two codes' rounding differences to about
      // 3e-13 over these 300 steps (measured).
      CHECK(rows[m * 3 + i] == absolute(expected[m][i], 1e-12));
      CHECK(columns[i * members + m] == rows[m * 3 + i]);
    }
  }
}

TEST_CASE("systems: rk4_trajectory records the start and every step") {
  context<cpu> ctx;
  const std::size_t members = 3, steps = 40;
  tensor<float, cpu> x({members, 3});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.0f + 0.5f * static_cast<float>(i);
  tensor<float, cpu> start({members, 3});
  for (std::size_t i = 0; i < x.size(); ++i) start[i] = x[i];
  tensor<float, cpu> out({members, steps + 1, 3});
  systems::rk4_trajectory(ctx, systems::lorenz63<float>{}, x.view(), steps, 0.01f, out.view());
  for (std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{17}, steps}) {
    tensor<float, cpu> y({members, 3});
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = start[i];
    systems::rk4_advance(ctx, systems::lorenz63<float>{}, y.view(), k, 0.01f);
    for (std::size_t m = 0; m < members; ++m)
      for (std::size_t i = 0; i < 3; ++i) CHECK(out[(m * (steps + 1) + k) * 3 + i] == y[m * 3 + i]);
  }
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == out[((i / 3) * (steps + 1) + steps) * 3 + i % 3]);
}

TEST_CASE("systems: the data set has the spec's shapes and the climatology its constants describe") {
  context<cpu> ctx;
  systems::lorenz63_dataset_options o;
  o.train_members = 4;
  o.validation_members = 1;
  o.test_members = 2;
  o.spin_up = 5000;
  o.steps = 100'000;
  std::size_t calls = 0;
  o.progress = [&](std::string_view, std::size_t done, std::size_t total) {
    ++calls;
    CHECK(done <= total);
  };
  const auto data = systems::make_lorenz63_dataset<float>(ctx, o);
  CHECK(data.train.shape() == attractor::shape{4, 100'001, 3});
  CHECK(data.validation.shape() == attractor::shape{1, 100'001, 3});
  CHECK(data.test.shape() == attractor::shape{2, 100'001, 3});
  CHECK(calls == 3 * (1 + 2));  // per set: one spin-up chunk, two kept chunks of at most 50,000 steps
  // 4 x 1000 time units: the normalised train set has mean near 0 and standard deviation near 1 per variable (the
  // constants are the paper's 16 x 10,000-unit statistics).
  for (std::size_t k = 0; k < 3; ++k) {
    double sum = 0, sum2 = 0;
    const std::size_t n = data.train.size() / 3;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = data.train[i * 3 + k];
      sum += v;
      sum2 += v * v;
    }
    const double mean = sum / static_cast<double>(n), sd = std::sqrt(sum2 / static_cast<double>(n) - mean * mean);
    CHECK(std::abs(mean) < 0.1);
    CHECK(std::abs(sd - 1.0) < 0.05);
  }
  // Each stored trajectory continues by the model: state k + 1 is one RK4 step of state k (in physical units).
  tensor<float, cpu> pair({1, 3});
  for (std::size_t i = 0; i < 3; ++i) pair[i] = data.test[500 * 3 + i];
  systems::lorenz63_denormalise(ctx, pair.view());
  systems::rk4_advance(ctx, systems::lorenz63<float>{}, pair.view(), 1, 0.01f);
  systems::lorenz63_normalise(ctx, pair.view());
  // Normalised float states of order 1, of either sign: absolute.
  for (std::size_t i = 0; i < 3; ++i) CHECK(pair[i] == absolute(data.test[501 * 3 + i], 1e-5));
}

TEST_CASE("systems: the same seed gives the same data set and sets differ") {
  context<cpu> ctx;
  systems::lorenz63_dataset_options o;
  o.train_members = 2;
  o.validation_members = 1;
  o.test_members = 2;
  o.spin_up = 100;
  o.steps = 50;
  const auto a = systems::make_lorenz63_dataset<double>(ctx, o), b = systems::make_lorenz63_dataset<double>(ctx, o);
  for (std::size_t i = 0; i < a.train.size(); ++i) REQUIRE(a.train[i] == b.train[i]);
  CHECK(a.train[0] != a.test[0]);
}

TEST_CASE("systems: bad arguments are rejected") {
  context<cpu> ctx;
  tensor<double, cpu> wrong({4, 2});
  CHECK_THROWS_WITH_AS(systems::rk4_advance(ctx, systems::lorenz63<double>{}, wrong.view(), 1, 0.01),
                       doctest::Contains("systems::rk4_advance: expected 3 state variables"), attractor::error);
  tensor<double, cpu> x({4, 3});
  CHECK_THROWS_AS(systems::rk4_advance(ctx, systems::lorenz63<double>{}, x.view(), 1, 0.0), attractor::error);
  CHECK_THROWS_AS(systems::rk4_advance(ctx, systems::lorenz63<double>{}, x.view(), 1, std::nan("")), attractor::error);
  tensor<double, cpu> out({4, 3, 3});
  CHECK_THROWS_WITH_AS(systems::rk4_trajectory(ctx, systems::lorenz63<double>{}, x.view(), 5, 0.01, out.view()),
                       doctest::Contains("an output of shape"), attractor::error);
  CHECK_THROWS_AS(systems::lorenz63_normalise(ctx, wrong.view()), attractor::error);
}
