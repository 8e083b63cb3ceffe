// Training a denoising_resnet as a diffusion model (spec §3): per sample, a pseudo-time tau ~ U{1..T} and noise
// eps ~ N(0, I) give z = sqrt(alpha_bar_tau) x + sigma_tau eps; the loss is the plain MSE between the network's
// output f(z, tau) and the parameterisation's target. Adam (lr 3e-4 by default, no schedule, no clipping) and an
// EMA of the weights (decay 0.999; the validation loss is computed with it, as the reference's callback does).
//
// Data order. Each epoch is a fresh permutation of the training set and each step draws its noise and pseudo-times
// from its own Philox stream, all derived from (seed, step): a run resumed from a checkpoint continues exactly as
// the uninterrupted run would have.
//
// Checkpoints are safetensors files holding the raw weights under the reference module's names, the EMA weights
// ("ema.<name>"), Adam's moments ("adam.exp_avg.<name>", "adam.exp_avg_sq.<name>") and, as metadata, the step, the
// seed, the schedule, the parameterisation and the architecture. Only finite weights are ever written, and a NaN or
// Inf loss stops training with an error that names the last good checkpoint.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/diffusion/parameterisation.hpp"
#include "attractor/diffusion/schedule.hpp"
#include "attractor/nn/checkpoint.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::diffusion {

struct training_progress {
  std::size_t step = 0;                                               ///< steps done
  std::size_t steps = 0;                                              ///< steps asked for
  double loss = 0;                                                    ///< mean training loss since the previous report
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  ///< latest, NaN before the first
  double samples_per_second = 0;                                      ///< since the previous report
  double eta_seconds = 0;                                             ///< at that rate
};

/// How the learning rate moves over a run. The reference keeps it constant; a short run (the 2-cpu demo) gains from
/// a linear warm-up and a cosine decay to final_lr_fraction * lr at the last step.
enum class lr_decay { constant, cosine };

struct trainer_options {
  std::size_t batch = 16384;
  std::size_t steps = 97'700;  ///< total optimiser steps (the reference: 100 epochs of 977)
  double lr = 3e-4;
  lr_decay decay = lr_decay::constant;
  std::size_t warmup_steps = 0;  ///< lr rises linearly over these first steps
  double final_lr_fraction = 0;  ///< cosine: the rate approaches final_lr_fraction * lr at `steps`
  double ema_decay = 0.999;
  nn::ema_init ema_start = nn::ema_init::copy;  ///< the reference starts from zeros (nn::ema_init::zeros)
  std::size_t validate_every = 500;             ///< steps; 0: never
  std::size_t validation_batches = 16;
  std::size_t checkpoint_every = 0;  ///< steps; 0: only at the end of train()
  std::filesystem::path checkpoint;  ///< empty: no checkpoints
  std::uint64_t seed = 0;
  nn::conditioning conditioning = nn::conditioning::per_tau;
  std::size_t progress_every = 50;  ///< steps between progress calls
  std::function<void(const training_progress&)> progress;
};

/// The learning rate of the optimiser step with 0-based index `step`: lr (step + 1) / warmup_steps during the
/// warm-up, then lr for lr_decay::constant, or for lr_decay::cosine lr (f + (1 - f) (1 + cos(pi p)) / 2) with f =
/// final_lr_fraction and p = (step - warmup_steps) / (steps - warmup_steps). A pure function of the step, so a
/// resumed run follows the same rates.
inline double learning_rate_at(const trainer_options& o, std::size_t step) {
  if (step < o.warmup_steps) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  if (o.decay == lr_decay::constant || o.steps <= o.warmup_steps) return o.lr;
  const double p = static_cast<double>(step - o.warmup_steps) / static_cast<double>(o.steps - o.warmup_steps);
  constexpr double pi = 3.141592653589793238462643383279502884;
  const double f = o.final_lr_fraction;
  return o.lr * (f + (1 - f) * 0.5 * (1 + std::cos(pi * std::min(p, 1.0))));
}

