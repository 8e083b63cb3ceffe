// nn::unet, the periodic U-Net of the response paper (spec §8): its parameter count against a layer-by-layer count
// written here, CliMAgen's layer names, the gradients of the whole network against central differences, equivariance
// under translations by the coarsest grid's spacing (every conv pads circularly), the fixed Fourier frequencies (a
// parameter that is not trainable: no gradient, untouched by Adam, the EMA and clipping), the architecture's text round
// trip, and bad options refused by name.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attractor/autograd.hpp"
#include "attractor/diffusion/score_network.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/nn/unet.hpp"

using namespace attractor;
using autograd::graph;
using autograd::value;

static_assert(diffusion::score_network<nn::unet<float, cpu>>);
static_assert(diffusion::score_network<nn::unet<double, cpu>>);

namespace {

/// A small U-Net for exhaustive checks: 8 x 8 fields, three levels (8, 4, 2 pixels).
nn::unet_options small_unet() {
  nn::unet_options o;
  o.height = o.width = 8;
  o.channels = {4, 8, 8};
  o.residual_blocks = 1;
  o.embedding = 8;
  o.first_groups = 2;
  o.groups = 4;
  return o;
}

/// Fills the input with a smooth field plus noise and the times with values in (0, 1).
template <class Scalar>
void fill_pass(graph<Scalar, cpu>& g, const typename nn::unet<Scalar, cpu>::pass& p, std::uint64_t seed) {
  philox gen(seed);
  fill_normal(g.ctx(), gen, g.value_of(p.input), Scalar(0), Scalar(0.5));
  auto t = g.value_of(p.time);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<Scalar>(0.1 + 0.8 * static_cast<double>(i) / t.size());
}

}  // namespace

TEST_CASE("unet: the paper's configuration has the parameters of a layer-by-layer count, under CliMAgen's names") {
  context<cpu> ctx(1);
  philox gen(1);
  nn::unet<float, cpu> net(ctx, gen);
  const std::size_t E = 256, k2 = 9;
  const std::size_t c[4] = {32, 64, 128, 256};
  auto dense = [](std::size_t in, std::size_t out) { return in * out + out; };
  std::size_t expected = E / 2 + dense(E, E);             // Fourier frequencies, linear
  expected += 1 * c[0] * k2 + dense(E, c[0]) + 2 * c[0];  // conv1 (no bias), dense1, gnorm1
  for (std::size_t l = 1; l < 4; ++l) expected += c[l - 1] * c[l] * k2 + dense(E, c[l]) + (l < 3 ? 2 * c[l] : 0);
  const std::size_t block = 2 * (2 * c[3]) + 2 * (c[3] * c[3] * k2 + c[3]) + dense(E, c[3]);
  expected += 8 * block + 2 * c[3];                              // residual blocks, gnorm4
  expected += c[3] * c[2] * k2 + dense(E, c[2]) + 2 * c[2];      // tconv4, denseup4, tgnorm4
  expected += 2 * c[2] * c[1] * k2 + dense(E, c[1]) + 2 * c[1];  // tconv3 on [h, h3]
  expected += 2 * c[1] * c[0] * k2 + dense(E, c[0]) + 2 * c[0];  // tconv2 on [h, h2]
  expected += 2 * c[0] * 1 * k2 + 1;                             // tconv1 on [h, h1], with bias
  const auto params = net.parameters();
  CHECK(nn::parameter_count(params) == expected);
  MESSAGE("unet [32, 64, 128, 256], 8 residual blocks: ", expected, " parameters");
  std::vector<std::string> names;
  for (const auto* p : params) names.push_back(p->name);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  for (const char* n :
       {"gaussfourierproj.W", "linear.weight", "conv1.weight", "dense1.bias", "gnorm1.weight", "conv4.weight",
        "dense4.weight", "resnet_blocks.0.GroupNorm_0.weight", "resnet_blocks.7.Conv_1.bias",
        "resnet_blocks.3.Dense_0.weight", "gnorm4.bias", "tconv4.weight", "denseup4.bias", "tgnorm4.weight",
        "tconv2.weight", "tgnorm2.bias", "tconv1.weight", "tconv1.bias"})
    CHECK_MESSAGE(has(n), n);
  CHECK_FALSE(has("conv1.bias"));  // the convs before a dense injection have none
  CHECK(net.sample_shape() == shape{1, 32, 32});
}

TEST_CASE("unet: the whole network's gradients match central differences") {
  context<cpu> ctx(1);
  philox gen(3);
  nn::unet<double, cpu> net(ctx, gen, small_unet());
  const std::size_t batch = 2;
  graph<double, cpu> g(ctx);
  const auto p = net.build(g, batch);
  const value target = g.input(g.shape_of(p.output));
  const value loss = autograd::mse(g, p.output, target);
  fill_pass(g, p, 11);
  philox tgen(12);
  fill_normal(ctx, tgen, g.value_of(target), 0.0, 1.0);
  std::vector<value> wrt;
  for (std::size_t id = 0; id < g.size(); ++id) {
    const value v{id};
    if (g.needs_grad(v) && g.name_of(v) != "result" && g.name_of(v) != "input") wrt.push_back(v);
  }
  CHECK(wrt.size() + 1 == net.parameters().size());  // all but the fixed frequencies
  const auto check = autograd::check_gradients(g, loss, wrt, 1e-5);
  MESSAGE("unet gradient check: max relative error ", check.max_rel_error());
  CHECK(check.max_rel_error() < 1e-5);
}

