// The table of autograd operations, in the manner of ggml's test-backend-ops: each row names an operation and its
// shapes, and builds it on a graph from generated inputs. Every row is checked in double by central differences
// (check_gradients, tests/ops/test_ops.cpp) and, where a GPU is, run on cuda and compared with cpu on the same
// inputs (tests/cuda/ops_harness.cu, tests/test_cuda_ops.cpp). Adding an operation is adding a row to rows().
//
// Plain C++: compiled by g++ for the cpu suite and by nvcc for the cuda harness, so no doctest and no xtensor here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../reference.hpp"
#include "attractor/autograd/check_gradients.hpp"
#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/segment_sum.hpp"

namespace attractor_test::ops {

using attractor::shape;
using attractor::autograd::value;

template <class Backend>
using op_graph = attractor::autograd::graph<double, Backend>;

/// One operation under test: its inputs (each with a gradient, filled with uniform values in [-1, 1)), and a builder
/// that adds it to a graph and returns its results. The loss is sum(result_k * w_k) over the results, with fixed
/// random weights w_k in [0.5, 1.5), so every element of every result gets its own weight.
template <class Backend>
struct op_row {
  std::string name;
  std::vector<shape> inputs;
  std::function<std::vector<value>(op_graph<Backend>&, const std::vector<value>&)> build;
  double step = 1e-6;  ///< the central-difference step
};

/// Writes host indices into an index input of g (on any backend).
template <class Backend>
attractor::autograd::index_value index_input(op_graph<Backend>& g, const std::vector<std::int32_t>& host) {
  const auto idx = g.index_input(host.size());
  g.set_indices(idx, host.data());  // checked on the host, then uploaded
  return idx;
}

/// A row whose operation has one result.
template <class Backend, class F>
op_row<Backend> row(std::string name, std::vector<shape> inputs, F op) {
  return {std::move(name), std::move(inputs),
          [op](op_graph<Backend>& g, const std::vector<value>& x) { return std::vector<value>{op(g, x)}; }};
}

/// Every operation, with each of its kinds (with and without bias, every broadcast).
template <class Backend>
std::vector<op_row<Backend>> rows() {
  namespace ag = attractor::autograd;
  using graph = op_graph<Backend>;
  using inputs = const std::vector<value>&;
  std::vector<op_row<Backend>> t;
  t.push_back(row<Backend>("linear", {{5, 4}, {3, 4}, {3}},
                           [](graph& g, inputs x) { return ag::linear(g, x[0], x[1], x[2]); }));
  t.push_back(row<Backend>("linear without bias", {{5, 4}, {3, 4}},
                           [](graph& g, inputs x) { return ag::linear(g, x[0], x[1]); }));
  // add and mul: b of a's shape, and a per-channel vector over every (outer, channel, inner) split.
  const std::vector<std::pair<std::string, std::vector<shape>>> broadcasts = {
      {"", {{4, 3}, {4, 3}}},
      {" per feature", {{4, 3}, {3}}},
      {" per row", {{4, 3}, {4, 1}}},
      {" per channel (NCHW, b (C, 1, 1))", {{2, 3, 2, 2}, {3, 1, 1}}},
      {" per channel (rank 3, b (C, 1))", {{2, 3, 4}, {3, 1}}},
      {" per batch (NCHW, b (N, 1, 1, 1))", {{2, 3, 2, 2}, {2, 1, 1, 1}}},
      {" per feature (NCHW, b (W))", {{2, 3, 2, 2}, {2}}},
      {" per leading prefix (NCHW, b (N, C, 1, 1))", {{2, 3, 2, 2}, {2, 3, 1, 1}}},
      {" per leading prefix (NCHW, b (N, C, H, 1))", {{2, 3, 2, 3}, {2, 3, 2, 1}}},
  };
  for (const auto& [kind, shapes] : broadcasts) {
    t.push_back(row<Backend>("add" + kind, shapes, [](graph& g, inputs x) { return ag::add(g, x[0], x[1]); }));
    t.push_back(row<Backend>("mul" + kind, shapes, [](graph& g, inputs x) { return ag::mul(g, x[0], x[1]); }));
  }
  t.push_back(row<Backend>("modulate", {{4, 3}, {4, 3}, {4, 3}},
                           [](graph& g, inputs x) { return ag::modulate(g, x[0], x[1], x[2]); }));
  t.push_back(row<Backend>("relu", {{6, 5}}, [](graph& g, inputs x) { return ag::relu(g, x[0]); }));
  t.push_back(row<Backend>("silu", {{6, 5}}, [](graph& g, inputs x) { return ag::silu(g, x[0]); }));
  t.push_back(row<Backend>("tanh", {{6, 5}}, [](graph& g, inputs x) { return ag::tanh(g, x[0]); }));
  t.push_back(row<Backend>("swish", {{6, 5}}, [](graph& g, inputs x) { return ag::swish(g, x[0]); }));
  t.push_back(row<Backend>("layer_norm", {{4, 7}}, [](graph& g, inputs x) { return ag::layer_norm(g, x[0]); }));
  t.push_back(row<Backend>("concat", {{3, 2}, {3, 4}}, [](graph& g, inputs x) { return ag::concat(g, x[0], x[1]); }));
  t.push_back(row<Backend>("split", {{3, 5}}, [](graph& g, inputs x) {
    auto [a, b] = ag::split(g, x[0], 2);
    return ag::concat(g, ag::tanh(g, a), b);  // both halves reach the loss differently
  }));
  t.push_back(row<Backend>("reshape", {{3, 4}}, [](graph& g, inputs x) { return ag::reshape(g, x[0], {2, 3, 2}); }));
  // The view and its operand both used: their contributions meet in one gradient.
  t.push_back({"reshape beside its operand", {{3, 4}}, [](graph& g, inputs x) {
                 const value v = ag::reshape(g, x[0], {4, 3});
                 return std::vector<value>{ag::mul(g, v, v), ag::tanh(g, x[0])};
               }});
  t.push_back(row<Backend>("gather_rows", {{4, 3}}, [](graph& g, inputs x) {
    // repeats: the backward pass must sum them
    return ag::gather_rows(g, x[0], index_input(g, {2, 0, 2, 3, 2, 0}));
  }));
  t.push_back(row<Backend>("sum", {{3, 4}}, [](graph& g, inputs x) { return ag::sum(g, ag::tanh(g, x[0])); }));
  t.push_back(row<Backend>("mean", {{3, 4}}, [](graph& g, inputs x) { return ag::mean(g, ag::tanh(g, x[0])); }));
  t.push_back(row<Backend>("mse", {{5, 3}, {5, 3}}, [](graph& g, inputs x) { return ag::mse(g, x[0], x[1]); }));
  // x (batch 6 x hidden 3), emb (4 rows x 5), W (6 x 5), b (6): three of the four rows in use, one twice.
  t.push_back(
      row<Backend>("film_modulate_by_slot (per-tau FiLM)", {{6, 3}, {4, 5}, {6, 5}, {6}}, [](graph& g, inputs x) {
        const std::vector<std::int32_t> slot = {2, 0, 2, 1, 0, 2};
        const std::size_t distinct = 3, rows = 4;
        std::vector<std::uint32_t> order(slot.size());
        std::vector<std::int32_t> offsets(rows + 1, 0);
        attractor::make_segment_plan(slot.data(), slot.size(), distinct, order.data(), offsets.data());
        auto plan = std::make_shared<ag::slot_plan>();
        plan->distinct = distinct;
        plan->slot = index_input(g, slot);
        plan->order = index_input(g, std::vector<std::int32_t>(order.begin(), order.end()));
        plan->offsets = index_input(g, offsets);
        return ag::film_modulate_by_slot(g, x[0], x[1], x[2], x[3], plan);
      }));
  // conv2d: circular padding wraps every tap of a 4 x 4 or 4 x 6 image around; k = 5 reaches two pixels each way.
  struct conv_case {
    std::string name;
    shape x, weight;
    bool bias;
    std::size_t stride;
  };
  const std::vector<conv_case> convs = {
      {"k3 stride 1", {2, 3, 4, 4}, {2, 3, 3, 3}, true, 1},
      {"k3 stride 1 without bias", {2, 3, 4, 4}, {2, 3, 3, 3}, false, 1},
      {"k3 stride 1 on 4 x 6", {2, 3, 4, 6}, {4, 3, 3, 3}, true, 1},
      {"k3 stride 2", {2, 3, 4, 4}, {2, 3, 3, 3}, true, 2},
      {"k3 stride 2 without bias on 4 x 6", {2, 2, 4, 6}, {3, 2, 3, 3}, false, 2},
      {"k1", {2, 3, 4, 6}, {5, 3, 1, 1}, true, 1},
      {"k1 stride 2", {2, 3, 4, 6}, {2, 3, 1, 1}, true, 2},
      {"k5 on 6 x 6", {1, 2, 6, 6}, {2, 2, 5, 5}, true, 1},
      {"k5 stride 2 on 2 x 4 (taps wrap more than once)", {1, 2, 2, 4}, {2, 2, 5, 5}, true, 2},
      {"k3 on 16 x 16 (N Ho Wo = 512: the padded row stride)", {2, 1, 16, 16}, {2, 1, 3, 3}, true, 1},
  };
  for (const auto& c : convs) {
    std::vector<shape> in = {c.x, c.weight};
    if (c.bias) in.push_back(shape{c.weight[0]});
    const bool bias = c.bias;
    const std::size_t stride = c.stride;
    t.push_back(row<Backend>("conv2d " + c.name, in, [bias, stride](graph& g, inputs x) {
      return ag::conv2d(g, x[0], x[1], bias ? x[2] : value{}, stride);
    }));
  }
  // group_norm: a group of few elements has gradients that nearly cancel, whose central differences at step 1e-6
  // carry the loss's rounding (4e-9 absolute, 1e-6 relative with groups = C); at 1e-5 that error is ten times smaller
  // and truncation still far below it.
  t.push_back(row<Backend>("group_norm, 1 group", {{2, 4, 3, 3}, {4}, {4}},
                           [](graph& g, inputs x) { return ag::group_norm(g, x[0], 1, x[1], x[2]); }));
  t.push_back(row<Backend>("group_norm, 2 groups", {{2, 4, 3, 3}, {4}, {4}},
                           [](graph& g, inputs x) { return ag::group_norm(g, x[0], 2, x[1], x[2]); }));
  t.push_back(row<Backend>("group_norm, groups = C", {{2, 4, 2, 3}, {4}, {4}},
                           [](graph& g, inputs x) { return ag::group_norm(g, x[0], 4, x[1], x[2]); }));
  t.push_back(row<Backend>("group_norm, rank 3", {{3, 6, 5}, {6}, {6}},
                           [](graph& g, inputs x) { return ag::group_norm(g, x[0], 3, x[1], x[2]); }));
  for (std::size_t i = t.size() - 4; i < t.size(); ++i) t[i].step = 1e-5;
  t.push_back(row<Backend>("upsample_nearest", {{2, 3, 2, 3}},
                           [](graph& g, inputs x) { return ag::upsample_nearest(g, x[0]); }));
  t.push_back(row<Backend>("upsample_nearest by 3", {{1, 2, 2, 2}},
                           [](graph& g, inputs x) { return ag::upsample_nearest(g, x[0], 3); }));
  t.push_back(row<Backend>("concat_channels", {{2, 3, 2, 3}, {2, 1, 2, 3}},
                           [](graph& g, inputs x) { return ag::concat_channels(g, x[0], x[1]); }));
  t.push_back(row<Backend>("gaussian_fourier_features", {{5}, {3}},
                           [](graph& g, inputs x) { return ag::gaussian_fourier_features(g, x[0], x[1]); }));
  return t;
}

/// A row built on a graph: its inputs, results and loss.
struct built_row {
  std::vector<value> inputs, results;
  value loss;
};

/// Builds the row on g with inputs of seeds 100, 101, ... and weights of seeds 7, 8, ..., and runs forward().
template <class Backend>
built_row build(op_graph<Backend>& g, const op_row<Backend>& r) {
  built_row b;
  auto set = [&](value v, std::uint64_t seed, double low, double high) {
    const auto host = random_vector<double>(g.value_of(v).size(), seed, low, high);
    attractor::transfer<attractor::cpu, Backend>::run(g.ctx(), host.data(), g.value_of(v).data(), host.size());
  };
  for (std::size_t i = 0; i < r.inputs.size(); ++i) {
    b.inputs.push_back(g.input(r.inputs[i], true));
    set(b.inputs.back(), 100 + i, -1.0, 1.0);
  }
  b.results = r.build(g, b.inputs);
  for (std::size_t k = 0; k < b.results.size(); ++k) {
    const value w = g.input(g.shape_of(b.results[k]));
    set(w, 7 + k, 0.5, 1.5);
    const value term = attractor::autograd::sum(g, attractor::autograd::mul(g, b.results[k], w));
    b.loss = k == 0 ? term : attractor::autograd::add(g, b.loss, term);
  }
  g.forward();
  return b;
}

/// The largest relative error of the row's gradients against central differences.
template <class Backend>
double max_gradient_error(attractor::context<Backend>& ctx, const op_row<Backend>& r) {
  op_graph<Backend> g(ctx);
  const built_row b = build(g, r);
  return attractor::autograd::check_gradients(g, b.loss, b.inputs, r.step).max_rel_error();
}

/// A row's results and its inputs' gradients after one forward() and backward(), on the host.
struct row_run {
  std::string name;
  std::vector<std::vector<double>> results, gradients;
};

template <class Backend>
row_run run(attractor::context<Backend>& ctx, const op_row<Backend>& r) {
  op_graph<Backend> g(ctx);
  const built_row b = build(g, r);
  g.backward(b.loss);
  auto host = [&](auto view) {
    std::vector<double> out(view.size());
    attractor::transfer<Backend, attractor::cpu>::run(ctx, view.data(), out.data(), out.size());
    return out;
  };
  row_run out{r.name, {}, {}};
  for (value v : b.results) out.results.push_back(host(g.value_of(v)));
  for (value v : b.inputs) out.gradients.push_back(host(g.grad_of(v)));
  return out;
}

/// Every row run on cuda (tests/cuda/ops_harness.cu), in the order of rows().
std::vector<row_run> cuda_run_table();

}  // namespace attractor_test::ops