namespace detail {

/// Row r of the batch: z = a x + s eps and the head's target, with a, s looked up by the row's pseudo-time.
template <class Scalar>
struct noising_kernel {
  const Scalar* x;
  const Scalar* eps;
  const std::int32_t* tau;
  const Scalar* sqrt_alpha_bar;
  const Scalar* sigma;
  Scalar* z;
  Scalar* target;
  parameterisation head;
  std::size_t dim;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const auto t = static_cast<std::size_t>(tau[i / dim]);
    const Scalar a = sqrt_alpha_bar[t], s = sigma[t];
    z[i] = a * x[i] + s * eps[i];
    target[i] = target_of(head, x[i], eps[i], a, s);
  }
};

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

/// Philox streams of one training run: one per (step, purpose) and one per epoch's permutation.
enum class stream_purpose : std::uint64_t { noise = 0, time = 1, validation = 2, permutation = 3 };
inline philox stream_of(std::uint64_t seed, std::uint64_t index, stream_purpose p) {
  return philox(seed, index * 4 + static_cast<std::uint64_t>(p));
}

}  // namespace detail

/// The architecture as a checkpoint's metadata records it ("denoising_resnet inputs=3 hidden=256 ...").
inline std::string architecture_text(const nn::denoising_resnet_options& a) {
  return attractor::detail::concat("denoising_resnet inputs=", a.inputs, " hidden=", a.hidden, " blocks=", a.blocks,
                                   " embedding=", a.embedding, " max_time=", a.max_time);
}

/// The metadata entries of a trainer checkpoint that say what its network computes: the architecture, the noise
/// schedule and the parameterisation of the head. A network loaded under another schedule or head predicts the
/// wrong quantity without any error, so loaders compare all three.
inline nn::safetensors_metadata model_metadata(const nn::denoising_resnet_options& a, const noise_schedule& schedule,
                                               parameterisation head) {
  return {{"attractor.architecture", architecture_text(a)},
          {"attractor.schedule", attractor::detail::concat(to_string(schedule.kind()), " T=", schedule.steps())},
          {"attractor.parameterisation", std::string(to_string(head))}};
}

namespace detail {
/// Throws unless `meta` holds every entry of `expected` with the same value; `fn` names the caller.
inline void require_model_metadata(const nn::safetensors_metadata& meta, const nn::safetensors_metadata& expected,
                                   const std::string& fn) {
  for (const auto& [key, value] : expected) {
    const auto it = meta.find(key);
    require(it != meta.end() && it->second == value, fn, attractor::detail::text(key, " = ", value),
            it == meta.end() ? std::string("none") : it->second);
  }
}
}  // namespace detail

/// The architecture of the network in a trainer checkpoint, read from its metadata, so that a program can build
/// the network a checkpoint holds before loading it. Reads the header only (a truncated file is still caught: its
/// header's offsets outrun it; a corrupt data section is caught by the load). Throws attractor::error on a file
/// without a valid safetensors header or without a well-formed architecture.
inline nn::denoising_resnet_options checkpoint_architecture(const std::filesystem::path& path) {
  const std::string fn = attractor::detail::concat("diffusion::checkpoint_architecture(", path, ")");
  const nn::safetensors_metadata metadata = nn::safetensors_file::read_metadata(path);  // the header only
  const auto it = metadata.find("attractor.architecture");
  require(it != metadata.end(), fn, "an attractor.architecture entry in the metadata", "none");
  nn::denoising_resnet_options a;
  std::size_t* fields[] = {&a.inputs, &a.hidden, &a.blocks, &a.embedding, &a.max_time};
  const char* keys[] = {"inputs", "hidden", "blocks", "embedding", "max_time"};
  std::istringstream in(it->second);
  std::string word;
  bool ok = static_cast<bool>(in >> word) && word == "denoising_resnet";
  for (std::size_t k = 0; ok && k < 5; ++k) {
    ok = static_cast<bool>(in >> word) && word.rfind(std::string(keys[k]) + "=", 0) == 0;
    const std::string digits = ok ? word.substr(std::string(keys[k]).size() + 1) : "";
    ok = ok && !digits.empty() && digits.size() < 10 && digits.find_first_not_of("0123456789") == std::string::npos;
    if (ok) *fields[k] = static_cast<std::size_t>(std::stoul(digits));
  }
  ok = ok && !(in >> word);
  require(ok, fn, "an architecture \"denoising_resnet inputs=N hidden=N blocks=N embedding=N max_time=N\"", it->second);
  return a;
}

