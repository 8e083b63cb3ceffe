// Optimisers over an nn::parameter_list: Adam with PyTorch's semantics (torch.optim.Adam, no weight decay, no
// amsgrad), and an exponential moving average (EMA) of the weights.
//
// Both allocate their state once, at construction (buffer<> counts it in allocation_counter<Backend>), and each
// step or update afterwards allocates nothing: per parameter it runs one fused element-wise functor that reads and
// writes every array once. The scalars that depend on the step count (Adam's bias corrections) are computed in
// double on the host and passed to the functor. Both work on every backend whose primitives are included: for cuda,
// attractor/cuda.cuh (adam needs for_each.cuh; ema and the load_* functions also copy.cuh).
//
// Both hold the parameter list they were built with (non-owning pointers, as parameter_list is): the parameters
// must outlive them, and their shapes must not change; a parameter whose shape no longer matches its state is an
// error at the next step or update.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/nn/parameter.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::nn {

namespace detail {

/// A parameter list an optimiser can hold: non-empty, no null pointers, no parameter twice (it would be stepped
/// twice per step, which PyTorch rejects too).
template <floating_scalar Scalar, class Backend>
void require_valid_parameter_list(const parameter_list<Scalar, Backend>& params, const char* function) {
  require(!params.empty(), function, "a non-empty parameter list", "an empty one");
  for (std::size_t i = 0; i < params.size(); ++i) {
    require(params[i] != nullptr, function, "non-null parameters",
            attractor::detail::text("a null pointer at index ", i));
  }
  std::vector<const parameter<Scalar, Backend>*> sorted(params.begin(), params.end());
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end()) {
    fail(function, "each parameter once", attractor::detail::concat("parameter '", (*dup)->name, "' more than once"));
  }
}

/// `params` has one parameter per state tensor, each of that tensor's shape: a check of parameters against the
/// state the optimiser holds.
template <floating_scalar Scalar, class Backend, class State>
void require_matching_shapes(const parameter_list<Scalar, Backend>& params, const std::vector<State>& state,
                             const char* function) {
  require(params.size() == state.size(), function, attractor::detail::text(state.size(), " parameters"),
          attractor::detail::text(params.size(), " parameters"));
  for (std::size_t i = 0; i < params.size(); ++i) {
    require(params[i] != nullptr, function, "non-null parameters",
            attractor::detail::text("a null pointer at index ", i));
    if (!(params[i]->shape() == state[i].shape())) {
      fail(function,
           attractor::detail::concat("parameter ", i, " ('", params[i]->name, "') of shape ", state[i].shape()),
           attractor::detail::concat(params[i]->shape(),
                                     " (parameter shapes must not change after the optimiser is built)"));
    }
  }
}

/// `state` (`what`, e.g. "exp_avg") has one tensor per parameter, each of its parameter's shape: a check of state
/// being loaded against the parameters.
template <floating_scalar Scalar, class Backend, class State>
void require_state_matches(const parameter_list<Scalar, Backend>& params, const std::vector<State>& state,
                           const char* function, const char* what) {
  require(params.size() == state.size(), function,
          attractor::detail::text(params.size(), " ", what, " tensors, one per parameter"), state.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!(params[i]->shape() == state[i].shape())) {
      fail(function,
           attractor::detail::concat(what, " ", i, " of shape ", params[i]->shape(), " (that of parameter '",
                                     params[i]->name, "')"),
           state[i].shape());
    }
  }
}

/// One Adam step for one parameter, fused: reads p, g, m, v once and writes p, m, v once. PyTorch's order of
/// operations (torch/optim/adam.py, _single_tensor_adam):
///   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
///   p -= step_size * m / (sqrt(v) / sqrt_bias_correction2 + eps),
/// with step_size = lr / (1 - beta1^t) and sqrt_bias_correction2 = sqrt(1 - beta2^t) from the host.
template <class Scalar>
struct adam_kernel {
  Scalar* p;
  const Scalar* g;
  Scalar* m;
  Scalar* v;
  Scalar beta1;
  Scalar one_minus_beta1;
  Scalar beta2;
  Scalar one_minus_beta2;
  Scalar step_size;
  Scalar sqrt_bias_correction2;
  Scalar eps;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const Scalar gi = g[i];
    const Scalar mi = beta1 * m[i] + one_minus_beta1 * gi;
    const Scalar vi = beta2 * v[i] + one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const Scalar denom = std::sqrt(vi) / sqrt_bias_correction2 + eps;
    p[i] -= step_size * mi / denom;
  }
};

