// transfer_learning::regression_objective: a network that maps (features of) states to increments, trained by MSE
// through nn::fit (the objective concept of nn/fit.hpp). This is how spec §6 trains the MLP heads (on the frozen
// backbone's or the random Fourier features) and the baselines from scratch (on the states themselves): Adam at
// 5e-5, batches of 16384, epochs over the shuffled training pairs, no EMA (head_fit_options).
//
// The pairs (x, y) live on the backend; fit hands load_batch the rows of a batch, which are gathered there. With a
// feature map other than identity_map, load_batch runs it on the gathered states into the network's input: the
// frozen backbone then runs once per batch, as in the reference, with no (pairs x features) array in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/tensor.hpp"
#include "attractor/transfer/row_map.hpp"

namespace attractor::transfer_learning {

/// Spec §6's training of heads and baselines: Adam at 5e-5, constant, no EMA, no clipping; validation every 500
/// steps where the objective has validation pairs.
inline nn::fit_options head_fit_options(std::size_t batch = 16384, std::size_t steps = 97'700) {
  nn::fit_options o;
  o.batch = batch;
  o.steps = steps;
  o.lr = 5e-5;
  o.average = false;
  o.validate_every = 500;
  o.progress_every = 500;
  return o;
}

template <floating_scalar Scalar, class Backend, class Module, class Features = identity_map<Scalar, Backend>>
requires row_map<Features, Scalar, Backend>
class regression_objective {
public:
  using scalar_type = Scalar;
  using backend_type = Backend;

  /// `module` maps features.outputs() inputs to y's width; `features` maps x's width to them. Training pairs x (n x
  /// d) and y (n x outputs); validation pairs likewise (empty views: none). Everything must outlive the objective.
  /// Throws on mismatched shapes, a batch of 0, or NaN or Inf in the pairs.
  regression_objective(context<Backend>& ctx, Module& module, Features& features, const_tensor_view<Scalar, Backend> x,
                       const_tensor_view<Scalar, Backend> y, std::size_t batch,
                       const_tensor_view<Scalar, Backend> validation_x = {},
                       const_tensor_view<Scalar, Backend> validation_y = {})
      : ctx_(&ctx),
        module_(&module),
        features_(&features),
        x_(x),
        y_(y),
        vx_(validation_x),
        vy_(validation_y),
        batch_(batch),
        graph_(ctx) {
    constexpr const char* fn = "transfer_learning::regression_objective";
    require(batch > 0, fn, "a batch of at least one pair", batch);
    pass_ = module.build(graph_, batch);
    const std::size_t in = graph_.shape_of(pass_.input)[1], out = graph_.shape_of(pass_.output)[1];
    require(features.outputs() == in, fn, attractor::detail::text("a feature map of ", in, " outputs"),
            features.outputs());
    detail::require_row_shapes(x, y, features.inputs(), out, fn);
    require_finite(ctx, x, fn, "the training states");
    require_finite(ctx, y, fn, "the training targets");
    if (vx_.size() > 0 || vy_.size() > 0) {
      detail::require_row_shapes(vx_, vy_, features.inputs(), out, fn);
      require_finite(ctx, vx_, fn, "the validation states");
      require_finite(ctx, vy_, fn, "the validation targets");
    }
    target_ = graph_.input({batch, out});
    loss_ = autograd::mse(graph_, pass_.output, target_);
    rows_ = tensor<std::int32_t, Backend>(shape{batch});
    if constexpr (!direct) states_ = tensor<Scalar, Backend>(shape{batch, features.inputs()});
  }

  regression_objective(const regression_objective&) = delete;
  regression_objective& operator=(const regression_objective&) = delete;

  [[nodiscard]] autograd::graph<Scalar, Backend>& graph() { return graph_; }
  [[nodiscard]] autograd::value loss() const { return loss_; }
  [[nodiscard]] nn::parameter_list<Scalar, Backend> parameters() { return module_->parameters(); }
  [[nodiscard]] std::size_t batch() const { return batch_; }
  [[nodiscard]] std::size_t training_samples() const { return x_.extent(0); }
  [[nodiscard]] std::size_t validation_samples() const { return vx_.size() > 0 ? vx_.extent(0) : 0; }
  [[nodiscard]] nn::safetensors_metadata metadata() const {
    return {{"attractor.architecture",
             attractor::detail::concat("transfer_learning regression inputs=", graph_.shape_of(pass_.input)[1],
                                       " outputs=", graph_.shape_of(pass_.output)[1],
                                       " parameters=", autograd::parameter_count(module_->parameters()))}};
  }

  void load_batch(const nn::batch_draw& b) {
    constexpr const char* fn = "transfer_learning::regression_objective::load_batch";
    require(b.rows.size() == batch_, fn, attractor::detail::text(batch_, " rows"), b.rows.size());
    const auto& x = b.validation ? vx_ : x_;
    const auto& y = b.validation ? vy_ : y_;
    for (const std::int32_t r : b.rows)
      require(r >= 0 && static_cast<std::size_t>(r) < x.extent(0), fn,
              attractor::detail::text("rows in [0, ", x.extent(0), ")"), r);
    transfer<cpu, Backend>::run(*ctx_, b.rows.data(), rows_.data(), batch_);
    const std::size_t d = x.extent(1), out = y.extent(1);
    auto input = graph_.value_of(pass_.input);
    for_each_row_col(
        *ctx_, batch_, d,
        autograd::kernels::gather_rows<Scalar>{direct ? input.data() : states_.data(), x.data(), rows_.data(), d});
    for_each_row_col(
        *ctx_, batch_, out,
        autograd::kernels::gather_rows<Scalar>{graph_.value_of(target_).data(), y.data(), rows_.data(), out});
    if constexpr (!direct) features_->apply(*ctx_, const_tensor_view<Scalar, Backend>(states_.view()), input);
  }

private:
  static constexpr bool direct = std::is_same_v<Features, identity_map<Scalar, Backend>>;

  context<Backend>* ctx_;
  Module* module_;
  Features* features_;
  const_tensor_view<Scalar, Backend> x_, y_, vx_, vy_;
  std::size_t batch_;
  autograd::graph<Scalar, Backend> graph_;
  decltype(std::declval<Module&>().build(std::declval<autograd::graph<Scalar, Backend>&>(), std::size_t{})) pass_;
  autograd::value target_, loss_;
  tensor<std::int32_t, Backend> rows_;
  tensor<Scalar, Backend> states_;
};

}  // namespace attractor::transfer_learning
