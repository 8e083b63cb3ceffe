// nn::fit: the one training loop of the library, over an objective (a model and a loss that builds its graph).
//
// An objective owns its graph, built once for a batch of options.batch rows, and says how to fill the graph's
// inputs for one batch; fit owns everything else a training run needs:
//   - data order: shuffled epochs over the objective's training set (each epoch a fresh Fisher-Yates permutation,
//     the last incomplete batch dropped), or no rows at all for an objective that draws its own batches;
//   - per-step generator streams derived from (seed, step), so a run resumed from a checkpoint continues exactly as
//     the uninterrupted run would have;
//   - Adam, an optional EMA of the weights, a linear warm-up and a cosine or constant rate, gradient clipping by
//     global norm;
//   - validation with the EMA weights on batches drawn from a stream of their own (the same at every call);
//   - progress with the rate and ETA;
//   - atomic checkpoints (raw weights, "ema.<name>", "adam.exp_avg.<name>", "adam.exp_avg_sq.<name>", and as
//     metadata what the objective says its model computes, the step counts and the seed), and a clean stop on a NaN
//     or Inf loss that names the last good checkpoint.
//
// The objective concept, for Scalar and Backend:
//
//   struct my_objective {
//     using scalar_type = float;
//     using backend_type = cpu;
//     autograd::graph<float, cpu>& graph();        // built for batch() rows
//     autograd::value loss() const;                 // a scalar node of graph()
//     nn::parameter_list<float, cpu> parameters();  // what Adam steps
//     std::size_t batch() const;
//     std::size_t training_samples() const;        // rows fit shuffles; 0: load_batch draws its own
//     std::size_t validation_samples() const;      // 0: no validation
//     void load_batch(const nn::batch_draw& b);     // writes graph()'s inputs for batch b
//     nn::safetensors_metadata metadata() const;   // what the model computes; checked when a checkpoint loads
//   };
//
//   nn::fit<my_objective> run(ctx, objective, options);
//   run.train();
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/nn/checkpoint.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::nn {

struct fit_progress {
  std::size_t step = 0;                                               ///< steps done
  std::size_t steps = 0;                                              ///< steps asked for
  double loss = 0;                                                    ///< mean training loss since the previous report
  double last_loss = 0;                                               ///< the loss of the step just taken
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  ///< latest, NaN before the first
  double samples_per_second = 0;                                      ///< since the previous report
  double eta_seconds = 0;                                             ///< at that rate
};

/// How the learning rate moves over a run: constant (the Lorenz-63 reference), or cosine decay to
/// final_lr_fraction * lr at the last step; either after a linear warm-up.
enum class lr_decay { constant, cosine };

struct fit_options {
  std::size_t batch = 16384;
  std::size_t steps = 97'700;  ///< total optimiser steps
  double lr = 3e-4;
  lr_decay decay = lr_decay::constant;
  std::size_t warmup_steps = 0;  ///< lr rises linearly over these first steps
  double final_lr_fraction = 0;  ///< cosine: the rate approaches final_lr_fraction * lr at `steps`
  bool average = true;           ///< keep an EMA of the weights (validation and checkpoints use it)
  double ema_decay = 0.999;
  ema_init ema_start = ema_init::copy;  ///< the Lorenz-63 reference starts from zeros (ema_init::zeros)
  double clip_norm = 0;                 ///< scale the gradients to this global L2 norm where it is larger; 0: never
  std::size_t validate_every = 500;     ///< steps; 0: never
  std::size_t validation_batches = 16;
  std::size_t checkpoint_every = 0;  ///< steps; 0: only at the end of train()
  std::filesystem::path checkpoint;  ///< empty: no checkpoints
  std::uint64_t seed = 0;
  std::size_t progress_every = 50;  ///< steps between progress calls
  std::function<void(const fit_progress&)> progress;
};

/// The learning rate of the optimiser step with 0-based index `step`: lr (step + 1) / warmup_steps during the
/// warm-up, then lr for lr_decay::constant, or for lr_decay::cosine lr (f + (1 - f) (1 + cos(pi p)) / 2) with f =
/// final_lr_fraction and p = (step - warmup_steps) / (steps - warmup_steps). A pure function of the step, so a
/// resumed run follows the same rates.
inline double learning_rate_at(const fit_options& o, std::size_t step) {
  if (step < o.warmup_steps) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  if (o.decay == lr_decay::constant || o.steps <= o.warmup_steps) return o.lr;
  const double p = static_cast<double>(step - o.warmup_steps) / static_cast<double>(o.steps - o.warmup_steps);
  constexpr double pi = 3.141592653589793238462643383279502884;
  const double f = o.final_lr_fraction;
  return o.lr * (f + (1 - f) * 0.5 * (1 + std::cos(pi * std::min(p, 1.0))));
}

/// One batch as fit hands it to an objective's load_batch.
struct batch_draw {
  std::size_t index = 0;                 ///< the 0-based training step, or the validation batch
  bool validation = false;               ///< rows index the validation set, not the training set
  std::span<const std::int32_t> rows;    ///< the data rows of the batch (empty for an objective drawing its own)
  std::span<const std::uint32_t> words;  ///< one uniform 32-bit word per row (e.g. for a discrete pseudo-time)
  philox* gen = nullptr;                 ///< the batch's own stream for everything else (e.g. the noise)
};

template <class O>
concept objective = requires(O& o, const O& c, const batch_draw& b) {
  typename O::scalar_type;
  typename O::backend_type;
  { o.graph() } -> std::same_as<autograd::graph<typename O::scalar_type, typename O::backend_type>&>;
  { c.loss() } -> std::convertible_to<autograd::value>;
  { o.parameters() } -> std::same_as<parameter_list<typename O::scalar_type, typename O::backend_type>>;
  { c.batch() } -> std::convertible_to<std::size_t>;
  { c.training_samples() } -> std::convertible_to<std::size_t>;
  { c.validation_samples() } -> std::convertible_to<std::size_t>;
  o.load_batch(b);
  { c.metadata() } -> std::convertible_to<safetensors_metadata>;
};

/// The checks of an objective's training set (rows of `dim` values): at least one batch, fewer than 2^31 rows (fit
/// draws row indices as int32), every value finite.
template <class Scalar, class Backend>
void require_training_data(context<Backend>& ctx, tensor_view<const Scalar, Backend> data, std::size_t dim,
                           std::size_t batch, const char* fn) {
  require(data.rank() == 2 && data.extent(1) == dim, fn,
          attractor::detail::text("training data of shape (n x ", dim, ")"), data.shape());
  require(data.extent(0) >= batch && data.extent(0) < (std::size_t{1} << 31), fn,
          attractor::detail::text("between one batch (", batch, ") and 2^31 samples"), data.extent(0));
  require_finite(ctx, data, fn, "training data");
}

/// The same for a validation set; an empty one (none) passes.
template <class Scalar, class Backend>
void require_validation_data(context<Backend>& ctx, tensor_view<const Scalar, Backend> validation, std::size_t dim,
                             std::size_t batch, const char* fn) {
  if (validation.empty()) return;
  require(validation.rank() == 2 && validation.extent(1) == dim && validation.extent(0) >= batch &&
              validation.extent(0) < (std::size_t{1} << 31),
          fn, attractor::detail::text("validation data of shape (n x ", dim, ") with n >= ", batch),
          validation.shape());
  require_finite(ctx, validation, fn, "validation data");
}

namespace detail {

/// An unbiased integer in [0, n) from a 32-bit word (Lemire's multiply-shift; bias below n / 2^32).
inline std::uint32_t bounded(std::uint32_t word, std::uint32_t n) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(word) * n) >> 32);
}

