// The transfer-learning layer (spec §6): the streamed ridge regression against the normal equations solved in long
// double, random Fourier features against a hand computation and their kernel, the frozen backbone's features
// against the network's layers run by hand, Table 3's parameter counts, heads and baselines trained through nn::fit,
// roll-outs against matrix powers, and the scores on roll-outs whose errors are known exactly.
#include "attractor/core/eigen.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "attractor/transfer.hpp"
#include "tolerance.hpp"

using namespace attractor;
using attractor_test::absolute;
using attractor_test::relative;
namespace tl = attractor::transfer_learning;

static_assert(tl::row_map<tl::random_fourier_features<float, cpu>, float, cpu>);
static_assert(tl::row_map<tl::backbone_features<float, cpu>, float, cpu>);
static_assert(tl::row_map<tl::ridge_solution<float, cpu>, float, cpu>);
static_assert(tl::row_map<tl::network_map<float, cpu, tl::mlp_head<float, cpu>>, float, cpu>);
static_assert(nn::objective<
              tl::regression_objective<float, cpu, tl::mlp_head<float, cpu>, tl::random_fourier_features<float, cpu>>>);
static_assert(nn::objective<tl::regression_objective<double, cpu, tl::resnet_baseline<double, cpu>>>);

namespace {

using ld = long double;

/// Solves A w = b (k x k, row-major) by Gaussian elimination with partial pivoting, in long double.
std::vector<ld> solve_long_double(std::vector<ld> a, std::vector<ld> b, std::size_t k) {
  for (std::size_t c = 0; c < k; ++c) {
    std::size_t p = c;
    for (std::size_t r = c + 1; r < k; ++r)
      if (std::abs(a[r * k + c]) > std::abs(a[p * k + c])) p = r;
    for (std::size_t j = 0; j < k; ++j) std::swap(a[c * k + j], a[p * k + j]);
    std::swap(b[c], b[p]);
    for (std::size_t r = c + 1; r < k; ++r) {
      const ld f = a[r * k + c] / a[c * k + c];
      for (std::size_t j = c; j < k; ++j) a[r * k + j] -= f * a[c * k + j];
      b[r] -= f * b[c];
    }
  }
  std::vector<ld> w(k);
  for (std::size_t c = k; c-- > 0;) {
    ld s = b[c];
    for (std::size_t j = c + 1; j < k; ++j) s -= a[c * k + j] * w[j];
    w[c] = s / a[c * k + c];
  }
  return w;
}

/// Spec §6's ridge regression written out in long double from the raw moments (no shift, no streaming).
struct ridge_reference {
  std::vector<ld> mean, scale, weights, bias;  // weights: features x outputs, row-major

  ridge_reference(const tensor<double, cpu>& x, const tensor<double, cpu>& y, ld lambda) {
    const std::size_t n = x.extent(0), f = x.extent(1), o = y.extent(1);
    const ld nn = ld(n), factor = nn / (nn + 1);
    mean.assign(f, 0);
    bias.assign(o, 0);
    std::vector<ld> exx(f * f, 0), exy(f * o, 0);
    for (std::size_t s = 0; s < n; ++s) {
      for (std::size_t i = 0; i < f; ++i) {
        mean[i] += ld(x.at(s, i)) / nn;
        for (std::size_t j = 0; j < f; ++j) exx[i * f + j] += ld(x.at(s, i)) * ld(x.at(s, j)) / nn;
        for (std::size_t k = 0; k < o; ++k) exy[i * o + k] += ld(x.at(s, i)) * ld(y.at(s, k)) / nn;
      }
      for (std::size_t k = 0; k < o; ++k) bias[k] += ld(y.at(s, k)) / nn;
    }
    scale.assign(f, 1);
    for (std::size_t i = 0; i < f; ++i) {
      const ld variance = nn * (exx[i * f + i] - mean[i] * mean[i]) / (nn + 1);  // the reference's n + 1
      scale[i] = variance < 1e-8L ? 1 : std::sqrt(variance);
    }
    std::vector<ld> c(f * f);
    for (std::size_t i = 0; i < f; ++i)
      for (std::size_t j = 0; j < f; ++j)
        c[i * f + j] = (exx[i * f + j] - mean[i] * mean[j]) / (scale[i] * scale[j]) * factor + (i == j ? lambda : 0);
    weights.assign(f * o, 0);
    for (std::size_t k = 0; k < o; ++k) {
      std::vector<ld> rhs(f);
      for (std::size_t i = 0; i < f; ++i) rhs[i] = (exy[i * o + k] - mean[i] * bias[k]) / scale[i] * factor;
      const auto w = solve_long_double(c, rhs, f);
      for (std::size_t i = 0; i < f; ++i) weights[i * o + k] = w[i];
    }
  }

