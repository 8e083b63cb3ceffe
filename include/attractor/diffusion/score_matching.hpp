// Denoising score matching under the VE SDE (spec §8): the objective nn::fit trains a score_network with.
//
// Per sample, t ~ U(t_min, t_max) (from the batch's word; t_min = 1e-5, t_max = 1 as CliMAgen) and z ~ N(0, I)
// (from the batch's generator) give x_t = x0 + sigma(t) z; the loss is the mean over batch and pixels of
// (z + net(x_t, t))^2, i.e. the MSE between the network's output and -z. With score = net / sigma this is the
// sigma^2-weighted DSM loss E |sigma(t) s(x_t, t) + z|^2, whose minimiser is s = grad log p_t (CliMAgen splits it into
// spatial-mean and deviation parts whose sum is this loss exactly).
//
// The checkpoint metadata says what the network computes: "attractor.architecture" (the network's architecture())
// and "attractor.sde" (sde_text). checkpoint_sde reads the SDE back; load_score_weights loads a checkpoint (its EMA
// weights by default) into a network after checking both.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/diffusion/score_network.hpp"
#include "attractor/diffusion/ve_sde.hpp"
#include "attractor/nn/checkpoint.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"

namespace attractor::diffusion {

namespace detail {

/// Row r of the batch: x_t = x0 + sigma_r z and the target -z.
template <class Scalar>
struct perturb_kernel {
  const Scalar* x0;
  const Scalar* z;
  const Scalar* sigma;  // per row
  Scalar* xt;
  Scalar* target;
  std::size_t dim;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    xt[i] = x0[i] + sigma[i / dim] * z[i];
    target[i] = -z[i];
  }
};

}  // namespace detail

/// The metadata entries of a score-matching checkpoint that say what its network computes.
inline nn::safetensors_metadata score_model_metadata(const std::string& architecture, const ve_sde& sde) {
  return {{"attractor.architecture", architecture}, {"attractor.sde", sde_text(sde)}};
}

/// The SDE a score-matching checkpoint was trained under, read from its metadata (the header only), so that a program
/// can rebuild it before sampling. Throws attractor::error on a file without a valid header or "attractor.sde" entry.
inline ve_sde checkpoint_sde(const std::filesystem::path& path) {
  const std::string fn = attractor::detail::concat("diffusion::checkpoint_sde(", path, ")");
  const nn::safetensors_metadata metadata = nn::safetensors_file::read_metadata(path);
  const auto it = metadata.find("attractor.sde");
  require(it != metadata.end(), fn, "an attractor.sde entry in the metadata", "none");
  return parse_sde(it->second, fn.c_str());
}

/// Loads the weights of a checkpoint written by nn::fit through a score_matching_objective into `net`: the EMA
/// weights ("ema.<name>", the ones to sample and evaluate scores with, spec §7) with `averaged`, else the raw ones.
/// Refuses (attractor::error, nothing changed) a checkpoint whose architecture or SDE differs from net's and `sde`.
template <score_network Net>
void load_score_weights(context<typename Net::backend_type>& ctx, const std::filesystem::path& path, Net& net,
                        const ve_sde& sde, bool averaged = true) {
  const std::string fn = attractor::detail::concat("diffusion::load_score_weights(", path, ")");
  validated(sde, fn.c_str());
  nn::load_weights(ctx, path, net.parameters(), score_model_metadata(net.architecture(), sde), averaged, fn);
}

struct score_matching_options {
  double t_min = 1e-5;  ///< diffusion times are drawn from U(t_min, t_max)
  double t_max = 1;     ///< t_min = t_max trains at one noise level
};

/// The DSM objective of a score_network `Net` over a training set and an optional validation set (n x D, D the
/// network's sample size, on the backend, held as views: they must outlive the training run).
template <score_network Net>
class score_matching_objective {
public:
  using scalar_type = typename Net::scalar_type;
  using backend_type = typename Net::backend_type;
  using Scalar = scalar_type;
  using Backend = backend_type;

  /// Builds the training graph of `net` (which must outlive the objective) for `batch` samples.
  score_matching_objective(context<Backend>& ctx, Net& net, const ve_sde& sde, std::size_t batch,
                           score_matching_options options = {})
      : ctx_(&ctx),
        net_(&net),
        sde_(validated(sde, "diffusion::score_matching_objective")),
        options_(options),
        batch_(batch),
        dim_(sample_size(net)),
        graph_(ctx) {
    constexpr const char* fn = "diffusion::score_matching_objective";
    require(batch > 0, fn, "a batch of at least one sample", batch);
    require(dim_ > 0, fn, "a network with a non-empty sample shape", net.sample_shape());
    require(std::isfinite(options.t_min) && std::isfinite(options.t_max) && options.t_min > 0 &&
                options.t_min <= options.t_max && options.t_max <= 1,
            fn, "diffusion times 0 < t_min <= t_max <= 1",
            attractor::detail::text("t_min = ", options.t_min, ", t_max = ", options.t_max));
    pass_ = net.build(graph_, batch);
    const attractor::shape in = batch_shape(net, batch);
    require(graph_.shape_of(pass_.input) == in, fn, attractor::detail::text("a network input of shape ", in),
            graph_.shape_of(pass_.input));
    require(graph_.shape_of(pass_.time) == attractor::shape{batch}, fn,
            attractor::detail::text("a network time input of shape (", batch, ")"), graph_.shape_of(pass_.time));
    require(graph_.shape_of(pass_.output) == in, fn, attractor::detail::text("a network output of shape ", in),
            graph_.shape_of(pass_.output));
    target_ = graph_.input(in);
    loss_ = autograd::mse(graph_, pass_.output, target_);
    x0_ = tensor<Scalar, Backend>({batch, dim_});
    z_ = tensor<Scalar, Backend>({batch, dim_});
    sigma_ = tensor<Scalar, Backend>({batch});
    rows_ = buffer<std::int32_t, Backend>(batch);
    t_host_.assign(batch, Scalar(0));
    sigma_host_.assign(batch, Scalar(0));
  }

