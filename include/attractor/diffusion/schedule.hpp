// Noise schedules (spec §3, NoiseScheduler): given betas b_1..b_T, alpha_bar_t = prod_{i<=t} (1 - b_i) with
// alpha_bar_0 = 1 prepended, so alpha_bar has T + 1 entries indexed directly by the pseudo-time t in 0..T, and
// z_t = sqrt(alpha_bar_t) x + sigma_t eps with sigma_t = sqrt(1 - alpha_bar_t). Tables are kept in double on the
// host; kernels get the coefficients they need per step or per sample.
#pragma once

#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "attractor/core/error.hpp"

namespace attractor::diffusion {

enum class schedule_kind { linear, cosine };

inline std::string_view to_string(schedule_kind k) { return k == schedule_kind::linear ? "linear" : "cosine"; }

/// "linear" or "cosine"/"cos".
inline schedule_kind parse_schedule_kind(std::string_view name) {
  if (name == "linear" || name == "lin") return schedule_kind::linear;
  if (name == "cosine" || name == "cos") return schedule_kind::cosine;
  fail("diffusion::parse_schedule_kind", "\"linear\" or \"cosine\"", attractor::detail::concat('"', name, '"'));
}

class noise_schedule {
public:
  /// The reference's LinearScheduler: betas = linspace(beta_start, beta_end, T), so b_1 = beta_start and
  /// b_T = beta_end (the paper's code uses 1e-4 and 0.03, not DDPM's 0.02).
  static noise_schedule linear(std::size_t steps = 1000, double beta_start = 1e-4, double beta_end = 0.03) {
    constexpr const char* fn = "diffusion::noise_schedule::linear";
    require(steps >= 1, fn, "at least one step", steps);
    require(std::isfinite(beta_start) && std::isfinite(beta_end) && beta_start > 0 && beta_end < 1 &&
                beta_start <= beta_end,
            fn, "0 < beta_start <= beta_end < 1", attractor::detail::text(beta_start, ", ", beta_end));
    std::vector<double> betas(steps);
    for (std::size_t i = 0; i < steps; ++i) {
      const double f = steps == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(steps - 1);
      betas[i] = beta_start + f * (beta_end - beta_start);
    }
    return noise_schedule(schedule_kind::linear, betas);
  }

  /// The reference's CosineScheduler: u_i = (i/T + s)/(1 + s), g_i = cos^2(pi/2 u_i) for i = 0..T, and
  /// b_i = min(1 - g_i/g_{i-1}, max_beta). The code squares the cosine (the paper's Appendix C does not) and its
  /// config clips at 0.9, which only bites at t = T.
  static noise_schedule cosine(std::size_t steps = 1000, double s = 0.008, double max_beta = 0.9) {
    constexpr const char* fn = "diffusion::noise_schedule::cosine";
    require(steps >= 1, fn, "at least one step", steps);
    require(std::isfinite(s) && s > 0, fn, "an offset s > 0", s);
    require(std::isfinite(max_beta) && max_beta > 0 && max_beta < 1, fn, "0 < max_beta < 1", max_beta);
    auto g = [&](std::size_t i) {
      const double u = (static_cast<double>(i) / static_cast<double>(steps) + s) / (1 + s);
      const double c = std::cos(std::numbers::pi / 2 * u);
      return c * c;
    };
    std::vector<double> betas(steps);
    for (std::size_t i = 1; i <= steps; ++i) betas[i - 1] = std::min(1 - g(i) / g(i - 1), max_beta);
    return noise_schedule(schedule_kind::cosine, betas);
  }

  static noise_schedule make(schedule_kind kind, std::size_t steps = 1000) {
    return kind == schedule_kind::linear ? linear(steps) : cosine(steps);
  }

  [[nodiscard]] schedule_kind kind() const { return kind_; }
  /// T: pseudo-times run over 0..T.
  [[nodiscard]] std::size_t steps() const { return alpha_bar_.size() - 1; }
  [[nodiscard]] double alpha_bar(std::size_t t) const { return alpha_bar_.at(checked(t)); }
  [[nodiscard]] double sqrt_alpha_bar(std::size_t t) const { return std::sqrt(alpha_bar(t)); }
  [[nodiscard]] double sigma(std::size_t t) const { return std::sqrt(1 - alpha_bar(t)); }
  /// b_t for t in 1..T.
  [[nodiscard]] double beta(std::size_t t) const {
    require(t >= 1 && t <= steps(), "diffusion::noise_schedule::beta",
            attractor::detail::text("t in [1, ", steps(), "]"), t);
    return betas_[t - 1];
  }
  [[nodiscard]] const std::vector<double>& alpha_bars() const { return alpha_bar_; }

private:
  noise_schedule(schedule_kind kind, std::vector<double> betas) : kind_(kind), betas_(std::move(betas)) {
    alpha_bar_.resize(betas_.size() + 1);
    alpha_bar_[0] = 1;
    for (std::size_t t = 1; t < alpha_bar_.size(); ++t) alpha_bar_[t] = alpha_bar_[t - 1] * (1 - betas_[t - 1]);
  }

  [[nodiscard]] std::size_t checked(std::size_t t) const {
    require(t <= steps(), "diffusion::noise_schedule", attractor::detail::text("a pseudo-time t in [0, ", steps(), "]"),
            t);
    return t;
  }

  schedule_kind kind_;
  std::vector<double> betas_;
  std::vector<double> alpha_bar_;
};

}  // namespace attractor::diffusion
