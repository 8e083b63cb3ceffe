// The autograd graph: operations' values against an independent computation, shape errors at build time, gradient
// bookkeeping (overwrite first, aliasing, reuse), the aliasing reshape, and steady-state steps that allocate nothing.
// Every operation's gradients against central differences, and cpu against cuda, are the op table's (tests/ops/).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "attractor/autograd.hpp"
#include "reference.hpp"
#include "tolerance.hpp"

using namespace attractor;
using attractor::autograd::graph;
using attractor::autograd::value;
using attractor_test::absolute;
using attractor_test::relative;

namespace {

using cpu_graph = graph<double, cpu>;

/// Fills a graph input with uniform values in [low, high) from the test's own generator.
void set_random(cpu_graph& g, value v, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  auto view = g.value_of(v);
  const auto values = attractor_test::random_vector<double>(view.size(), seed, low, high);
  std::copy(values.begin(), values.end(), view.begin());
}

}  // namespace

TEST_CASE_TEMPLATE("forward values match independent computations", Scalar, float, double) {
  context<cpu> ctx;
  graph<Scalar, cpu> g(ctx);
  const auto x = g.input({3, 4}), w = g.input({2, 4}), b = g.input({2}), t = g.input({3, 2});
  const auto y = autograd::linear(g, x, w, b);
  const auto ln = autograd::layer_norm(g, x);
  const auto act = autograd::silu(g, x);
  const auto loss = autograd::mse(g, y, t);
  const auto idx = g.index_input(2);
  const auto gathered = autograd::gather_rows(g, x, idx);
  auto fill = [&](value v, std::uint64_t seed) {
    const auto r = attractor_test::random_vector<Scalar>(g.value_of(v).size(), seed);
    std::copy(r.begin(), r.end(), g.value_of(v).begin());
  };
  fill(x, 1);
  fill(w, 2);
  fill(b, 3);
  fill(t, 4);
  g.index_of(idx)[0] = 2;
  g.index_of(idx)[1] = 0;
  g.forward();
  // Values of order 1 and of either sign (layer norm, SiLU, linear): absolute; the loss is positive: relative.
  const double tol = std::is_same_v<Scalar, float> ? 1e-5 : 1e-12;
  auto X = g.value_of(x), W = g.value_of(w), B = g.value_of(b), T = g.value_of(t);
  double mse = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    double mean = 0, var = 0;
    for (std::size_t k = 0; k < 4; ++k) mean += X.at(i, k) / 4.0;
    for (std::size_t k = 0; k < 4; ++k) var += (X.at(i, k) - mean) * (X.at(i, k) - mean) / 4.0;
    for (std::size_t k = 0; k < 4; ++k) {
      CHECK(g.value_of(ln).at(i, k) == absolute((X.at(i, k) - mean) / std::sqrt(var + 1e-5), tol));
      const double v = X.at(i, k);
      CHECK(g.value_of(act).at(i, k) == absolute(v / (1 + std::exp(-v)), tol));
    }
    for (std::size_t j = 0; j < 2; ++j) {
      double ref = B[j];
      for (std::size_t k = 0; k < 4; ++k) ref += double(X.at(i, k)) * W.at(j, k);
      CHECK(g.value_of(y).at(i, j) == absolute(ref, tol));
      mse += (ref - T.at(i, j)) * (ref - T.at(i, j)) / 6.0;
    }
  }
  CHECK(g.value_of(loss)[0] == relative(mse, tol));
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(g.value_of(gathered).at(0, k) == X.at(2, k));
    CHECK(g.value_of(gathered).at(1, k) == X.at(0, k));
  }
}

TEST_CASE("reshape aliases its operand's storage and gradient, with no copy") {
  context<cpu> ctx;
  cpu_graph g(ctx);
  const value x = g.input({3, 4}, true);
  set_random(g, x, 61);
  const auto before = allocation_counter<cpu>::bytes;
  const value v = autograd::reshape(g, x, {2, 6});
  CHECK(allocation_counter<cpu>::bytes == before);
  CHECK(g.shape_of(v) == shape{2, 6});
  CHECK(g.value_of(v).data() == g.value_of(x).data());
  CHECK(g.grad_of(v).data() == g.grad_of(x).data());
  CHECK_THROWS_WITH_AS(autograd::reshape(g, x, {5}), doctest::Contains("graph::view: expected a shape of 12 elements"),
                       attractor::error);
  // d/dx (sum(v * v) + sum(x)) = 2 x + 1: the contributions through the view and through x add up.
  const value loss = autograd::add(g, autograd::sum(g, autograd::mul(g, v, v)), autograd::sum(g, x));
  attractor::fill(ctx, g.grad_of(x), std::nan(""));  // a first contribution that added would carry it through
  g.forward();
  g.backward(loss);
  for (std::size_t i = 0; i < 12; ++i) CHECK(g.grad_of(x)[i] == absolute(2 * g.value_of(x)[i] + 1, 1e-15));
}

