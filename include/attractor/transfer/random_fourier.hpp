// transfer_learning::random_fourier_features (spec §6, layers/random_fourier.py): a frozen random feature map
//
//   phi(x) = sqrt(2 / D) [sin(2 pi x W / l), cos(2 pi x W / l)],  W ~ N(0, 1) of shape (inputs x D / 2),
//
// the sin block first, with wave length l (1 in the paper, on normalised states). phi(x) . phi(y) approaches the
// Gaussian kernel exp(-2 pi^2 |x - y|^2 / l^2) as D grows (a bandwidth of l / (2 pi)). W is drawn row-major by
// fill_normal from the generator passed in (advancing it), on the map's backend: the same numbers on cpu and cuda.
// The paper uses D = 256 and D = 1536.
#pragma once

#include <cmath>
#include <cstddef>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/tensor.hpp"
#include "attractor/transfer/row_map.hpp"

namespace attractor::transfer_learning {

namespace kernels {

/// out[r, j] = scale sin(factor p), out[r, half + j] = scale cos(factor p), p = sum_k x[r, k] w[k, j].
template <class S>
struct random_fourier {
  S* out;
  const S* x;
  const S* w;
  std::size_t inputs, half;
  S scale, factor;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t j) const {
    S p = 0;
    for (std::size_t k = 0; k < inputs; ++k) p += x[r * inputs + k] * w[k * half + j];
    const S a = factor * p;
    out[r * 2 * half + j] = scale * std::sin(a);
    out[r * 2 * half + half + j] = scale * std::cos(a);
  }
};

}  // namespace kernels

template <floating_scalar Scalar, class Backend>
class random_fourier_features {
public:
  /// D = `features` (even, at least 2) features of `inputs`-dimensional states at wave length `wave_length` (> 0),
  /// W drawn from `gen`. Throws on bad sizes or a wave length that is not finite and positive.
  random_fourier_features(context<Backend>& ctx, philox& gen, std::size_t features, std::size_t inputs = 3,
                          double wave_length = 1.0)
      : inputs_(inputs), features_(features), wave_length_(wave_length) {
    constexpr const char* fn = "transfer_learning::random_fourier_features";
    require(features >= 2 && features % 2 == 0, fn, "an even number of features >= 2", features);
    require(inputs > 0, fn, "inputs > 0", inputs);
    require(std::isfinite(wave_length) && wave_length > 0, fn, "a finite wave length > 0", wave_length);
    weights_ = tensor<Scalar, Backend>(shape{inputs, features / 2});
    fill_normal(ctx, gen, weights_.view());
  }

  [[nodiscard]] std::size_t inputs() const { return inputs_; }
  [[nodiscard]] std::size_t outputs() const { return features_; }
  [[nodiscard]] double wave_length() const { return wave_length_; }
  /// W (inputs x D / 2), frozen.
  [[nodiscard]] const_tensor_view<Scalar, Backend> weights() const { return weights_.view(); }
  [[nodiscard]] static constexpr std::size_t trainable_parameters() { return 0; }

  /// out (n x D) = phi(x) for states x (n x inputs), both on Backend.
  void apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, tensor_view<Scalar, Backend> out) const {
    detail::require_row_shapes(x, out, inputs_, features_, "transfer_learning::random_fourier_features::apply");
    constexpr double two_pi = 6.283185307179586476925286766559;
    const std::size_t half = features_ / 2;
    for_each_row_col(ctx, x.extent(0), half,
                     kernels::random_fourier<Scalar>{out.data(), x.data(), weights_.data(), inputs_, half,
                                                     static_cast<Scalar>(std::sqrt(2.0 / double(features_))),
                                                     static_cast<Scalar>(two_pi / wave_length_)});
  }

private:
  std::size_t inputs_, features_;
  double wave_length_;
  tensor<Scalar, Backend> weights_;
};

}  // namespace attractor::transfer_learning