/// shadow = decay shadow + (1 - decay) p, element-wise.
template <class Scalar>
struct ema_kernel {
  Scalar* shadow;
  const Scalar* p;
  Scalar decay;
  Scalar one_minus_decay;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { shadow[i] = decay * shadow[i] + one_minus_decay * p[i]; }
};

/// Exchanges a[i] and b[i].
template <class Scalar>
struct swap_kernel {
  Scalar* a;
  Scalar* b;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const Scalar t = a[i];
    a[i] = b[i];
    b[i] = t;
  }
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------------------------

/// Adam's hyperparameters; PyTorch's defaults. The paper trains with lr = 3e-4 and the rest at their defaults.
struct adam_options {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

/// Adam's state, for checkpointing: the step count t (the number of steps taken) and, per parameter in list order,
/// exp_avg (m) and exp_avg_sq (v), as in torch.optim.Adam's state_dict (where each parameter carries its own
/// "step"; here all parameters share one, since they are always stepped together). A state() is a set of views
/// into the optimiser; build one over your own tensors to pass to load_state().
template <floating_scalar Scalar, class Backend>
struct adam_state {
  std::uint64_t step = 0;
  std::vector<const_tensor_view<Scalar, Backend>> exp_avg;
  std::vector<const_tensor_view<Scalar, Backend>> exp_avg_sq;
};

/// torch.optim.Adam(params, lr, betas=(beta1, beta2), eps, weight_decay=0, amsgrad=False), single-tensor
/// implementation. At step t (counting from 1), for each element of each parameter, with g its gradient:
///
///   m = beta1 m + (1 - beta1) g                       (m, v start at zero)
///   v = beta2 v + (1 - beta2) g^2
///   step_size = lr / (1 - beta1^t)                     (in double, on the host)
///   denom = sqrt(v) / sqrt(1 - beta2^t) + eps          (sqrt(1 - beta2^t) in double, on the host)
///   p = p - step_size m / denom
///
/// i.e. p -= lr m_hat / (sqrt(v_hat) + eps) with the bias-corrected moments m_hat = m / (1 - beta1^t) and
/// v_hat = v / (1 - beta2^t): eps is added after the bias correction of v, as in Algorithm 1 of Kingma & Ba and in
/// PyTorch, not before it as in their "efficient" variant (TensorFlow's epsilon-hat), which amounts to
/// eps_hat = eps sqrt(1 - beta2^t). At t = 1 this moves every element by exactly -lr g / (|g| + eps).
///
/// Gradients are read from each parameter's grad and are not checked: NaN or Inf propagates into the weights, as in
/// PyTorch. step() allocates nothing.
template <floating_scalar Scalar, class Backend>
class adam {
public:
  using params_type = parameter_list<Scalar, Backend>;

  /// Allocates and zeroes m and v for every parameter. Throws attractor::error on bad hyperparameters (lr finite
  /// and > 0, 0 <= beta1, beta2 < 1, eps finite and >= 0) or a bad list (empty, null, a parameter twice, or a grad
  /// whose shape differs from its value's).
  adam(context<Backend>& ctx, params_type params, const adam_options& options = {}) : params_(std::move(params)) {
    constexpr const char* fn = "nn::adam";
    validate(options, fn);
    options_ = options;
    detail::require_valid_parameter_list(params_, fn);
    require_grads_match(fn);
    exp_avg_.reserve(params_.size());
    exp_avg_sq_.reserve(params_.size());
    for (auto* p : params_) {
      exp_avg_.emplace_back(p->shape());
      exp_avg_sq_.emplace_back(p->shape());
      fill(ctx, exp_avg_.back(), Scalar(0));
      fill(ctx, exp_avg_sq_.back(), Scalar(0));
    }
  }
  /// The paper's form: adam(ctx, params, 3e-4) with the other hyperparameters at PyTorch's defaults.
  adam(context<Backend>& ctx, params_type params, double lr) : adam(ctx, std::move(params), adam_options{lr}) {}

