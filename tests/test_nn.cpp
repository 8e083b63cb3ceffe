// The network modules: the paper's denoising ResNet (parameter count, names, embedding, the two time-conditioning
// paths against each other, finite-difference gradients of the whole network), and proof that the substrate learns.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "attractor/autograd.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/nn/optim.hpp"
#include "reference.hpp"
#include "tolerance.hpp"

using namespace attractor;
using attractor_test::absolute;
using attractor_test::relative;
using autograd::graph;
using autograd::value;
using nn::conditioning;

TEST_CASE("denoising_resnet has the paper's 1,185,283 parameters under the reference module's names") {
  context<cpu> ctx;
  philox gen(1);
  nn::denoising_resnet<float, cpu> net(ctx, gen);
  const auto params = net.parameters();
  // input 1,024; each block 394,496 = FiLM 262,656 + branch 131,584 + gamma 256; output 771 (spec §2).
  CHECK(nn::parameter_count(params) == 1185283);
  std::vector<std::string> names;
  for (auto* p : params) names.push_back(p->name);
  const std::vector<std::string> expected_first = {
      "inp.weight",          "inp.bias",          "blocks.0.film.weight", "blocks.0.film.bias",
      "blocks.0.fc1.weight", "blocks.0.fc1.bias", "blocks.0.fc2.weight",  "blocks.0.fc2.bias",
      "blocks.0.gamma"};
  REQUIRE(names.size() == 2 + 3 * 7 + 2);
  for (std::size_t i = 0; i < expected_first.size(); ++i) CHECK(names[i] == expected_first[i]);
  CHECK(names.back() == "out.bias");
  CHECK(params[2]->shape() == shape{512, 512});
  CHECK(params[8]->value[0] == 1e-6f);  // the layer scale's init, float(1e-6) exactly
  // PyTorch's default init: |w| <= 1/sqrt(fan_in).
  for (float w : params[0]->value) CHECK(std::abs(w) <= 1.0f / std::sqrt(3.0f));
}

TEST_CASE("the sinusoidal table follows the spec: raw integer tau, sin block first, f_k from 1 to 1e-4") {
  context<cpu> ctx;
  const auto table = nn::sinusoidal_table<double, cpu>(ctx, 1000, 512);
  CHECK(table.shape() == shape{1001, 512});
  for (std::size_t tau : {0u, 1u, 37u, 1000u}) {
    // Double values in [-1, 1], some near zero: absolute; sin(tau 1e-4) is at most 0.1 (0 at tau = 0): relative,
    // so that it pins f_255 (computed as exp(-255 ln(1e4) / 255), a few ulps from 1e-4).
    CHECK(table.at(tau, 0) == absolute(std::sin(double(tau)), 1e-14));  // f_0 = 1
    CHECK(table.at(tau, 256) == absolute(std::cos(double(tau)), 1e-14));
    CHECK(table.at(tau, 255) == relative(std::sin(double(tau) * 1e-4), 1e-12));  // f_255 = 1e-4
    CHECK(table.at(tau, 511) == absolute(std::cos(double(tau) * 1e-4), 1e-14));
  }
}

namespace {

struct small_case {
  nn::denoising_resnet_options options{3, 6, 2, 8, 20, 0.3};  // gamma 0.3 so the blocks matter
};

template <class Scalar>
void fill_batch(graph<Scalar, cpu>& g, nn::denoising_resnet<Scalar, cpu>& net,
                const typename nn::denoising_resnet<Scalar, cpu>::pass& p, value target, std::size_t batch) {
  const auto z = attractor_test::random_vector<Scalar>(batch * 3, 5);
  std::copy(z.begin(), z.end(), g.value_of(p.input).begin());
  const auto t = attractor_test::random_vector<Scalar>(batch * 3, 6);
  std::copy(t.begin(), t.end(), g.value_of(target).begin());
  std::vector<std::int32_t> tau(batch);
  for (std::size_t i = 0; i < batch; ++i) tau[i] = static_cast<std::int32_t>((i * 7) % 5 * 3 + 1);  // repeats
  net.set_time(g, p, tau.data());
}

/// One network built into a per-sample (naive) and a per-tau (fast) graph with an MSE loss each, fed the same batch
/// by fill_batch, so that the two conditioning paths can be compared pass by pass.
template <class Scalar>
struct conditioning_paths {
  using network = nn::denoising_resnet<Scalar, cpu>;
  conditioning_paths(context<cpu>& ctx, network& net, std::size_t batch)
      : net(&net),
        naive(ctx),
        fast(ctx),
        pn(net.build(naive, batch, conditioning::per_sample)),
        pf(net.build(fast, batch, conditioning::per_tau)),
        tn(naive.input({batch, 3})),
        tf(fast.input({batch, 3})),
        ln(autograd::mse(naive, pn.output, tn)),
        lf(autograd::mse(fast, pf.output, tf)) {
    fill_batch(naive, net, pn, tn, batch);
    fill_batch(fast, net, pf, tf, batch);
  }

  void set_time(const std::vector<std::int32_t>& tau) {
    net->set_time(naive, pn, tau.data());
    net->set_time(fast, pf, tau.data());
  }

