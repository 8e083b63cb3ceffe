// nn::unet: the periodic U-Net score network of the response paper (spec §8; CliMAgen's
// NoiseConditionalScoreNetwork with periodic = true, no mean bypass, no dropout), for fields of in_channels x height x
// width in NCHW. With channels c_0..c_{L-1} (default 32, 64, 128, 256):
//
//   embedding   e = swish(Linear(E -> E)([sin 2 pi W t, cos 2 pi W t])),   W ~ scale N(0, 1), fixed (E/2 of them)
//   encoder     h_1 = GN(conv(x) + Dense(e))                                  c_0 at full size, 3x3, no bias
//               h_l = GN(conv_s2(h_{l-1}) + Dense(e)),  l = 2..L                c_{l-1}, halving the size each time
//               (h_L has no norm of its own)
//   bottleneck  residual_blocks times: h <- h + Conv(GN(Conv(GN(h)) + Dense(e)))
//   decoder     h = GN(h);  then for l = L..2: h = GN(upconv(h or [h, h_l]) + Dense(e)), upconv = nearest x2 then 3x3
//               conv, no bias, to c_{l-2};  output = Conv([h, h_1]) to in_channels, 3x3 with bias
//
// GN is group norm then swish; every conv pads circularly. The group norms at c_0 have first_groups groups (4 in
// the paper's config), those elsewhere min(groups, C) (32), those of the residual blocks min(C / 4, groups). The
// output is net(x, t); the score is net(x, t) / sigma(t) (the network predicts -z, diffusion/score_matching.hpp).
//
// Parameter names follow CliMAgen's layer names in PyTorch's state_dict form ("conv1.weight", "dense1.bias",
// "resnet_blocks.3.Conv_0.weight", "tconv1.bias", "gaussfourierproj.W", ...), so a PyTorch port with those
// attribute names can share checkpoints; the Fourier frequencies are a parameter that is not trainable (as a
// PyTorch nn.Parameter with requires_grad=False), so checkpoints carry them. Initialisation is PyTorch's default
// (Flux's Glorot differs; the paper's numbers do not depend on it).
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/autograd/ops/fourier.hpp"
#include "attractor/autograd/ops/resample.hpp"
#include "attractor/autograd/ops/shape.hpp"
#include "attractor/nn/conv2d.hpp"
#include "attractor/nn/group_norm.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/random/philox.hpp"