/// Word i of a Philox stream (word i % 4 of block i / 4), computing each block once for consecutive i.
class philox_words {
public:
  explicit philox_words(const philox& gen) : gen_(gen) {}
  std::uint32_t operator()(std::size_t i) {
    if (i / 4 != block_) {
      block_ = i / 4;
      words_ = gen_.block(block_);
    }
    return words_.v[i % 4];
  }

private:
  philox gen_;
  std::size_t block_ = static_cast<std::size_t>(-1);
  philox_counter words_{};
};

/// Philox streams of one run: one per (step, purpose) and one per epoch's permutation.
enum class stream_purpose : std::uint64_t { noise = 0, words = 1, validation = 2, permutation = 3 };
inline philox stream_of(std::uint64_t seed, std::uint64_t index, stream_purpose p) {
  return philox(seed, index * 4 + static_cast<std::uint64_t>(p));
}

/// Throws unless `meta` holds every entry of `expected` with the same value; `fn` names the caller.
inline void require_metadata(const safetensors_metadata& meta, const safetensors_metadata& expected,
                             const std::string& fn) {
  for (const auto& [key, value] : expected) {
    const auto it = meta.find(key);
    require(it != meta.end() && it->second == value, fn, attractor::detail::text(key, " = ", value),
            it == meta.end() ? std::string("none") : it->second);
  }
}