  adam(const adam&) = delete;
  adam& operator=(const adam&) = delete;
  adam(adam&&) noexcept = default;
  adam& operator=(adam&&) noexcept = default;

  /// One Adam step on every parameter from its current grad. Throws attractor::error, changing nothing, if a
  /// parameter's value or grad no longer has the shape it had at construction.
  void step(context<Backend>& ctx) {
    constexpr const char* fn = "nn::adam::step";
    detail::require_matching_shapes(params_, exp_avg_, fn);
    require_grads_match(fn);
    const std::uint64_t t = step_ + 1;
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t));
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t));
    const double step_size = options_.lr / bias_correction1;
    const double sqrt_bias_correction2 = std::sqrt(bias_correction2);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto* p = params_[i];
      if (!p->trainable) continue;  // a fixed tensor: its grad is never written
      for_each_index(
          ctx, p->size(),
          detail::adam_kernel<Scalar>{p->value.data(), p->grad.data(), exp_avg_[i].data(), exp_avg_sq_[i].data(),
                                      static_cast<Scalar>(options_.beta1), static_cast<Scalar>(1.0 - options_.beta1),
                                      static_cast<Scalar>(options_.beta2), static_cast<Scalar>(1.0 - options_.beta2),
                                      static_cast<Scalar>(step_size), static_cast<Scalar>(sqrt_bias_correction2),
                                      static_cast<Scalar>(options_.eps)});
    }
    step_ = t;
  }

  [[nodiscard]] const adam_options& options() const { return options_; }
  [[nodiscard]] double lr() const { return options_.lr; }
  /// Changes the learning rate from the next step on (the paper keeps it constant). Throws unless finite and > 0.
  void set_lr(double lr) {
    require(std::isfinite(lr) && lr > 0, "nn::adam::set_lr", "a finite learning rate > 0", lr);
    options_.lr = lr;
  }
  /// Steps taken so far (PyTorch's state["step"]).
  [[nodiscard]] std::uint64_t step_count() const { return step_; }
  [[nodiscard]] const params_type& parameters() const { return params_; }

  /// Views of the state, for checkpointing; valid while the optimiser lives.
  [[nodiscard]] adam_state<Scalar, Backend> state() const {
    adam_state<Scalar, Backend> s;
    s.step = step_;
    s.exp_avg.reserve(exp_avg_.size());
    s.exp_avg_sq.reserve(exp_avg_sq_.size());
    for (const auto& m : exp_avg_) s.exp_avg.push_back(m.view());
    for (const auto& v : exp_avg_sq_) s.exp_avg_sq.push_back(v.view());
    return s;
  }

  /// Restores a state saved with state() (or read from a checkpoint): copies m and v in and sets the step count.
  /// The source may live on this backend or, for a cuda optimiser, on cpu. Throws attractor::error, changing
  /// nothing, unless there is one m and one v per parameter, each of its parameter's shape, and (for a state on the
  /// cpu, where it can be checked cheaply) every m is finite and every v finite and >= 0.
  template <class SourceBackend>
  void load_state(context<Backend>& ctx, const adam_state<Scalar, SourceBackend>& s) {
    constexpr const char* fn = "nn::adam::load_state";
    detail::require_state_matches(params_, s.exp_avg, fn, "exp_avg");
    detail::require_state_matches(params_, s.exp_avg_sq, fn, "exp_avg_sq");
    if constexpr (std::is_same_v<SourceBackend, cpu>) {
      for (std::size_t i = 0; i < params_.size(); ++i) {
        const auto name = attractor::detail::concat("exp_avg of '", params_[i]->name, "'");
        require_finite(s.exp_avg[i].data(), s.exp_avg[i].size(), fn, name);
        const auto& v = s.exp_avg_sq[i];
        for (std::size_t j = 0; j < v.size(); ++j) {
          if (!(std::isfinite(v.data()[j]) && v.data()[j] >= 0)) {
            fail(fn, attractor::detail::concat("finite values >= 0 in exp_avg_sq of '", params_[i]->name, "'"),
                 attractor::detail::concat(v.data()[j], " at flat index ", j));
          }
        }
      }
    }
    for (std::size_t i = 0; i < params_.size(); ++i) {
      copy(ctx, s.exp_avg[i], exp_avg_[i]);
      copy(ctx, s.exp_avg_sq[i], exp_avg_sq_[i]);
    }
    step_ = s.step;
  }

