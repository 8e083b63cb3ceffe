// The score_network concept: a time-conditioned network trained by score matching under a VE SDE
// (diffusion/score_matching.hpp) and evaluated as a score by network_score (diffusion/network_score.hpp). nn::unet
// (spec §8) is one; the tests use small linear ones.
//
//   struct my_net {
//     using scalar_type = float;
//     using backend_type = cpu;
//     struct pass {
//       autograd::value input;   // (batch, sample_shape...): the noised samples x_t
//       autograd::value time;    // (batch): the diffusion times t
//       autograd::value output;  // input's shape: net(x, t) ~ -z, so the score is output / sigma(t)
//     };
//     pass build(autograd::graph<float, cpu>& g, std::size_t batch);  // the network's nodes in g, for batch samples
//     nn::parameter_list<float, cpu> parameters();
//     attractor::shape sample_shape() const;  // one sample, e.g. (1, 32, 32); D = its size
//     std::string architecture() const;       // one line, recorded in checkpoint metadata ("attractor.architecture")
//   };
//
// The noise-prediction form (output ~ -z rather than the score itself) keeps the output O(1) at every noise level,
// as CliMAgen's NoiseConditionalScoreNetwork does.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>

#include "attractor/autograd/graph.hpp"
#include "attractor/nn/parameter.hpp"
#include "attractor/tensor/shape.hpp"

namespace attractor::diffusion {

template <class N>
concept score_network = requires(N& n, const N& c,
                                 autograd::graph<typename N::scalar_type, typename N::backend_type>& g,
                                 std::size_t batch, typename N::pass p) {
  typename N::scalar_type;
  typename N::backend_type;
  { p.input } -> std::convertible_to<autograd::value>;
  { p.time } -> std::convertible_to<autograd::value>;
  { p.output } -> std::convertible_to<autograd::value>;
  { n.build(g, batch) } -> std::same_as<typename N::pass>;
  { n.parameters() } -> std::same_as<nn::parameter_list<typename N::scalar_type, typename N::backend_type>>;
  { c.sample_shape() } -> std::convertible_to<attractor::shape>;
  { c.architecture() } -> std::convertible_to<std::string>;
};

/// D, the size of one sample of `net`.
template <score_network N>
std::size_t sample_size(const N& net) {
  return attractor::shape(net.sample_shape()).size();
}

/// The shape (batch, sample_shape...) of a batch of `net`'s samples.
template <score_network N>
attractor::shape batch_shape(const N& net, std::size_t batch) {
  const attractor::shape s = net.sample_shape();
  std::size_t extents[attractor::max_rank] = {batch};
  require(s.rank() + 1 <= attractor::max_rank, "diffusion::batch_shape", "a sample shape of rank below the maximum", s);
  for (std::size_t i = 0; i < s.rank(); ++i) extents[i + 1] = s[i];
  return attractor::shape(extents, extents + s.rank() + 1);
}

}  // namespace attractor::diffusion
