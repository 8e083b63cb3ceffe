// autograd::graph: reverse-mode differentiation over whole-tensor operations, in the manner of ggml. A graph is
// built once (which allocates every intermediate tensor and gradient), then forward() and backward() run it as many
// times as needed without allocating. Inputs are leaves whose values the caller writes before each forward();
// parameters are leaves that alias a parameter's value and gradient.
//
// Shapes are checked when the graph is built. Every operation is written once, for every backend, on the
// primitives of the backend layer and the functors of autograd/kernels.hpp.
//
// Gradients are not zero-filled before a backward pass: the first contribution to a gradient overwrites it (GEMM
// beta 0, "=" kernels) and later ones add, as graph::accumulate_into says. An operation none of whose results got
// a gradient is skipped, and gradients nothing wrote are zeroed at the end. On a GPU the zero-fills would be a
// memory pass over every gradient of every step.
//
// A graph built in graph_mode::inference (as torch.inference_mode) holds values only: parameters enter as
// constants, so no value has a gradient, the operations allocate no scratch for a backward pass, and backward()
// refuses to run. Samplers and feature extractors build theirs so.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/parameter.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/backend/segment_sum.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::autograd {

/// A handle to a tensor of the graph: an input, a parameter or the result of an operation.
struct value {
  std::size_t id = std::numeric_limits<std::size_t>::max();
};

/// A handle to an int32 index input (for gather_rows).
struct index_value {
  std::size_t id = std::numeric_limits<std::size_t>::max();
};

/// y = x W^T + b for x (batch x in), W (out x in), b (out, or null for none), y (batch x out), as torch's addmm: the
/// bias goes into y first and the GEMM adds onto it (beta 1), one pass over y fewer than a GEMM and a bias pass.
template <floating_scalar Scalar, class Backend>
void affine_rows(context<Backend>& ctx, std::size_t batch, std::size_t in, std::size_t out, const Scalar* x,
                 const Scalar* weight, const Scalar* bias, Scalar* y) {
  if (bias != nullptr) for_each_row_col(ctx, batch, out, kernels::set_row_vector<Scalar>{y, bias, out});
  gemm(ctx, transpose::no, transpose::yes, batch, out, in, Scalar(1), x, in, weight, in,
       bias != nullptr ? Scalar(1) : Scalar(0), y, out);
}

/// What a graph is built for.
enum class graph_mode {
  training,   ///< parameters and requires_grad inputs get gradients, which backward() computes
  inference,  ///< forward() only: no gradients and no backward scratch are allocated; backward() throws
};

/// How the backward pass of a custom operation writes its operands' gradients.
enum class gradient_writes {
  add,              ///< always adds (+=); the graph zeroes an operand's gradient first where nothing has written it yet
  overwrite_first,  ///< asks graph::accumulate_into(operand) before each write, and overwrites where it says false
};

template <floating_scalar Scalar, class Backend>
class graph {
public:
  using view_type = tensor_view<Scalar, Backend>;

  explicit graph(context<Backend>& ctx, graph_mode mode = graph_mode::training) : ctx_(&ctx), mode_(mode) {}
  // Operations refer back to the graph, so it stays where it was built (hold it in a unique_ptr to move it).
  graph(graph&&) = delete;
  graph& operator=(graph&&) = delete;
  graph(const graph&) = delete;
  graph& operator=(const graph&) = delete;

  [[nodiscard]] context<Backend>& ctx() const { return *ctx_; }
  [[nodiscard]] graph_mode mode() const { return mode_; }

  // --- leaves -----------------------------------------------------------------------------------------------

  /// A tensor the caller fills (through value_of) before each forward(). With requires_grad, backward() computes
  /// its gradient too (used by check_gradients).
  value input(const shape& s, bool requires_grad = false) {
    require(!requires_grad || mode_ == graph_mode::training, "graph::input",
            "requires_grad = false in an inference graph", "requires_grad = true");
    node n;
    n.own_value = tensor<Scalar, Backend>(s);
    n.value = n.own_value.view();
    n.needs_grad = requires_grad;
    n.name = "input";
    return add_node(std::move(n));
  }

