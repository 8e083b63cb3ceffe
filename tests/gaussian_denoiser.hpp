// The exact denoiser of a Gaussian target, as a diffusion sampler's Model: tests of the samplers and of the
// diffusion ensemble source compare what they draw with closed forms.
#pragma once

#include "attractor/core/eigen.hpp"  // first: see there

#include <Eigen/Dense>
#include <cstddef>

#include "attractor/diffusion/parameterisation.hpp"
#include "attractor/diffusion/schedule.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor_test {

// The exact denoiser of x ~ N(mu, S) in 3-D, written with Eigen in double: E[x | z] = mu + a S (a^2 S + s^2 I)^-1
// (z - a mu) at z = a x + s eps, returned as the head's prediction.
struct gaussian_denoiser {
  Eigen::Vector3d mu;
  Eigen::Matrix3d cov;
  attractor::diffusion::noise_schedule schedule;
  attractor::diffusion::parameterisation head;

  [[nodiscard]] std::size_t dimension() const { return 3; }
  void predict(attractor::tensor_view<const float, attractor::cpu> z, std::size_t t,
               attractor::tensor_view<float, attractor::cpu> pred) const {
    const double a = schedule.sqrt_alpha_bar(t), s = schedule.sigma(t);
    const Eigen::Matrix3d gain = a * cov * (a * a * cov + s * s * Eigen::Matrix3d::Identity()).inverse();
    for (std::size_t r = 0; r < z.extent(0); ++r) {
      const Eigen::Vector3d zr(z.data()[3 * r], z.data()[3 * r + 1], z.data()[3 * r + 2]);
      const Eigen::Vector3d x = mu + gain * (zr - a * mu);
      const Eigen::Vector3d eps = s > 0 ? Eigen::Vector3d((zr - a * x) / s) : Eigen::Vector3d::Zero();
      for (int k = 0; k < 3; ++k) {
        double p = 0;
        switch (head) {
          case attractor::diffusion::parameterisation::noise: p = eps[k]; break;
          case attractor::diffusion::parameterisation::state: p = x[k]; break;
          case attractor::diffusion::parameterisation::velocity: p = a * eps[k] - s * x[k]; break;
        }
        pred.data()[3 * r + static_cast<std::size_t>(k)] = static_cast<float>(p);
      }
    }
  }
};

}  // namespace attractor_test
