// The feature network of the Fréchet surrogate distance (FSD, spec §5 and §6): the reference's "dense_two"
// surrogate, a DenseBackbone of Linear(3 -> 256), ReLU, Linear(256 -> 256), ReLU whose 256 features after the last
// ReLU are the features, with a linear head 256 -> 3 trained to predict the 0.1-time-unit increment
// x_{t+10} - x_t in normalised space (MSE, Adam). Parameters carry the reference module's state_dict names:
// backbone.network.0.weight, backbone.network.0.bias, backbone.network.2.weight, backbone.network.2.bias (the odd
// indices of the nn.Sequential are the ReLUs), head.weight, head.bias: 67,587 in all, as Table 3 of the spec lists.
//
// feature_extractor runs the backbone over a set of states in fixed-size chunks through one graph, so memory stays
// bounded, and streams the features' mean and covariance into a moment_accumulator; frechet_surrogate_distance
// puts the pieces together. Checkpoints: nn::save_parameters(path, model.parameters()) and
// nn::load_parameters(path, model.parameters()) on cpu.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/core/error.hpp"
#include "attractor/metrics/check.hpp"
#include "attractor/metrics/frechet.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::metrics {

struct dense_surrogate_options {
  std::size_t inputs = 3;    ///< state dimension (input and output)
  std::size_t hidden = 256;  ///< width of every layer: the number of features
  std::size_t layers = 2;    ///< Linear + ReLU pairs of the backbone: 2 is the paper's dense_two
};

/// The dense surrogate network, PyTorch-default initialised from `gen`.
template <floating_scalar Scalar, class Backend>
class dense_surrogate {
public:
  using graph_type = autograd::graph<Scalar, Backend>;

  /// The handles of one built forward pass.
  struct pass {
    autograd::value input;     ///< (batch x inputs): the states
    autograd::value features;  ///< (batch x hidden): the backbone's output, after its last ReLU
    autograd::value output;    ///< (batch x inputs): the predicted increment over the lead time
  };

  dense_surrogate(context<Backend>& ctx, philox& gen, const dense_surrogate_options& options = {}) : options_(options) {
    constexpr const char* fn = "metrics::dense_surrogate";
    require(options.inputs > 0 && options.hidden > 0, fn, "inputs > 0 and hidden > 0",
            attractor::detail::text(options.inputs, " and ", options.hidden));
    require(options.layers >= 1, fn, "at least one layer", options.layers);
    for (std::size_t l = 0; l < options.layers; ++l) {
      const std::string name = "backbone.network." + std::to_string(2 * l);
      layers_.push_back(std::make_unique<nn::linear<Scalar, Backend>>(
          ctx, gen, name, l == 0 ? options.inputs : options.hidden, options.hidden));
    }
    head_ = std::make_unique<nn::linear<Scalar, Backend>>(ctx, gen, "head", options.hidden, options.inputs);
  }

  [[nodiscard]] const dense_surrogate_options& options() const { return options_; }
  [[nodiscard]] std::size_t features() const { return options_.hidden; }

  /// Parameters in the reference module's state_dict order.
  [[nodiscard]] nn::parameter_list<Scalar, Backend> parameters() {
    nn::parameter_list<Scalar, Backend> list;
    for (auto& layer : layers_) layer->append_parameters(list);
    head_->append_parameters(list);
    return list;
  }

  /// Adds the forward pass for `batch` states to g. Write the states into g.value_of(pass.input) before forward().
  pass build(graph_type& g, std::size_t batch) {
    require(batch > 0, "metrics::dense_surrogate::build", "a batch of at least one state", batch);
    pass p;
    p.input = g.input({batch, options_.inputs});
    autograd::value h = p.input;
    for (auto& layer : layers_) h = autograd::relu(g, (*layer)(g, h));
    p.features = h;
    p.output = (*head_)(g, h);
    return p;
  }

private:
  dense_surrogate_options options_;
  std::vector<std::unique_ptr<nn::linear<Scalar, Backend>>> layers_;
  std::unique_ptr<nn::linear<Scalar, Backend>> head_;
};

