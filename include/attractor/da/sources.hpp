// Ensemble sources: what turns a batch of deterministic runs into ensembles drawn around them, for the
// external-ensemble update (da/enoi.hpp). The static-B sampler of EnOI and 3D-Var's sigma points are sources; the
// diffusion sampler is another.
//
// The interface (a concept, so that any callable type plugs in):
//
//   source(ctx, x_det, E, gen)
//     ctx    context<cpu>&                            the runner's cpu context;
//     x_det  const_tensor_view<Scalar, cpu>           experiments x Nx, one deterministic run per row;
//     E      tensor_view<Scalar, cpu>                 experiments x Nx x N, to be filled: E[e] is the ensemble
//                                                     (Nx x N, one member per column) drawn for x_det[e];
//     gen    philox&                                  the generator to draw from (advance it by what is used).
//
// N is E.extent(2), chosen by the caller. Every call fills all of E; an experiment whose values come out non-finite
// is treated as diverged by the cycled runner. A source that computes on another backend (the diffusion sampler on
// cuda) copies x_det in and E out within its call; x_det is one row per experiment, the layout of a network batch.
#pragma once

#include "attractor/core/eigen.hpp"

#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>
#include <utility>

#include <Eigen/Cholesky>

#include "attractor/backend/for_each.hpp"
#include "attractor/da/covariance.hpp"
#include "attractor/da/observations.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::da {

template <class Source, class Scalar>
concept ensemble_source = requires(Source& source, context<cpu>& ctx, const_tensor_view<Scalar, cpu> x_det,
                                   tensor_view<Scalar, cpu> E, philox& gen) {
  source(ctx, x_det, E, gen);
};

namespace detail {

/// Checks a source call: x_det experiments x Nx and E experiments x Nx x N.
template <class Scalar>
std::size_t check_source_shapes(const const_tensor_view<Scalar, cpu>& x_det, const tensor_view<Scalar, cpu>& E,
                                std::size_t Nx, const char* fn) {
  require(x_det.rank() == 2 && x_det.extent(1) == Nx, fn,
          attractor::detail::text("deterministic runs of shape experiments x ", Nx), x_det.shape());
  const std::size_t experiments = x_det.extent(0);
  require(E.rank() == 3 && E.extent(0) == experiments && E.extent(1) == Nx, fn,
          attractor::detail::text("an ensemble of shape ", experiments, " x ", Nx, " x N"), E.shape());
  return experiments;
}

}  // namespace detail

/// A source that can also draw for one experiment at a time, on the calling thread:
///   source.draw(x, E, N, gen)   x: Nx values (const Scalar*); E: the Nx x N block to fill (Scalar*, row-major);
///                               gen: that experiment's generator.
/// Concurrent calls for different experiments must be safe. EnOI with such a source runs per experiment (see
/// experiment_method in da/analysis.hpp), without synchronising the experiments at every cycle.
template <class Source, class Scalar>
concept experiment_source = requires(Source& source, const Scalar* x, Scalar* E, std::size_t N, philox& gen) {
  source.draw(x, E, N, gen);
};

/// EnOI's sampler (spec §7, CovSampler): for each experiment, N perturbations L xi (xi an Nx x N standard normal
/// matrix, L = chol(B0)), re-centred to zero mean over the members, multiplied by cov_inf and added to x_det. The
/// drawn ensemble's sample covariance is cov_inf^2 B0 in expectation (cov_inf scales perturbations, so the paper's
/// alpha = cov_inf^2). The batched call draws one fill of experiments x Nx x N normals (row-major) from gen; draw()
/// draws the Nx x N normals of one experiment.
template <floating_scalar Scalar = double>
class static_b_source {
public:
  static_b_source(static_covariance<Scalar> B0, Scalar cov_inf) : B0_(std::move(B0)), cov_inf_(cov_inf) {
    require(std::isfinite(cov_inf) && cov_inf > 0, "da::static_b_source", "a finite cov_inf > 0", cov_inf);
  }

  [[nodiscard]] const static_covariance<Scalar>& covariance() const { return B0_; }
  [[nodiscard]] Scalar cov_inf() const { return cov_inf_; }