private:
  static void validate(const adam_options& o, const char* fn) {
    require(std::isfinite(o.lr) && o.lr > 0, fn, "a finite learning rate > 0", o.lr);
    require(o.beta1 >= 0 && o.beta1 < 1, fn, "0 <= beta1 < 1", o.beta1);
    require(o.beta2 >= 0 && o.beta2 < 1, fn, "0 <= beta2 < 1", o.beta2);
    require(std::isfinite(o.eps) && o.eps >= 0, fn, "a finite eps >= 0", o.eps);
  }
  void require_grads_match(const char* fn) const {
    for (const auto* p : params_) {
      if (!(p->grad.shape() == p->value.shape())) {
        fail(fn, attractor::detail::concat("the grad of '", p->name, "' of its value's shape ", p->value.shape()),
             p->grad.shape());
      }
    }
  }

  params_type params_;
  adam_options options_;
  std::vector<tensor<Scalar, Backend>> exp_avg_;
  std::vector<tensor<Scalar, Backend>> exp_avg_sq_;
  std::uint64_t step_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// EMA
// ---------------------------------------------------------------------------------------------------------------

/// How an ema starts.
enum class ema_init {
  /// shadow = the current weights (the common choice, e.g. timm's ModelEmaV2): unbiased from the first update.
  copy,
  /// shadow = 0, as in the L63 paper's reference code (specs/lorenz63-ddm.md §3): after n updates of constant
  /// weights w the shadow is (1 - decay^n) w, biased towards zero early on (at decay 0.999 it still lacks 37% of
  /// w after 1000 updates, and 5e-5 of it after the paper's ~97,700). There is no bias correction, as in the
  /// reference.
  zeros,
};

/// An exponential moving average of the weights: after every optimiser step, update() sets
///   shadow = decay shadow + (1 - decay) p
/// for each tracked parameter. For evaluation, swap() exchanges the averaged and the raw weights in place (call it
/// again to swap back, bit for bit), or copy_to() writes the averages into another parameter list of the same
/// shapes (an evaluation copy of the model). update() allocates nothing.
template <floating_scalar Scalar, class Backend>
class ema {
public:
  using params_type = parameter_list<Scalar, Backend>;

  /// Allocates the shadow weights and initialises them as `init` says. Throws attractor::error unless
  /// 0 < decay < 1 and the list is valid (non-empty, no null, no parameter twice).
  ema(context<Backend>& ctx, params_type params, double decay = 0.999, ema_init init = ema_init::copy)
      : params_(std::move(params)), decay_(decay), init_(init) {
    constexpr const char* fn = "nn::ema";
    require(decay > 0 && decay < 1, fn, "a decay in (0, 1)", decay);
    detail::require_valid_parameter_list(params_, fn);
    shadow_.reserve(params_.size());
    for (auto* p : params_) {
      shadow_.emplace_back(p->shape());
      if (init == ema_init::copy || !p->trainable) {  // a fixed tensor's average is itself
        copy(ctx, p->value, shadow_.back());
      } else {
        fill(ctx, shadow_.back(), Scalar(0));
      }
    }
  }

  ema(const ema&) = delete;
  ema& operator=(const ema&) = delete;
  ema(ema&&) noexcept = default;
  ema& operator=(ema&&) noexcept = default;