  ld predict(const tensor<double, cpu>& x, std::size_t s, std::size_t k) const {
    const std::size_t f = mean.size(), o = bias.size();
    ld p = bias[k];
    for (std::size_t i = 0; i < f; ++i) p += weights[i * o + k] * ((ld(x.at(s, i)) - mean[i]) / scale[i]);
    return p;
  }
};

/// A small regression problem: 5 features (one constant, one with a mean of 100), 2 targets, with noise.
void ridge_problem(context<cpu>& ctx, std::size_t n, tensor<double, cpu>& x, tensor<double, cpu>& y) {
  philox gen(17);
  x = tensor<double, cpu>(shape{n, 5});
  y = tensor<double, cpu>(shape{n, 2});
  fill_normal(ctx, gen, x);
  fill_normal(ctx, gen, y, 0.0, 0.1);
  for (std::size_t s = 0; s < n; ++s) {
    x.at(s, 2) = 3.5;                                  // constant: variance 0, scale 1
    x.at(s, 3) = 100 + 0.5 * x.at(s, 3);               // a large mean
    x.at(s, 4) = 0.8 * x.at(s, 0) + 0.2 * x.at(s, 4);  // correlated with feature 0
    y.at(s, 0) += 1.5 * x.at(s, 0) - 2 * x.at(s, 3) + 7;
    y.at(s, 1) += -0.5 * x.at(s, 1) + x.at(s, 4) - 1;
  }
}

/// The hand-written forward pass of nn::denoising_resnet's stream at one tau (spec §2), in long double.
std::vector<ld> stream_by_hand(nn::denoising_resnet<double, cpu>& net, const double* x, std::size_t tau) {
  const auto& o = net.options();
  std::map<std::string, const tensor<double, cpu>*> p;
  for (auto* q : net.parameters()) p[q->name] = &q->value;
  auto linear = [&](const std::string& name, const std::vector<ld>& in) {
    const auto& w = *p.at(name + ".weight");
    const auto& b = *p.at(name + ".bias");
    std::vector<ld> out(w.extent(0));
    for (std::size_t r = 0; r < out.size(); ++r) {
      out[r] = b.data()[r];
      for (std::size_t c = 0; c < in.size(); ++c) out[r] += ld(w.at(r, c)) * in[c];
    }
    return out;
  };
  std::vector<ld> emb(o.embedding);
  const std::size_t half = o.embedding / 2;
  for (std::size_t k = 0; k < half; ++k) {
    const ld f = std::exp(-ld(k) * std::log(10000.0L) / ld(half - 1));
    emb[k] = std::sin(ld(tau) * f);
    emb[half + k] = std::cos(ld(tau) * f);
  }
  std::vector<ld> h = linear("inp", std::vector<ld>(x, x + o.inputs));
  for (std::size_t b = 0; b < o.blocks; ++b) {
    const std::string prefix = "blocks." + std::to_string(b);
    ld mean = 0, var = 0;
    for (const ld v : h) mean += v / ld(h.size());
    for (const ld v : h) var += (v - mean) * (v - mean) / ld(h.size());
    const std::vector<ld> film = linear(prefix + ".film", emb);
    std::vector<ld> m(h.size());
    for (std::size_t j = 0; j < h.size(); ++j)
      m[j] = (h[j] - mean) / std::sqrt(var + 1e-5L) * (1 + film[j]) + film[o.hidden + j];
    std::vector<ld> a = linear(prefix + ".fc1", m);
    for (ld& v : a) v = std::max(v, ld(0));
    const std::vector<ld> branch = linear(prefix + ".fc2", a);
    const auto& gamma = *p.at(prefix + ".gamma");
    for (std::size_t j = 0; j < h.size(); ++j) h[j] += ld(gamma.data()[j]) * branch[j];
  }
  return h;
}

/// g(x) = (A - I) x on 3 variables: the roll-out x_k = A^k x_0.
struct linear_increment {
  std::array<double, 9> a;
  std::size_t outputs_ = 3;
  std::size_t inputs() const { return 3; }
  std::size_t outputs() const { return outputs_; }
  void apply(context<cpu>&, const_tensor_view<double, cpu> x, tensor_view<double, cpu> out) const {
    for (std::size_t r = 0; r < x.extent(0); ++r)
      for (std::size_t i = 0; i < 3; ++i) {
        double s = -x.at(r, i);
        for (std::size_t j = 0; j < 3; ++j) s += a[i * 3 + j] * x.at(r, j);
        out.at(r, i) = s;
      }
  }
};

/// g(x) = P x - x + delta, P a cyclic shift of the 3 variables: exact on dyadic states.
struct shift_increment {
  double delta = 0;
  std::size_t inputs() const { return 3; }
  std::size_t outputs() const { return 3; }
  void apply(context<cpu>&, const_tensor_view<double, cpu> x, tensor_view<double, cpu> out) const {
    for (std::size_t r = 0; r < x.extent(0); ++r)
      for (std::size_t i = 0; i < 3; ++i) out.at(r, i) = x.at(r, (i + 1) % 3) - x.at(r, i) + delta;
  }
};

}  // namespace

