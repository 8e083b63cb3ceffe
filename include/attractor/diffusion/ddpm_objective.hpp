// The DDPM objective (spec §3): training a denoising_resnet as a diffusion model. Per sample, a pseudo-time
// tau ~ U{1..T} (from the batch's word) and noise eps ~ N(0, I) (from the batch's generator) give
// z = sqrt(alpha_bar_tau) x + sigma_tau eps; the loss is the plain MSE between the network's output f(z, tau) and the
// parameterisation's target. nn::fit trains it (diffusion::trainer is the two together).
//
// The checkpoint metadata that says what the network computes (model_metadata) and the architecture read back
// from it (checkpoint_architecture) live here too, since samplers and loaders check them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/diffusion/parameterisation.hpp"
#include "attractor/diffusion/schedule.hpp"
#include "attractor/nn/checkpoint.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::diffusion {

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

/// The DDPM objective of a denoising_resnet over a training set and an optional validation set (n x inputs,
/// normalised states on Backend, held as views: they must outlive the training run).
template <floating_scalar Scalar, class Backend>
class ddpm_objective {
public:
  using scalar_type = Scalar;
  using backend_type = Backend;
  using network_type = nn::denoising_resnet<Scalar, Backend>;

  /// Builds the training graph of `net` (which must outlive the objective) for `batch` rows.
  ddpm_objective(context<Backend>& ctx, network_type& net, noise_schedule schedule, parameterisation head,
                 std::size_t batch, nn::conditioning conditioning = nn::conditioning::per_tau)
      : ctx_(&ctx), net_(&net), schedule_(std::move(schedule)), head_(head), batch_(batch), graph_(ctx) {
    constexpr const char* fn = "diffusion::ddpm_objective";
    require(batch > 0, fn, "a batch of at least one sample", batch);
    require(schedule_.steps() == net.options().max_time, fn,
            attractor::detail::text("a schedule of ", net.options().max_time, " steps (the network's max_time)"),
            schedule_.steps());
    const std::size_t dim = net.options().inputs;
    pass_ = net.build(graph_, batch, conditioning);
    target_ = graph_.input({batch, dim});
    loss_ = autograd::mse(graph_, pass_.output, target_);
    x_ = tensor<Scalar, Backend>({batch, dim});
    eps_ = tensor<Scalar, Backend>({batch, dim});
    tau_ = buffer<std::int32_t, Backend>(batch);
    rows_ = buffer<std::int32_t, Backend>(batch);
    tau_host_.assign(batch, 0);
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

  ddpm_objective(const ddpm_objective&) = delete;
  ddpm_objective& operator=(const ddpm_objective&) = delete;

  /// The data to train on (n >= batch rows, fewer than 2^31) and, optionally, to validate on (empty: none; else at
  /// least a batch). Throws attractor::error, naming `fn`, on a wrong shape, too few rows, NaN or Inf.
  void set_data(tensor_view<const Scalar, Backend> data, tensor_view<const Scalar, Backend> validation,
                const char* fn = "diffusion::ddpm_objective::set_data") {
    nn::require_training_data(*ctx_, data, net_->options().inputs, batch_, fn);
    set_validation(validation, fn);
    data_ = data;
  }

  /// The validation set alone (empty: none).
  void set_validation(tensor_view<const Scalar, Backend> validation,
                      const char* fn = "diffusion::ddpm_objective::set_validation") {
    nn::require_validation_data(*ctx_, validation, net_->options().inputs, batch_, fn);
    validation_ = validation;
  }

  [[nodiscard]] autograd::graph<Scalar, Backend>& graph() { return graph_; }
  [[nodiscard]] autograd::value loss() const { return loss_; }
  [[nodiscard]] nn::parameter_list<Scalar, Backend> parameters() { return net_->parameters(); }
  [[nodiscard]] std::size_t batch() const { return batch_; }
  [[nodiscard]] std::size_t training_samples() const { return data_.empty() ? 0 : data_.extent(0); }
  [[nodiscard]] std::size_t validation_samples() const { return validation_.empty() ? 0 : validation_.extent(0); }
  [[nodiscard]] nn::safetensors_metadata metadata() const { return model_metadata(net_->options(), schedule_, head_); }

  /// Gathers the batch's rows, draws tau = 1 + (word mod T) and the noise, writes z and the target, and sets the
  /// network's conditioning.
  void load_batch(const nn::batch_draw& b) {
    const std::size_t dim = net_->options().inputs;
    const auto& set = b.validation ? validation_ : data_;
    require(!set.empty() && b.rows.size() == batch_ && b.words.size() == batch_ && b.gen != nullptr,
            "diffusion::ddpm_objective::load_batch", attractor::detail::text("a batch of ", batch_, " rows of data"),
            b.rows.size());
    for (std::size_t i = 0; i < batch_; ++i)
      tau_host_[i] =
          1 + static_cast<std::int32_t>(nn::detail::bounded(b.words[i], static_cast<std::uint32_t>(schedule_.steps())));
    transfer<cpu, Backend>::run(*ctx_, b.rows.data(), rows_.data(), batch_);
    transfer<cpu, Backend>::run(*ctx_, tau_host_.data(), tau_.data(), batch_);
    for_each_row_col(*ctx_, batch_, dim,
                     autograd::kernels::gather_rows<Scalar>{x_.data(), set.data(), rows_.data(), dim});
    fill_normal(*ctx_, *b.gen, eps_, Scalar(0), Scalar(1));
    for_each_index(*ctx_, batch_ * dim,
                   detail::noising_kernel<Scalar>{x_.data(), eps_.data(), tau_.data(), sqrt_alpha_bar_.data(),
                                                  sigma_.data(), graph_.value_of(pass_.input).data(),
                                                  graph_.value_of(target_).data(), head_, dim});
    net_->set_time(graph_, pass_, tau_host_.data());
  }

private:
  context<Backend>* ctx_;
  network_type* net_;
  noise_schedule schedule_;
  parameterisation head_;
  std::size_t batch_;
  autograd::graph<Scalar, Backend> graph_;
  typename network_type::pass pass_;
  autograd::value target_, loss_;
  tensor<Scalar, Backend> x_, eps_, sqrt_alpha_bar_, sigma_;
  buffer<std::int32_t, Backend> tau_, rows_;
  std::vector<std::int32_t> tau_host_;
  tensor_view<const Scalar, Backend> data_, validation_;
};

}  // namespace attractor::diffusion
