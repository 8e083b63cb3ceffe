// The kernels of FiLM conditioning evaluated once per distinct pseudo-time (denoising_resnet's
// conditioning::per_tau). The modulation reads each sample's scale and shift straight from the small per-tau table
// through the sample's slot, so the per-sample (batch x 2 hidden) FiLM output is never formed in the forward pass,
// and the backward pass writes the per-sample FiLM gradient in the layout the segment sum by slot reads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "attractor/autograd/kernels.hpp"
#include "attractor/core/config.hpp"

namespace attractor::nn::detail {

/// y[r, c] = x[r, c] * (1 + table[slot[r], c]) + table[slot[r], hidden + c], over batch x hidden (for_each_row_col);
/// the table's rows are [scale, shift] (2 hidden wide).
template <class S>
struct modulate_by_slot {
  S* y;
  const S* x;
  const S* table;
  const std::int32_t* slot;
  std::size_t hidden;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t i = r * hidden + c;
    const S* row = table + static_cast<std::size_t>(slot[r]) * 2 * hidden;
    y[i] = x[i] * (S(1) + row[c]) + row[hidden + c];
  }
};

/// The backward pass of modulate_by_slot: dx (+)= dy * (1 + scale) where dx is wanted (non-null), and the
/// per-sample FiLM gradient film_grad[r, :] = [dy * x, dy] (batch x 2 hidden), overwritten.
template <class S>
struct modulate_by_slot_backward {
  S* dx;
  S* film_grad;
  const S* dy;
  const S* x;
  const S* table;
  const std::int32_t* slot;
  std::size_t hidden;
  bool accumulate_x;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t i = r * hidden + c;
    const S d = dy[i];
    if (dx)
      autograd::kernels::contribute(dx[i], d * (S(1) + table[static_cast<std::size_t>(slot[r]) * 2 * hidden + c]),
                                    accumulate_x);
    film_grad[r * 2 * hidden + c] = d * x[i];
    film_grad[r * 2 * hidden + hidden + c] = d;
  }
};

}  // namespace attractor::nn::detail
