// Training a denoising_resnet as a diffusion model: the DDPM objective (diffusion/ddpm_objective.hpp) run by the
// library's training loop (nn/fit.hpp). Adam (lr 3e-4 by default, no schedule, no clipping) and an EMA of the
// weights (decay 0.999; the validation loss is computed with it, as the reference's callback does).
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

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "attractor/diffusion/ddpm_objective.hpp"
#include "attractor/nn/fit.hpp"

namespace attractor::diffusion {

using training_progress = nn::fit_progress;
using nn::learning_rate_at;
using nn::lr_decay;

/// nn::fit's options (the defaults are the reference's: batch 16384, 97,700 steps, lr 3e-4, EMA 0.999) and how the
/// network is conditioned on the pseudo-time.
struct trainer_options : nn::fit_options {
  nn::conditioning conditioning = nn::conditioning::per_tau;
};

template <floating_scalar Scalar, class Backend>
class trainer {
public:
  using network_type = nn::denoising_resnet<Scalar, Backend>;

  trainer(context<Backend>& ctx, network_type& net, noise_schedule schedule, parameterisation head,
          trainer_options options = {})
      : options_(std::move(options)),
        objective_(ctx, net, std::move(schedule), head, options_.batch, options_.conditioning),
        fit_(ctx, objective_, options_, "diffusion::trainer") {}

  trainer(const trainer&) = delete;
  trainer& operator=(const trainer&) = delete;

  [[nodiscard]] std::size_t step() const { return fit_.step(); }
  [[nodiscard]] const trainer_options& options() const { return options_; }
  [[nodiscard]] nn::adam<Scalar, Backend>& optimiser() { return fit_.optimiser(); }
  [[nodiscard]] nn::ema<Scalar, Backend>& average() { return fit_.average(); }
  /// The training loss of each step taken by this object (not restored from checkpoints).
  [[nodiscard]] const std::vector<double>& losses() const { return fit_.losses(); }
  [[nodiscard]] double last_validation_loss() const { return fit_.last_validation_loss(); }

  /// Trains on `data` (n x inputs, normalised states on this backend) until options().steps steps are done,
  /// validating on `validation` (may be empty: no validation). Throws attractor::error on bad data (wrong shape,
  /// fewer samples than a batch, NaN or Inf) and when the loss becomes NaN or Inf, after which the checkpoint file,
  /// if any, still holds the last good state.
  void train(tensor_view<const Scalar, Backend> data, tensor_view<const Scalar, Backend> validation = {}) {
    objective_.set_data(data, validation, "diffusion::trainer::train");
    fit_.train();
  }

  /// The mean loss over options().validation_batches batches of `validation`, with the EMA weights (drawn from a
  /// stream of their own, the same at every call, so values are comparable across a run).
  double validation_loss(tensor_view<const Scalar, Backend> validation) {
    objective_.set_validation(validation, "diffusion::trainer::validation_loss");
    return fit_.validation_loss();
  }

  /// Writes the raw and averaged weights, Adam's state and the run's metadata to `path`, atomically. Throws
  /// attractor::error, writing nothing, if any weight is not finite.
  void save_checkpoint(const std::filesystem::path& path) { fit_.save_checkpoint(path); }

  /// Restores a checkpoint written by save_checkpoint for the same architecture, schedule and parameterisation:
  /// weights, EMA, Adam and the step count, so that train() continues the run. Checks everything first (names,
  /// shapes, dtypes, integrity, metadata); on error nothing has changed.
  void load_checkpoint(const std::filesystem::path& path) { fit_.load_checkpoint(path); }

private:
  trainer_options options_;
  ddpm_objective<Scalar, Backend> objective_;
  nn::fit<ddpm_objective<Scalar, Backend>> fit_;
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
  nn::load_weights(ctx, path, net.parameters(), model_metadata(net.options(), schedule, head), averaged,
                   attractor::detail::concat("diffusion::load_trained_weights(", path, ")"));
}

}  // namespace attractor::diffusion