template <floating_scalar Scalar, class Backend>
class trainer {
public:
  using network_type = nn::denoising_resnet<Scalar, Backend>;

  trainer(context<Backend>& ctx, network_type& net, noise_schedule schedule, parameterisation head,
          trainer_options options = {})
      : ctx_(&ctx),
        net_(&net),
        schedule_(std::move(schedule)),
        head_(head),
        options_(std::move(options)),
        graph_(ctx),
        optimiser_(ctx, net.parameters(), validated(options_, net, schedule_).lr),
        average_(ctx, net.parameters(), options_.ema_decay, options_.ema_start) {
    const std::size_t batch = options_.batch, dim = net.options().inputs;
    pass_ = net.build(graph_, batch, options_.conditioning);
    target_ = graph_.input({batch, dim});
    loss_ = autograd::mse(graph_, pass_.output, target_);
    x_ = tensor<Scalar, Backend>({batch, dim});
    eps_ = tensor<Scalar, Backend>({batch, dim});
    tau_ = buffer<std::int32_t, Backend>(batch);
    rows_ = buffer<std::int32_t, Backend>(batch);
    tau_host_.assign(batch, 0);
    rows_host_.assign(batch, 0);
    // a and s per pseudo-time, on the backend, in Scalar.
    const std::size_t times = schedule_.steps() + 1;
    tensor<Scalar, cpu> a({times}), s({times});
    for (std::size_t t = 0; t < times; ++t) {
      a[t] = static_cast<Scalar>(schedule_.sqrt_alpha_bar(t));
      s[t] = static_cast<Scalar>(schedule_.sigma(t));
    }
    sqrt_alpha_bar_ = to_backend<Backend>(ctx, a);
    sigma_ = to_backend<Backend>(ctx, s);
  }

  trainer(const trainer&) = delete;
  trainer& operator=(const trainer&) = delete;

  [[nodiscard]] std::size_t step() const { return step_; }
  [[nodiscard]] const trainer_options& options() const { return options_; }
  [[nodiscard]] nn::adam<Scalar, Backend>& optimiser() { return optimiser_; }
  [[nodiscard]] nn::ema<Scalar, Backend>& average() { return average_; }
  /// The training loss of each step taken by this object (not restored from checkpoints).
  [[nodiscard]] const std::vector<double>& losses() const { return losses_; }
  [[nodiscard]] double last_validation_loss() const { return validation_loss_; }