TEST_CASE("transfer: the streamed ridge regression equals the normal equations solved in long double") {
  context<cpu> ctx(1);
  tensor<double, cpu> x, y;
  ridge_problem(ctx, 53, x, y);
  const ridge_reference expected(x, y, 1e-4L);
  // Streamed in three uneven batches through chunks of 7 rows.
  tl::ridge_accumulator<double, cpu> acc(ctx, 5, 2, 7);
  acc.add(ctx, x.rows(0, 20), y.rows(0, 20));
  acc.add(ctx, x.rows(20, 21), y.rows(20, 21));
  acc.add(ctx, x.rows(21, 53), y.rows(21, 53));
  CHECK(acc.count() == 53);
  tl::ridge_solution<double, cpu> solution = acc.solve(ctx, 1e-4);
  CHECK(solution.trainable_parameters() == 12);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(solution.mean()[Eigen::Index(i)] == relative(double(expected.mean[i]), 1e-13));
    CHECK(solution.scale()[Eigen::Index(i)] == relative(double(expected.scale[i]), 1e-12));
    for (std::size_t k = 0; k < 2; ++k)
      CHECK(solution.weights()(Eigen::Index(i), Eigen::Index(k)) ==
            absolute(double(expected.weights[i * 2 + k]), 1e-9 * (1 + std::abs(double(expected.weights[i * 2 + k])))));
  }
  CHECK(solution.scale()[2] == 1.0);  // the constant feature
  // The unpenalised bias is the targets' mean, whatever lambda.
  for (std::size_t k = 0; k < 2; ++k)
    CHECK(solution.bias()[Eigen::Index(k)] == relative(double(expected.bias[k]), 1e-13));
  tensor<double, cpu> prediction(shape{53, 2});
  solution.apply(ctx, x.view(), prediction.view());
  for (std::size_t s = 0; s < 53; s += 13)
    for (std::size_t k = 0; k < 2; ++k) CHECK(prediction.at(s, k) == absolute(double(expected.predict(x, s, k)), 1e-9));
  // A huge lambda shrinks W to 0: the prediction is the bias alone, mean(y).
  const auto shrunk = acc.solve(ctx, 1e12);
  CHECK(shrunk.weights().cwiseAbs().maxCoeff() < 1e-9);
  CHECK(shrunk.bias()[0] == relative(double(expected.bias[0]), 1e-13));
  // float features: the same solution to float's resolution.
  tensor<float, cpu> xf(x.shape()), yf(y.shape());
  for (std::size_t i = 0; i < x.size(); ++i) xf.data()[i] = static_cast<float>(x.data()[i]);
  for (std::size_t i = 0; i < y.size(); ++i) yf.data()[i] = static_cast<float>(y.data()[i]);
  tl::identity_map<float, cpu> identity(5);
  auto single = tl::fit_ridge<float, cpu>(ctx, identity, xf.view(), yf.view(), 1e-4, 16);
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t k = 0; k < 2; ++k)
      CHECK(single.weights()(Eigen::Index(i), Eigen::Index(k)) ==
            absolute(double(expected.weights[i * 2 + k]), 2e-3 * (1 + std::abs(double(expected.weights[i * 2 + k])))));
}