/// The tensor `name` of `file` as a host tensor of `shape`, finite; throws naming `fn` otherwise.
template <floating_scalar Scalar>
tensor<Scalar, cpu> checked_tensor(const safetensors_file& file, const std::string& name, const shape& s,
                                   const std::string& fn) {
  require(file.contains(name), fn, attractor::detail::text("a tensor '", name, "'"), "none");
  tensor<Scalar, cpu> t = file.get<Scalar>(name);
  require(t.shape() == s, fn, attractor::detail::text("'", name, "' of shape ", s), t.shape());
  require_finite(t.data(), t.size(), fn, name);
  return t;
}

template <class Scalar>
struct scale_kernel {
  Scalar* x;
  Scalar factor;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { x[i] *= factor; }
};

}  // namespace detail

/// The global L2 norm of the gradients of `params`, accumulated in double over per-parameter sums of squares, and
/// every gradient scaled by max_norm / (norm + 1e-6) where the norm exceeds max_norm (torch.nn.utils.clip_grad_norm_).
/// Returns the norm before clipping. Throws on max_norm <= 0 or NaN.
template <floating_scalar Scalar, class Backend>
double clip_gradient_norm(context<Backend>& ctx, const parameter_list<Scalar, Backend>& params, double max_norm) {
  require(max_norm > 0 && std::isfinite(max_norm), "nn::clip_gradient_norm", "a finite max_norm > 0", max_norm);
  double squares = 0;
  for (const auto* p : params)
    if (p->trainable)  // a fixed tensor's grad is never written
      squares += static_cast<double>(reduce(ctx, reduction::sum_squares, p->grad.data(), p->grad.size()));
  const double norm = std::sqrt(squares);
  if (norm > max_norm) {
    const auto factor = static_cast<Scalar>(max_norm / (norm + 1e-6));
    for (auto* p : params)
      if (p->trainable) for_each_index(ctx, p->grad.size(), detail::scale_kernel<Scalar>{p->grad.data(), factor});
  }
  return norm;
}

/// Loads the weights of a checkpoint written by fit (the raw ones, or with `averaged` their EMA) into `params`,
/// after checking that its metadata holds every entry of `expected` (what the model computes) and that every
/// tensor is there, of the parameter's shape and finite. On error nothing has changed.
template <floating_scalar Scalar, class Backend>
void load_weights(context<Backend>& ctx, const std::filesystem::path& path,
                  const parameter_list<Scalar, Backend>& params, const safetensors_metadata& expected, bool averaged,
                  const std::string& fn) {
  const safetensors_file file = safetensors_file::read(path);
  detail::require_metadata(file.metadata(), expected, fn);
  std::vector<tensor<Scalar, cpu>> weights;
  for (const auto* p : params)
    weights.push_back(detail::checked_tensor<Scalar>(file, (averaged ? "ema." : "") + p->name, p->shape(), fn));
  for (std::size_t i = 0; i < params.size(); ++i) copy(ctx, weights[i], params[i]->value);
}

/// A training run of `Objective` (which must outlive it). Not thread-safe.
template <objective Objective>
class fit {
public:
  using scalar_type = typename Objective::scalar_type;
  using backend_type = typename Objective::backend_type;
  using Scalar = scalar_type;
  using Backend = backend_type;