/// Runs a dense_surrogate's backbone over sets of states, `chunk` states at a time through one graph built once.
/// The model must outlive the extractor; its weights are read at every forward pass.
template <floating_scalar Scalar, class Backend>
class feature_extractor {
public:
  feature_extractor(context<Backend>& ctx, dense_surrogate<Scalar, Backend>& model, std::size_t chunk = 16384)
      : graph_(std::make_unique<autograd::graph<Scalar, Backend>>(ctx, autograd::graph_mode::inference)),
        chunk_(chunk),
        inputs_(model.options().inputs),
        features_(model.features()) {
    require(chunk > 0, "metrics::feature_extractor", "a chunk of at least one state", chunk);
    pass_ = model.build(*graph_, chunk);
    fill(ctx, graph_->value_of(pass_.input), Scalar(0));  // rows past a short last chunk stay finite
  }

  [[nodiscard]] std::size_t features() const { return features_; }

  /// Calls f(features) for consecutive chunks of the (n x inputs) states, in order: features is a (count x hidden)
  /// view on Backend, valid during the call. Throws on a wrong shape, no states, or NaN or Inf.
  template <tensor_like States, class F>
  void for_each_chunk(context<Backend>& ctx, const States& states, F&& f) {
    constexpr const char* fn = "metrics::feature_extractor";
    auto x = as_view(states);
    static_assert(std::is_same_v<typename decltype(x)::backend_type, Backend>, "states on another backend");
    detail::require_state_set(x, inputs_, fn, "set of states");
    require_finite(ctx, x, fn, "the states");
    const std::size_t n = x.extent(0);
    auto input = graph_->value_of(pass_.input);
    auto output = graph_->value_of(pass_.features);
    for (std::size_t begin = 0; begin < n; begin += chunk_) {
      const std::size_t count = std::min(chunk_, n - begin);
      copy(ctx, x.rows(begin, begin + count), input.rows(0, count));
      graph_->forward();
      f(output.rows(0, count));
    }
  }

  /// The mean and covariance of the features of (n x inputs) states, n >= 2.
  template <tensor_like States>
  gaussian_statistics statistics(context<Backend>& ctx, const States& states) {
    moment_accumulator<Backend> moments(ctx, features_);
    for_each_chunk(ctx, states, [&](auto rows) { moments.add(ctx, rows); });
    return moments.statistics(ctx);
  }

  /// out (n x hidden) = the features of the (n x inputs) states.
  template <tensor_like States, tensor_like Out>
  void features(context<Backend>& ctx, const States& states, Out&& out) {
    auto o = as_view(out);
    require(o.rank() == 2 && o.extent(0) == as_view(states).extent(0) && o.extent(1) == features_,
            "metrics::feature_extractor::features",
            attractor::detail::text("out of shape (", as_view(states).extent(0), ", ", features_, ")"), o.shape());
    std::size_t begin = 0;
    for_each_chunk(ctx, states, [&](auto rows) {
      copy(ctx, rows, o.rows(begin, begin + rows.extent(0)));
      begin += rows.extent(0);
    });
  }

private:
  std::unique_ptr<autograd::graph<Scalar, Backend>> graph_;
  typename dense_surrogate<Scalar, Backend>::pass pass_;
  std::size_t chunk_, inputs_, features_;
};

/// FSD between two sets of states (n x inputs and m x inputs, each with at least two states): the Fréchet
/// distance between the Gaussians fitted to their features.
template <floating_scalar Scalar, class Backend, tensor_like X, tensor_like Y>
double frechet_surrogate_distance(context<Backend>& ctx, dense_surrogate<Scalar, Backend>& model, const X& x,
                                  const Y& y, std::size_t chunk = 16384) {
  feature_extractor<Scalar, Backend> extractor(ctx, model, chunk);
  return frechet_distance(extractor.statistics(ctx, x), extractor.statistics(ctx, y));
}

