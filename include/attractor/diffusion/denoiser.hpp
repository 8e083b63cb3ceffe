// The denoiser concept: what the samplers (diffusion/sampler.hpp) and da::diffusion_source take. A denoiser
// predicts its parameterisation's quantity (the noise, the clean state or the velocity) for a batch of noised states
// at one pseudo-time:
//
//   struct my_denoiser {
//     std::size_t dimension() const;  // state size
//     void predict(tensor_view<const float, cpu> z, std::size_t t, tensor_view<float, cpu> pred);
//   };
//
// z and pred are (n x dimension()) on the backend; t is on the schedule's grid (0..T). A trained denoising_resnet
// is one through network_denoiser (diffusion/network_denoiser.hpp); the tests plug in the exact denoiser of a
// Gaussian (tests/gaussian_denoiser.hpp).
#pragma once

#include <concepts>
#include <cstddef>

#include "attractor/tensor/tensor.hpp"

namespace attractor::diffusion {

template <class Model, class Scalar, class Backend>
concept denoiser = requires(Model& m, const Model& c, tensor_view<const Scalar, Backend> z, std::size_t t,
                            tensor_view<Scalar, Backend> pred) {
  { c.dimension() } -> std::convertible_to<std::size_t>;
  m.predict(z, t, pred);
};

}  // namespace attractor::diffusion