TEST_CASE("transfer: the ridge regression refuses bad input, naming the function") {
  context<cpu> ctx(1);
  tensor<double, cpu> x, y;
  ridge_problem(ctx, 10, x, y);
  tl::ridge_accumulator<double, cpu> acc(ctx, 5, 2);
  CHECK_THROWS_WITH_AS(acc.solve(ctx), doctest::Contains("at least one sample"), attractor::error);
  CHECK_THROWS_WITH_AS(acc.add(ctx, x.rows(0, 5), y.rows(0, 4)),
                       doctest::Contains("transfer_learning::ridge_accumulator::add"), attractor::error);
  tensor<double, cpu> narrow(shape{10, 4});
  CHECK_THROWS_WITH_AS(acc.add(ctx, narrow.view(), y.view()), doctest::Contains("(n >= 1, 5)"), attractor::error);
  x.at(3, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(acc.add(ctx, x.view(), y.view()), doctest::Contains("the features"), attractor::error);
  CHECK(acc.count() == 0);
  x.at(3, 1) = 0;
  acc.add(ctx, x.view(), y.view());
  CHECK_THROWS_WITH_AS(acc.solve(ctx, -1e-4), doctest::Contains("transfer_learning::ridge_accumulator::solve"),
                       attractor::error);
  CHECK_THROWS_AS(acc.solve(ctx, std::numeric_limits<double>::infinity()), attractor::error);
  auto solution = acc.solve(ctx);
  tensor<double, cpu> out(shape{10, 3});
  CHECK_THROWS_WITH_AS(solution.apply(ctx, x.view(), out.view()),
                       doctest::Contains("transfer_learning::ridge_solution::apply"), attractor::error);
  CHECK_THROWS_AS((tl::ridge_accumulator<double, cpu>(ctx, 0, 3)), attractor::error);
}

TEST_CASE("transfer: random Fourier features by hand, and their Gaussian kernel for large D") {
  context<cpu> ctx(1);
  philox gen(5);
  tl::random_fourier_features<double, cpu> rff(ctx, gen, 8);
  CHECK(rff.outputs() == 8);
  CHECK(rff.weights().shape() == shape{3, 4});
  tensor<double, cpu> x(shape{2, 3});
  const double states[2][3] = {{0.3, -1.2, 0.7}, {-2.0, 0.1, 1.5}};
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t k = 0; k < 3; ++k) x.at(r, k) = states[r][k];
  tensor<double, cpu> phi(shape{2, 8});
  rff.apply(ctx, x.view(), phi.view());
  const double pi = 3.141592653589793238462643383279502884;
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t j = 0; j < 4; ++j) {
      double p = 0;
      for (std::size_t k = 0; k < 3; ++k) p += states[r][k] * rff.weights().at(k, j);
      CHECK(phi.at(r, j) == absolute(std::sqrt(2.0 / 8) * std::sin(2 * pi * p), 1e-14));      // sin block first
      CHECK(phi.at(r, 4 + j) == absolute(std::sqrt(2.0 / 8) * std::cos(2 * pi * p), 1e-14));  // then cos
    }
  // The same generator state draws the same W (one fill_normal of 3 x D / 2, row-major).
  philox again(5);
  tensor<double, cpu> w(shape{3, 4});
  fill_normal(ctx, again, w);
  CHECK(w.at(2, 3) == rff.weights().at(2, 3));
  // phi(x) . phi(y) -> exp(-2 pi^2 |x - y|^2) (bandwidth 1 / (2 pi) at wave length 1); the estimate's standard
  // deviation is below 1 / sqrt(D / 2) = 0.0063 at D = 50000.
  philox big_gen(9);
  tl::random_fourier_features<double, cpu> big(ctx, big_gen, 50000);
  tensor<double, cpu> pair(shape{2, 3}), features(shape{2, 50000});
  for (const double distance : {0.05, 0.1, 0.2, 0.3}) {
    pair.at(0, 0) = 0.4, pair.at(0, 1) = -0.3, pair.at(0, 2) = 1.1;
    pair.at(1, 0) = 0.4 + distance * 0.6, pair.at(1, 1) = -0.3 - distance * 0.8, pair.at(1, 2) = 1.1;
    big.apply(ctx, pair.view(), features.view());
    double dot = 0;
    for (std::size_t j = 0; j < 50000; ++j) dot += features.at(0, j) * features.at(1, j);
    CHECK(dot == absolute(std::exp(-2 * pi * pi * distance * distance), 0.03));
  }
  CHECK_THROWS_WITH_AS((tl::random_fourier_features<double, cpu>(ctx, gen, 7)), doctest::Contains("even"),
                       attractor::error);
  CHECK_THROWS_AS((tl::random_fourier_features<double, cpu>(ctx, gen, 8, 3, 0.0)), attractor::error);
  tensor<double, cpu> wrong(shape{2, 4});
  CHECK_THROWS_WITH_AS(rff.apply(ctx, wrong.view(), phi.view()),
                       doctest::Contains("transfer_learning::random_fourier_features::apply"), attractor::error);
}