  /// A forward and backward pass of each; the fast path's outputs must match the naive path's to absolute `tol`
  /// (outputs of order 1, some near zero, summed in another order), and its parameter gradients to relative `tol`
  /// with an absolute floor of 1e-3 tol for gradients near zero (Approx with scale 1e-3).
  void require_agreement(double tol) {
    naive.forward();
    naive.backward(ln);
    std::vector<std::vector<Scalar>> naive_grads;
    for (auto* p : net->parameters()) naive_grads.emplace_back(p->grad.begin(), p->grad.end());
    fast.forward();
    fast.backward(lf);
    for (std::size_t i = 0; i < naive.value_of(pn.output).size(); ++i)
      REQUIRE(fast.value_of(pf.output)[i] == absolute(naive.value_of(pn.output)[i], tol));
    const auto params = net->parameters();
    for (std::size_t k = 0; k < params.size(); ++k)
      for (std::size_t i = 0; i < params[k]->size(); ++i) {
        INFO(params[k]->name, "[", i, "]");
        REQUIRE(params[k]->grad[i] == doctest::Approx(naive_grads[k][i]).epsilon(tol).scale(1e-3));
      }
  }

  network* net;
  graph<Scalar, cpu> naive, fast;
  typename network::pass pn, pf;
  value tn, tf, ln, lf;
};

}  // namespace

TEST_CASE_TEMPLATE("per-tau conditioning matches the per-sample computation to rounding", Scalar, float, double) {
  context<cpu> ctx;
  philox gen(3);
  nn::denoising_resnet<Scalar, cpu> net(ctx, gen, small_case{}.options);
  conditioning_paths<Scalar> paths(ctx, net, 33);
  paths.require_agreement(std::is_same_v<Scalar, float> ? 2e-6 : 1e-13);
}

TEST_CASE("the whole network's gradients match central differences, in both conditioning modes") {
  for (auto mode : {conditioning::per_sample, conditioning::per_tau}) {
    context<cpu> ctx;
    philox gen(4);
    small_case c;
    nn::denoising_resnet<double, cpu> net(ctx, gen, c.options);
    const std::size_t batch = 9;
    graph<double, cpu> g(ctx);
    const auto p = net.build(g, batch, mode);
    const value target = g.input({batch, 3});
    const value loss = autograd::mse(g, p.output, target);
    fill_batch(g, net, p, target, batch);
    std::vector<value> wrt;
    // Every parameter: the graph made one leaf per parameter, in parameters() order, plus the input.
    for (std::size_t id = 0; id < g.size(); ++id) {
      const value v{id};
      if (g.needs_grad(v) && g.name_of(v) != "result" && g.name_of(v) != "input") wrt.push_back(v);
    }
    CHECK(wrt.size() == net.parameters().size());
    const auto check = autograd::check_gradients(g, loss, wrt, 1e-5);
    MESSAGE("denoising_resnet gradient check (", std::string(mode == conditioning::per_tau ? "per_tau" : "per_sample"),
            "): max relative error ", check.max_rel_error());
    CHECK(check.max_rel_error() < 1e-5);
  }
}

TEST_CASE("per-tau conditioning stays right through set_time's one-pseudo-time fast path") {
  // The batches a sampler and a trainer send, in an order that enters, leaves and re-enters the fast path (a batch
  // of one pseudo-time after another): each forward and backward pass must match the per-sample path.
  context<cpu> ctx;
  philox gen(6);
  nn::denoising_resnet<double, cpu> net(ctx, gen, small_case{}.options);
  const std::size_t batch = 17;
  conditioning_paths<double> paths(ctx, net, batch);
  std::vector<std::int32_t> mixed(batch);
  for (std::size_t i = 0; i < batch; ++i) mixed[i] = static_cast<std::int32_t>((i * 5) % 7 + 2);
  const std::vector<std::vector<std::int32_t>> sequence = {
      std::vector<std::int32_t>(batch, 5), std::vector<std::int32_t>(batch, 20), mixed,
      std::vector<std::int32_t>(batch, 0), std::vector<std::int32_t>(batch, 11), std::vector<std::int32_t>(batch, 11)};
  for (std::size_t k = 0; k < sequence.size(); ++k) {
    CAPTURE(k);
    paths.set_time(sequence[k]);
    paths.require_agreement(1e-13);
  }
}