  /// A leaf that aliases p's value and gradient. backward() overwrites p.grad (it does not accumulate across calls).
  /// In an inference graph it aliases the value only, as a constant.
  value parameter(autograd::parameter<Scalar, Backend>& p) {
    node n;
    n.value = p.value.view();
    if (mode_ == graph_mode::training) {
      n.grad = p.grad.view();
      n.needs_grad = true;
    }
    n.is_parameter = true;
    n.name = p.name;
    // A parameter used by several leaves (a network built twice on one graph) has one gradient: its leaves share
    // one written flag, so the second leaf's contributions add to the first's.
    for (const node& other : nodes_)
      if (other.is_parameter && other.grad.data() == n.grad.data() && n.grad.size() > 0) n.grad_slot = other.grad_slot;
    return add_node(std::move(n));
  }

  /// n int32 indices the caller fills (through index_of) before each forward().
  index_value index_input(std::size_t n) {
    indices_.emplace_back(shape{n});
    return {indices_.size() - 1};
  }

  // --- operations -------------------------------------------------------------------------------------------

  /// y = x W^T + b, as torch.nn.Linear: x (batch x in), W (out x in), b (out) or no bias.
  value linear(value x, value weight, value bias = {}) {
    constexpr const char* fn = "graph::linear";
    const shape xs = shape_of(x);
    const shape ws = shape_of(weight);
    require(xs.rank() == 2 && ws.rank() == 2 && xs[1] == ws[1], fn, "x (batch x in) and weight (out x in)",
            detail::text("x ", xs, ", weight ", ws));
    const std::size_t batch = xs[0], in = xs[1], out = ws[0];
    const bool has_bias = bias.id != value{}.id;
    if (has_bias) require(shape_of(bias) == shape{out}, fn, detail::text("bias of shape (", out, ")"), shape_of(bias));
    const value y = make_result({batch, out}, {x, weight, bias});
    // Column sums of dy (the bias gradient) are a GEMM with a row of ones.
    const auto ones = ones_if(has_bias && needs_grad(bias), batch);
    add_op(
        [=, this] {
          affine_rows(ctx(), batch, in, out, static_cast<const Scalar*>(data(x)),
                      static_cast<const Scalar*>(data(weight)), has_bias ? data(bias) : nullptr, data(y));
        },
        [=, this] {
          const Scalar* dy = grad_data(y);
          if (needs_grad(x))
            gemm(ctx(), transpose::no, transpose::no, batch, in, out, Scalar(1), dy, out, data(weight), in,
                 gemm_beta(x), grad_data(x), in);
          if (needs_grad(weight))
            gemm(ctx(), transpose::yes, transpose::no, out, in, batch, Scalar(1), dy, out, data(x), in,
                 gemm_beta(weight), grad_data(weight), in);
          if (has_bias && needs_grad(bias))
            gemm(ctx(), transpose::no, transpose::no, 1, out, batch, Scalar(1), ones->data(), batch, dy, out,
                 gemm_beta(bias), grad_data(bias), out);
        });
    return y;
  }

  /// a + b, where b has a's shape, or is a row vector of a's last extent (added to every row), or is
  /// (rows x 1) (added to every column of its row).
  value add(value a, value b) { return binary<false>(a, b, "graph::add"); }
  /// a * b element-wise, with the broadcasts of add.
  value mul(value a, value b) { return binary<true>(a, b, "graph::mul"); }

  value relu(value x) { return unary<kernels::activation::relu>(x); }
  value silu(value x) { return unary<kernels::activation::silu>(x); }
  value tanh(value x) { return unary<kernels::activation::tanh>(x); }

