// autograd::graph: the engine of reverse-mode differentiation over whole-tensor operations, in the manner of ggml.
// A graph is built once (which allocates every intermediate tensor and gradient), then forward() and backward() run
// it as many times as needed without allocating. Inputs are leaves whose values the caller writes before each
// forward(); parameters are leaves that alias a parameter's value and gradient.
//
// The operations are free functions in autograd/ops/ (autograd/ops.hpp includes them all), written on the
// op-builder API below: make_result() makes an operation's results from its operands, add_op() registers the
// closures that compute them and contribute to the operands' gradients, data()/grad_data() reach the tensors, and
// accumulate_into() says whether a contribution overwrites or adds. view() makes a value that aliases another's
// storage and gradient under another shape (autograd::reshape). Shapes are checked when the graph is built.
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
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attractor/autograd/parameter.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/segment_sum.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::autograd {

/// A handle to a tensor of the graph: an input, a parameter or the result of an operation.
struct value {
  std::size_t id = std::numeric_limits<std::size_t>::max();
  /// Whether it names a value (an optional operand, as linear's bias, is a default-constructed value).
  [[nodiscard]] bool valid() const { return id != std::numeric_limits<std::size_t>::max(); }
};

/// A handle to an int32 index input (for gather_rows and the per-tau FiLM).
struct index_value {
  std::size_t id = std::numeric_limits<std::size_t>::max();
};

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
  /// In an inference graph, and for a parameter that is not trainable, it aliases the value only, as a constant.
  value parameter(autograd::parameter<Scalar, Backend>& p) {
    node n;
    n.value = p.value.view();
    if (mode_ == graph_mode::training && p.trainable) {
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

  /// n int32 indices the caller fills before each forward(): through set_indices, which checks them on the host
  /// against every operation that reads them, on any backend; or, on a backend the host reads, through index_of.
  index_value index_input(std::size_t n) {
    indices_.emplace_back(shape{n});
    index_bounds_.push_back(std::numeric_limits<std::int32_t>::max());
    return {indices_.size() - 1};
  }

  /// Copies the index input's n indices from host memory to the backend, after checking that each lies in
  /// [0, bound) for the bound of every operation that reads them (bound_indices). Throws attractor::error, copying
  /// nothing, on an index out of range.
  void set_indices(index_value i, const std::int32_t* host) {
    require(i.id < indices_.size(), "graph::set_indices", "an index_input of this graph", i.id);
    const std::size_t n = indices_[i.id].size();
    validate_segment_keys(host, n, static_cast<std::size_t>(index_bounds_[i.id]), "graph::set_indices");
    transfer<cpu, Backend>::run(ctx(), host, indices_[i.id].data(), n);
  }

  // --- the op-builder API (autograd/ops/ is written on it) --------------------------------------------------

  /// A new result of shape s of the operation being built; it needs a gradient when any of its operands (those
  /// valid()) does. Make every result of an operation, then register the operation with add_op().
  value make_result(const shape& s, std::initializer_list<value> operands) {
    node n;
    n.own_value = tensor<Scalar, Backend>(s);
    n.value = n.own_value.view();
    for (value v : operands)
      if (v.valid()) n.needs_grad = n.needs_grad || node_of(v).needs_grad;
    n.name = "result";
    pending_needs_grad_ = pending_needs_grad_ || n.needs_grad;
    const value v = add_node(std::move(n));
    pending_outputs_.push_back(v.id);
    return v;
  }

  /// Registers the operation whose results make_result() made since the last add_op(). forward() must write
  /// every result (data()); backward() must contribute to the gradient (grad_data()) of every operand that
  /// needs_grad(), each contribution as accumulate_into() says: overwrite where it returns false, add where true.
  /// The closures run with the graph where it was built; they capture it by reference.
  void add_op(std::function<void()> forward, std::function<void()> backward) {
    ops_.push_back({std::move(forward), std::move(backward), pending_needs_grad_, std::move(pending_outputs_), {}});
    pending_outputs_.clear();
    pending_needs_grad_ = false;
  }

  /// A value of shape s that aliases x's storage and gradient (s must have x's size): no copy and no operation.
  /// Writing through either writes both; the two share one gradient-written flag, so contributions through the
  /// view and through x add up.
  value view(value x, const shape& s) {
    const node& from = node_of(x);
    require(s.size() == from.value.size(), "graph::view", detail::text("a shape of ", from.value.size(), " elements"),
            s);
    node n;
    n.value = from.value.reshape(s);
    if (from.grad.data() != nullptr) n.grad = from.grad.reshape(s);  // none in an inference graph, nor if empty
    n.needs_grad = from.needs_grad;
    n.name = from.name;
    n.grad_slot = from.grad_slot;
    return add_node(std::move(n));
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
        if (v.valid() && needs_grad(v)) ops_.back().zero_first.push_back(v.id);
    return y;
  }

  /// For backward passes: whether the next contribution to v's gradient must add to one already written in this
  /// pass (true), or is the first and overwrites it (false). Marks v's gradient written, so call it once per
  /// contribution, just before making it.
  bool accumulate_into(value v) {
    const std::size_t slot = node_of(v).grad_slot;
    const bool written = written_[slot] != 0;
    written_[slot] = 1;
    return written;
  }
  /// accumulate_into(v) as the beta of a GEMM that contributes to v's gradient: 0 (overwrite) or 1 (add).
  Scalar gemm_beta(value v) { return accumulate_into(v) ? Scalar(1) : Scalar(0); }

  /// Raw pointers to a value and its gradient, for the operations' closures.
  [[nodiscard]] Scalar* data(value v) const { return node_of(v).value.data(); }
  [[nodiscard]] Scalar* grad_data(value v) const { return node_of(v).grad.data(); }

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
  /// Declares that an operation reads index input i as row numbers of an array of `rows` rows: set_indices checks
  /// against the smallest such bound.
  void bound_indices(index_value i, std::size_t rows) {
    require(i.id < indices_.size(), "graph::bound_indices", "an index_input of this graph", i.id);
    require(rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()), "graph::bound_indices",
            "at most 2^31 - 1 rows", rows);
    index_bounds_[i.id] = std::min(index_bounds_[i.id], static_cast<std::int32_t>(rows));
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

  context<Backend>* ctx_;
  graph_mode mode_;
  std::vector<node> nodes_;
  std::vector<operation> ops_;
  std::vector<tensor<std::int32_t, Backend>> indices_;
  std::vector<std::int32_t> index_bounds_;  // per index input: exclusive upper bound of its values
  bool pending_needs_grad_ = false;
  std::vector<std::size_t> pending_outputs_;  // results made since the last add_op: the next operation's
  std::vector<unsigned char> written_;        // per gradient slot: written in the current backward pass
};

}  // namespace attractor::autograd