  /// shadow = decay shadow + (1 - decay) p for every tracked parameter. Throws attractor::error if a shape changed,
  /// or while the averages are swapped into the tracked parameters (swap back first: averaging the averages into
  /// themselves is never what was meant).
  void update(context<Backend>& ctx) {
    constexpr const char* fn = "nn::ema::update";
    require(!swapped_, fn, "the raw weights in the tracked parameters",
            "the averaged weights swapped in (call swap() again first)");
    detail::require_matching_shapes(params_, shadow_, fn);
    const auto decay = static_cast<Scalar>(decay_);
    const auto one_minus_decay = static_cast<Scalar>(1.0 - decay_);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (!params_[i]->trainable) continue;  // its shadow stays the copy, bit for bit
      for_each_index(ctx, shadow_[i].size(),
                     detail::ema_kernel<Scalar>{shadow_[i].data(), params_[i]->value.data(), decay, one_minus_decay});
    }
    ++updates_;
  }

  /// Writes the averaged weights into `params` (one per tracked parameter, same shapes; by default the tracked
  /// parameters themselves, which overwrites the raw weights). Throws attractor::error on a mismatched list.
  void copy_to(context<Backend>& ctx, const params_type& params) const {
    detail::require_matching_shapes(params, shadow_, "nn::ema::copy_to");
    for (std::size_t i = 0; i < params.size(); ++i) copy(ctx, shadow_[i], params[i]->value);
  }
  void copy_to(context<Backend>& ctx) const { copy_to(ctx, params_); }

  /// Exchanges the averaged weights with those in `params` (by default the tracked parameters): the first call puts
  /// the averages in for evaluation, the second puts the raw weights back. Throws attractor::error on a
  /// mismatched list.
  void swap(context<Backend>& ctx, const params_type& params) {
    detail::require_matching_shapes(params, shadow_, "nn::ema::swap");
    for (std::size_t i = 0; i < params.size(); ++i) {
      for_each_index(ctx, shadow_[i].size(), detail::swap_kernel<Scalar>{shadow_[i].data(), params[i]->value.data()});
    }
    if (params == params_) swapped_ = !swapped_;
  }
  void swap(context<Backend>& ctx) { swap(ctx, params_); }

  [[nodiscard]] double decay() const { return decay_; }
  [[nodiscard]] ema_init init() const { return init_; }
  /// Updates so far.
  [[nodiscard]] std::uint64_t update_count() const { return updates_; }
  /// Whether the averages are currently swapped into the tracked parameters.
  [[nodiscard]] bool swapped() const { return swapped_; }
  [[nodiscard]] const params_type& parameters() const { return params_; }

  /// The averaged weights, one view per tracked parameter in list order, for checkpointing (the reference keeps
  /// them in ckpt["callbacks"]["EMA"]); while swapped() these hold the raw weights instead.
  [[nodiscard]] std::vector<const_tensor_view<Scalar, Backend>> shadow() const {
    std::vector<const_tensor_view<Scalar, Backend>> out;
    out.reserve(shadow_.size());
    for (const auto& s : shadow_) out.push_back(s.view());
    return out;
  }

  /// Restores averaged weights (from shadow() or a checkpoint), from this backend or, for a cuda ema, from cpu.
  /// Throws attractor::error, changing nothing, unless there is one tensor per parameter of its shape, finite where
  /// the source is on the cpu, or while swapped().
  template <class SourceBackend>
  void load_shadow(context<Backend>& ctx, const std::vector<const_tensor_view<Scalar, SourceBackend>>& shadow) {
    constexpr const char* fn = "nn::ema::load_shadow";
    require(!swapped_, fn, "the raw weights in the tracked parameters",
            "the averaged weights swapped in (call swap() again first)");
    detail::require_state_matches(params_, shadow, fn, "average");
    if constexpr (std::is_same_v<SourceBackend, cpu>) {
      for (std::size_t i = 0; i < shadow.size(); ++i) {
        require_finite(shadow[i].data(), shadow[i].size(), fn,
                       attractor::detail::concat("the average of '", params_[i]->name, "'"));
      }
    }
    for (std::size_t i = 0; i < shadow.size(); ++i) copy(ctx, shadow[i], shadow_[i]);
  }

private:
  params_type params_;
  double decay_;
  ema_init init_;
  std::vector<tensor<Scalar, Backend>> shadow_;
  std::uint64_t updates_ = 0;
  bool swapped_ = false;
};

}  // namespace attractor::nn