  score_matching_objective(const score_matching_objective&) = delete;
  score_matching_objective& operator=(const score_matching_objective&) = delete;

  /// The data to train on (n >= batch rows of D, fewer than 2^31) and, optionally, to validate on (empty: none; else
  /// at least a batch). Throws attractor::error, naming `fn`, on a wrong shape, too few rows, NaN or Inf.
  void set_data(tensor_view<const Scalar, Backend> data, tensor_view<const Scalar, Backend> validation = {},
                const char* fn = "diffusion::score_matching_objective::set_data") {
    nn::require_training_data(*ctx_, data, dim_, batch_, fn);
    set_validation(validation, fn);
    data_ = data;
  }

  /// The validation set alone (empty: none).
  void set_validation(tensor_view<const Scalar, Backend> validation,
                      const char* fn = "diffusion::score_matching_objective::set_validation") {
    nn::require_validation_data(*ctx_, validation, dim_, batch_, fn);
    validation_ = validation;
  }

  [[nodiscard]] autograd::graph<Scalar, Backend>& graph() { return graph_; }
  [[nodiscard]] autograd::value loss() const { return loss_; }
  [[nodiscard]] nn::parameter_list<Scalar, Backend> parameters() { return net_->parameters(); }
  [[nodiscard]] std::size_t batch() const { return batch_; }
  [[nodiscard]] std::size_t training_samples() const { return data_.empty() ? 0 : data_.extent(0); }
  [[nodiscard]] std::size_t validation_samples() const { return validation_.empty() ? 0 : validation_.extent(0); }
  [[nodiscard]] nn::safetensors_metadata metadata() const { return score_model_metadata(net_->architecture(), sde_); }
  [[nodiscard]] const ve_sde& sde() const { return sde_; }
  [[nodiscard]] const score_matching_options& options() const { return options_; }
  /// The network's pass in graph(): after load_batch its input holds x_t and its time t.
  [[nodiscard]] const typename Net::pass& pass() const { return pass_; }
  /// The node holding the target -z of the current batch.
  [[nodiscard]] autograd::value target() const { return target_; }

  /// Gathers the batch's rows, draws t = t_min + (t_max - t_min) u (u from the row's word) and z, and writes x_t,
  /// the times and the target -z into the graph.
  void load_batch(const nn::batch_draw& b) {
    const auto& set = b.validation ? validation_ : data_;
    require(!set.empty() && b.rows.size() == batch_ && b.words.size() == batch_ && b.gen != nullptr,
            "diffusion::score_matching_objective::load_batch",
            attractor::detail::text("a batch of ", batch_, " rows of data"), b.rows.size());
    for (std::size_t i = 0; i < batch_; ++i) {
      const double t =
          options_.t_min + (options_.t_max - options_.t_min) * static_cast<double>(uniform_float(b.words[i]));
      t_host_[i] = static_cast<Scalar>(t);
      sigma_host_[i] = static_cast<Scalar>(sde_.sigma(t));
    }
    transfer<cpu, Backend>::run(*ctx_, b.rows.data(), rows_.data(), batch_);
    transfer<cpu, Backend>::run(*ctx_, t_host_.data(), graph_.value_of(pass_.time).data(), batch_);
    transfer<cpu, Backend>::run(*ctx_, sigma_host_.data(), sigma_.data(), batch_);
    for_each_row_col(*ctx_, batch_, dim_,
                     autograd::kernels::gather_rows<Scalar>{x0_.data(), set.data(), rows_.data(), dim_});
    fill_normal(*ctx_, *b.gen, z_, Scalar(0), Scalar(1));
    for_each_index(
        *ctx_, batch_ * dim_,
        detail::perturb_kernel<Scalar>{x0_.data(), z_.data(), sigma_.data(), graph_.value_of(pass_.input).data(),
                                       graph_.value_of(target_).data(), dim_});
  }

private:
  context<Backend>* ctx_;
  Net* net_;
  ve_sde sde_;
  score_matching_options options_;
  std::size_t batch_, dim_;
  autograd::graph<Scalar, Backend> graph_;
  typename Net::pass pass_;
  autograd::value target_, loss_;
  tensor<Scalar, Backend> x0_, z_, sigma_;
  buffer<std::int32_t, Backend> rows_;
  std::vector<Scalar> t_host_, sigma_host_;
  tensor_view<const Scalar, Backend> data_, validation_;
};

}  // namespace attractor::diffusion