// ---------------------------------------------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------------------------------------------

/// How train_dense_surrogate trains. The defaults are the reference's (spec §6): increments over 10 steps of 0.01
/// (0.1 time units), batch 16384, Adam with lr 5e-5, about 100 epochs of its 16e6 pairs; a demo on two cpu cores
/// uses e.g. batch 1024, lr 1e-3 and a few thousand steps.
struct surrogate_training_options {
  std::size_t lead = 10;       ///< integration steps between a state and its target
  std::size_t batch = 16384;   ///< pairs per step
  std::size_t steps = 97'700;  ///< Adam steps
  double lr = 5e-5;
  std::uint64_t seed = 0;          ///< of the generator that draws the pairs
  std::size_t report_every = 500;  ///< steps between calls of progress (and loss checks)
  /// Called every report_every steps and after the last one with the step count and that step's loss; may be empty.
  std::function<void(std::size_t step, double loss)> progress;
};

namespace detail {

/// Row r of the batch is the pair starting at (member, t) = pair floor(u[r] pairs) of the set: x = traj[member, t],
/// y = traj[member, t + lead] - x.
template <class Scalar>
struct surrogate_pairs {
  Scalar* x;
  Scalar* y;
  const Scalar* trajectories;
  const double* u;
  std::size_t steps, starts, pairs, lead, d;  // steps per member, starts per member (steps - lead), all starts
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / d, k = i % d;
    auto pair = static_cast<std::size_t>(u[r] * static_cast<double>(pairs));
    if (pair >= pairs) pair = pairs - 1;
    const std::size_t member = pair / starts, t = pair % starts;
    const Scalar* state = trajectories + (member * steps + t) * d;
    x[i] = state[k];
    y[i] = state[lead * d + k] - state[k];
  }
};

}  // namespace detail

/// The surrogate's training objective for nn::fit: each batch draws `batch` pairs (x_t, x_{t+lead} - x_t)
/// uniformly with replacement over every member and start, and the loss is the MSE of the head's prediction. The
/// pairs of step s come from block s * philox_blocks<double>(batch) on of stream 0 of the seed (one uniform double
/// per pair), so a step's batch depends on (seed, s) alone, and the run is the one train_dense_surrogate has always
/// drawn.
template <floating_scalar Scalar, class Backend>
class surrogate_objective {
public:
  using scalar_type = Scalar;
  using backend_type = Backend;

  /// `model` and `trajectories` (members x steps x inputs, normalised, on Backend) must outlive the objective.
  /// Throws on a wrong shape, too few steps for the lead, a batch of 0, NaN or Inf in the data.
  surrogate_objective(context<Backend>& ctx, dense_surrogate<Scalar, Backend>& model,
                      const_tensor_view<Scalar, Backend> trajectories, std::size_t lead, std::size_t batch,
                      std::uint64_t seed, const char* fn = "metrics::surrogate_objective")
      : ctx_(&ctx), model_(&model), batch_(batch), seed_(seed), graph_(ctx), u_(shape{batch}) {
    const std::size_t d = model.options().inputs;
    const auto& traj = trajectories;
    require(traj.rank() == 3 && traj.extent(0) > 0 && traj.extent(2) == d, fn,
            attractor::detail::text("trajectories of shape (members, steps, ", d, ")"), traj.shape());
    require(lead >= 1 && traj.extent(1) > lead, fn,
            attractor::detail::text("more than lead = ", lead, " steps per trajectory (lead >= 1)"), traj.extent(1));
    require(batch > 0, fn, "a batch of at least one pair", batch);
    require_finite(ctx, traj, fn, "the trajectories");
    const std::size_t steps = traj.extent(1), starts = steps - lead;
    pass_ = model.build(graph_, batch);
    target_ = graph_.input({batch, d});
    loss_ = autograd::mse(graph_, pass_.output, target_);
    draw_ = detail::surrogate_pairs<Scalar>{graph_.value_of(pass_.input).data(),
                                            graph_.value_of(target_).data(),
                                            traj.data(),
                                            u_.data(),
                                            steps,
                                            starts,
                                            traj.extent(0) * starts,
                                            lead,
                                            d};
  }