  /// Layer norm over the last axis without affine parameters (torch.nn.LayerNorm(elementwise_affine=False)).
  value layer_norm(value x, Scalar eps = Scalar(1e-5)) {
    const shape xs = shape_of(x);
    require(xs.rank() >= 1 && xs[xs.rank() - 1] > 0, "graph::layer_norm", "a non-empty last axis", xs);
    require(eps > 0, "graph::layer_norm", "eps > 0", eps);
    const std::size_t cols = xs[xs.rank() - 1], rows = xs.size() / cols;
    const value y = make_result(xs, {x});
    auto rstd = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
    auto row_a = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
    auto row_b = std::make_shared<tensor<Scalar, Backend>>(shape{rows});
    const auto product = scratch_if(needs_grad(x), xs);
    const std::size_t n = rows * cols;
    add_op(
        [=, this] {
          reduce_rows(ctx(), reduction::sum, data(x), rows, cols, row_a->data());
          for_each_row_col(ctx(), rows, cols, kernels::centre_rows<Scalar>{data(y), data(x), row_a->data(), cols});
          reduce_rows(ctx(), reduction::sum_squares, data(y), rows, cols, row_b->data());
          for_each_index(ctx(), rows, kernels::rstd_from_sum_squares<Scalar>{rstd->data(), row_b->data(), cols, eps});
          for_each_row_col(ctx(), rows, cols, kernels::scale_rows<Scalar>{data(y), rstd->data(), cols});
        },
        [=, this] {
          if (!needs_grad(x)) return;
          reduce_rows(ctx(), reduction::sum, grad_data(y), rows, cols, row_a->data());
          map(ctx(), n, product->data(), ops::multiplies{}, static_cast<const Scalar*>(grad_data(y)),
              static_cast<const Scalar*>(data(y)));
          reduce_rows(ctx(), reduction::sum, product->data(), rows, cols, row_b->data());
          for_each_row_col(
              ctx(), rows, cols,
              kernels::layer_norm_backward<Scalar>{grad_data(x), grad_data(y), data(y), rstd->data(), row_a->data(),
                                                   row_b->data(), cols, accumulate_into(x)});
        });
    return y;
  }

  /// x * (1 + scale) + shift, element-wise over three tensors of one shape: the modulation of FiLM.
  value modulate(value x, value scale, value shift) {
    const shape xs = shape_of(x);
    require(shape_of(scale) == xs && shape_of(shift) == xs, "graph::modulate",
            detail::text("scale and shift of shape ", xs),
            detail::text("scale ", shape_of(scale), ", shift ", shape_of(shift)));
    const std::size_t n = xs.size();
    const value y = make_result(xs, {x, scale, shift});
    add_op(
        [=, this] {
          for_each_index(ctx(), n, kernels::modulate_forward<Scalar>{data(y), data(x), data(scale), data(shift)});
        },
        [=, this] {
          // Flags taken in the order the kernel writes (x, scale, shift), so operands that are one tensor add up.
          const bool gx = needs_grad(x), gs = needs_grad(scale), gt = needs_grad(shift);
          const bool ax = gx && accumulate_into(x), as = gs && accumulate_into(scale),
                     at = gt && accumulate_into(shift);
          for_each_index(ctx(), n,
                         kernels::modulate_backward<Scalar>{
                             gx ? grad_data(x) : nullptr, gs ? grad_data(scale) : nullptr,
                             gt ? grad_data(shift) : nullptr, grad_data(y), data(x), data(scale), ax, as, at});
        });
    return y;
  }

  /// An operation defined by the caller, for modules whose work the built-in operations do not express (or not
  /// fast enough). The result has shape `s` and needs a gradient when an operand does. `forward` must write the
  /// result (data()); `backward` must contribute to the gradients (grad_data()) of the operands that need_grad(),
  /// each whole: by adding (gradient_writes::add), or as accumulate_into says (gradient_writes::overwrite_first).
  value custom(const shape& s, std::initializer_list<value> operands, std::function<void()> forward,
               std::function<void()> backward, gradient_writes writes = gradient_writes::add) {
    const value y = make_result(s, operands);
    add_op(std::move(forward), std::move(backward));
    if (writes == gradient_writes::add)
      for (value v : operands)
        if (v.id != value{}.id && needs_grad(v)) ops_.back().zero_first.push_back(v.id);
    return y;
  }

  /// For backward passes (custom operations' included): whether the next contribution to v's gradient must add to
  /// one already written in this pass (true), or is the first and overwrites it (false). Marks v's gradient written,
  /// so call it once per contribution, just before making it.
  bool accumulate_into(value v) {
    const std::size_t slot = node_of(v).grad_slot;
    const bool written = written_[slot] != 0;
    written_[slot] = 1;
    return written;
  }
  /// accumulate_into(v) as the beta of a GEMM that contributes to v's gradient: 0 (overwrite) or 1 (add).
  Scalar gemm_beta(value v) { return accumulate_into(v) ? Scalar(1) : Scalar(0); }

  /// Raw pointers to a value and its gradient, for custom operations.
  [[nodiscard]] Scalar* data(value v) const { return node_of(v).value.data(); }
  [[nodiscard]] Scalar* grad_data(value v) const { return node_of(v).grad.data(); }