TEST_CASE("transfer: backbone features are the network's stream by hand, tau-major, at any tau list") {
  context<cpu> ctx(1);
  philox gen(21);
  nn::denoising_resnet_options o;
  o.hidden = 8;
  o.blocks = 2;
  o.embedding = 8;
  o.gamma_init = 0.7;  // blocks that matter, unlike the paper's 1e-6
  nn::denoising_resnet<double, cpu> net(ctx, gen, o);
  tensor<double, cpu> x(shape{7, 3});
  fill_normal(ctx, gen, x);
  const std::vector<std::size_t> taus = {0, 50, 400, 1000};
  tl::backbone_features<double, cpu> all(ctx, net, taus, 3);  // chunks of 3: the last one short
  CHECK(all.outputs() == 4 * 8);
  const tensor<double, cpu> features = all.apply(ctx, x.view());
  for (std::size_t k = 0; k < taus.size(); ++k) {
    tl::backbone_features<double, cpu> one(ctx, net, {taus[k]}, 5);
    const tensor<double, cpu> single = one.apply(ctx, x.view());
    for (std::size_t s = 0; s < 7; ++s) {
      const std::vector<ld> h = stream_by_hand(net, x.view().row(s).data(), taus[k]);
      for (std::size_t j = 0; j < 8; ++j) {
        CHECK(single.at(s, j) == absolute(double(h[j]), 1e-12));
        CHECK(features.at(s, k * 8 + j) == absolute(single.at(s, j), 1e-13));  // feature k * hidden + j
      }
    }
  }
  // Bad input.
  CHECK_THROWS_WITH_AS((tl::backbone_features<double, cpu>(ctx, net, {})),
                       doctest::Contains("at least one pseudo-time"), attractor::error);
  CHECK_THROWS_WITH_AS((tl::backbone_features<double, cpu>(ctx, net, {0, 1001})),
                       doctest::Contains("transfer_learning::backbone_features"), attractor::error);
  tensor<double, cpu> out(shape{7, 31});
  CHECK_THROWS_WITH_AS(all.apply(ctx, x.view(), out.view()),
                       doctest::Contains("transfer_learning::backbone_features::apply"), attractor::error);
}

TEST_CASE("transfer: an untrained backbone of the paper's size gives features near its input projection") {
  // With gamma = 1e-6 every block adds almost nothing: the stream is inp(x) to about 1e-6 of its scale at every
  // tau, which is why Table 3's untrained row is a linear fit on x.
  context<cpu> ctx(1);
  philox gen(2);
  nn::denoising_resnet<float, cpu> fresh(ctx, gen);
  tl::backbone_features<float, cpu> features(ctx, fresh, tl::six_taus(), 4);
  CHECK(features.outputs() == 1536);
  tensor<float, cpu> x(shape{5, 3});
  fill_normal(ctx, gen, x);
  const tensor<float, cpu> phi = features.apply(ctx, x.view());
  const auto& w = fresh.parameters()[0]->value;  // inp.weight (256 x 3)
  const auto& b = fresh.parameters()[1]->value;  // inp.bias
  for (std::size_t s = 0; s < 5; ++s)
    for (std::size_t k = 0; k < 6; ++k)
      for (std::size_t j = 0; j < 256; j += 51) {
        double p = b.data()[j];
        for (std::size_t i = 0; i < 3; ++i) p += double(w.at(j, i)) * double(x.at(s, i));
        CHECK(phi.at(s, k * 256 + j) == absolute(p, 1e-4));
      }
}

