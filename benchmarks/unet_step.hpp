// One training step of the response paper's periodic U-Net under the VE SDE denoising score-matching objective, as
// nn::fit takes it, on either backend: bench_unet.cpp (cpu) and bench_unet_cuda.cu (a GPU) time the same step.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/diffusion/score_matching.hpp"
#include "attractor/diffusion/ve_sde.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/nn/unet.hpp"
#include "attractor/random/philox.hpp"

namespace attractor_bench {

inline constexpr std::size_t unet_data_rows = 512;

/// The benchmark's configurations (fields 1 x 32 x 32): "allen_cahn", unet_options{} (the paper's: channels 32, 64,
/// 128, 256, 8 residual blocks, embedding 256), and "small", channels 16, 32, 64, 2 residual blocks, embedding 64
/// (the cpu default of examples/response_spde).
inline attractor::nn::unet_options unet_config(const std::string& name) {
  attractor::nn::unet_options o;
  if (name == "small") {
    o.channels = {16, 32, 64};
    o.residual_blocks = 2;
    o.embedding = 64;
  }
  return o;
}

/// The network, its score-matching objective on random fields (diffusion::ve_sde's defaults), Adam at lr 2e-4 and
/// an EMA at 0.999, built once.
template <class Backend>
struct unet_step {
  using net_type = attractor::nn::unet<float, Backend>;
  using objective_type = attractor::diffusion::score_matching_objective<net_type>;

  unet_step(attractor::context<Backend>& context, const attractor::nn::unet_options& options, std::size_t batch_size)
      : ctx(context),
        batch(batch_size),
        gen(2026),
        net(ctx, gen, options),
        objective(ctx, net, attractor::diffusion::ve_sde{}, batch),
        params(objective.parameters()),
        opt(ctx, params, 2e-4),
        average(ctx, params, 0.999),
        data({std::max(unet_data_rows, batch), options.in_channels * options.height * options.width}),
        rows(batch),
        words(batch) {
    attractor::fill_normal(ctx, gen, data);
    objective.set_data(attractor::const_tensor_view<float, Backend>(data.view()));
  }

  /// nn::fit's train step i: load the batch, forward, backward, clip to norm 1, Adam, EMA.
  void operator()(std::size_t i) {
    for (std::size_t r = 0; r < batch; ++r) {
      rows[r] = static_cast<std::int32_t>((i * batch + r) % data.shape()[0]);
      words[r] = static_cast<std::uint32_t>(2654435761u * (i * batch + r));
    }
    attractor::philox noise(i);
    objective.load_batch({i, false, rows, words, &noise});
    auto& g = objective.graph();
    g.forward();
    g.backward(objective.loss());
    attractor::nn::clip_gradient_norm(ctx, params, 1.0);
    opt.step(ctx);
    average.update(ctx);
  }

  attractor::context<Backend>& ctx;
  std::size_t batch;
  attractor::philox gen;
  net_type net;
  objective_type objective;
  attractor::nn::parameter_list<float, Backend> params;
  attractor::nn::adam<float, Backend> opt;
  attractor::nn::ema<float, Backend> average;
  attractor::tensor<float, Backend> data;
  std::vector<std::int32_t> rows;
  std::vector<std::uint32_t> words;
};

}  // namespace attractor_bench