  /// `fn` names the caller in error messages (a wrapper such as diffusion::trainer passes its own name).
  fit(context<Backend>& ctx, Objective& objective, fit_options options, std::string fn = "nn::fit")
      : ctx_(&ctx),
        objective_(&objective),
        options_(validated(std::move(options), objective, fn)),
        fn_(std::move(fn)),
        params_(objective.parameters()),
        optimiser_(ctx, params_, options_.lr) {
    if (options_.average) average_.emplace(ctx, params_, options_.ema_decay, options_.ema_start);
    rows_host_.assign(options_.batch, 0);
    words_host_.assign(options_.batch, 0);
  }

  fit(const fit&) = delete;
  fit& operator=(const fit&) = delete;

  [[nodiscard]] std::size_t step() const { return step_; }
  [[nodiscard]] const fit_options& options() const { return options_; }
  [[nodiscard]] adam<Scalar, Backend>& optimiser() { return optimiser_; }
  /// The EMA of the weights; throws when options().average is off.
  [[nodiscard]] ema<Scalar, Backend>& average() {
    require(average_.has_value(), fn_, "a run that keeps an EMA (fit_options::average)", "none");
    return *average_;
  }
  /// The training loss of each step taken by this object (not restored from checkpoints).
  [[nodiscard]] const std::vector<double>& losses() const { return losses_; }
  [[nodiscard]] double last_validation_loss() const { return validation_loss_; }
  /// The global gradient norm before clipping at the last step (NaN where options().clip_norm is 0).
  [[nodiscard]] double last_gradient_norm() const { return gradient_norm_; }

  /// Trains until options().steps steps are done. Throws attractor::error when the loss becomes NaN or Inf, after
  /// which the checkpoint file, if any, still holds the last good state.
  void train() {
    using clock = std::chrono::steady_clock;
    const std::string fn = fn_ + "::train";
    const bool validate = options_.validate_every > 0 && objective_->validation_samples() > 0;
    auto since = clock::now();
    std::size_t reported = step_;
    double loss_sum = 0;
    while (step_ < options_.steps) {
      const double loss = train_step();
      if (!std::isfinite(loss)) {
        fail(fn, attractor::detail::concat(
                     "the loss became ", loss, " at step ", step_ + 1, "; ",
                     last_checkpoint_ == 0 && options_.checkpoint.empty()
                         ? std::string("no checkpoint was written")
                         : attractor::detail::concat("the last good checkpoint (step ", last_checkpoint_, ") is ",
                                                     options_.checkpoint)));
      }
      ++step_;
      losses_.push_back(loss);
      loss_sum += loss;
      if (validate && step_ % options_.validate_every == 0) validation_loss_ = validation_loss();
      if (!options_.checkpoint.empty() && options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0)
        save_checkpoint(options_.checkpoint);
      if (options_.progress && (step_ % options_.progress_every == 0 || step_ == options_.steps)) {
        const double seconds = std::chrono::duration<double>(clock::now() - since).count();
        fit_progress p;
        p.step = step_;
        p.steps = options_.steps;
        p.loss = loss_sum / static_cast<double>(step_ - reported);
        p.last_loss = loss;
        p.validation_loss = validation_loss_;
        p.samples_per_second = static_cast<double>((step_ - reported) * options_.batch) / std::max(seconds, 1e-9);
        p.eta_seconds = static_cast<double>((options_.steps - step_) * options_.batch) / p.samples_per_second;
        options_.progress(p);
        since = clock::now();
        reported = step_;
        loss_sum = 0;
      }
    }
    if (!options_.checkpoint.empty() && last_checkpoint_ != step_) save_checkpoint(options_.checkpoint);
  }

  /// The mean loss over options().validation_batches batches of the validation set, with the EMA weights where
  /// kept; batch b's rows, words and generator come from a stream of its own, the same at every call, so values
  /// are comparable across a run.
  double validation_loss() {
    const std::size_t n = objective_->validation_samples();
    require(n > 0, fn_ + "::validation_loss", "an objective with validation samples", n);
    if (average_) average_->swap(*ctx_);
    double total = 0;
    for (std::size_t b = 0; b < options_.validation_batches; ++b) {
      philox gen = detail::stream_of(options_.seed, b, detail::stream_purpose::validation);
      for (std::size_t i = 0; i < options_.batch; ++i) {
        const philox_counter w = gen.block(i);
        rows_host_[i] = static_cast<std::int32_t>(detail::bounded(w.v[0], static_cast<std::uint32_t>(n)));
        words_host_[i] = w.v[1];
      }
      gen.advance(options_.batch);
      total += forward({b, true, rows_host_, words_host_, &gen});
    }
    if (average_) average_->swap(*ctx_);
    return total / static_cast<double>(options_.validation_batches);
  }