TEST_CASE("transfer: every trainable parameter count of Table 3") {
  context<cpu> ctx;
  philox gen(3);
  tensor<float, cpu> x(shape{16, 3}), y(shape{16, 3});
  fill_normal(ctx, gen, x);
  fill_normal(ctx, gen, y);
  tl::random_fourier_features<float, cpu> rff256(ctx, gen, 256), rff1536(ctx, gen, 1536);
  nn::denoising_resnet<float, cpu> backbone(ctx, gen);
  tl::backbone_features<float, cpu> tau400(ctx, backbone, {400}), two_tau(ctx, backbone, {50, 400}),
      six_tau(ctx, backbone, tl::six_taus());
  auto ridge_on = [&](auto& features) { return tl::fit_ridge<float, cpu>(ctx, features, x.view(), y.view()); };
  auto head_on = [&](auto& features) { return tl::mlp_head<float, cpu>(ctx, gen, {features.outputs()}); };
  CHECK(tl::trainable_parameters(ridge_on(rff256)) == 771);
  CHECK(tl::trainable_parameters(ridge_on(rff1536)) == 4611);
  auto h1 = head_on(rff256), h2 = head_on(rff1536);
  CHECK(tl::trainable_parameters(h1) == 66563);
  CHECK(tl::trainable_parameters(h2) == 394243);
  auto dense1 = tl::dense_baseline<float, cpu>(ctx, gen, 1), dense2 = tl::dense_baseline<float, cpu>(ctx, gen, 2),
       dense3 = tl::dense_baseline<float, cpu>(ctx, gen, 3);
  CHECK(tl::trainable_parameters(dense1) == 1795);
  CHECK(tl::trainable_parameters(dense2) == 67587);
  CHECK(tl::trainable_parameters(dense3) == 133379);
  tl::resnet_baseline<float, cpu> resnet(ctx, gen);
  CHECK(tl::trainable_parameters(resnet) == 398851);
  CHECK(tl::trainable_parameters(ridge_on(tau400)) == 771);
  CHECK(tl::trainable_parameters(ridge_on(six_tau)) == 4611);
  auto h3 = head_on(tau400), h4 = head_on(two_tau), h5 = head_on(six_tau);
  CHECK(tl::trainable_parameters(h3) == 66563);
  CHECK(tl::trainable_parameters(h4) == 132099);
  CHECK(tl::trainable_parameters(h5) == 394243);
  CHECK(tl::trainable_parameters(six_tau) == 0);  // frozen
  CHECK(tl::trainable_parameters(rff256) == 0);
}