  void operator()(context<cpu>& ctx, const_tensor_view<Scalar, cpu> x_det, tensor_view<Scalar, cpu> E,
                  philox& gen) const {
    constexpr const char* fn = "da::static_b_source";
    const std::size_t Nx = B0_.Nx();
    const std::size_t experiments = detail::check_source_shapes<Scalar>(x_det, E, Nx, fn);
    const std::size_t N = E.extent(2);
    require(N >= 2, fn, "at least 2 members", N);
    fill_normal(ctx, gen, E);
    for_each_index_coarse(ctx, experiments,
                          [&](std::size_t e) { shape_perturbations(x_det.data() + e * Nx, E.data() + e * Nx * N, N); });
  }

  /// One experiment (experiment_source).
  void draw(const Scalar* x, Scalar* E, std::size_t N, philox& gen) const {
    detail::draw_normals(gen, E, B0_.Nx() * N);
    shape_perturbations(x, E, N);
  }

private:
  /// E holds xi (Nx x N normals); turns it into x + cov_inf (L xi - mean over members) in place.
  void shape_perturbations(const Scalar* x, Scalar* E, std::size_t N) const {
    const std::size_t Nx = B0_.Nx();
    const auto& L = B0_.cholesky();
    // L xi in place, from the last row up: row i needs rows j <= i of xi, which are not yet overwritten.
    for (std::size_t i = Nx; i-- > 0;) {
      Scalar* row = E + i * N;
      const Scalar lii = L(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i));
      for (std::size_t m = 0; m < N; ++m) row[m] *= lii;
      if (!B0_.is_diagonal())
        for (std::size_t j = 0; j < i; ++j) {
          const Scalar lij = L(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
          const Scalar* from = E + j * N;
          for (std::size_t m = 0; m < N; ++m) row[m] += lij * from[m];
        }
    }
    for (std::size_t i = 0; i < Nx; ++i) {
      Scalar* row = E + i * N;
      Scalar mean = 0;
      for (std::size_t m = 0; m < N; ++m) mean += row[m];
      mean /= static_cast<Scalar>(N);
      for (std::size_t m = 0; m < N; ++m) row[m] = x[i] + cov_inf_ * (row[m] - mean);
    }
  }

  static_covariance<Scalar> B0_;
  Scalar cov_inf_;
};

/// 3D-Var as an ensemble (spec §7, sampler_cov_sqrt.py): the 2 Nx fixed sigma points x_det +- the columns of
/// chol(a B0) cov_inf with a = (2 Nx - 1) / 2, whose unbiased sample covariance is exactly cov_inf^2 B0, so that the
/// external-ensemble update from them gives the exact 3D-Var (OI) mean. Needs N = 2 Nx; draws nothing.
template <floating_scalar Scalar = double>
class sigma_point_source {
public:
  sigma_point_source(const static_covariance<Scalar>& B0, Scalar cov_inf) {
    require(std::isfinite(cov_inf) && cov_inf > 0, "da::sigma_point_source", "a finite cov_inf > 0", cov_inf);
    const auto Nx = static_cast<Scalar>(B0.Nx());
    columns_ = B0.cholesky() * (std::sqrt((Scalar(2) * Nx - Scalar(1)) / Scalar(2)) * cov_inf);
  }

  void operator()(context<cpu>&, const_tensor_view<Scalar, cpu> x_det, tensor_view<Scalar, cpu> E, philox& gen) const {
    constexpr const char* fn = "da::sigma_point_source";
    const auto Nx = static_cast<std::size_t>(columns_.rows());
    const std::size_t experiments = detail::check_source_shapes<Scalar>(x_det, E, Nx, fn);
    require(E.extent(2) == 2 * Nx, fn, attractor::detail::text(2 * Nx, " members (2 Nx)"), E.extent(2));
    for (std::size_t e = 0; e < experiments; ++e) draw(x_det.data() + e * Nx, E.data() + e * Nx * 2 * Nx, 2 * Nx, gen);
  }

  /// One experiment (experiment_source); N must be 2 Nx, which the batched call checks.
  void draw(const Scalar* x, Scalar* E, std::size_t N, philox&) const {
    const auto Nx = static_cast<std::size_t>(columns_.rows());
    for (std::size_t i = 0; i < Nx; ++i)
      for (std::size_t j = 0; j < Nx; ++j) {
        const Scalar c = columns_(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
        E[i * N + j] = x[i] + c;
        E[i * N + Nx + j] = x[i] - c;
      }
  }

private:
  eigen_matrix<Scalar> columns_;
};

}  // namespace attractor::da
