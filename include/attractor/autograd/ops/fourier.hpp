// Gaussian Fourier features of the diffusion time, as the GaussianFourierProjection of score_sde and CliMAgen: t (N)
// and fixed random frequencies w (D / 2) give [sin(2 pi w t), cos(2 pi w t)] (N, D), sines first.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"

namespace attractor::autograd {

namespace kernels {

/// 2 pi, in the kernels' scalar type.
template <class S>
ATTRACTOR_HOST_DEVICE inline S two_pi() {
  return S(6.283185307179586476925286766559);
}

/// y[n, j] = sin(2 pi w[j] t[n]) and y[n, M + j] = cos(2 pi w[j] t[n]), run over N x M.
template <class S>
struct fourier_features_forward {
  S* y;
  const S* t;
  const S* w;
  std::size_t half;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t n, std::size_t j) const {
    const S theta = two_pi<S>() * w[j] * t[n];
    y[n * 2 * half + j] = sin(theta);
    y[n * 2 * half + half + j] = cos(theta);
  }
};

/// d theta[n, j] = 2 pi (dy[n, j] cos theta - dy[n, M + j] sin theta): the gradient through both halves with
/// respect to 2 pi w t, over N x M, from which dt = d theta w and dw = t^T d theta are GEMMs.
template <class S>
struct fourier_features_backward {
  S* dtheta;
  const S* dy;
  const S* t;
  const S* w;
  std::size_t half;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t n, std::size_t j) const {
    const S theta = two_pi<S>() * w[j] * t[n];
    dtheta[n * half + j] = two_pi<S>() * (dy[n * 2 * half + j] * cos(theta) - dy[n * 2 * half + half + j] * sin(theta));
  }
};

}  // namespace kernels

/// [sin(2 pi w t), cos(2 pi w t)] for diffusion times t (N) and frequencies w (M): (N, 2 M), sines first. Both
/// operands get gradients where they need them; fixed frequencies are a leaf without one.
template <floating_scalar Scalar, class Backend>
value gaussian_fourier_features(graph<Scalar, Backend>& g, value t, value w) {
  constexpr const char* fn = "autograd::gaussian_fourier_features";
  const shape ts = g.shape_of(t), ws = g.shape_of(w);
  require(ts.rank() == 1, fn, "times t of shape (N)", ts);
  require(ws.rank() == 1 && ws[0] > 0, fn, "frequencies w of shape (D / 2), D / 2 > 0", ws);
  const std::size_t batch = ts[0], half = ws[0];
  const value y = g.make_result({batch, 2 * half}, {t, w});
  const auto dtheta = g.scratch_if(g.needs_grad(t) || g.needs_grad(w), shape{batch, half});
  g.add_op(
      [=, &g] {
        for_each_row_col(g.ctx(), batch, half,
                         kernels::fourier_features_forward<Scalar>{g.data(y), g.data(t), g.data(w), half});
      },
      [=, &g] {
        for_each_row_col(
            g.ctx(), batch, half,
            kernels::fourier_features_backward<Scalar>{dtheta->data(), g.grad_data(y), g.data(t), g.data(w), half});
        const Scalar* d = dtheta->data();
        if (g.needs_grad(t))  // dt (N x 1) = d theta (N x M) w (M x 1)
          gemm(g.ctx(), transpose::no, transpose::no, batch, 1, half, Scalar(1), d, half,
               static_cast<const Scalar*>(g.data(w)), 1, g.gemm_beta(t), g.grad_data(t), 1);
        if (g.needs_grad(w))  // dw (1 x M) = t^T (1 x N) d theta (N x M)
          gemm(g.ctx(), transpose::no, transpose::no, 1, half, batch, Scalar(1), static_cast<const Scalar*>(g.data(t)),
               std::max<std::size_t>(batch, 1), d, half, g.gemm_beta(w), g.grad_data(w), half);
      });
  return y;
}

}  // namespace attractor::autograd