TEST_CASE("transfer: heads and baselines train through nn::fit") {
  context<cpu> ctx(1);
  philox gen(8);
  // Pairs of a smooth map on normalised states: y = 0.1 sin(x) + 0.05 x.
  tensor<double, cpu> x(shape{512, 3}), y(shape{512, 3});
  fill_normal(ctx, gen, x);
  for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = 0.1 * std::sin(x.data()[i]) + 0.05 * x.data()[i];
  auto train = [&](auto& objective, std::size_t steps) {
    auto o = tl::head_fit_options(32, steps);
    CHECK(o.lr == 5e-5);
    CHECK_FALSE(o.average);
    o.lr = 3e-3;  // a short run
    nn::fit<std::remove_reference_t<decltype(objective)>> run(ctx, objective, o);
    run.train();
    const auto& l = run.losses();
    double first = 0, last = 0;
    for (std::size_t i = 0; i < 20; ++i) first += l[i] / 20, last += l[l.size() - 1 - i] / 20;
    return std::pair{first, last};
  };
  tl::random_fourier_features<double, cpu> rff(ctx, gen, 64);
  tl::mlp_head<double, cpu> head(ctx, gen, {64});
  tl::regression_objective<double, cpu, tl::mlp_head<double, cpu>, tl::random_fourier_features<double, cpu>> on_rff(
      ctx, head, rff, x.view(), y.view(), 32, x.rows(0, 64), y.rows(0, 64));
  CHECK(on_rff.validation_samples() == 64);
  const auto [rff_first, rff_last] = train(on_rff, 300);
  CHECK(rff_last < 0.2 * rff_first);
  tl::resnet_baseline<double, cpu> resnet(ctx, gen, {3, 64, 3, 1e-6});  // narrower than the paper's: a short test
  tl::identity_map<double, cpu> identity;
  tl::regression_objective<double, cpu, tl::resnet_baseline<double, cpu>> on_x(ctx, resnet, identity, x.view(),
                                                                               y.view(), 32);
  const auto [res_first, res_last] = train(on_x, 300);
  CHECK(res_last < 0.2 * res_first);
  // The trained network as a row map, in chunks of 100 rows: the predictions of a graph of the whole batch.
  tl::network_map<double, cpu, tl::resnet_baseline<double, cpu>> model(ctx, resnet, 100);
  tensor<double, cpu> prediction(shape{150, 3});
  model.apply(ctx, x.rows(0, 150), prediction.view());
  autograd::graph<double, cpu> g(ctx, autograd::graph_mode::inference);
  const auto pass = resnet.build(g, 150);
  copy(ctx, x.rows(0, 150), g.value_of(pass.input));
  g.forward();
  for (std::size_t i = 0; i < prediction.size(); ++i)
    CHECK(prediction.data()[i] == absolute(g.value_of(pass.output).data()[i], 1e-14));
  // Bad input.
  tensor<double, cpu> bad_y(shape{512, 2});
  CHECK_THROWS_WITH_AS((tl::regression_objective<double, cpu, tl::resnet_baseline<double, cpu>>(
                           ctx, resnet, identity, x.view(), bad_y.view(), 32)),
                       doctest::Contains("transfer_learning::regression_objective"), attractor::error);
  y.at(5, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS((tl::regression_objective<double, cpu, tl::resnet_baseline<double, cpu>>(
                           ctx, resnet, identity, x.view(), y.view(), 32)),
                       doctest::Contains("the training targets"), attractor::error);
}

TEST_CASE("transfer: a roll-out of a linear increment is the matrix power") {
  context<cpu> ctx(1);
  linear_increment g{{0.9, 0.2, 0.0, -0.3, 0.95, 0.1, 0.05, 0.0, 1.02}};
  tensor<double, cpu> starts(shape{5, 3});
  philox gen(4);
  fill_normal(ctx, gen, starts);
  const tensor<double, cpu> out = tl::rollout<double, cpu>(ctx, g, starts.view(), 30);
  REQUIRE(out.shape() == shape{31, 5, 3});
  for (std::size_t s = 0; s < 5; ++s) {
    std::array<ld, 3> v{starts.at(s, 0), starts.at(s, 1), starts.at(s, 2)};
    for (std::size_t k = 0; k <= 30; ++k) {
      for (std::size_t i = 0; i < 3; ++i)
        CHECK(out.at(k, s, i) == absolute(double(v[i]), 1e-12 * (1 + std::abs(double(v[i])))));
      std::array<ld, 3> next{};
      for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 3; ++j) next[i] += ld(g.a[i * 3 + j]) * v[j];
      v = next;
    }
  }
  linear_increment h = g;
  CHECK_THROWS_WITH_AS((tl::rollout<double, cpu>(ctx, h, starts.view(), 0)),
                       doctest::Contains("transfer_learning::rollout"), attractor::error);
  h.outputs_ = 2;
  CHECK_THROWS_WITH_AS((tl::rollout<double, cpu>(ctx, h, starts.view(), 3)), doctest::Contains("from d to d"),
                       attractor::error);
}