  /// [a, b] along the last axis of two (rows x cols) tensors with the same rows.
  value concat(value a, value b) {
    const shape as = shape_of(a), bs = shape_of(b);
    require(as.rank() == 2 && bs.rank() == 2 && as[0] == bs[0], "graph::concat", "two rank-2 tensors with equal rows",
            detail::text("a ", as, ", b ", bs));
    const std::size_t rows = as[0], ca = as[1], cb = bs[1], cols = ca + cb;
    const value y = make_result({rows, cols}, {a, b});
    add_op(
        [=, this] {
          copy_block(false, data(y), cols, 0, data(a), ca, 0, rows, ca);
          copy_block(false, data(y), cols, ca, data(b), cb, 0, rows, cb);
        },
        [=, this] {
          if (needs_grad(a)) copy_block(accumulate_into(a), grad_data(a), ca, 0, grad_data(y), cols, 0, rows, ca);
          if (needs_grad(b)) copy_block(accumulate_into(b), grad_data(b), cb, 0, grad_data(y), cols, ca, rows, cb);
        });
    return y;
  }

  /// The first `first` columns and the rest, of a (rows x cols) tensor.
  std::pair<value, value> split(value x, std::size_t first) {
    const shape xs = shape_of(x);
    require(xs.rank() == 2 && first <= xs[1], "graph::split",
            detail::text("a rank-2 tensor with >= ", first, " columns"), xs);
    const std::size_t rows = xs[0], cols = xs[1], rest = cols - first;
    const value a = make_result({rows, first}, {x});
    const value b = make_result({rows, rest}, {x});
    add_op(
        [=, this] {
          copy_block(false, data(a), first, 0, data(x), cols, 0, rows, first);
          copy_block(false, data(b), rest, 0, data(x), cols, first, rows, rest);
        },
        [=, this] {
          if (!needs_grad(x)) return;
          const bool accumulate = accumulate_into(x);  // the two blocks write disjoint columns: one contribution
          copy_block(accumulate, grad_data(x), cols, 0, grad_data(a), first, 0, rows, first);
          copy_block(accumulate, grad_data(x), cols, first, grad_data(b), rest, 0, rows, rest);
        });
    return {a, b};
  }

  /// The sum of all elements, as a rank-0 tensor.
  value sum(value x) { return scaled_sum(x, Scalar(1)); }
  /// The mean of all elements, as a rank-0 tensor.
  value mean(value x) {
    const std::size_t n = shape_of(x).size();
    require(n > 0, "graph::mean", "a non-empty tensor", shape_of(x));
    return scaled_sum(x, Scalar(1) / Scalar(n));
  }

  /// mean((pred - target)^2) over all elements, as torch.nn.MSELoss: a rank-0 tensor.
  value mse(value pred, value target) {
    const shape ps = shape_of(pred);
    require(ps == shape_of(target), "graph::mse", detail::text("a target of shape ", ps), shape_of(target));
    require(ps.size() > 0, "graph::mse", "non-empty tensors", ps);
    const std::size_t n = ps.size();
    const value loss = make_result(shape{}, {pred, target});
    auto diff = std::make_shared<tensor<Scalar, Backend>>(shape{n});
    const Scalar inv_n = Scalar(1) / Scalar(n);
    add_op(
        [=, this] {
          for_each_index(ctx(), n, kernels::difference<Scalar>{diff->data(), data(pred), data(target)});
          reduce_to(ctx(), reduction::sum_squares, diff->data(), n, data(loss));
          for_each_index(ctx(), 1, kernels::scale_scalar<Scalar>{data(loss), data(loss), inv_n});
        },
        [=, this] {
          if (needs_grad(pred))
            for_each_index(ctx(), n,
                           kernels::scaled_by_upstream<Scalar>{grad_data(pred), diff->data(), grad_data(loss),
                                                               2 * inv_n, accumulate_into(pred)});
          if (needs_grad(target))
            for_each_index(ctx(), n,
                           kernels::scaled_by_upstream<Scalar>{grad_data(target), diff->data(), grad_data(loss),
                                                               -2 * inv_n, accumulate_into(target)});
        });
    return loss;
  }

