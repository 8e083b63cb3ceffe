// Observations for data assimilation: linear observation operators H (identity, a subset of the variables, or any
// dense Ny x Nx matrix), the observation model y = H x + sigma_o xi with R = sigma_o^2 I, and synthetic observations
// of a truth for twin experiments.
//
// Layouts (DAPPER's vocabulary, see DESIGN.md): a state block is Nx x cols, row-major, one member per column; a
// batch of experiments holds one row per experiment (experiments x Nx for states, experiments x Ny for observations).
#pragma once

#include "attractor/core/eigen.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/eigen.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::da {

/// A read-only cpu view whose scalar is set by another argument: it takes no part in template argument deduction,
/// so a tensor, a mutable view or a const view may be passed.
template <class Scalar>
using input_view = const_tensor_view<std::type_identity_t<Scalar>, cpu>;

/// A linear observation operator H: R^Nx -> R^Ny.
template <floating_scalar Scalar = double>
class obs_operator {
public:
  enum class kind { identity, subset, linear };

  /// y = x: every variable observed.
  static obs_operator identity(std::size_t Nx) {
    require(Nx > 0, "da::obs_operator::identity", "Nx > 0", Nx);
    obs_operator h;
    h.kind_ = kind::identity;
    h.Nx_ = Nx;
    h.indices_.resize(Nx);
    for (std::size_t i = 0; i < Nx; ++i) h.indices_[i] = i;
    return h;
  }

  /// y_r = x_{indices[r]}: the listed variables, in that order (a variable may be listed twice).
  static obs_operator subset(std::size_t Nx, std::vector<std::size_t> indices) {
    constexpr const char* fn = "da::obs_operator::subset";
    require(Nx > 0, fn, "Nx > 0", Nx);
    require(!indices.empty(), fn, "at least one observed variable", "none");
    for (std::size_t r = 0; r < indices.size(); ++r)
      require(indices[r] < Nx, fn, attractor::detail::text("variable indices < Nx = ", Nx),
              attractor::detail::text(indices[r], " at position ", r));
    obs_operator h;
    h.kind_ = kind::subset;
    h.Nx_ = Nx;
    h.indices_ = std::move(indices);
    return h;
  }

  /// y = H x for a dense Ny x Nx matrix H with finite entries.
  static obs_operator linear(eigen_matrix<Scalar> H) {
    constexpr const char* fn = "da::obs_operator::linear";
    require(H.rows() > 0 && H.cols() > 0, fn, "a non-empty Ny x Nx matrix",
            attractor::detail::text(H.rows(), " x ", H.cols()));
    require_finite(H.data(), static_cast<std::size_t>(H.size()), fn, "H");
    obs_operator h;
    h.kind_ = kind::linear;
    h.Nx_ = static_cast<std::size_t>(H.cols());
    h.matrix_ = std::move(H);
    return h;
  }

  [[nodiscard]] kind type() const { return kind_; }
  [[nodiscard]] std::size_t Nx() const { return Nx_; }
  [[nodiscard]] std::size_t Ny() const {
    return kind_ == kind::linear ? static_cast<std::size_t>(matrix_.rows()) : indices_.size();
  }
  /// The observed variables (identity and subset operators).
  [[nodiscard]] const std::vector<std::size_t>& indices() const { return indices_; }

  /// H as a dense Ny x Nx matrix.
  [[nodiscard]] eigen_matrix<Scalar> matrix() const {
    if (kind_ == kind::linear) return matrix_;
    eigen_matrix<Scalar> H =
        eigen_matrix<Scalar>::Zero(static_cast<Eigen::Index>(Ny()), static_cast<Eigen::Index>(Nx_));
    for (std::size_t r = 0; r < indices_.size(); ++r)
      H(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(indices_[r])) = Scalar(1);
    return H;
  }

  /// y = H x for a row-major block x (Nx x cols) into y (Ny x cols); no checks (internal hot path).
  void apply(const Scalar* x, std::size_t cols, Scalar* y) const {
    if (kind_ == kind::linear) {
      using map = Eigen::Map<eigen_matrix<Scalar>>;
      using const_map = Eigen::Map<const eigen_matrix<Scalar>>;
      map(y, matrix_.rows(), static_cast<Eigen::Index>(cols)).noalias() =
          matrix_ * const_map(x, static_cast<Eigen::Index>(Nx_), static_cast<Eigen::Index>(cols));
      return;
    }
    for (std::size_t r = 0; r < indices_.size(); ++r) {
      const Scalar* from = x + indices_[r] * cols;
      for (std::size_t j = 0; j < cols; ++j) y[r * cols + j] = from[j];
    }
  }

private:
  obs_operator() = default;
  kind kind_ = kind::identity;
  std::size_t Nx_ = 0;
  std::vector<std::size_t> indices_;
  eigen_matrix<Scalar> matrix_;
};