TEST_CASE("an inference pass of denoising_resnet gives the training pass's output without its gradients") {
  context<cpu> ctx;
  philox gen(8);
  nn::denoising_resnet<float, cpu> net(ctx, gen, small_case{}.options);
  const std::size_t batch = 256;
  for (const conditioning mode : {conditioning::per_tau, conditioning::per_sample}) {
    CAPTURE(static_cast<int>(mode));
    graph<float, cpu> training(ctx);
    std::size_t before = allocation_counter<cpu>::bytes;
    const auto pt = net.build(training, batch, mode);
    const std::size_t training_bytes = allocation_counter<cpu>::bytes - before;
    graph<float, cpu> inference(ctx, autograd::graph_mode::inference);
    before = allocation_counter<cpu>::bytes;
    const auto pi = net.build(inference, batch, mode);
    const std::size_t inference_bytes = allocation_counter<cpu>::bytes - before;
    const value target_t = training.input({batch, 3}), target_i = inference.input({batch, 3});
    fill_batch(training, net, pt, target_t, batch);
    fill_batch(inference, net, pi, target_i, batch);
    training.forward();
    inference.forward();
    for (std::size_t k = 0; k < batch * 3; ++k)
      REQUIRE(inference.value_of(pi.output)[k] == training.value_of(pt.output)[k]);
    CHECK(inference.grad_of(pi.features).size() == 0);
    CHECK(inference.grad_of(pi.output).size() == 0);
    MESSAGE("denoising_resnet build, batch ", batch, ": ", inference_bytes, " bytes for inference, ", training_bytes,
            " for training");
    // What an inference pass must hold, value by value: the input, the embedding table and the embeddings, the
    // input layer; per block the layer norm (and its three row statistics), the FiLM values of the mode, fc1,
    // ReLU, fc2, the layer scale's product and the residual sum; the output layer; and the int32 index inputs.
    const nn::denoising_resnet_options o = small_case{}.options;
    const std::size_t table = o.max_time + 1, rows = std::min(batch, table), bh = batch * o.hidden;
    const bool per_tau = mode == conditioning::per_tau;
    const std::size_t film = per_tau ? rows * 2 * o.hidden + bh        // FiLM of the distinct times, the modulation
                                     : batch * 2 * o.hidden + 3 * bh;  // FiLM per sample, its split, the modulation
    const std::size_t floats = batch * o.inputs + table * o.embedding + (per_tau ? rows : batch) * o.embedding + bh +
                               o.blocks * (bh + 3 * batch + film + 5 * bh) + batch * o.inputs;
    const std::size_t indices = per_tau ? batch + rows + batch + (rows + 1) : batch;
    CHECK(inference_bytes == floats * sizeof(float) + indices * sizeof(std::int32_t));
    CHECK(inference_bytes < training_bytes);
  }
}

TEST_CASE("set_time rejects pseudo-times outside [0, max_time]") {
  context<cpu> ctx;
  philox gen(5);
  nn::denoising_resnet<float, cpu> net(ctx, gen, small_case{}.options);
  graph<float, cpu> g(ctx);
  const auto p = net.build(g, 2);
  const std::int32_t bad[2] = {3, 21};
  CHECK_THROWS_WITH_AS(net.set_time(g, p, bad), doctest::Contains("pseudo-times in [0, 20], got 21 at sample 1"),
                       attractor::error);
}

TEST_CASE("a small MLP learns a regression problem on cpu with Adam") {
  // y = sin(3 x) on [-1, 1], 64 points; 1 -> 32 -> 32 -> 1 with tanh. The loss starts near 0.5.
  context<cpu> ctx;
  philox gen(6);
  nn::linear<float, cpu> l1(ctx, gen, "l1", 1, 32), l2(ctx, gen, "l2", 32, 32), l3(ctx, gen, "l3", 32, 1);
  nn::parameter_list<float, cpu> params;
  l1.append_parameters(params);
  l2.append_parameters(params);
  l3.append_parameters(params);
  graph<float, cpu> g(ctx);
  const value x = g.input({64, 1}), y = g.input({64, 1});
  const value loss = autograd::mse(g, l3(g, autograd::tanh(g, l2(g, autograd::tanh(g, l1(g, x))))), y);
  for (std::size_t i = 0; i < 64; ++i) {
    const float xi = -1.0f + 2.0f * float(i) / 63.0f;
    g.value_of(x)[i] = xi;
    g.value_of(y)[i] = std::sin(3.0f * xi);
  }
  nn::adam<float, cpu> opt(ctx, params, 1e-2);
  g.forward();
  const float initial = g.value_of(loss)[0];
  for (int step = 0; step < 600; ++step) {
    g.forward();
    g.backward(loss);
    opt.step(ctx);
  }
  g.forward();
  const float final_loss = g.value_of(loss)[0];
  MESSAGE("MLP regression: loss ", initial, " -> ", final_loss, " after 600 Adam steps");
  CHECK(initial > 0.1f);
  CHECK(final_loss < 1e-3f);
}

TEST_CASE("a steady-state training step of denoising_resnet allocates nothing") {
  context<cpu> ctx;
  philox gen(7);
  nn::denoising_resnet<float, cpu> net(ctx, gen, small_case{}.options);
  graph<float, cpu> g(ctx);
  const std::size_t batch = 64;
  const auto p = net.build(g, batch);
  const value target = g.input({batch, 3});
  const value loss = autograd::mse(g, p.output, target);
  nn::adam<float, cpu> opt(ctx, net.parameters(), 3e-4);
  fill_batch(g, net, p, target, batch);
  auto step = [&] {
    g.forward();
    g.backward(loss);
    opt.step(ctx);
  };
  step();
  const auto before = allocation_counter<cpu>::count;
  for (int i = 0; i < 3; ++i) step();
  CHECK(allocation_counter<cpu>::count == before);
}
