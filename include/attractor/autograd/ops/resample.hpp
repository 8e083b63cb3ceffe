// Resampling of NCHW tensors: nearest-neighbour upsampling, as torch.nn.Upsample(scale_factor, mode='nearest'), the
// decoder's way back up the U-Net.
#pragma once

#include <cstddef>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"

namespace attractor::autograd {

namespace kernels {

/// y[nc, Y, X] = x[nc, Y / f, X / f], run over (N C f H) x (f W).
template <class S>
struct upsample_nearest_forward {
  S* y;
  const S* x;
  std::size_t height, width, factor;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    const std::size_t nc = r / (factor * height), yy = r % (factor * height);
    y[r * factor * width + c] = x[(nc * height + yy / factor) * width + c / factor];
  }
};

/// dx[nc, iy, ix] (+)= the sum of dy over its f x f block, run over (N C H) x W: a gather, one thread per element.
template <class S>
struct upsample_nearest_backward {
  S* dx;
  const S* dy;
  std::size_t height, width, factor;
  bool accumulate;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t ix) const {
    const std::size_t nc = r / height, iy = r % height, out_width = factor * width;
    S sum = S(0);
    for (std::size_t a = 0; a < factor; ++a) {
      const S* row = dy + (nc * factor * height + iy * factor + a) * out_width + ix * factor;
      for (std::size_t b = 0; b < factor; ++b) sum += row[b];
    }
    contribute(dx[r * width + ix], sum, accumulate);
  }
};

}  // namespace kernels

/// Nearest-neighbour upsampling by an integer factor: x (N, C, H, W) to (N, C, factor H, factor W), each pixel
/// repeated over a factor x factor block.
template <floating_scalar Scalar, class Backend>
value upsample_nearest(graph<Scalar, Backend>& g, value x, std::size_t factor = 2) {
  constexpr const char* fn = "autograd::upsample_nearest";
  const shape xs = g.shape_of(x);
  require(xs.rank() == 4, fn, "x of shape (N, C, H, W)", xs);
  require(factor >= 1, fn, "a factor >= 1", factor);
  const std::size_t planes = xs[0] * xs[1], height = xs[2], width = xs[3];
  const value y = g.make_result({xs[0], xs[1], factor * height, factor * width}, {x});
  g.add_op(
      [=, &g] {
        for_each_row_col(g.ctx(), planes * factor * height, factor * width,
                         kernels::upsample_nearest_forward<Scalar>{g.data(y), g.data(x), height, width, factor});
      },
      [=, &g] {
        if (g.needs_grad(x))
          for_each_row_col(g.ctx(), planes * height, width,
                           kernels::upsample_nearest_backward<Scalar>{g.grad_data(x), g.grad_data(y), height, width,
                                                                      factor, g.accumulate_into(x)});
      });
  return y;
}

}  // namespace attractor::autograd
