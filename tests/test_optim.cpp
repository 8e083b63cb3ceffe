// nn/init.hpp and nn/optim.hpp: PyTorch's default Linear initialisation, Adam with PyTorch's semantics, and the EMA
// of the weights. Adam is checked against an independent double-precision implementation of the formula in the
// torch.optim.Adam documentation, against golden values produced by torch.optim.Adam itself, against the closed
// form of its first step, and on a convex quadratic.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "attractor/nn/init.hpp"
#include "attractor/nn/optim.hpp"
#include "tolerance.hpp"

using namespace attractor;
using attractor_test::absolute;
using attractor_test::relative;

namespace {

template <class Scalar>
constexpr double eps_of() {
  return std::numeric_limits<Scalar>::epsilon();
}

/// The torch.optim.Adam documentation's algorithm (weight_decay = 0, amsgrad = False, maximize = False), in double,
/// one scalar at a time, written from the formula rather than from our implementation:
///   m_t = b1 m_{t-1} + (1 - b1) g_t,  v_t = b2 v_{t-1} + (1 - b2) g_t^2,
///   m_hat = m_t / (1 - b1^t),  v_hat = v_t / (1 - b2^t),  theta_t = theta_{t-1} - lr m_hat / (sqrt(v_hat) + eps).
struct reference_adam {
  double lr, b1, b2, eps;
  std::vector<double> theta, m, v;
  int t = 0;
  void step(const std::vector<double>& g) {
    ++t;
    for (std::size_t i = 0; i < theta.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      theta[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

/// A parameter of the given shape holding `values` (flat), with a zero gradient.
template <class Scalar>
nn::parameter<Scalar, cpu> make_parameter(const char* name, const shape& s, const std::vector<double>& values) {
  nn::parameter<Scalar, cpu> p(name, s);
  REQUIRE(values.size() == p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    p.value[i] = static_cast<Scalar>(values[i]);
    p.grad[i] = Scalar(0);
  }
  return p;
}

template <class Scalar>
nn::parameter<Scalar, cpu> make_parameter(const char* name, const shape& s, double value) {
  return make_parameter<Scalar>(name, s, std::vector<double>(s.size(), value));
}

/// Mean and (population) variance of a tensor's elements, in double.
template <class Scalar>
std::pair<double, double> moments(const tensor<Scalar, cpu>& x) {
  double mean = 0;
  for (Scalar v : x) mean += v;
  mean /= static_cast<double>(x.size());
  double var = 0;
  for (Scalar v : x) var += (v - mean) * (v - mean);
  return {mean, var / static_cast<double>(x.size())};
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("kaiming_uniform(a = sqrt 5) and the Linear bias draw U(-1/sqrt(fan_in), 1/sqrt(fan_in))", Scalar,
                   float, double) {
  context<cpu> ctx;
  const std::size_t out = 512, in = 512;
  tensor<Scalar, cpu> w(shape{out, in}), b(shape{out});
  philox gen(1234);
  nn::linear_default_init(ctx, gen, w, b);
  CHECK(gen.offset() == philox_blocks<Scalar>(out * in) + philox_blocks<Scalar>(out));

  const double bound = 1.0 / std::sqrt(double(in));
  CHECK(nn::kaiming_uniform_bound(in) == relative(bound, 1e-15));  // a few roundings apart
  for (const tensor<Scalar, cpu>* x : {&w, &b}) {
    const double n = double(x->size());
    double largest = 0;
    for (Scalar v : *x) largest = std::max(largest, std::abs(double(v)));
    CHECK(largest <= double(static_cast<Scalar>(bound)));
    CHECK(largest > bound * (1 - 20 / n));  // the extremes are reached: P(max < b(1 - 20/n)) ~ e^-20
    // U(-b, b): mean 0 with standard error b / sqrt(3 n); variance (2b)^2 / 12 = b^2 / 3, and the sample variance
    // has standard error sqrt(Var(x^2) / n) = b^2 sqrt(4 / (45 n)).
    const auto mv = moments(*x);  // not a structured binding: INFO captures it, which clang 14 refuses
    const double mean = mv.first, var = mv.second;
    INFO("n = ", n, ", mean = ", mean, ", variance = ", var, ", expected ", bound * bound / 3);
    CHECK(std::abs(mean) <= 5 * bound / std::sqrt(3 * n));
    CHECK(std::abs(var - bound * bound / 3) <= 5 * bound * bound * std::sqrt(4 / (45 * n)));
  }

  SUBCASE("the same seed reproduces, another seed differs") {
    tensor<Scalar, cpu> w2(shape{out, in}), b2(shape{out});
    philox again(1234);
    nn::linear_default_init(ctx, again, w2, b2);
    CHECK(std::equal(w.begin(), w.end(), w2.begin()));
    CHECK(std::equal(b.begin(), b.end(), b2.begin()));
    philox other(1235);
    nn::linear_default_init(ctx, other, w2, b2);
    CHECK(!std::equal(w.begin(), w.end(), w2.begin()));
  }

  SUBCASE("weight then bias, from one stream: the bias is the draw after the weight's") {
    philox g(1234);
    g.advance(philox_blocks<Scalar>(out * in));
    tensor<Scalar, cpu> b2(shape{out});
    nn::linear_bias_uniform(ctx, g, b2, in);
    CHECK(std::equal(b.begin(), b.end(), b2.begin()));
  }
}

TEST_CASE_TEMPLATE("kaiming_uniform follows PyTorch's fan_in and gain for other shapes and slopes", Scalar, float,
                   double) {
  context<cpu> ctx;
  CHECK(nn::fan_in(shape{7, 5}) == 5);
  CHECK(nn::fan_in(shape{8, 3, 3, 3}) == 27);  // Conv2d: in_channels * kh * kw
  CHECK(nn::fan_in(shape{4, 2, 5}) == 10);
  // a = 0: gain sqrt 2, b = sqrt(6 / fan_in) (He uniform); a = 1: gain 1, b = sqrt(3 / fan_in).
  CHECK(nn::kaiming_uniform_bound(27, 0.0) == relative(std::sqrt(6.0 / 27), 1e-15));
  CHECK(nn::kaiming_uniform_bound(27, 1.0) == relative(std::sqrt(3.0 / 27), 1e-15));

  tensor<Scalar, cpu> conv(shape{64, 3, 3, 3});
  philox gen(7);
  nn::kaiming_uniform(ctx, gen, conv, 0.0);
  const double b = std::sqrt(6.0 / 27);
  double largest = 0;
  for (Scalar v : conv) largest = std::max(largest, std::abs(double(v)));
  CHECK(largest <= double(static_cast<Scalar>(b)));
  CHECK(largest > 0.95 * b);

  tensor<Scalar, cpu> gamma(shape{256});
  nn::constant(ctx, gamma, Scalar(1e-6));
  CHECK(std::all_of(gamma.begin(), gamma.end(), [](Scalar v) { return v == Scalar(1e-6); }));
}

TEST_CASE_TEMPLATE("init rejects bad shapes and values", Scalar, float, double) {
  context<cpu> ctx;
  philox gen(1);
  tensor<Scalar, cpu> vec(shape{4}), no_inputs(shape{4, 0}), mat(shape{4, 3});
  CHECK_THROWS_WITH_AS(nn::kaiming_uniform(ctx, gen, vec), doctest::Contains("nn::kaiming_uniform: expected a weight"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(nn::kaiming_uniform(ctx, gen, no_inputs), doctest::Contains("fan_in > 0"), attractor::error);
  CHECK_THROWS_WITH_AS(nn::kaiming_uniform(ctx, gen, mat, std::nan("")), doctest::Contains("finite negative slope"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(nn::linear_bias_uniform(ctx, gen, mat, 3), doctest::Contains("a bias of rank 1"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(nn::linear_bias_uniform(ctx, gen, vec, 0), doctest::Contains("fan_in > 0"), attractor::error);
  CHECK_THROWS_WITH_AS(nn::linear_default_init(ctx, gen, mat, mat), doctest::Contains("a bias of shape (4)"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(nn::constant(ctx, vec, std::numeric_limits<Scalar>::infinity()),
                       doctest::Contains("a finite value"), attractor::error);
  CHECK_THROWS_AS((void)nn::fan_in(shape{3}), attractor::error);
  CHECK(gen.offset() == 0);  // nothing was drawn
}

// ---------------------------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("adam matches the documented algorithm in double over 50 steps", Scalar, float, double) {
  // The paper's setting, and one where eps is not negligible next to sqrt(v_hat), so that where eps enters matters.
  for (const nn::adam_options options :
       {nn::adam_options{3e-4, 0.9, 0.999, 1e-8}, nn::adam_options{1e-2, 0.5, 0.9, 1e-4}}) {
    CAPTURE(options.lr);
    context<cpu> ctx;
    const shape sa{3, 4}, sb{5};
    std::vector<double> a0(sa.size()), b0(sb.size());
    for (std::size_t i = 0; i < a0.size(); ++i) a0[i] = 0.3 * std::sin(1.7 * double(i)) + 0.01 * double(i);
    for (std::size_t i = 0; i < b0.size(); ++i) b0[i] = -0.2 + 0.1 * double(i);
    auto a = make_parameter<Scalar>("a", sa, a0);
    auto b = make_parameter<Scalar>("b", sb, b0);
    nn::adam<Scalar, cpu> opt(ctx, {&a, &b}, options);

    // The reference starts from the same (rounded) weights, and sees the same (rounded) gradients.
    reference_adam ref{options.lr, options.beta1, options.beta2, options.eps, {}, {}, {}};
    for (Scalar v : a.value) ref.theta.push_back(v);
    for (Scalar v : b.value) ref.theta.push_back(v);
    ref.m.assign(ref.theta.size(), 0.0);
    ref.v.assign(ref.theta.size(), 0.0);

    const int steps = 50;
    double largest_g = 0;
    for (int k = 1; k <= steps; ++k) {
      std::vector<double> g;
      for (std::size_t i = 0; i < a.size() + b.size(); ++i) {
        // Varying signs and magnitudes from 1e-4 to 3, some elements with a gradient that stays near zero.
        const double scale = std::pow(10.0, double(i % 5) - 3.5);
        const double value = scale * (std::sin(0.37 * k + 1.1 * double(i)) + 0.3 * std::cos(2.3 * k * double(i % 3)));
        const Scalar rounded = static_cast<Scalar>(value);
        if (i < a.size()) {
          a.grad[i] = rounded;
        } else {
          b.grad[i - a.size()] = rounded;
        }
        g.push_back(rounded);
        largest_g = std::max(largest_g, std::abs(double(rounded)));
      }
      opt.step(ctx);
      ref.step(g);
    }
    CHECK(opt.step_count() == steps);

    const double eps = eps_of<Scalar>();
    const auto state = opt.state();
    double worst_p = 0;
    for (std::size_t i = 0; i < ref.theta.size(); ++i) {
      const bool in_a = i < a.size();
      const std::size_t j = in_a ? i : i - a.size();
      const double p = in_a ? a.value[j] : b.value[j];
      const double m = state.exp_avg[in_a ? 0 : 1][j];
      const double v = state.exp_avg_sq[in_a ? 0 : 1][j];
      INFO("element ", i);
      // Each step moves p by at most ~lr (|m_hat| <= sqrt(v_hat)) with a few roundings relative to that move.
      const double tol_p = 16 * eps * (std::abs(ref.theta[i]) + steps * options.lr);
      CHECK(std::abs(p - ref.theta[i]) <= tol_p);
      CHECK(std::abs(m - ref.m[i]) <= 16 * eps * largest_g);
      CHECK(std::abs(v - ref.v[i]) <= 16 * eps * (ref.v[i] + largest_g * largest_g * 1e-6));
      worst_p = std::max(worst_p, std::abs(p - ref.theta[i]) / tol_p);
    }
    MESSAGE("largest |p - reference| as a fraction of its tolerance: ", worst_p);
  }
}

TEST_CASE_TEMPLATE("adam matches torch.optim.Adam (golden values)", Scalar, float, double) {
  // Produced by hand with torch 1.13.0a0 (Debian python3-torch), torch.optim.Adam(foreach=False), by this script:
  //   def grad(k, i): return (((7 * k + 13 * i) % 17) - 8) * 0.25 * 2.0 ** (-4 * (i % 3))
  //   p = torch.tensor([(i - 3) * 0.375 for i in range(7)], dtype=dtype, requires_grad=True)
  //   opt = torch.optim.Adam([p], foreach=False, **config)
  //   for k in range(1, 21): p.grad = torch.tensor([grad(k, i) for i in range(7)], dtype=dtype); opt.step()
  //   print p, opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"] with %.9g (float32) or %.17g (float64)
  // Every input is exactly representable, so both sides start from the same numbers.
  struct golden {
    nn::adam_options options;
    double p[2][7], m[2][7], v[2][7];  // [float32, float64][element]
  };
  const golden cases[] = {
      {{0.01, 0.9, 0.999, 1e-8},
       {{-1.12924695, -0.710406482, -0.400029182, -0.0134463049, 0.349155962, 0.771219134, 1.15340042},
        {-1.1292468894881078, -0.71040649054827343, -0.40002919880402643, -0.013446306508425961, 0.34915595602718269,
         0.77121920104467179, 1.1534004397732918}},
       {{-0.051055707, -0.00831273198, 0.000818050292, -0.0495265201, -0.000899902196, -0.000642016181, 0.0273655318},
        {-0.051055697820791425, -0.0083127328154685189, 0.00081805033309446484, -0.049526526352460173,
         -0.00089990160740211021, -0.00064201616677788515, 0.027365523623438526}},
       {{0.0285534225, 0.000121212266, 4.73074181e-07, 0.0285273455, 0.000112717789, 4.55538242e-07, 0.0315056853},
        {0.028553415883766666, 0.00012121222625789553, 4.7307412226624179e-07, 0.028527338932409368,
         0.00011271777912103213, 4.5553817165070744e-07, 0.031505677020104907}}},
      {{0.05, 0.8, 0.99, 1e-3},
       {{-1.13707626, -0.599305272, -0.468740642, -0.0470933765, 0.279727727, 0.825699747, 1.23239088},
        {-1.1370765171326482, -0.5993052753044833, -0.46874064813224481, -0.047093367017006463, 0.27972772951552816,
         0.82569978997966731, 1.2323907658890358}},
       {{-0.13338688, -0.0179346818, 0.00151028868, -0.0782830715, -0.00180472084, -0.00124361413, 0.0775017962},
        {-0.13338688475565652, -0.017934681149630052, 0.0015102885987514059, -0.078283066508781779,
         -0.0018047202823233523, -0.0012436140709203044, 0.077501786532395034}},
       {{0.263494849, 0.00111866836, 4.33183595e-06, 0.261088192, 0.00103779964, 4.20434617e-06, 0.289102167},
        {0.26349481830833343, 0.0011186682651443147, 4.3318360170762654e-06, 0.26108815940393348, 0.0010377994707212749,
         4.2043462434451538e-06, 0.28910211698204313}}},
  };
  const int which = std::is_same_v<Scalar, float> ? 0 : 1;
  const double eps = eps_of<Scalar>();
  for (const golden& c : cases) {
    CAPTURE(c.options.lr);
    context<cpu> ctx;
    std::vector<double> p0(7);
    for (int i = 0; i < 7; ++i) p0[i] = (i - 3) * 0.375;
    auto p = make_parameter<Scalar>("p", shape{7}, p0);
    nn::adam<Scalar, cpu> opt(ctx, {&p}, c.options);
    for (int k = 1; k <= 20; ++k) {
      for (int i = 0; i < 7; ++i) {
        p.grad[i] = static_cast<Scalar>((((7 * k + 13 * i) % 17) - 8) * 0.25 * std::pow(2.0, -4 * (i % 3)));
      }
      opt.step(ctx);
    }
    const auto state = opt.state();
    for (int i = 0; i < 7; ++i) {
      CAPTURE(i);
      // 20 steps of at most lr each; m and v to a few roundings of their size.
      CHECK(std::abs(double(p.value[i]) - c.p[which][i]) <= 16 * eps * (std::abs(c.p[which][i]) + 20 * c.options.lr));
      CHECK(std::abs(double(state.exp_avg[0][i]) - c.m[which][i]) <= 64 * eps * 2.0);
      CHECK(std::abs(double(state.exp_avg_sq[0][i]) - c.v[which][i]) <= 64 * eps * c.v[which][i]);
    }
  }
}

TEST_CASE_TEMPLATE("adam's first step moves each element by exactly -lr g / (|g| + eps)", Scalar, float, double) {
  // At t = 1: m = (1 - b1) g and v = (1 - b2) g^2, so step_size = lr / (1 - b1) and
  // denom = sqrt((1 - b2) g^2) / sqrt(1 - b2) + eps = |g| + eps, hence
  //   delta = -lr / (1 - b1) * (1 - b1) g / (|g| + eps) = -lr g / (|g| + eps),
  // whatever the betas. (The "efficient" form of Kingma & Ba, eps added to sqrt(v) before the bias correction,
  // would give -lr g / (|g| + eps / sqrt(1 - b2)) instead: 32 times the eps for b2 = 0.999.)
  const std::vector<double> g = {0.0, 1e-8, -3e-8, 2.5e-7, 1e-3, -0.5, 2.0, -1e4};
  for (const nn::adam_options options : {nn::adam_options{}, nn::adam_options{0.1, 0.5, 0.9, 1e-6}}) {
    CAPTURE(options.eps);
    context<cpu> ctx;
    auto p = make_parameter<Scalar>("p", shape{g.size()}, 0.0);  // p = 0: the new value is the move itself
    for (std::size_t i = 0; i < g.size(); ++i) p.grad[i] = static_cast<Scalar>(g[i]);
    nn::adam<Scalar, cpu> opt(ctx, {&p}, options);
    opt.step(ctx);
    for (std::size_t i = 0; i < g.size(); ++i) {
      CAPTURE(g[i]);
      const double gi = static_cast<Scalar>(g[i]);
      const double expected = -options.lr * gi / (std::abs(gi) + options.eps);
      CHECK(std::abs(double(p.value[i]) - expected) <= 8 * eps_of<Scalar>() * std::abs(expected));
      if (std::abs(gi) <= 100 * options.eps && gi != 0) {  // here the other eps placement is visibly different
        const double efficient = -options.lr * gi / (std::abs(gi) + options.eps / std::sqrt(1 - options.beta2));
        CHECK(std::abs(double(p.value[i]) - efficient) > 0.01 * std::abs(expected));
      }
    }
    // With g = 1e-8 = eps, the move is exactly half the learning rate.
    if (options.eps == 1e-8) CHECK(double(p.value[1]) == relative(-options.lr / 2, 8 * eps_of<Scalar>()));
  }
}

TEST_CASE_TEMPLATE("adam minimises a convex quadratic", Scalar, float, double) {
  // f(x) = 1/2 sum_i a_i (x_i - c_i)^2 with curvatures spanning three decades; grad = a (x - c).
  context<cpu> ctx;
  const std::vector<double> a = {0.1, 1.0, 10.0, 100.0, 3.0, 0.5}, c = {1.0, -2.0, 0.5, 3.0, -0.25, 0.0};
  auto x = make_parameter<Scalar>("x", shape{2, 3}, 0.0);
  nn::adam<Scalar, cpu> opt(ctx, {&x}, 0.05);
  auto loss = [&] {
    double f = 0;
    for (std::size_t i = 0; i < a.size(); ++i) f += 0.5 * a[i] * std::pow(double(x.value[i]) - c[i], 2);
    return f;
  };
  const double initial = loss();
  for (int k = 0; k < 4000; ++k) {
    if (k == 2000) opt.set_lr(0.005);
    for (std::size_t i = 0; i < a.size(); ++i) x.grad[i] = static_cast<Scalar>(a[i] * (double(x.value[i]) - c[i]));
    opt.step(ctx);
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(double(x.value[i]) == absolute(c[i], 1e-4));  // one minimum is at 0: absolute
  }
  CHECK(loss() < 1e-8 * initial);
}

TEST_CASE_TEMPLATE("adam's state round-trips through state() and load_state()", Scalar, float, double) {
  context<cpu> ctx;
  auto make = [] { return make_parameter<Scalar>("w", shape{2, 2}, std::vector<double>{0.1, -0.2, 0.3, -0.4}); };
  auto p1 = make(), p2 = make();
  nn::adam<Scalar, cpu> a(ctx, {&p1}, 0.01), b(ctx, {&p2}, 0.01);
  for (int k = 0; k < 3; ++k) {
    for (std::size_t i = 0; i < 4; ++i) p1.grad[i] = static_cast<Scalar>(std::cos(double(k + i)));
    a.step(ctx);
  }
  std::copy(p1.value.begin(), p1.value.end(), p2.value.begin());
  b.load_state(ctx, a.state());
  CHECK(b.step_count() == 3);
  for (int k = 0; k < 3; ++k) {  // both continue identically
    for (std::size_t i = 0; i < 4; ++i) p1.grad[i] = p2.grad[i] = static_cast<Scalar>(std::sin(double(k * i)));
    a.step(ctx);
    b.step(ctx);
  }
  CHECK(std::equal(p1.value.begin(), p1.value.end(), p2.value.begin()));

  // A state of the wrong size, shape or contents is refused, and nothing changes.
  tensor<Scalar, cpu> wrong(shape{4}), negative(shape{2, 2});
  fill(ctx, negative, Scalar(-1));
  nn::adam_state<Scalar, cpu> bad;
  bad.step = 7;
  CHECK_THROWS_WITH_AS(b.load_state(ctx, bad),
                       doctest::Contains("nn::adam::load_state: expected 1 exp_avg tensors, one per parameter, got 0"),
                       attractor::error);
  bad.exp_avg = {wrong.view()};
  bad.exp_avg_sq = {wrong.view()};
  CHECK_THROWS_WITH_AS(b.load_state(ctx, bad),
                       doctest::Contains("expected exp_avg 0 of shape (2, 2) (that of parameter 'w'), got (4)"),
                       attractor::error);
  bad.exp_avg = {a.state().exp_avg[0]};
  bad.exp_avg_sq = {negative.view()};
  CHECK_THROWS_WITH_AS(b.load_state(ctx, bad), doctest::Contains("finite values >= 0 in exp_avg_sq of 'w'"),
                       attractor::error);
  CHECK(b.step_count() == 6);
}

TEST_CASE_TEMPLATE("adam.step() and ema.update() allocate nothing", Scalar, float, double) {
  context<cpu> ctx;
  auto w = make_parameter<Scalar>("w", shape{64, 32}, 0.5);
  auto b = make_parameter<Scalar>("b", shape{64}, -0.5);
  fill(ctx, w.grad, Scalar(0.25));
  fill(ctx, b.grad, Scalar(-0.125));
  const std::size_t before_construction = allocation_counter<cpu>::count;
  nn::adam<Scalar, cpu> opt(ctx, {&w, &b}, 3e-4);
  nn::ema<Scalar, cpu> avg(ctx, {&w, &b});
  CHECK(allocation_counter<cpu>::count == before_construction + 6);  // m and v, and one shadow, per parameter
  const std::size_t before = allocation_counter<cpu>::count;
  for (int k = 0; k < 10; ++k) {
    opt.step(ctx);
    avg.update(ctx);
  }
  avg.swap(ctx);
  avg.swap(ctx);
  CHECK(allocation_counter<cpu>::count == before);
}

TEST_CASE_TEMPLATE("adam rejects bad hyperparameters and parameter lists", Scalar, float, double) {
  context<cpu> ctx;
  auto w = make_parameter<Scalar>("w", shape{3, 2}, 1.0);
  auto b = make_parameter<Scalar>("b", shape{3}, 1.0);
  using adam = nn::adam<Scalar, cpu>;
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  for (double lr : {0.0, -1e-3, nan, inf}) {
    CHECK_THROWS_WITH_AS(adam(ctx, {&w}, lr), doctest::Contains("nn::adam: expected a finite learning rate > 0"),
                         attractor::error);
  }
  for (double beta : {1.0, -0.1, 1.5, nan}) {
    CHECK_THROWS_WITH_AS(adam(ctx, {&w}, nn::adam_options{1e-3, beta, 0.999, 1e-8}),
                         doctest::Contains("expected 0 <= beta1 < 1"), attractor::error);
    CHECK_THROWS_WITH_AS(adam(ctx, {&w}, nn::adam_options{1e-3, 0.9, beta, 1e-8}),
                         doctest::Contains("expected 0 <= beta2 < 1"), attractor::error);
  }
  for (double eps : {-1e-8, nan, inf}) {
    CHECK_THROWS_WITH_AS(adam(ctx, {&w}, nn::adam_options{1e-3, 0.9, 0.999, eps}),
                         doctest::Contains("expected a finite eps >= 0"), attractor::error);
  }
  CHECK_NOTHROW(adam(ctx, {&w}, nn::adam_options{1e-3, 0.0, 0.0, 0.0}));  // the edges that are allowed
  CHECK_THROWS_WITH_AS(adam(ctx, {}, 1e-3), doctest::Contains("a non-empty parameter list"), attractor::error);
  CHECK_THROWS_WITH_AS(adam(ctx, {&w, nullptr}, 1e-3), doctest::Contains("a null pointer at index 1"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(adam(ctx, {&w, &b, &w}, 1e-3), doctest::Contains("parameter 'w' more than once"),
                       attractor::error);
  w.grad.resize(shape{6});
  CHECK_THROWS_WITH_AS(adam(ctx, {&w}, 1e-3), doctest::Contains("the grad of 'w' of its value's shape (3, 2)"),
                       attractor::error);
  w.grad.resize(shape{3, 2});

  adam opt(ctx, {&w, &b}, 1e-3);
  opt.step(ctx);
  CHECK_THROWS_WITH_AS(opt.set_lr(-1), doctest::Contains("nn::adam::set_lr"), attractor::error);
  // A parameter whose shape changes after construction: the step refuses, before touching any parameter.
  b.value.resize(shape{1, 3});
  b.grad.resize(shape{1, 3});
  const std::vector<Scalar> w_before(w.value.begin(), w.value.end());
  CHECK_THROWS_WITH_AS(opt.step(ctx), doctest::Contains("nn::adam::step: expected parameter 1 ('b') of shape (3)"),
                       attractor::error);
  CHECK(std::equal(w_before.begin(), w_before.end(), w.value.begin()));
  CHECK(opt.step_count() == 1);
}

// ---------------------------------------------------------------------------------------------------------------
// EMA
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ema follows a hand-computed sequence from either initialisation", Scalar, float, double) {
  // Weights f_j x_k with x = 1 (at construction), then 2, 3, 4 before each update; decay 0.9:
  //   copy:  s = 1, 0.9 * 1 + 0.1 * 2 = 1.1, 0.99 + 0.3 = 1.29, 1.161 + 0.4 = 1.561
  //   zeros: s = 0, 0.2, 0.18 + 0.3 = 0.48, 0.432 + 0.4 = 0.832
  const std::vector<double> f = {1.0, -2.0, 0.5, 3.0, 0.0, -0.25};
  for (const auto init : {nn::ema_init::copy, nn::ema_init::zeros}) {
    const std::vector<double> expected = init == nn::ema_init::copy ? std::vector<double>{1, 1.1, 1.29, 1.561}
                                                                    : std::vector<double>{0, 0.2, 0.48, 0.832};
    context<cpu> ctx;
    auto a = make_parameter<Scalar>("a", shape{2, 2}, std::vector<double>(f.begin(), f.begin() + 4));
    auto b = make_parameter<Scalar>("b", shape{2}, std::vector<double>(f.begin() + 4, f.end()));
    nn::ema<Scalar, cpu> avg(ctx, {&a, &b}, 0.9, init);
    CHECK(avg.init() == init);
    for (int k = 0; k < 4; ++k) {
      CAPTURE(k);
      if (k > 0) {
        for (std::size_t j = 0; j < 4; ++j) a.value[j] = static_cast<Scalar>(f[j] * (k + 1));
        for (std::size_t j = 0; j < 2; ++j) b.value[j] = static_cast<Scalar>(f[4 + j] * (k + 1));
        avg.update(ctx);
      }
      const auto shadow = avg.shadow();
      for (std::size_t j = 0; j < f.size(); ++j) {
        const double s = j < 4 ? shadow[0][j] : shadow[1][j - 4];
        const double want = f[j] * expected[k];
        CHECK(std::abs(s - want) <= 8 * eps_of<Scalar>() * std::abs(want));
      }
    }
    CHECK(avg.update_count() == 3);
  }
}

TEST_CASE_TEMPLATE("ema with zero initialisation is biased by decay^n; with a copy it is not", Scalar, float, double) {
  context<cpu> ctx;
  auto w = make_parameter<Scalar>("w", shape{3}, std::vector<double>{1.0, -3.0, 0.125});
  nn::ema<Scalar, cpu> zeros(ctx, {&w}, 0.999, nn::ema_init::zeros), copied(ctx, {&w});
  CHECK(copied.decay() == 0.999);
  CHECK(copied.init() == nn::ema_init::copy);
  const int n = 1000;
  for (int k = 0; k < n; ++k) {
    zeros.update(ctx);
    copied.update(ctx);
  }
  // Each update rounds once; the errors decay by 0.999 per update, so they add up to at most ~1000 roundings
  // (and decay and 1 - decay, rounded to Scalar, need not sum to exactly 1).
  const double tol = 2000 * eps_of<Scalar>();
  const double bias = 1 - std::pow(0.999, n);  // 0.632
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(std::abs(zeros.shadow()[0][i] - bias * w.value[i]) <= tol * std::abs(w.value[i]));
    CHECK(std::abs(copied.shadow()[0][i] - w.value[i]) <= tol * std::abs(w.value[i]));
  }
}

TEST_CASE_TEMPLATE("ema swap and copy_to round-trip the weights exactly", Scalar, float, double) {
  context<cpu> ctx;
  auto a = make_parameter<Scalar>("a", shape{2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6});
  auto b = make_parameter<Scalar>("b", shape{3}, std::vector<double>{-1, -2, -3});
  const nn::parameter_list<Scalar, cpu> params{&a, &b};
  nn::ema<Scalar, cpu> avg(ctx, params, 0.75);
  for (int k = 0; k < 5; ++k) {
    for (auto& v : a.value) v = v * Scalar(1.5) + Scalar(0.25);
    for (auto& v : b.value) v = v * Scalar(0.5) - Scalar(1);
    avg.update(ctx);
  }
  const std::vector<Scalar> raw_a(a.value.begin(), a.value.end()), raw_b(b.value.begin(), b.value.end());
  const auto shadow = avg.shadow();
  const std::vector<Scalar> avg_a(shadow[0].begin(), shadow[0].end()), avg_b(shadow[1].begin(), shadow[1].end());
  CHECK(avg_a != raw_a);

  avg.swap(ctx);  // averages in, raw weights kept
  CHECK(avg.swapped());
  CHECK(std::equal(avg_a.begin(), avg_a.end(), a.value.begin()));
  CHECK(std::equal(avg_b.begin(), avg_b.end(), b.value.begin()));
  CHECK(std::equal(raw_a.begin(), raw_a.end(), avg.shadow()[0].begin()));
  CHECK_THROWS_WITH_AS(avg.update(ctx), doctest::Contains("nn::ema::update: expected the raw weights"),
                       attractor::error);
  avg.swap(ctx, params);  // and back, bit for bit
  CHECK(!avg.swapped());
  CHECK(std::equal(raw_a.begin(), raw_a.end(), a.value.begin()));
  CHECK(std::equal(raw_b.begin(), raw_b.end(), b.value.begin()));
  CHECK(std::equal(avg_a.begin(), avg_a.end(), avg.shadow()[0].begin()));

  // copy_to an evaluation copy of the model leaves the tracked weights alone.
  auto ea = make_parameter<Scalar>("a", shape{2, 3}, 0.0);
  auto eb = make_parameter<Scalar>("b", shape{3}, 0.0);
  avg.copy_to(ctx, {&ea, &eb});
  CHECK(std::equal(avg_a.begin(), avg_a.end(), ea.value.begin()));
  CHECK(std::equal(avg_b.begin(), avg_b.end(), eb.value.begin()));
  CHECK(std::equal(raw_a.begin(), raw_a.end(), a.value.begin()));
  // ... and copy_to() the tracked ones overwrites them.
  avg.copy_to(ctx);
  CHECK(std::equal(avg_a.begin(), avg_a.end(), a.value.begin()));

  // load_shadow restores averages, e.g. from a checkpoint.
  nn::ema<Scalar, cpu> restored(ctx, {&ea, &eb}, 0.75, nn::ema_init::zeros);
  restored.load_shadow(ctx, avg.shadow());
  CHECK(std::equal(avg_a.begin(), avg_a.end(), restored.shadow()[0].begin()));
  CHECK(std::equal(avg_b.begin(), avg_b.end(), restored.shadow()[1].begin()));
  tensor<Scalar, cpu> nan_average(shape{3});
  fill(ctx, nan_average, std::numeric_limits<Scalar>::quiet_NaN());
  CHECK_THROWS_WITH_AS(restored.load_shadow(ctx, std::vector<const_tensor_view<Scalar, cpu>>{avg.shadow()[0]}),
                       doctest::Contains("nn::ema::load_shadow: expected 2 average tensors, one per parameter, got 1"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(
      restored.load_shadow(ctx, std::vector<const_tensor_view<Scalar, cpu>>{avg.shadow()[1], avg.shadow()[1]}),
      doctest::Contains("expected average 0 of shape (2, 3) (that of parameter 'a'), got (3)"), attractor::error);
  CHECK_THROWS_WITH_AS(
      restored.load_shadow(ctx, std::vector<const_tensor_view<Scalar, cpu>>{avg.shadow()[0], nan_average.view()}),
      doctest::Contains("finite values in the average of 'b'"), attractor::error);
  CHECK(std::equal(avg_b.begin(), avg_b.end(), restored.shadow()[1].begin()));  // unchanged
}

TEST_CASE_TEMPLATE("ema rejects a bad decay and mismatched parameter lists", Scalar, float, double) {
  context<cpu> ctx;
  auto a = make_parameter<Scalar>("a", shape{2, 3}, 1.0);
  auto b = make_parameter<Scalar>("b", shape{3}, 1.0);
  using ema = nn::ema<Scalar, cpu>;
  for (double decay : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    CHECK_THROWS_WITH_AS(ema(ctx, {&a}, decay), doctest::Contains("nn::ema: expected a decay in (0, 1)"),
                         attractor::error);
  }
  CHECK_THROWS_WITH_AS(ema(ctx, {}), doctest::Contains("a non-empty parameter list"), attractor::error);
  CHECK_THROWS_WITH_AS(ema(ctx, {&a, &a}), doctest::Contains("parameter 'a' more than once"), attractor::error);

  ema avg(ctx, {&a, &b});
  auto wrong_shape = make_parameter<Scalar>("a", shape{3, 2}, 0.0);
  CHECK_THROWS_WITH_AS(avg.copy_to(ctx, {&a}), doctest::Contains("nn::ema::copy_to: expected 2 parameters, got 1"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(avg.copy_to(ctx, {&wrong_shape, &b}),
                       doctest::Contains("expected parameter 0 ('a') of shape (2, 3), got (3, 2)"), attractor::error);
  CHECK_THROWS_WITH_AS(avg.swap(ctx, {&b, &a}), doctest::Contains("nn::ema::swap: expected parameter 0"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(avg.copy_to(ctx, {&a, nullptr}), doctest::Contains("a null pointer at index 1"),
                       attractor::error);
  CHECK(!avg.swapped());
  a.value.resize(shape{6});
  CHECK_THROWS_WITH_AS(avg.update(ctx),
                       doctest::Contains("nn::ema::update: expected parameter 0 ('a') of shape (2, 3)"),
                       attractor::error);
  CHECK(avg.update_count() == 0);
}
