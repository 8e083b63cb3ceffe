// The variance-exploding SDE of the score-based response (spec §8; Song et al. 2021, CliMAgen's VarianceExplodingSDE):
//
//   dx = g(t) dW,  t in [0, 1],  sigma(t) = sigma_min (sigma_max / sigma_min)^t,
//   g(t) = sigma(t) sqrt(2 ln(sigma_max / sigma_min)),  so that g(t)^2 = d sigma(t)^2 / dt,
//
// zero drift, perturbation kernel p_t(x | x0) = N(x0, sigma(t)^2 I), prior N(0, sigma_max^2 I) at t = 1. (The
// kernel's variance is sigma(t)^2 rather than sigma(t)^2 - sigma_min^2, as in CliMAgen and score_sde: sigma_min is
// the noise level the model sees at t = 0.) The training objective is diffusion/score_matching.hpp, the samplers
// diffusion/ve_sampler.hpp.
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

#include "attractor/core/error.hpp"

namespace attractor::diffusion {

struct ve_sde {
  double sigma_min = 0.01;
  double sigma_max = 14.0;  ///< the Allen-Cahn configuration (spec §8)

  /// sigma(t) = sigma_min (sigma_max / sigma_min)^t.
  [[nodiscard]] double sigma(double t) const { return sigma_min * std::pow(sigma_max / sigma_min, t); }
  /// g(t)^2 = d sigma^2 / dt = 2 ln(sigma_max / sigma_min) sigma(t)^2.
  [[nodiscard]] double g2(double t) const {
    const double s = sigma(t);
    return 2 * std::log(sigma_max / sigma_min) * s * s;
  }
  /// g(t) = sigma(t) sqrt(2 ln(sigma_max / sigma_min)).
  [[nodiscard]] double g(double t) const { return sigma(t) * std::sqrt(2 * std::log(sigma_max / sigma_min)); }
  /// The standard deviation of the prior N(0, sigma_max^2 I) the reverse processes start from at t = 1.
  [[nodiscard]] double prior_std() const { return sigma_max; }
};

/// Throws attractor::error, naming `fn`, unless 0 < sigma_min < sigma_max, both finite. Returns the SDE.
inline const ve_sde& validated(const ve_sde& sde, const char* fn) {
  require(std::isfinite(sde.sigma_min) && std::isfinite(sde.sigma_max) && sde.sigma_min > 0 &&
              sde.sigma_min < sde.sigma_max,
          fn, "a VE SDE with finite 0 < sigma_min < sigma_max",
          attractor::detail::text("sigma_min = ", sde.sigma_min, ", sigma_max = ", sde.sigma_max));
  return sde;
}

namespace detail {

/// The shortest text that reads back as exactly x (so that a checkpoint's SDE round-trips).
inline std::string shortest(double x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

}  // namespace detail

/// The SDE as a checkpoint's metadata records it ("attractor.sde"): "ve sigma_min=0.01 sigma_max=14".
inline std::string sde_text(const ve_sde& sde) {
  return attractor::detail::concat("ve sigma_min=", detail::shortest(sde.sigma_min),
                                   " sigma_max=", detail::shortest(sde.sigma_max));
}

/// The SDE of sde_text's form; throws attractor::error naming `fn` on anything else (or an invalid SDE).
inline ve_sde parse_sde(const std::string& text, const char* fn = "diffusion::parse_sde") {
  ve_sde sde;
  bool ok = text.rfind("ve sigma_min=", 0) == 0;
  const std::size_t mid = ok ? text.find(" sigma_max=") : std::string::npos;
  ok = ok && mid != std::string::npos;
  if (ok) {
    const char* a = text.data() + 13;
    const char* a_end = text.data() + mid;
    const char* b = a_end + 11;
    const char* b_end = text.data() + text.size();
    const auto ra = std::from_chars(a, a_end, sde.sigma_min);
    const auto rb = std::from_chars(b, b_end, sde.sigma_max);
    ok = ra.ec == std::errc() && ra.ptr == a_end && rb.ec == std::errc() && rb.ptr == b_end;
  }
  require(ok, fn, "an SDE \"ve sigma_min=X sigma_max=Y\"", text);
  validated(sde, fn);
  return sde;
}

}  // namespace attractor::diffusion