TEST_CASE("transfer: scores are 0 for the truth and the exact drift of a biased surrogate") {
  context<cpu> ctx(1);
  // Trajectories of x_{t+1} = P x_t (a cyclic shift) on dyadic states: every sum below is exact.
  const std::size_t members = 2, steps = 41;
  tensor<double, cpu> traj(shape{members, steps, 3});
  const double first[2][3] = {{0.5, -1.25, 2.0}, {-0.75, 1.5, 0.25}};
  for (std::size_t m = 0; m < members; ++m)
    for (std::size_t t = 0; t < steps; ++t)
      for (std::size_t i = 0; i < 3; ++i) traj.at(m, t, i) = first[m][(i + t) % 3];
  tl::rollout_score_options o;
  o.iterations = 12;
  o.lead = 1;  // the surrogate x + (P x - x) = P x advances one trajectory step
  o.hellinger_first = 6;
  o.hellinger_last = 12;
  o.start_stride = 4;
  o.chunk = 5;                                  // chunks of roll-outs, the last one short
  CHECK(tl::starts_per_member(steps, o) == 8);  // t = 0, 4, ..., 28 with t + 12 <= 40
  shift_increment exact;
  const auto s = tl::score_rollouts<double, cpu>(ctx, exact, traj.view(), o);
  CHECK(s.rollouts == 16);
  REQUIRE(s.nrmse.size() == 13);
  for (const double e : s.nrmse) CHECK(e == 0.0);
  CHECK(s.hellinger == 0.0);
  CHECK(s.in_range == 16 * 7);
  CHECK(s.out_of_range == 0);
  // A bias delta on every variable: P 1 = 1, so the error at lead k is k delta on each variable, nRMSE k delta.
  shift_increment biased{0.25};
  const auto b = tl::score_rollouts<double, cpu>(ctx, biased, traj.view(), o);
  for (std::size_t k = 0; k <= 12; ++k) CHECK(b.nrmse[k] == 0.25 * double(k));
  CHECK(b.hellinger > 0.5);
  CHECK(b.out_of_range > 0);  // drifted past 3.5
  // lead_scores directly: the truth against itself.
  tl::lead_scores<double, cpu> truth_scores(4, 3, 2, 4);
  for (std::size_t k = 0; k <= 4; ++k) {
    const auto v = traj.view().row(0).rows(k, k + 10);
    truth_scores.add(ctx, k, v, v);
  }
  const auto t = truth_scores.result();
  for (const double e : t.nrmse) CHECK(e == 0.0);
  CHECK(t.hellinger == 0.0);
  // NaN predictions: a NaN nRMSE, not counted in the histogram; nothing inside it: H is NaN.
  tensor<double, cpu> nan_states(shape{4, 3});
  fill(ctx, nan_states, std::numeric_limits<double>::quiet_NaN());
  tl::lead_scores<double, cpu> diverged(2, 3, 1, 2);
  diverged.add(ctx, 1, nan_states.view(), traj.view().row(0).rows(0, 4));
  const auto d = diverged.result();
  CHECK(std::isnan(d.nrmse[1]));
  CHECK(std::isnan(d.hellinger));
  CHECK(d.out_of_range == 4);
  // Bad input.
  CHECK_THROWS_WITH_AS((tl::lead_scores<double, cpu>(0)), doctest::Contains("transfer_learning::lead_scores"),
                       attractor::error);
  CHECK_THROWS_AS((tl::lead_scores<double, cpu>(10, 3, 5, 11)), attractor::error);
  auto zero = o;
  zero.iterations = 0;
  CHECK_THROWS_WITH_AS((tl::score_rollouts<double, cpu>(ctx, exact, traj.view(), zero)),
                       doctest::Contains("transfer_learning::score_rollouts"), attractor::error);
  auto too_long = o;
  too_long.iterations = 41;  // t + 41 <= 40 for no start
  too_long.hellinger_last = 41;
  CHECK_THROWS_WITH_AS((tl::score_rollouts<double, cpu>(ctx, exact, traj.view(), too_long)),
                       doctest::Contains("steps per trajectory"), attractor::error);
}

TEST_CASE("transfer: increment pairs along each trajectory") {
  context<cpu> ctx(1);
  tensor<float, cpu> traj(shape{2, 30, 3});
  for (std::size_t i = 0; i < traj.size(); ++i) traj.data()[i] = float(i % 97) * 0.25f;
  const auto p = tl::increment_pairs<float, cpu>(ctx, traj.view(), 10, 3);
  REQUIRE(p.x.shape() == shape{14, 3});  // t = 0, 3, ..., 18 with t + 10 <= 29: 7 per member
  for (std::size_t q = 0; q < 14; ++q) {
    const std::size_t m = q / 7, t = (q % 7) * 3;
    for (std::size_t k = 0; k < 3; ++k) {
      CHECK(p.x.at(q, k) == traj.at(m, t, k));
      CHECK(p.y.at(q, k) == traj.at(m, t + 10, k) - traj.at(m, t, k));
    }
  }
  CHECK_THROWS_WITH_AS((tl::increment_pairs<float, cpu>(ctx, traj.view(), 30)),
                       doctest::Contains("transfer_learning::increment_pairs"), attractor::error);
}