  /// Writes the raw (and averaged) weights, Adam's state and the run's metadata to `path`, atomically. Throws
  /// attractor::error, writing nothing, if any weight is not finite.
  void save_checkpoint(const std::filesystem::path& path) {
    const std::string fn = fn_ + "::save_checkpoint";
    std::vector<tensor<Scalar, cpu>> host;
    std::vector<std::string> names;
    auto add = [&](const std::string& name, const_tensor_view<Scalar, Backend> v) {
      names.push_back(name);
      host.push_back(to_backend<cpu>(*ctx_, v));
      require_finite(host.back().data(), host.back().size(), fn, name);
    };
    const auto state = optimiser_.state();
    const auto shadow = average_ ? average_->shadow() : decltype(average_->shadow()){};
    for (std::size_t i = 0; i < params_.size(); ++i) {
      add(params_[i]->name, params_[i]->value.view());
      if (average_) add("ema." + params_[i]->name, shadow[i]);
      add("adam.exp_avg." + params_[i]->name, state.exp_avg[i]);
      add("adam.exp_avg_sq." + params_[i]->name, state.exp_avg_sq[i]);
    }
    std::vector<std::pair<std::string, const_tensor_view<Scalar, cpu>>> named;
    for (std::size_t i = 0; i < names.size(); ++i) named.emplace_back(names[i], host[i].view());
    auto meta = objective_->metadata();
    meta["attractor.step"] = std::to_string(step_);
    meta["attractor.adam_step"] = std::to_string(state.step);
    meta["attractor.seed"] = std::to_string(options_.seed);
    save_safetensors<Scalar>(path, named, meta);
    last_checkpoint_ = step_;
  }

  /// Restores a checkpoint written by save_checkpoint for an objective whose metadata matches: weights, EMA, Adam
  /// and the step count, so that train() continues the run. Checks everything first (names, shapes, dtypes,
  /// integrity, metadata); on error nothing has changed.
  void load_checkpoint(const std::filesystem::path& path) {
    const std::string fn = attractor::detail::concat(fn_, "::load_checkpoint(", path, ")");
    const safetensors_file file = safetensors_file::read(path);
    const auto& meta = file.metadata();
    detail::require_metadata(meta, objective_->metadata(), fn);
    const auto step_it = meta.find("attractor.step"), adam_it = meta.find("attractor.adam_step");
    require(step_it != meta.end() && adam_it != meta.end(), fn, "the step counts in the metadata", "none");
    std::vector<tensor<Scalar, cpu>> weights, shadow, m, v;
    for (const auto* p : params_) {
      weights.push_back(detail::checked_tensor<Scalar>(file, p->name, p->shape(), fn));
      if (average_) shadow.push_back(detail::checked_tensor<Scalar>(file, "ema." + p->name, p->shape(), fn));
      m.push_back(detail::checked_tensor<Scalar>(file, "adam.exp_avg." + p->name, p->shape(), fn));
      v.push_back(detail::checked_tensor<Scalar>(file, "adam.exp_avg_sq." + p->name, p->shape(), fn));
    }
    const std::size_t step = std::stoull(step_it->second);
    adam_state<Scalar, cpu> state;
    state.step = std::stoull(adam_it->second);
    std::vector<const_tensor_view<Scalar, cpu>> shadow_views;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      state.exp_avg.push_back(m[i].view());
      state.exp_avg_sq.push_back(v[i].view());
      if (average_) shadow_views.push_back(shadow[i].view());
    }
    optimiser_.load_state(*ctx_, state);
    if (average_) average_->load_shadow(*ctx_, shadow_views);
    for (std::size_t i = 0; i < params_.size(); ++i) copy(*ctx_, weights[i], params_[i]->value);
    step_ = step;
    last_checkpoint_ = step;
  }