  /// out[i, :] = x[index[i], :] for a (rows x cols) x: a row gather. The backward pass sums the gradients of rows
  /// that share an index (segment_sum). Indices must lie in [0, rows); they are checked on cpu at every forward().
  value gather_rows(value x, index_value index) {
    const shape xs = shape_of(x);
    require(xs.rank() == 2, "graph::gather_rows", "x of rank 2", xs);
    require(index.id < indices_.size(), "graph::gather_rows", "an index_input of this graph", index.id);
    const std::size_t rows = xs[0], cols = xs[1], n = indices_[index.id].size();
    const value y = make_result({n, cols}, {x});
    const auto gathered = scratch_if(needs_grad(x), shape{rows, cols});
    add_op(
        [=, this] {
          const std::int32_t* idx = indices_[index.id].data();
          if constexpr (host_accessible<Backend>) validate_segment_keys(idx, n, rows, "graph::gather_rows");
          for_each_row_col(ctx(), n, cols, kernels::gather_rows<Scalar>{data(y), data(x), idx, cols});
        },
        [=, this] {
          if (!needs_grad(x)) return;
          // segment_sum writes every row of its output (zero where no index points), so a first contribution goes
          // straight into the gradient.
          if (!accumulate_into(x)) {
            segment_sum(ctx(), indices_[index.id].data(), grad_data(y), n, cols, rows, grad_data(x));
            return;
          }
          segment_sum(ctx(), indices_[index.id].data(), grad_data(y), n, cols, rows, gathered->data());
          for_each_index(ctx(), rows * cols, kernels::accumulate<Scalar>{grad_data(x), gathered->data()});
        });
    return y;
  }

  // --- running ----------------------------------------------------------------------------------------------

  /// Runs every operation in the order it was added.
  void forward() {
    for (auto& op : ops_) op.forward();
  }

  /// Seeds d loss = 1 and runs the operations backwards, overwriting every gradient of the graph (parameters'
  /// included): gradients of values the loss does not depend on come out zero.
  void backward(value loss) {
    require(mode_ == graph_mode::training, "graph::backward", "a graph built in graph_mode::training",
            "an inference graph");
    require(loss.id < nodes_.size() && shape_of(loss).size() == 1, "graph::backward", "a one-element loss",
            loss.id < nodes_.size() ? shape_of(loss).str() : std::string("an unknown value"));
    require(needs_grad(loss), "graph::backward", "a loss that depends on a parameter or a requires_grad input",
            "a constant");
    std::fill(written_.begin(), written_.end(), static_cast<unsigned char>(0));
    attractor::fill(ctx(), 1, grad_data(loss), Scalar(1));
    written_[node_of(loss).grad_slot] = 1;
    for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) {
      if (!it->output_needs_grad) continue;
      bool any_written = false;
      for (std::size_t out : it->outputs) any_written = any_written || written_[nodes_[out].grad_slot] != 0;
      if (!any_written) continue;  // no result of it reaches the loss: its contributions are zero
      for (std::size_t out : it->outputs) zero_unless_written(out);  // a result (of split) nothing used
      for (std::size_t operand : it->zero_first) zero_unless_written(operand);
      it->backward();
    }
    for (std::size_t id = 0; id < nodes_.size(); ++id)
      if (nodes_[id].needs_grad) zero_unless_written(id);
  }

  [[nodiscard]] view_type value_of(value v) const { return node_of(v).value; }
  /// The gradient of v; empty where v does not depend on a parameter or a requires_grad input.
  [[nodiscard]] view_type grad_of(value v) const { return node_of(v).grad; }
  [[nodiscard]] tensor_view<std::int32_t, Backend> index_of(index_value i) {
    require(i.id < indices_.size(), "graph::index_of", "an index_input of this graph", i.id);
    return indices_[i.id].view();
  }
  [[nodiscard]] const shape& shape_of(value v) const { return node_of(v).value.shape(); }
  [[nodiscard]] bool needs_grad(value v) const { return node_of(v).needs_grad; }
  [[nodiscard]] const std::string& name_of(value v) const { return node_of(v).name; }
  [[nodiscard]] std::size_t size() const { return nodes_.size(); }

  /// Scratch of shape s for a backward pass, allocated only where `needed` (an operand it serves needs a
  /// gradient): an inference graph holds its values and nothing else. Null otherwise.
  [[nodiscard]] static std::shared_ptr<tensor<Scalar, Backend>> scratch_if(bool needed, const shape& s) {
    return needed ? std::make_shared<tensor<Scalar, Backend>>(s) : nullptr;
  }
  /// n ones, as scratch_if: for the GEMMs that sum a gradient over rows or columns.
  [[nodiscard]] std::shared_ptr<tensor<Scalar, Backend>> ones_if(bool needed, std::size_t n) const {
    auto ones = scratch_if(needed, shape{n});
    if (ones) attractor::fill(ctx(), *ones, Scalar(1));
    return ones;
  }