TEST_CASE("add and mul broadcast a per-channel vector over an (outer, channel, inner) split") {
  context<cpu> ctx;
  cpu_graph g(ctx);
  const value a = g.input({2, 3, 2, 2}), b = g.input({3, 1, 1});
  set_random(g, a, 71);
  set_random(g, b, 72);
  const value sum = autograd::add(g, a, b), product = autograd::mul(g, a, b);
  g.forward();
  const auto A = g.value_of(a), B = g.value_of(b);
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < 4; ++i) {
        const std::size_t k = (n * 3 + c) * 4 + i;
        CHECK(g.value_of(sum)[k] == A[k] + B[c]);
        CHECK(g.value_of(product)[k] == A[k] * B[c]);
      }
  const value wrong = g.input({3, 1});
  CHECK_THROWS_WITH_AS(autograd::add(g, a, wrong),
                       doctest::Contains("expected b of shape (2, 3, 2, 2), (2), (2, 1), (3, 1, 1), (2, 1, 1, 1), "
                                         "(2, 3, 1, 1) or (2, 3, 2, 1)"),
                       attractor::error);
}

TEST_CASE("shape errors are reported when the graph is built") {
  context<cpu> ctx;
  cpu_graph g(ctx);
  const auto x = g.input({5, 4}), w = g.input({3, 5}), t = g.input({5, 2});
  CHECK_THROWS_WITH_AS(autograd::linear(g, x, w),
                       doctest::Contains("autograd::linear: expected x (batch x in) and weight (out x in)"),
                       attractor::error);
  const auto w_ok = g.input({3, 4}), bad_bias = g.input({4});
  CHECK_THROWS_WITH_AS(autograd::linear(g, x, w_ok, bad_bias), doctest::Contains("bias of shape (3)"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::add(g, x, t),
                       doctest::Contains("autograd::add: expected b of shape (5, 4), (4) or (5, 1)"), attractor::error);
  CHECK_THROWS_WITH_AS(autograd::mse(g, x, t), doctest::Contains("autograd::mse: expected a target of shape (5, 4)"),
                       attractor::error);
  CHECK_THROWS_AS(autograd::split(g, x, 5), attractor::error);
  CHECK_THROWS_WITH_AS(g.backward(autograd::sum(g, x)), doctest::Contains("a loss that depends on a parameter"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(g.backward(x), doctest::Contains("a one-element loss"), attractor::error);
}

TEST_CASE("gather_rows rejects an index out of range on cpu") {
  context<cpu> ctx;
  cpu_graph g(ctx);
  const auto x = g.input({4, 2});
  const auto idx = g.index_input(2);
  autograd::gather_rows(g, x, idx);
  g.index_of(idx)[0] = 1;
  g.index_of(idx)[1] = 4;
  CHECK_THROWS_WITH_AS(g.forward(), doctest::Contains("keys in [0, 4), got 4 at row 1"), attractor::error);
}

TEST_CASE("set_indices checks indices against every gather that reads them before it uploads, on any backend") {
  context<cpu> ctx;
  cpu_graph g(ctx);
  const auto x = g.input({4, 2}), wider = g.input({6, 2});
  const auto idx = g.index_input(3);
  autograd::gather_rows(g, wider, idx);
  autograd::gather_rows(g, x, idx);  // the tighter bound: 4 rows
  const std::int32_t good[3] = {3, 0, 2}, past[3] = {0, 4, 1}, negative[3] = {0, 1, -1};
  g.set_indices(idx, good);
  CHECK(g.index_of(idx)[0] == 3);
  CHECK_THROWS_WITH_AS(g.set_indices(idx, past), doctest::Contains("keys in [0, 4), got 4 at row 1"), attractor::error);
  CHECK_THROWS_WITH_AS(g.set_indices(idx, negative), doctest::Contains("got -1 at row 2"), attractor::error);
  CHECK(g.index_of(idx)[0] == 3);  // nothing was copied
  CHECK(g.index_of(idx)[1] == 0);
  g.forward();
}

TEST_CASE("parameters are leaves whose gradients backward() overwrites, and steady-state steps allocate nothing") {
  context<cpu> ctx;
  autograd::parameter<float, cpu> w("fc.weight", {8, 3}), b("fc.bias", {8});
  attractor::fill(ctx, w.value, 0.5f);
  attractor::fill(ctx, b.value, 0.1f);
  graph<float, cpu> g(ctx);
  const auto x = g.input({16, 3}), t = g.input({16, 8});
  const auto loss = autograd::mse(g, autograd::relu(g, autograd::linear(g, x, g.parameter(w), g.parameter(b))), t);
  attractor::fill(ctx, g.value_of(x), 1.0f);
  attractor::fill(ctx, g.value_of(t), 0.0f);
  g.forward();
  g.backward(loss);
  const float first = b.grad[0];
  // y = 0.5 * 3 + 0.1 = 1.6 everywhere; d mse / d b_j = 2 * 1.6 * 16 / (16 * 8) = 0.4.
  CHECK(first == relative(0.4, 1e-6));  // float: 1.6f and 16 float additions, a few ulps
  const auto before = allocation_counter<cpu>::count;
  for (int step = 0; step < 5; ++step) {
    g.forward();
    g.backward(loss);
  }
  CHECK(allocation_counter<cpu>::count == before);
  CHECK(b.grad[0] == first);  // overwritten, not accumulated: the same computation again, bit for bit
}

TEST_CASE("an inference graph holds its values only, computes the training graph's values, and refuses backward()") {
  context<cpu> ctx;
  autograd::parameter<double, cpu> w1("fc1.weight", {6, 3}), b1("fc1.bias", {6}), s("scale", {6}),
      w2("fc2.weight", {2, 6}), b2("fc2.bias", {2});
  std::uint64_t seed = 40;
  for (auto* p : {&w1, &b1, &s, &w2, &b2}) {
    const auto v = attractor_test::random_vector<double>(p->size(), ++seed);
    std::copy(v.begin(), v.end(), p->value.begin());
    attractor::fill(ctx, p->grad, 123.0);  // an inference graph must leave parameter gradients alone
  }
  const std::size_t batch = 9;
  const std::vector<std::int32_t> rows = {8, 0, 3, 3, 1, 7, 2, 5, 4};
  struct built {
    value x, y;
    std::vector<value> values;
  };
  // Every operation with backward scratch: linear's ones, layer norm's product, a broadcast mul's ones and
  // product, gather_rows' accumulation buffer.
  auto build = [&](cpu_graph& g) {
    built b;
    b.x = g.input({batch, 3});
    const auto idx = g.index_input(batch);
    std::copy(rows.begin(), rows.end(), g.index_of(idx).begin());
    const value l1 = autograd::linear(g, b.x, g.parameter(w1), g.parameter(b1)), r = autograd::relu(g, l1),
                n = autograd::layer_norm(g, r), m = autograd::mul(g, n, g.parameter(s)),
                gathered = autograd::gather_rows(g, m, idx);
    b.y = autograd::linear(g, gathered, g.parameter(w2), g.parameter(b2));
    b.values = {b.x, l1, r, n, m, gathered, b.y};
    return b;
  };
  cpu_graph training(ctx);
  const built t = build(training);
  const std::size_t before = allocation_counter<cpu>::bytes;
  cpu_graph inference(ctx, autograd::graph_mode::inference);
  const built i = build(inference);
  // What it must hold: the input and six results (3 + 6 + 6 + 6 + 6 + 6 + 2 doubles a row), layer norm's three
  // row statistics, and the int32 indices.
  const std::size_t expected = batch * (35 + 3) * sizeof(double) + batch * sizeof(std::int32_t);
  CHECK(allocation_counter<cpu>::bytes - before == expected);
  for (value v : i.values) CHECK(inference.grad_of(v).size() == 0);
  const auto xs = attractor_test::random_vector<double>(batch * 3, 50);
  std::copy(xs.begin(), xs.end(), training.value_of(t.x).begin());
  std::copy(xs.begin(), xs.end(), inference.value_of(i.x).begin());
  training.forward();
  inference.forward();
  for (std::size_t k = 0; k < batch * 2; ++k) CHECK(inference.value_of(i.y)[k] == training.value_of(t.y)[k]);
  for (auto* p : {&w1, &b1, &s, &w2, &b2}) CHECK(p->grad[0] == 123.0);
  CHECK_THROWS_WITH_AS(inference.backward(autograd::sum(inference, i.y)),
                       doctest::Contains("graph::backward: expected a graph built in graph_mode::training"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(inference.input({2, 2}, true), doctest::Contains("requires_grad = false in an inference graph"),
                       attractor::error);
}

TEST_CASE("gradients are overwritten by their first contribution: reuse, aliased operands, unused results, poison") {
  // backward() does not zero gradients first, so every first contribution must overwrite and every later one add.
  // Gradient memory is filled with NaN before each pass: a first contribution that added would carry it through.
  context<cpu> ctx;
  cpu_graph g(ctx);
  autograd::parameter<double, cpu> w("w", {2, 4}), bias("bias", {2});
  const auto w_values = attractor_test::random_vector<double>(8, 21);
  std::copy(w_values.begin(), w_values.end(), w.value.begin());
  attractor::fill(ctx, bias.value, 0.25);
  const value x = g.input({4, 3}, true), v = g.input({3}, true), unused_input = g.input({4, 3}, true);
  set_random(g, x, 31);
  set_random(g, v, 32);
  set_random(g, unused_input, 33);
  const value a = autograd::tanh(g, x);
  const value squared = autograd::mul(g, a, a);                       // one tensor as both operands
  const value c = autograd::add(g, autograd::add(g, squared, x), v);  // x used again, v broadcast per feature
  const value d = autograd::modulate(g, c, a, a);  // scale and shift are one tensor, a used a fourth time
  auto [first, rest] = autograd::split(g, autograd::mul(g, d, v), 1);  // v used again; `first` reaches nothing
  const value e = autograd::concat(g, rest, autograd::layer_norm(g, rest));
  const value y1 = autograd::linear(g, e, g.parameter(w), g.parameter(bias));
  const value y2 = autograd::linear(g, autograd::silu(g, e), g.parameter(w),
                                    g.parameter(bias));  // the same parameters, second leaves
  const auto idx = g.index_input(5);
  const std::int32_t rows[] = {3, 1, 3, 0, 3};
  std::copy(std::begin(rows), std::end(rows), g.index_of(idx).begin());
  const value gathered = autograd::gather_rows(g, x, idx);  // x's gradient gets a segment sum added too
  // A custom operation that adds into its operand's gradient (gradient_writes::add): 2 * x, elementwise.
  value doubled;
  doubled = g.custom(
      {4, 3}, {x},
      [&] {
        for (std::size_t i = 0; i < 12; ++i) g.data(doubled)[i] = 2 * g.data(x)[i];
      },
      [&] {
        for (std::size_t i = 0; i < 12; ++i) g.grad_data(x)[i] += 2 * g.grad_data(doubled)[i];
      });
  const value dead_end = autograd::relu(g, unused_input);  // computed, but the loss does not depend on it
  const value loss =
      autograd::add(g, autograd::add(g, autograd::mse(g, y1, y2), autograd::mean(g, autograd::tanh(g, gathered))),
                    autograd::sum(g, autograd::mul(g, doubled, doubled)));

  const std::vector<value> every = {x,    v, unused_input, a,  squared,  c,       d,       first,
                                    rest, e, y1,           y2, gathered, doubled, dead_end};
  auto poison = [&] {
    for (value u : every) attractor::fill(ctx, g.grad_of(u), std::nan(""));
    attractor::fill(ctx, w.grad, std::nan(""));
    attractor::fill(ctx, bias.grad, std::nan(""));
  };
  for (int pass = 0; pass < 2; ++pass) {
    CAPTURE(pass);
    poison();
    // A step of 1e-7: the layer norm over two columns curves sharply, and 1e-6 leaves a truncation error of 4e-7.
    const auto check = autograd::check_gradients(g, loss, {x, v}, 1e-7);
    MESSAGE("reused and aliased operands: max relative error ", check.max_rel_error());
    CHECK(check.max_rel_error() < 1e-6);
    // The shared parameters' gradient sums over both leaves: central differences of w perturb both at once.
    poison();
    const value w_leaf = g.parameter(w);
    const auto shared = autograd::check_gradients(g, loss, {w_leaf}, 1e-7);
    CHECK(shared.max_rel_error() < 1e-6);
    // What the loss does not depend on gets a zero gradient, not what the memory held.
    for (value u : {unused_input, dead_end, first})
      for (double gv : g.grad_of(u)) CHECK(gv == 0.0);
  }
}

TEST_CASE("check_gradients reports a NaN or infinite gradient as an infinite error") {
  for (const double bad : {std::nan(""), HUGE_VAL}) {
    CAPTURE(bad);
    context<cpu> ctx;
    cpu_graph g(ctx);
    const value x = g.input({2, 2}, true);
    set_random(g, x, 41);
    value y;
    y = g.custom(
        {2, 2}, {x}, [&] { std::copy(g.data(x), g.data(x) + 4, g.data(y)); },
        [&] {
          for (std::size_t i = 0; i < 4; ++i) g.grad_data(x)[i] += g.grad_data(y)[i];
          g.grad_data(x)[3] = bad;  // a backward pass that goes wrong at one element
        });
    const auto check = autograd::check_gradients(g, autograd::sum(g, y), {x});
    CHECK(check.max_rel_error() == HUGE_VAL);
    CHECK(check.values[0].worst_index == 3);
  }
}