private:
  static fit_options validated(fit_options o, const Objective& objective, const std::string& fn) {
    require(o.batch > 0 && o.batch == objective.batch(), fn,
            attractor::detail::text("a batch of the objective's ", objective.batch(), " rows"), o.batch);
    require(o.progress_every > 0, fn, "progress_every > 0", o.progress_every);
    require(o.validation_batches > 0, fn, "validation_batches > 0", o.validation_batches);
    require(o.final_lr_fraction >= 0 && o.final_lr_fraction <= 1, fn, "final_lr_fraction in [0, 1]",
            o.final_lr_fraction);
    require(o.clip_norm >= 0 && std::isfinite(o.clip_norm), fn, "a finite clip_norm >= 0 (0: no clipping)",
            o.clip_norm);
    const std::size_t n = objective.training_samples();
    require(n == 0 || (n >= o.batch && n < (std::size_t{1} << 31)), fn,
            attractor::detail::text("between one batch (", o.batch, ") and 2^31 training samples"), n);
    return o;
  }

  /// Rows of the current epoch's permutation for step_, words and generator of step_'s streams; then forward,
  /// backward, clipping, Adam and the EMA.
  double train_step() {
    const std::size_t n = objective_->training_samples(), batch = options_.batch;
    std::span<const std::int32_t> rows;
    if (n > 0) {
      const std::size_t per_epoch = n / batch;  // the last incomplete batch of an epoch is dropped
      const std::size_t epoch = step_ / per_epoch, offset = (step_ % per_epoch) * batch;
      if (permutation_epoch_ != epoch || permutation_.size() != n) {
        permutation_.resize(n);
        for (std::size_t i = 0; i < n; ++i) permutation_[i] = static_cast<std::uint32_t>(i);
        detail::philox_words word(detail::stream_of(options_.seed, epoch, detail::stream_purpose::permutation));
        for (std::size_t i = n - 1; i > 0; --i)  // Fisher-Yates, one word per swap
          std::swap(permutation_[i], permutation_[detail::bounded(word(i), static_cast<std::uint32_t>(i + 1))]);
        permutation_epoch_ = epoch;
      }
      for (std::size_t i = 0; i < batch; ++i) rows_host_[i] = static_cast<std::int32_t>(permutation_[offset + i]);
      rows = rows_host_;
    }
    detail::philox_words word(detail::stream_of(options_.seed, step_, detail::stream_purpose::words));
    for (std::size_t i = 0; i < batch; ++i) words_host_[i] = word(i);
    philox gen = detail::stream_of(options_.seed, step_, detail::stream_purpose::noise);
    const double loss = forward({step_, false, rows, words_host_, &gen});
    objective_->graph().backward(objective_->loss());
    gradient_norm_ = options_.clip_norm > 0 ? clip_gradient_norm(*ctx_, params_, options_.clip_norm)
                                            : std::numeric_limits<double>::quiet_NaN();
    optimiser_.set_lr(learning_rate_at(options_, step_));  // > 0: step_ < steps, so p < 1
    optimiser_.step(*ctx_);
    if (average_) average_->update(*ctx_);
    return loss;
  }

  double forward(const batch_draw& b) {
    objective_->load_batch(b);
    auto& g = objective_->graph();
    g.forward();
    Scalar loss = 0;
    transfer<Backend, cpu>::run(*ctx_, g.value_of(objective_->loss()).data(), &loss, 1);
    return static_cast<double>(loss);
  }

  context<Backend>* ctx_;
  Objective* objective_;
  fit_options options_;
  std::string fn_;
  parameter_list<Scalar, Backend> params_;
  adam<Scalar, Backend> optimiser_;
  std::optional<ema<Scalar, Backend>> average_;
  std::vector<std::int32_t> rows_host_;
  std::vector<std::uint32_t> words_host_;
  std::vector<std::uint32_t> permutation_;
  std::size_t permutation_epoch_ = static_cast<std::size_t>(-1);
  std::size_t step_ = 0;
  std::size_t last_checkpoint_ = 0;
  std::vector<double> losses_;
  double validation_loss_ = std::numeric_limits<double>::quiet_NaN();
  double gradient_norm_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace attractor::nn