private:
  struct node {
    tensor<Scalar, Backend> own_value, own_grad;
    view_type value, grad;
    bool needs_grad = false;
    bool is_parameter = false;
    std::string name;
    std::size_t grad_slot = std::numeric_limits<std::size_t>::max();  // its gradient's written flag in written_
  };
  struct operation {
    std::function<void()> forward, backward;
    bool output_needs_grad = false;
    std::vector<std::size_t> outputs;     // the nodes it computes
    std::vector<std::size_t> zero_first;  // operands whose gradients it adds into (custom, gradient_writes::add)
  };

  const node& node_of(value v) const {
    require(v.id < nodes_.size(), "graph", "a value of this graph", v.id);
    return nodes_[v.id];
  }

  value add_node(node n) {
    if (n.needs_grad && n.grad.data() == nullptr && n.value.size() > 0) {
      n.own_grad = tensor<Scalar, Backend>(n.value.shape());
      n.grad = n.own_grad.view();
    }
    if (n.grad_slot == std::numeric_limits<std::size_t>::max()) {
      n.grad_slot = written_.size();
      written_.push_back(0);
    }
    nodes_.push_back(std::move(n));
    return {nodes_.size() - 1};
  }

  void zero_unless_written(std::size_t id) {
    node& n = nodes_[id];
    if (!n.needs_grad || written_[n.grad_slot] != 0) return;
    attractor::fill(ctx(), n.grad.size(), n.grad.data(), Scalar(0));
    written_[n.grad_slot] = 1;
  }

  /// A new result node of shape s; it needs a gradient when any of its (valid) operands does.
  value make_result(const shape& s, std::initializer_list<value> operands) {
    node n;
    n.own_value = tensor<Scalar, Backend>(s);
    n.value = n.own_value.view();
    for (value v : operands)
      if (v.id != value{}.id) n.needs_grad = n.needs_grad || node_of(v).needs_grad;
    n.name = "result";
    pending_needs_grad_ = n.needs_grad;
    const value v = add_node(std::move(n));
    pending_outputs_.push_back(v.id);
    return v;
  }

  void add_op(std::function<void()> forward, std::function<void()> backward) {
    ops_.push_back({std::move(forward), std::move(backward), pending_needs_grad_, std::move(pending_outputs_), {}});
    pending_outputs_.clear();
  }

  void copy_block(bool accumulate, Scalar* dst, std::size_t dst_cols, std::size_t dst_col, const Scalar* src,
                  std::size_t src_cols, std::size_t src_col, std::size_t rows, std::size_t width) {
    if (accumulate) {
      for_each_row_col(ctx(), rows, width,
                       kernels::copy_columns<Scalar, true>{dst, src, dst_cols, dst_col, src_cols, src_col});
    } else {
      for_each_row_col(ctx(), rows, width,
                       kernels::copy_columns<Scalar, false>{dst, src, dst_cols, dst_col, src_cols, src_col});
    }
  }

  template <kernels::activation A>
  value unary(value x) {
    const value y = make_result(shape_of(x), {x});
    const std::size_t n = shape_of(x).size();
    add_op(
        [=, this] {
          for_each_index(ctx(), n, kernels::activation_forward<Scalar, A>{data(y), data(x)});
        },
        [=, this] {
          if (needs_grad(x))
            for_each_index(ctx(), n,
                           kernels::activation_backward<Scalar, A>{grad_data(x), grad_data(y), data(x), data(y),
                                                                   accumulate_into(x)});
        });
    return y;
  }

  template <bool Multiply>
  value binary(value a, value b, const char* fn) {
    const shape as = shape_of(a), bs = shape_of(b);
    const std::size_t cols = as.rank() == 0 ? 1 : as[as.rank() - 1], rows = cols == 0 ? 0 : as.size() / cols;
    if (as == bs) return binary_with<Multiply, kernels::broadcast::none>(a, b, rows, cols, as.size());
    if (bs == shape{cols}) return binary_with<Multiply, kernels::broadcast::per_feature>(a, b, rows, cols, cols);
    if (as.rank() == 2 && bs == shape{rows, 1})
      return binary_with<Multiply, kernels::broadcast::per_row>(a, b, rows, cols, rows);
    fail(fn, detail::concat("b of shape ", as, ", (", cols, ") or (", rows, ", 1)"), bs);
  }

  /// Runs f over a rows x cols array: by flat index where nothing is broadcast (no index to split), else by (row,
  /// column).
  template <kernels::broadcast B, class F>
  void for_each_element(std::size_t rows, std::size_t cols, F f) {
    if constexpr (B == kernels::broadcast::none) {
      for_each_index(ctx(), rows * cols, f);
    } else {
      for_each_row_col(ctx(), rows, cols, f);
    }
  }

  template <bool Multiply, kernels::broadcast B>
  value binary_with(value a, value b, std::size_t rows, std::size_t cols, std::size_t b_size) {
    const value y = make_result(shape_of(a), {a, b});
    const std::size_t n = rows * cols;
    // A broadcast b's gradient sums over rows (per feature) or columns (per row): a GEMM with a vector of ones,
    // of dy, or of dy * a (kept in `product`) for mul. One thread per element of b would starve a GPU.
    std::shared_ptr<tensor<Scalar, Backend>> ones, product;
    if constexpr (B != kernels::broadcast::none) {
      ones = ones_if(needs_grad(b), B == kernels::broadcast::per_feature ? rows : cols);
      product = scratch_if(Multiply && needs_grad(b), shape{rows, cols});
    }
    add_op(
        [=, this] {
          for_each_element<B>(rows, cols,
                              kernels::binary_forward<Scalar, B, Multiply>{data(y), data(a), data(b), cols});
        },
        [=, this] {
          if (needs_grad(a))
            for_each_element<B>(rows, cols,
                                kernels::binary_backward_a<Scalar, B, Multiply>{grad_data(a), grad_data(y), data(b),
                                                                                cols, accumulate_into(a)});
          if (!needs_grad(b)) return;
          if constexpr (B == kernels::broadcast::none) {
            for_each_index(ctx(), b_size,
                           kernels::binary_backward_b<Scalar, B, Multiply>{grad_data(b), grad_data(y), data(a),
                                                                           accumulate_into(b)});
          } else {
            const Scalar* summand = grad_data(y);
            if (Multiply) {
              map(ctx(), n, product->data(), ops::multiplies{}, static_cast<const Scalar*>(grad_data(y)),
                  static_cast<const Scalar*>(data(a)));
              summand = product->data();
            }
            if constexpr (B == kernels::broadcast::per_feature) {  // db (1 x cols) += ones (1 x rows) . summand
              gemm(ctx(), transpose::no, transpose::no, 1, cols, rows, Scalar(1), ones->data(),
                   std::max<std::size_t>(rows, 1), summand, cols, gemm_beta(b), grad_data(b), cols);
            } else {  // db (rows x 1) += summand (rows x cols) . ones (cols x 1)
              gemm(ctx(), transpose::no, transpose::no, rows, 1, cols, Scalar(1), summand, cols, ones->data(), 1,
                   gemm_beta(b), grad_data(b), 1);
            }
          }
        });
    return y;
  }

  value scaled_sum(value x, Scalar scale) {
    const std::size_t n = shape_of(x).size();
    const value y = make_result(shape{}, {x});
    add_op(
        [=, this] {
          reduce_to(ctx(), reduction::sum, data(x), n, data(y));
          if (scale != Scalar(1)) for_each_index(ctx(), 1, kernels::scale_scalar<Scalar>{data(y), data(y), scale});
        },
        [=, this] {
          if (needs_grad(x))
            for_each_index(ctx(), n,
                           kernels::broadcast_scalar<Scalar>{grad_data(x), grad_data(y), scale, accumulate_into(x)});
        });
    return y;
  }

  context<Backend>* ctx_;
  graph_mode mode_;
  std::vector<node> nodes_;
  std::vector<operation> ops_;
  std::vector<tensor<std::int32_t, Backend>> indices_;
  bool pending_needs_grad_ = false;
  std::vector<std::size_t> pending_outputs_;  // results made since the last add_op: the next operation's
  std::vector<unsigned char> written_;        // per gradient slot: written in the current backward pass
};

}  // namespace attractor::autograd