/// y = H x + sigma_o xi, xi ~ N(0, I): the observation error covariance is R = sigma_o^2 I.
template <floating_scalar Scalar = double>
struct observation_model {
  obs_operator<Scalar> H;
  Scalar sigma_o;

  observation_model(obs_operator<Scalar> h, Scalar sigma) : H(std::move(h)), sigma_o(sigma) {
    require(std::isfinite(sigma_o) && sigma_o > 0, "da::observation_model", "a finite sigma_o > 0", sigma_o);
  }
  [[nodiscard]] std::size_t Nx() const { return H.Nx(); }
  [[nodiscard]] std::size_t Ny() const { return H.Ny(); }
};

namespace detail {

/// Checks a batch of observations: experiments x Ny, every value finite.
template <class Scalar>
void check_observations(const_tensor_view<Scalar, cpu> y, std::size_t experiments, std::size_t Ny, const char* fn) {
  require(y.rank() == 2 && y.extent(0) == experiments && y.extent(1) == Ny, fn,
          attractor::detail::text("observations of shape ", shape{experiments, Ny}), y.shape());
  require_finite(y.data(), y.size(), fn, "the observations y");
}

/// n standard normal values times `scale` into out from gen, on the calling thread: the values fill_normal gives
/// (block by block, through normal_block), without its argument checks, for draws inside per-experiment work that
/// already runs in parallel with other experiments.
template <class Scalar>
void draw_normals(philox& gen, Scalar* out, std::size_t n, Scalar scale = Scalar(1)) {
  constexpr unsigned per_block = philox_values_per_block<Scalar>();
  Scalar values[per_block];
  const std::uint64_t blocks = philox_blocks<Scalar>(n);
  for (std::uint64_t b = 0; b < blocks; ++b) {
    const std::size_t first = static_cast<std::size_t>(b) * per_block;
    const unsigned count = n - first < per_block ? static_cast<unsigned>(n - first) : per_block;
    normal_block(gen.counter(b), gen.key(), values, count);
    for (unsigned j = 0; j < count; ++j) out[first + j] = scale * values[j];
  }
  gen.advance(blocks);
}

/// One experiment's synthetic observation y = H x + sigma_o xi (Ny values), xi drawn from gen; hx: Ny scratch.
template <class Scalar>
void observe_one(const observation_model<Scalar>& obs, const Scalar* x, philox& gen, Scalar* y, Scalar* hx) {
  draw_normals(gen, y, obs.Ny(), obs.sigma_o);
  obs.H.apply(x, 1, hx);
  for (std::size_t r = 0; r < obs.Ny(); ++r) y[r] += hx[r];
}

}  // namespace detail

/// Synthetic observations of a batch of true states: y[e] = H truth[e] + sigma_o xi[e] for each experiment e, with
/// truth experiments x Nx and y experiments x Ny. The noise is one fill of experiments x Ny normals from gen, in
/// row-major order. Throws attractor::error on mismatched shapes or a truth that is not finite.
template <floating_scalar Scalar>
void observe(context<cpu>& ctx, const observation_model<Scalar>& obs, input_view<Scalar> truth, philox& gen,
             tensor_view<std::type_identity_t<Scalar>, cpu> y) {
  constexpr const char* fn = "da::observe";
  require(truth.rank() == 2 && truth.extent(1) == obs.Nx(), fn,
          attractor::detail::text("true states of shape experiments x ", obs.Nx()), truth.shape());
  const std::size_t experiments = truth.extent(0), Ny = obs.Ny();
  require(y.shape() == shape{experiments, Ny}, fn,
          attractor::detail::text("an output of shape ", shape{experiments, Ny}), y.shape());
  require_finite(truth.data(), truth.size(), fn, "the truth");
  fill_normal(ctx, gen, y, Scalar(0), obs.sigma_o);
  std::vector<Scalar> hx(Ny);
  for (std::size_t e = 0; e < experiments; ++e) {
    obs.H.apply(truth.data() + e * obs.Nx(), 1, hx.data());
    for (std::size_t r = 0; r < Ny; ++r) y[e * Ny + r] += hx[r];
  }
}

}  // namespace attractor::da