  surrogate_objective(const surrogate_objective&) = delete;
  surrogate_objective& operator=(const surrogate_objective&) = delete;

  [[nodiscard]] autograd::graph<Scalar, Backend>& graph() { return graph_; }
  [[nodiscard]] autograd::value loss() const { return loss_; }
  [[nodiscard]] nn::parameter_list<Scalar, Backend> parameters() { return model_->parameters(); }
  [[nodiscard]] std::size_t batch() const { return batch_; }
  [[nodiscard]] std::size_t training_samples() const { return 0; }  // pairs are drawn with replacement
  [[nodiscard]] std::size_t validation_samples() const { return 0; }
  [[nodiscard]] nn::safetensors_metadata metadata() const {
    const auto& o = model_->options();
    return {{"attractor.architecture", attractor::detail::concat("dense_surrogate inputs=", o.inputs,
                                                                 " hidden=", o.hidden, " layers=", o.layers)}};
  }

  void load_batch(const nn::batch_draw& b) {
    philox gen(seed_, 0, b.index * philox_blocks<double>(batch_));
    fill_uniform(*ctx_, gen, u_.data(), batch_, 0.0, 1.0);
    for_each_index(*ctx_, batch_ * model_->options().inputs, draw_);
  }

private:
  context<Backend>* ctx_;
  dense_surrogate<Scalar, Backend>* model_;
  std::size_t batch_;
  std::uint64_t seed_;
  autograd::graph<Scalar, Backend> graph_;
  typename dense_surrogate<Scalar, Backend>::pass pass_;
  autograd::value target_, loss_;
  tensor<double, Backend> u_;
  detail::surrogate_pairs<Scalar> draw_{};
};

/// Trains `model` as a surrogate on `trajectories` (members x steps x inputs, normalised states, on Backend)
/// through nn::fit and a surrogate_objective: Adam at a constant rate, no EMA, no clipping. Returns the loss of the
/// last step. Throws on a wrong shape, too few steps for the lead, NaN or Inf in the data, bad options, or a
/// non-finite loss.
template <floating_scalar Scalar, class Backend, tensor_like Trajectories>
double train_dense_surrogate(context<Backend>& ctx, dense_surrogate<Scalar, Backend>& model,
                             const Trajectories& trajectories, const surrogate_training_options& options = {}) {
  constexpr const char* fn = "metrics::train_dense_surrogate";
  auto traj = as_view(trajectories);
  static_assert(std::is_same_v<typename decltype(traj)::value_type, Scalar>, "trajectories of the model's scalar");
  require(options.batch > 0 && options.steps > 0 && options.report_every > 0, fn, "batch, steps and report_every > 0",
          attractor::detail::text(options.batch, ", ", options.steps, ", ", options.report_every));
  surrogate_objective<Scalar, Backend> objective(ctx, model, traj, options.lead, options.batch, options.seed, fn);
  nn::fit_options o;
  o.batch = options.batch;
  o.steps = options.steps;
  o.lr = options.lr;
  o.average = false;
  o.validate_every = 0;
  o.progress_every = options.report_every;
  if (options.progress) o.progress = [&](const nn::fit_progress& p) { options.progress(p.step, p.last_loss); };
  nn::fit<surrogate_objective<Scalar, Backend>> run(ctx, objective, o, fn);
  run.train();
  return run.losses().back();
}

}  // namespace attractor::metrics