TEST_CASE("unet: translating the input by the coarsest spacing translates the output (periodic convolutions)") {
  context<cpu> ctx(1);
  philox gen(5);
  const auto o = small_unet();
  nn::unet<double, cpu> net(ctx, gen, o);
  graph<double, cpu> g(ctx, autograd::graph_mode::inference);
  const std::size_t batch = 2, n = o.height, pixels = n * n;
  const auto p = net.build(g, batch);
  fill_pass(g, p, 21);
  g.forward();
  const std::vector<double> in(g.value_of(p.input).begin(), g.value_of(p.input).end());
  const std::vector<double> out(g.value_of(p.output).begin(), g.value_of(p.output).end());
  // Shift by 4 pixels in x and 4 in y (the stride-2 convs see the same phases), then compare.
  const std::size_t sx = 4, sy = 4;
  auto x = g.value_of(p.input);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t iy = 0; iy < n; ++iy)
      for (std::size_t ix = 0; ix < n; ++ix)
        x[b * pixels + ((iy + sy) % n) * n + (ix + sx) % n] = in[b * pixels + iy * n + ix];
  g.forward();
  const auto y = g.value_of(p.output);
  double worst = 0, size = 0;
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t iy = 0; iy < n; ++iy)
      for (std::size_t ix = 0; ix < n; ++ix) {
        const double shifted = y[b * pixels + ((iy + sy) % n) * n + (ix + sx) % n],
                     original = out[b * pixels + iy * n + ix];
        worst = std::max(worst, std::abs(shifted - original));
        size = std::max(size, std::abs(original));
      }
  CHECK(size > 1e-3);
  CHECK(worst < 1e-12 * std::max(1.0, size));
}

TEST_CASE("unet: the Fourier frequencies are fixed: no gradient, and Adam, the EMA and clipping leave them alone") {
  context<cpu> ctx(1);
  philox gen(7);
  nn::unet<float, cpu> net(ctx, gen, small_unet());
  auto params = net.parameters();
  REQUIRE(params.front()->name == "gaussfourierproj.W");
  CHECK_FALSE(params.front()->trainable);
  // W ~ 30 N(0, 1): 4 frequencies, so only a loose check of the scale.
  double ss = 0;
  for (float w : params.front()->value) ss += static_cast<double>(w) * w;
  CHECK(std::sqrt(ss / 4) > 3);
  const std::vector<float> w0(params.front()->value.begin(), params.front()->value.end());
  const std::vector<float> c0(params[3]->value.begin(), params[3]->value.end());
  graph<float, cpu> g(ctx);
  const auto p = net.build(g, 2);
  const value loss = autograd::mean(g, autograd::mul(g, p.output, p.output));
  fill_pass(g, p, 31);
  // Poison the frequencies' gradient: a graph that wrote it, or an optimiser that read it, would show.
  fill(ctx, params.front()->grad, std::nanf(""));
  nn::adam<float, cpu> adam(ctx, params, 1e-2);
  nn::ema<float, cpu> average(ctx, params, 0.9, nn::ema_init::zeros);
  for (int step = 0; step < 3; ++step) {
    g.forward();
    g.backward(loss);
    CHECK(std::isfinite(nn::clip_gradient_norm(ctx, params, 1e-3)));
    adam.step(ctx);
    average.update(ctx);
  }
  CHECK(std::equal(w0.begin(), w0.end(), params.front()->value.begin()));
  CHECK_FALSE(std::equal(c0.begin(), c0.end(), params[3]->value.begin()));  // a trainable one moved
  average.copy_to(ctx);
  CHECK(std::equal(w0.begin(), w0.end(), params.front()->value.begin()));  // its average is itself, even from zeros
}

TEST_CASE("unet: the architecture's text round-trips, and bad options and text are refused by name") {
  nn::unet_options o = small_unet();
  o.fourier_scale = 12.5;
  const auto back = nn::parse_unet_architecture(nn::unet_architecture(o));
  CHECK(nn::unet_architecture(back) == nn::unet_architecture(o));
  CHECK(back.channels == o.channels);
  CHECK(back.fourier_scale == 12.5);
  CHECK_THROWS_WITH_AS(nn::parse_unet_architecture("unet in=1 height=8"), doctest::Contains("unet in=N"),
                       attractor::error);
  CHECK_THROWS_AS(nn::parse_unet_architecture(nn::unet_architecture(o) + " extra=1"), attractor::error);
  context<cpu> ctx(1);
  philox gen(9);
  auto refused = [&](nn::unet_options bad, const char* message) {
    using unet_type = nn::unet<float, cpu>;
    CHECK_THROWS_WITH_AS(unet_type(ctx, gen, bad), doctest::Contains(message), attractor::error);
  };
  nn::unet_options bad = small_unet();
  bad.height = 6;  // not divisible by 4
  refused(bad, "divisible by 4");
  bad = small_unet();
  bad.channels = {4};
  refused(bad, "two levels");
  bad = small_unet();
  bad.first_groups = 3;
  refused(bad, "first_groups");
  bad = small_unet();
  bad.embedding = 7;
  refused(bad, "even embedding");
  bad = small_unet();
  bad.kernel = 2;
  refused(bad, "odd kernel");
  bad = small_unet();
  bad.fourier_scale = NAN;
  refused(bad, "fourier_scale");
  nn::unet<float, cpu> net(ctx, gen, small_unet());
  graph<float, cpu> g(ctx);
  CHECK_THROWS_WITH_AS(net.build(g, 0), doctest::Contains("at least one sample"), attractor::error);
}