  /// Trains on `data` (n x inputs, normalised states on this backend) until options().steps steps are done,
  /// validating on `validation` (may be empty: no validation). Throws attractor::error on bad data (wrong shape,
  /// fewer samples than a batch, NaN or Inf) and when the loss becomes NaN or Inf, after which the checkpoint file,
  /// if any, still holds the last good state.
  void train(tensor_view<const Scalar, Backend> data, tensor_view<const Scalar, Backend> validation = {}) {
    constexpr const char* fn = "diffusion::trainer::train";
    const std::size_t dim = net_->options().inputs;
    require(data.rank() == 2 && data.extent(1) == dim, fn,
            attractor::detail::text("training data of shape (n x ", dim, ")"), data.shape());
    require(data.extent(0) >= options_.batch && data.extent(0) < (std::size_t{1} << 31), fn,
            attractor::detail::text("between one batch (", options_.batch, ") and 2^31 samples"), data.extent(0));
    require_finite(*ctx_, data, fn, "training data");
    const bool validate = !validation.empty() && options_.validate_every > 0;
    if (validate) {
      require(validation.rank() == 2 && validation.extent(1) == dim && validation.extent(0) >= options_.batch, fn,
              attractor::detail::text("validation data of shape (n x ", dim, ") with n >= ", options_.batch),
              validation.shape());
      require_finite(*ctx_, validation, fn, "validation data");
    }
    using clock = std::chrono::steady_clock;
    auto since = clock::now();
    std::size_t reported = step_;
    double loss_sum = 0;
    while (step_ < options_.steps) {
      const double loss = train_step(data);
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
      if (validate && step_ % options_.validate_every == 0) validation_loss_ = validation_loss(validation);
      if (!options_.checkpoint.empty() && options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0)
        save_checkpoint(options_.checkpoint);
      if (options_.progress && (step_ % options_.progress_every == 0 || step_ == options_.steps)) {
        const double seconds = std::chrono::duration<double>(clock::now() - since).count();
        training_progress p;
        p.step = step_;
        p.steps = options_.steps;
        p.loss = loss_sum / static_cast<double>(step_ - reported);
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

  /// The mean loss over options().validation_batches batches of `validation`, with the EMA weights (drawn from a
  /// stream of their own, the same at every call, so values are comparable across a run).
  double validation_loss(tensor_view<const Scalar, Backend> validation) {
    average_.swap(*ctx_);
    double total = 0;
    for (std::size_t b = 0; b < options_.validation_batches; ++b) {
      philox gen = detail::stream_of(options_.seed, b, detail::stream_purpose::validation);
      const std::size_t n = validation.extent(0);
      for (std::size_t i = 0; i < options_.batch; ++i) {
        const philox_counter w = gen.block(i);
        rows_host_[i] = static_cast<std::int32_t>(detail::bounded(w.v[0], static_cast<std::uint32_t>(n)));
        tau_host_[i] =
            1 + static_cast<std::int32_t>(detail::bounded(w.v[1], static_cast<std::uint32_t>(schedule_.steps())));
      }
      gen.advance(options_.batch);
      total += forward_batch(validation, gen);
    }
    average_.swap(*ctx_);
    return total / static_cast<double>(options_.validation_batches);
  }

  /// Writes the raw and averaged weights, Adam's state and the run's metadata to `path`, atomically. Throws
  /// attractor::error, writing nothing, if any weight is not finite.
  void save_checkpoint(const std::filesystem::path& path) {
    constexpr const char* fn = "diffusion::trainer::save_checkpoint";
    auto params = net_->parameters();
    std::vector<tensor<Scalar, cpu>> host;
    std::vector<std::pair<std::string, const_tensor_view<Scalar, cpu>>> named;
    auto add = [&](const std::string& name, const_tensor_view<Scalar, Backend> v) {
      host.push_back(to_backend<cpu>(*ctx_, v));
      require_finite(host.back().data(), host.back().size(), fn, name);
    };
    const auto state = optimiser_.state();
    const auto shadow = average_.shadow();
    std::vector<std::string> names;
    for (std::size_t i = 0; i < params.size(); ++i) {
      names.push_back(params[i]->name);
      add(names.back(), params[i]->value.view());
      names.push_back("ema." + params[i]->name);
      add(names.back(), shadow[i]);
      names.push_back("adam.exp_avg." + params[i]->name);
      add(names.back(), state.exp_avg[i]);
      names.push_back("adam.exp_avg_sq." + params[i]->name);
      add(names.back(), state.exp_avg_sq[i]);
    }
    for (std::size_t i = 0; i < names.size(); ++i) named.emplace_back(names[i], host[i].view());
    nn::save_safetensors<Scalar>(path, named, metadata(state.step));
    last_checkpoint_ = step_;
  }

  /// Restores a checkpoint written by save_checkpoint for the same architecture, schedule and parameterisation:
  /// weights, EMA, Adam and the step count, so that train() continues the run. Checks everything first (names,
  /// shapes, dtypes, integrity, metadata); on error nothing has changed.
  void load_checkpoint(const std::filesystem::path& path) {
    const std::string fn = attractor::detail::concat("diffusion::trainer::load_checkpoint(", path, ")");
    const nn::safetensors_file file = nn::safetensors_file::read(path);
    const auto& meta = file.metadata();
    detail::require_model_metadata(meta, model_metadata(net_->options(), schedule_, head_), fn);
    const auto step_it = meta.find("attractor.step"), adam_it = meta.find("attractor.adam_step");
    require(step_it != meta.end() && adam_it != meta.end(), fn, "the step counts in the metadata", "none");
    auto params = net_->parameters();
    std::vector<tensor<Scalar, cpu>> weights, shadow, m, v;
    for (const auto* p : params) {
      auto get = [&](const std::string& name) {
        require(file.contains(name), fn, attractor::detail::text("a tensor '", name, "'"), "none");
        tensor<Scalar, cpu> t = file.get<Scalar>(name);
        require(t.shape() == p->shape(), fn, attractor::detail::text("'", name, "' of shape ", p->shape()), t.shape());
        require_finite(t.data(), t.size(), fn, name);
        return t;
      };
      weights.push_back(get(p->name));
      shadow.push_back(get("ema." + p->name));
      m.push_back(get("adam.exp_avg." + p->name));
      v.push_back(get("adam.exp_avg_sq." + p->name));
    }
    const std::size_t step = std::stoull(step_it->second);
    nn::adam_state<Scalar, cpu> state;
    state.step = std::stoull(adam_it->second);
    std::vector<const_tensor_view<Scalar, cpu>> shadow_views;
    for (std::size_t i = 0; i < params.size(); ++i) {
      state.exp_avg.push_back(m[i].view());
      state.exp_avg_sq.push_back(v[i].view());
      shadow_views.push_back(shadow[i].view());
    }
    optimiser_.load_state(*ctx_, state);
    average_.load_shadow(*ctx_, shadow_views);
    for (std::size_t i = 0; i < params.size(); ++i) copy(*ctx_, weights[i], params[i]->value);
    step_ = step;
    last_checkpoint_ = step;
  }

private:
  static const trainer_options& validated(const trainer_options& o, const network_type& net,
                                          const noise_schedule& schedule) {
    constexpr const char* fn = "diffusion::trainer";
    require(o.batch > 0, fn, "a batch of at least one sample", o.batch);
    require(o.progress_every > 0, fn, "progress_every > 0", o.progress_every);
    require(o.validation_batches > 0, fn, "validation_batches > 0", o.validation_batches);
    require(o.final_lr_fraction >= 0 && o.final_lr_fraction <= 1, fn, "final_lr_fraction in [0, 1]",
            o.final_lr_fraction);
    require(schedule.steps() == net.options().max_time, fn,
            attractor::detail::text("a schedule of ", net.options().max_time, " steps (the network's max_time)"),
            schedule.steps());
    return o;
  }

  [[nodiscard]] nn::safetensors_metadata metadata(std::uint64_t adam_step) const {
    auto meta = model_metadata(net_->options(), schedule_, head_);
    meta["attractor.step"] = std::to_string(step_);
    meta["attractor.adam_step"] = std::to_string(adam_step);
    meta["attractor.seed"] = std::to_string(options_.seed);
    return meta;
  }

  /// Rows of the current epoch's permutation for step_, then noise and pseudo-times of step_'s streams.
  double train_step(tensor_view<const Scalar, Backend> data) {
    const std::size_t n = data.extent(0), batch = options_.batch;
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
    detail::philox_words time_word(detail::stream_of(options_.seed, step_, detail::stream_purpose::time));
    for (std::size_t i = 0; i < batch; ++i)
      tau_host_[i] =
          1 + static_cast<std::int32_t>(detail::bounded(time_word(i), static_cast<std::uint32_t>(schedule_.steps())));
    philox noise = detail::stream_of(options_.seed, step_, detail::stream_purpose::noise);
    const double loss = forward_batch(data, noise);
    graph_.backward(loss_);
    optimiser_.set_lr(learning_rate_at(options_, step_));  // > 0: step_ < steps, so p < 1
    optimiser_.step(*ctx_);
    average_.update(*ctx_);
    return loss;
  }

  /// Gathers rows_host_ of `data`, noises them at tau_host_ with normals from `noise`, runs the forward pass and
  /// returns the loss.
  double forward_batch(tensor_view<const Scalar, Backend> data, philox& noise) {
    const std::size_t batch = options_.batch, dim = net_->options().inputs;
    transfer<cpu, Backend>::run(*ctx_, rows_host_.data(), rows_.data(), batch);
    transfer<cpu, Backend>::run(*ctx_, tau_host_.data(), tau_.data(), batch);
    for_each_row_col(*ctx_, batch, dim,
                     autograd::kernels::gather_rows<Scalar>{x_.data(), data.data(), rows_.data(), dim});
    fill_normal(*ctx_, noise, eps_, Scalar(0), Scalar(1));
    for_each_index(*ctx_, batch * dim,
                   detail::noising_kernel<Scalar>{x_.data(), eps_.data(), tau_.data(), sqrt_alpha_bar_.data(),
                                                  sigma_.data(), graph_.value_of(pass_.input).data(),
                                                  graph_.value_of(target_).data(), head_, dim});
    net_->set_time(graph_, pass_, tau_host_.data());
    graph_.forward();
    Scalar loss = 0;
    transfer<Backend, cpu>::run(*ctx_, graph_.value_of(loss_).data(), &loss, 1);
    return static_cast<double>(loss);
  }

  context<Backend>* ctx_;
  network_type* net_;
  noise_schedule schedule_;
  parameterisation head_;
  trainer_options options_;
  autograd::graph<Scalar, Backend> graph_;
  nn::adam<Scalar, Backend> optimiser_;
  nn::ema<Scalar, Backend> average_;
  typename network_type::pass pass_;
  autograd::value target_, loss_;
  tensor<Scalar, Backend> x_, eps_, sqrt_alpha_bar_, sigma_;
  buffer<std::int32_t, Backend> tau_, rows_;
  std::vector<std::int32_t> tau_host_, rows_host_;
  std::vector<std::uint32_t> permutation_;
  std::size_t permutation_epoch_ = static_cast<std::size_t>(-1);
  std::size_t step_ = 0;
  std::size_t last_checkpoint_ = 0;
  std::vector<double> losses_;
  double validation_loss_ = std::numeric_limits<double>::quiet_NaN();
};

/// Loads the network weights of a trainer checkpoint (the raw weights, as the paper's downstream code uses, or with
/// `averaged` their EMA) into `net`, for sampling. Checks names, shapes, dtypes, integrity and finiteness first; on
/// error `net` is unchanged. The checkpoint's metadata must record net's architecture and the `schedule` and `head`
/// the caller will sample with (model_metadata): the same weights under another head or schedule would predict
/// something else.
template <floating_scalar Scalar, class Backend>
void load_trained_weights(context<Backend>& ctx, const std::filesystem::path& path,
                          nn::denoising_resnet<Scalar, Backend>& net, const noise_schedule& schedule,
                          parameterisation head, bool averaged = false) {
  const std::string fn = attractor::detail::concat("diffusion::load_trained_weights(", path, ")");
  const nn::safetensors_file file = nn::safetensors_file::read(path);
  detail::require_model_metadata(file.metadata(), model_metadata(net.options(), schedule, head), fn);
  auto params = net.parameters();
  std::vector<tensor<Scalar, cpu>> weights;
  for (const auto* p : params) {
    const std::string name = (averaged ? "ema." : "") + p->name;
    require(file.contains(name), fn, attractor::detail::text("a tensor '", name, "'"), "none");
    weights.push_back(file.get<Scalar>(name));
    require(weights.back().shape() == p->shape(), fn, attractor::detail::text("'", name, "' of shape ", p->shape()),
            weights.back().shape());
    require_finite(weights.back().data(), weights.back().size(), fn, name);
  }
  for (std::size_t i = 0; i < params.size(); ++i) copy(ctx, weights[i], params[i]->value);
}

}  // namespace attractor::diffusion