namespace attractor::nn {

struct unet_options {
  std::size_t in_channels = 1;
  std::size_t height = 32;  ///< divisible by 2^(levels - 1)
  std::size_t width = 32;
  std::vector<std::size_t> channels = {32, 64, 128, 256};  ///< per level, at least two levels
  std::size_t residual_blocks = 8;                         ///< at the coarsest level
  std::size_t embedding = 256;                             ///< E: Fourier features (even) and the embedding width
  double fourier_scale = 30;                               ///< W ~ scale N(0, 1)
  std::size_t first_groups = 4;                            ///< group-norm groups at channels[0]
  std::size_t groups = 32;                                 ///< elsewhere, at most
  std::size_t kernel = 3;                                  ///< every conv's (odd)
};

/// The architecture in one line, as checkpoints record it ("unet in=1 height=32 ... kernel=3").
inline std::string unet_architecture(const unet_options& o) {
  std::ostringstream out;
  out << "unet in=" << o.in_channels << " height=" << o.height << " width=" << o.width << " channels=";
  for (std::size_t l = 0; l < o.channels.size(); ++l) out << (l ? "," : "") << o.channels[l];
  char scale[32];
  std::snprintf(scale, sizeof scale, "%.17g", o.fourier_scale);
  out << " residual=" << o.residual_blocks << " embedding=" << o.embedding << " scale=" << scale
      << " groups=" << o.first_groups << "," << o.groups << " kernel=" << o.kernel;
  return out.str();
}

/// The options unet_architecture wrote; throws attractor::error on anything else.
inline unet_options parse_unet_architecture(const std::string& text) {
  constexpr const char* fn = "nn::parse_unet_architecture";
  const char* expected =
      "\"unet in=N height=N width=N channels=N,N,... residual=N embedding=N scale=X groups=N,N kernel=N\"";
  auto number = [&](const std::string& digits) {
    require(!digits.empty() && digits.size() < 10 && digits.find_first_not_of("0123456789") == std::string::npos, fn,
            expected, text);
    return static_cast<std::size_t>(std::stoul(digits));
  };
  auto numbers = [&](const std::string& list) {
    std::vector<std::size_t> out;
    std::size_t start = 0;
    for (std::size_t comma; (comma = list.find(',', start)) != std::string::npos; start = comma + 1)
      out.push_back(number(list.substr(start, comma - start)));
    out.push_back(number(list.substr(start)));
    return out;
  };
  std::istringstream in(text);
  std::string word;
  require(static_cast<bool>(in >> word) && word == "unet", fn, expected, text);
  const char* keys[] = {"in", "height", "width", "channels", "residual", "embedding", "scale", "groups", "kernel"};
  unet_options o;
  for (const char* key : keys) {
    const std::string prefix = std::string(key) + "=";
    require(static_cast<bool>(in >> word) && word.rfind(prefix, 0) == 0, fn, expected, text);
    const std::string v = word.substr(prefix.size());
    const std::string k = key;
    if (k == "in") o.in_channels = number(v);
    if (k == "height") o.height = number(v);
    if (k == "width") o.width = number(v);
    if (k == "channels") o.channels = numbers(v);
    if (k == "residual") o.residual_blocks = number(v);
    if (k == "embedding") o.embedding = number(v);
    if (k == "kernel") o.kernel = number(v);
    if (k == "groups") {
      const auto g = numbers(v);
      require(g.size() == 2, fn, expected, text);
      o.first_groups = g[0];
      o.groups = g[1];
    }
    if (k == "scale") {
      std::size_t used = 0;
      try {
        o.fourier_scale = std::stod(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      require(used == v.size() && used > 0, fn, expected, text);
    }
  }
  require(!(in >> word), fn, expected, text);
  return o;
}

template <floating_scalar Scalar, class Backend>
class unet {
public:
  using scalar_type = Scalar;
  using backend_type = Backend;
  using graph_type = autograd::graph<Scalar, Backend>;

  /// The handles of one built forward pass (the score-network concept of diffusion/score_network.hpp).
  struct pass {
    autograd::value input;   ///< (batch x in_channels x height x width): the noised field x_t
    autograd::value time;    ///< (batch): the diffusion times t
    autograd::value output;  ///< input's shape: net(x_t, t)
  };

  unet(context<Backend>& ctx, philox& gen, const unet_options& options = {})
      : options_(validated(options)),
        fourier_("gaussfourierproj.W", {options.embedding / 2}),
        linear_(ctx, gen, "linear", options.embedding, options.embedding) {
    const auto& c = options_.channels;
    const std::size_t levels = c.size(), k = options_.kernel, e = options_.embedding;
    fourier_.trainable = false;
    fill_normal(ctx, gen, fourier_.value, Scalar(0), static_cast<Scalar>(options_.fourier_scale));
    for (std::size_t l = 0; l < levels; ++l) {  // encoder: conv1 .. convL, dense1 .. denseL, gnorm1 .. gnorm(L-1)
      const std::string n = std::to_string(l + 1);
      encoder_.push_back(std::make_unique<conv2d<Scalar, Backend>>(ctx, gen, "conv" + n,
                                                                   l == 0 ? options_.in_channels : c[l - 1], c[l],
                                                                   conv2d_options{k, l == 0 ? 1u : 2u, false}));
      encoder_dense_.push_back(std::make_unique<linear<Scalar, Backend>>(ctx, gen, "dense" + n, e, c[l]));
      if (l + 1 < levels) encoder_norm_.push_back(norm(ctx, "gnorm" + n, l));
    }
    for (std::size_t b = 0; b < options_.residual_blocks; ++b)
      blocks_.push_back(std::make_unique<residual_block>(ctx, gen, "resnet_blocks." + std::to_string(b), c.back(), k, e,
                                                         residual_groups(options_)));
    bottleneck_norm_ = norm(ctx, "gnorm" + std::to_string(levels), levels - 1);
    for (std::size_t l = levels; l >= 2; --l) {  // decoder: tconvL .. tconv2 to c[l-2], each with dense and norm
      const std::string n = std::to_string(l);
      const std::size_t in = l == levels ? c[l - 1] : 2 * c[l - 1];
      decoder_.push_back(
          std::make_unique<conv2d<Scalar, Backend>>(ctx, gen, "tconv" + n, in, c[l - 2], conv2d_options{k, 1, false}));
      decoder_dense_.push_back(std::make_unique<linear<Scalar, Backend>>(ctx, gen, "denseup" + n, e, c[l - 2]));
      decoder_norm_.push_back(norm(ctx, "tgnorm" + n, l - 2));
    }
    output_ = std::make_unique<conv2d<Scalar, Backend>>(ctx, gen, "tconv1", 2 * c[0], options_.in_channels,
                                                        conv2d_options{k, 1, true});
  }

  unet(const unet&) = delete;
  unet& operator=(const unet&) = delete;

  [[nodiscard]] const unet_options& options() const { return options_; }
  [[nodiscard]] std::string architecture() const { return unet_architecture(options_); }
  /// One sample: (in_channels x height x width).
  [[nodiscard]] shape sample_shape() const { return {options_.in_channels, options_.height, options_.width}; }

  /// Every parameter, in the order of construction (the Fourier frequencies, not trainable, first).
  [[nodiscard]] parameter_list<Scalar, Backend> parameters() {
    parameter_list<Scalar, Backend> list{&fourier_};
    linear_.append_parameters(list);
    for (std::size_t l = 0; l < encoder_.size(); ++l) {
      encoder_[l]->append_parameters(list);
      encoder_dense_[l]->append_parameters(list);
      if (l < encoder_norm_.size()) encoder_norm_[l]->append_parameters(list);
    }
    for (auto& b : blocks_) b->append_parameters(list);
    bottleneck_norm_->append_parameters(list);
    for (std::size_t l = 0; l < decoder_.size(); ++l) {
      decoder_[l]->append_parameters(list);
      decoder_dense_[l]->append_parameters(list);
      decoder_norm_[l]->append_parameters(list);
    }
    output_->append_parameters(list);
    return list;
  }

  /// Adds the forward pass for `batch` samples to g. Before each g.forward(), write the fields into
  /// g.value_of(pass.input) and the diffusion times into g.value_of(pass.time).
  pass build(graph_type& g, std::size_t batch) {
    require(batch > 0, "unet::build", "a batch of at least one sample", batch);
    pass p;
    p.input = g.input({batch, options_.in_channels, options_.height, options_.width});
    p.time = g.input({batch});
    const autograd::value e =
        autograd::swish(g, linear_(g, autograd::gaussian_fourier_features(g, p.time, g.parameter(fourier_))));
    std::vector<autograd::value> skips;  // h_1 .. h_{L-1}, after their norms
    autograd::value h = p.input;
    for (std::size_t l = 0; l < encoder_.size(); ++l) {
      h = inject(g, (*encoder_[l])(g, h), *encoder_dense_[l], e);
      if (l < encoder_norm_.size()) {
        h = (*encoder_norm_[l])(g, h);
        skips.push_back(h);
      }
    }
    for (auto& b : blocks_) h = b->build(g, h, e);
    h = (*bottleneck_norm_)(g, h);
    for (std::size_t d = 0; d < decoder_.size(); ++d) {
      if (d > 0) h = autograd::concat_channels(g, h, skips[skips.size() - d]);
      h = inject(g, (*decoder_[d])(g, autograd::upsample_nearest(g, h, 2)), *decoder_dense_[d], e);
      h = (*decoder_norm_[d])(g, h);
    }
    p.output = (*output_)(g, autograd::concat_channels(g, h, skips.front()));
    return p;
  }

private:
  /// h (N x C x H x W) + Dense(e) as (N x C x 1 x 1): the per-level time injection.
  static autograd::value inject(graph_type& g, autograd::value h, linear<Scalar, Backend>& dense, autograd::value e) {
    const shape s = g.shape_of(h);
    const autograd::value d = autograd::reshape(g, dense(g, e), {s[0], s[1], 1, 1});
    return autograd::add(g, h, d);
  }

  /// The group counts of the header: at level l, first_groups at level 0 and min(groups, C) elsewhere; in the
  /// residual blocks min(C / 4, groups) (at least 1). One rule for building the norms and for validated().
  static std::size_t level_groups(const unet_options& o, std::size_t level) {
    return level == 0 ? o.first_groups : std::min(o.groups, o.channels[level]);
  }
  static std::size_t residual_groups(const unet_options& o) {
    return std::min(std::max<std::size_t>(o.channels.back() / 4, 1), o.groups);
  }

  /// The group norm of the channels at `level`.
  std::unique_ptr<group_norm<Scalar, Backend>> norm(context<Backend>& ctx, const std::string& name,
                                                    std::size_t level) const {
    return std::make_unique<group_norm<Scalar, Backend>>(ctx, name, options_.channels[level],
                                                         level_groups(options_, level));
  }

  static unet_options validated(const unet_options& o) {
    constexpr const char* fn = "nn::unet";
    require(o.in_channels > 0, fn, "at least one input channel", o.in_channels);
    require(o.channels.size() >= 2, fn, "at least two levels of channels", o.channels.size());
    for (std::size_t c : o.channels) require(c > 0, fn, "channel counts > 0", c);
    const std::size_t factor = std::size_t{1} << (o.channels.size() - 1);
    require(o.height > 0 && o.width > 0 && o.height % factor == 0 && o.width % factor == 0, fn,
            attractor::detail::text("a height and width divisible by ", factor, " (2^(levels - 1))"),
            attractor::detail::text(o.height, " x ", o.width));
    require(o.embedding >= 2 && o.embedding % 2 == 0, fn, "an even embedding width >= 2", o.embedding);
    require(std::isfinite(o.fourier_scale) && o.fourier_scale > 0, fn, "a finite fourier_scale > 0", o.fourier_scale);
    require(o.kernel % 2 == 1, fn, "an odd kernel size", o.kernel);
    require(o.first_groups > 0 && o.channels[0] % o.first_groups == 0, fn,
            attractor::detail::text("first_groups dividing channels[0] = ", o.channels[0]), o.first_groups);
    require(o.groups > 0, fn, "groups > 0", o.groups);
    for (std::size_t l = 1; l < o.channels.size(); ++l) {
      const std::size_t g = level_groups(o, l);
      require(o.channels[l] % g == 0, fn,
              attractor::detail::text("channels[", l, "] divisible by its ", g, " groups (min(groups, channels))"),
              o.channels[l]);
    }
    const std::size_t rc = o.channels.back(), rg = residual_groups(o);
    require(rc % rg == 0, fn,
            attractor::detail::text("the residual blocks' ", rc, " channels divisible by their ", rg, " groups"), rc);
    return o;
  }

  struct residual_block {
    residual_block(context<Backend>& ctx, philox& gen, const std::string& prefix, std::size_t channels,
                   std::size_t kernel, std::size_t embedding, std::size_t groups)
        : norm0(ctx, prefix + ".GroupNorm_0", channels, groups),
          conv0(ctx, gen, prefix + ".Conv_0", channels, channels, conv2d_options{kernel, 1, true}),
          dense0(ctx, gen, prefix + ".Dense_0", embedding, channels),
          norm1(ctx, prefix + ".GroupNorm_1", channels, groups),
          conv1(ctx, gen, prefix + ".Conv_1", channels, channels, conv2d_options{kernel, 1, true}) {}

    void append_parameters(parameter_list<Scalar, Backend>& out) {
      norm0.append_parameters(out);
      conv0.append_parameters(out);
      dense0.append_parameters(out);
      norm1.append_parameters(out);
      conv1.append_parameters(out);
    }

    autograd::value build(graph_type& g, autograd::value x, autograd::value e) {
      const autograd::value h = inject(g, conv0(g, norm0(g, x)), dense0, e);
      return autograd::add(g, x, conv1(g, norm1(g, h)));  // dropout 0 in the paper's config: none here
    }

    group_norm<Scalar, Backend> norm0;
    conv2d<Scalar, Backend> conv0;
    linear<Scalar, Backend> dense0;
    group_norm<Scalar, Backend> norm1;
    conv2d<Scalar, Backend> conv1;
  };

  unet_options options_;
  parameter<Scalar, Backend> fourier_;
  linear<Scalar, Backend> linear_;
  std::vector<std::unique_ptr<conv2d<Scalar, Backend>>> encoder_;
  std::vector<std::unique_ptr<linear<Scalar, Backend>>> encoder_dense_;
  std::vector<std::unique_ptr<group_norm<Scalar, Backend>>> encoder_norm_;
  std::vector<std::unique_ptr<residual_block>> blocks_;
  std::unique_ptr<group_norm<Scalar, Backend>> bottleneck_norm_;
  std::vector<std::unique_ptr<conv2d<Scalar, Backend>>> decoder_;
  std::vector<std::unique_ptr<linear<Scalar, Backend>>> decoder_dense_;
  std::vector<std::unique_ptr<group_norm<Scalar, Backend>>> decoder_norm_;
  std::unique_ptr<conv2d<Scalar, Backend>> output_;
};

}  // namespace attractor::nn
