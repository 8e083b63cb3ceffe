// The ensemble-space algebra shared by the ETKF and the external-ensemble update (spec §7, etkf_core.py), one
// experiment at a time, in preallocated Eigen workspaces so that a cycled run allocates nothing.
//
// For an ensemble E (Nx x N, one member per column) with mean xbar and anomalies X = E - xbar 1^T, the normalised
// observation anomalies are Y = H X / sigma_o (Ny x N; the spec's S is Y^T) and the normalised innovation is
// d = (y - H x_ref) / sigma_o. With f = (N - 1) / rho the spec's weights are
//   w = (S S^T + f I)^-1 S d                         (mean weights, N),
//   T = sqrt(N - 1) (S S^T + f I)^-1/2               (the symmetric square-root transform, N x N),
// and the analysis is x_a = x_ref + X w, E_a = x_a 1^T + X T. The spec computes them from a full SVD of S; here the
// smaller of the two Gram matrices is decomposed instead: for Ny <= N the Ny x Ny matrix G = Y Y^T = V diag(l) V^T,
// with w = Y^T V diag(1/(l + f)) V^T d and
//   T = sqrt(N - 1) [f^-1/2 I + Z diag(h(l)) Z^T],   Z = Y^T V,   h(l) = ((l + f)^-1/2 - f^-1/2) / l,
// the same matrix (S S^T has the eigenvalues l on the columns of Z diag(l^-1/2) and f on their complement); h is
// evaluated as -1 / (sqrt(f) sqrt(l + f) (sqrt(l + f) + sqrt(f))), which stays accurate as l -> 0. For Ny > N the
// N x N matrix Y^T Y = U diag(l) U^T gives w = U diag(1/(l + f)) U^T Y^T d and T = sqrt(N - 1) U diag((l + f)^-1/2)
// U^T.
#pragma once

#include "attractor/core/eigen.hpp"

#include <cmath>
#include <cstddef>
#include <optional>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>

#include "attractor/da/observations.hpp"

namespace attractor::da::detail {

template <class Scalar>
struct ensemble_workspace {
  using matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using col_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  Eigen::Index Nx = 0, N = 0, Ny = 0, m = 0;  // m = min(Ny, N): the Gram matrix decomposed
  vector xbar, xa, hx, d, w, c, lambda, h, an_var;
  matrix X, Y, XT;
  col_matrix G, V, Z, T, ZC;
  // Constructed in place: their sized constructors leave the status member unset, so they are never copied.
  std::optional<Eigen::SelfAdjointEigenSolver<col_matrix>> eig;
  std::optional<Eigen::LLT<col_matrix>> llt;

  void resize(std::size_t nx, std::size_t n, std::size_t ny) {
    Nx = static_cast<Eigen::Index>(nx);
    N = static_cast<Eigen::Index>(n);
    Ny = static_cast<Eigen::Index>(ny);
    m = Ny <= N ? Ny : N;
    xbar.resize(Nx);
    xa.resize(Nx);
    hx.resize(Ny);
    d.resize(Ny);
    w.resize(N);
    c.resize(m);
    lambda.resize(m);
    h.resize(m);
    an_var.resize(Nx);
    X.resize(Nx, N);
    Y.resize(Ny, N);
    XT.resize(Nx, N);
    G.resize(m, m);
    V.resize(m, m);
    Z.resize(N, m);
    ZC.resize(m, Nx);
    eig.emplace(m);
    llt.emplace(m);
  }

  /// xbar and X from the ensemble block E (Nx x N, row-major, at `ensemble`); then Y = H X / sigma_o.
  void load(const Scalar* ensemble, const observation_model<Scalar>& obs) {
    const Eigen::Map<const matrix> E(ensemble, Nx, N);
    xbar.noalias() = E.rowwise().mean();
    X.noalias() = E.colwise() - xbar;
    obs.H.apply(X.data(), static_cast<std::size_t>(N), Y.data());
    Y *= Scalar(1) / obs.sigma_o;
  }

  /// d = (y - H x_ref) / sigma_o.
  void innovation(const Scalar* y, const Scalar* x_ref, const observation_model<Scalar>& obs) {
    obs.H.apply(x_ref, 1, hx.data());
    for (Eigen::Index r = 0; r < Ny; ++r) d[r] = (y[r] - hx[r]) / obs.sigma_o;
  }

  /// Background variance per variable, X X^T / (N - 1) on the diagonal.
  template <class Out>
  void background_variance(Out* out) const {
    for (Eigen::Index i = 0; i < Nx; ++i) out[i] = static_cast<Out>(X.row(i).squaredNorm() / Scalar(N - 1));
  }

  /// The ETKF weights w and transform T for f = (N - 1) / rho (see the file comment).
  void transform(Scalar f) {
    T.resize(N, N);  // N x N: allocated on first use only (the mean update of a large external ensemble needs none)
    const Scalar sqrt_f = std::sqrt(f);
    const Scalar scale = std::sqrt(Scalar(N - 1));
    if (Ny <= N) {
      G.noalias() = Y * Y.transpose();
      eig->compute(G, Eigen::ComputeEigenvectors);
      lambda = eig->eigenvalues().cwiseMax(Scalar(0));  // a Gram matrix: negative values are rounding
      c.noalias() = eig->eigenvectors().transpose() * d;
      for (Eigen::Index k = 0; k < m; ++k) {
        c[k] /= lambda[k] + f;
        const Scalar s = std::sqrt(lambda[k] + f);
        h[k] = Scalar(-1) / (sqrt_f * s * (s + sqrt_f));
      }
      Z.noalias() = Y.transpose() * eig->eigenvectors();
      w.noalias() = Z * c;
      T.noalias() = Z * h.asDiagonal() * Z.transpose();
      T.diagonal().array() += Scalar(1) / sqrt_f;
      T *= scale;
    } else {
      G.noalias() = Y.transpose() * Y;
      eig->compute(G, Eigen::ComputeEigenvectors);
      lambda = eig->eigenvalues().cwiseMax(Scalar(0));
      const auto& U = eig->eigenvectors();
      c.noalias() = U.transpose() * (Y.transpose() * d);
      for (Eigen::Index k = 0; k < m; ++k) {
        c[k] /= lambda[k] + f;
        h[k] = scale / std::sqrt(lambda[k] + f);
      }
      w.noalias() = U * c;
      T.noalias() = U * h.asDiagonal() * U.transpose();
    }
  }

  /// Only the mean weights w for f, through a Cholesky factorisation; with `variance`, also the diagonal of the
  /// analysis covariance X (S S^T + f I)^-1 X^T into an_var (the covariance of x_a 1^T + X T).
  void mean_weights(Scalar f, bool variance) {
    if (Ny <= N) {
      G.noalias() = Y * Y.transpose();
      G.diagonal().array() += f;
      llt->compute(G);
      c = llt->solve(d);
      w.noalias() = Y.transpose() * c;
      if (variance) {
        // f^-1 [X X^T - (X Y^T) G^-1 (Y X^T)] on the diagonal, with G = L L^T: the second term is |L^-1 Y X^T|^2.
        ZC.noalias() = Y * X.transpose();
        llt->matrixL().solveInPlace(ZC);
        for (Eigen::Index i = 0; i < Nx; ++i) an_var[i] = (X.row(i).squaredNorm() - ZC.col(i).squaredNorm()) / f;
      }
    } else {
      G.noalias() = Y.transpose() * Y;
      G.diagonal().array() += f;
      llt->compute(G);
      w.noalias() = Y.transpose() * d;
      llt->solveInPlace(w);
      if (variance) {
        // X G^-1 X^T on the diagonal: |L^-1 X^T|^2 per column.
        XT.resize(N, Nx);
        XT = X.transpose();
        llt->matrixL().solveInPlace(XT);
        for (Eigen::Index i = 0; i < Nx; ++i) an_var[i] = XT.col(i).squaredNorm();
        XT.resize(Nx, N);
      }
    }
  }

  /// E_a = x_a 1^T + X T into the block at `out` (Nx x N, row-major), with x_a = x_ref + X w.
  void write_ensemble(const Eigen::Ref<const vector>& x_ref, Scalar* out) {
    xa.noalias() = X * w;
    xa += x_ref;
    XT.noalias() = X * T;
    Eigen::Map<matrix> E(out, Nx, N);
    E.noalias() = XT.colwise() + xa;
  }
};

/// One workspace per experiment, sized for Nx x N ensembles and Ny observations; reallocates only on a change.
template <class Scalar>
void resize_workspaces(std::vector<ensemble_workspace<Scalar>>& work, std::size_t experiments, std::size_t Nx,
                       std::size_t N, std::size_t Ny) {
  const auto same = [&](const ensemble_workspace<Scalar>& w) {
    return static_cast<std::size_t>(w.Nx) == Nx && static_cast<std::size_t>(w.N) == N &&
           static_cast<std::size_t>(w.Ny) == Ny;
  };
  if (work.size() == experiments && (work.empty() || same(work.front()))) return;
  work.assign(experiments, {});  // copies of an empty workspace (no solver constructed yet)
  for (auto& w : work) w.resize(Nx, N, Ny);
}

/// The mean-preserving random rotations of DAPPER's genOG_1: Q = R diag(1, Omega) R, with R the Householder
/// reflection that maps e_1 to 1/sqrt(N) (so its other columns span the complement of 1) and Omega a Haar-random
/// orthogonal (N-1) x (N-1) matrix (QR of a normal matrix, columns signed by diag(R)). Then Q 1 = 1 and Q Q^T = I.
template <class Scalar>
struct rotation_maker {
  using col_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  col_matrix reflection, block, Q, omega;
  std::optional<Eigen::HouseholderQR<col_matrix>> qr;

  explicit rotation_maker(std::size_t members = 0) { resize(members); }

  void resize(std::size_t members) {
    const auto n = static_cast<Eigen::Index>(members);
    if (n == reflection.rows()) return;
    reflection = col_matrix::Identity(n, n);
    if (n >= 2) {
      Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v =
          Eigen::Matrix<Scalar, Eigen::Dynamic, 1>::Constant(n, Scalar(1) / std::sqrt(static_cast<Scalar>(n)));
      v[0] -= Scalar(1);
      reflection -= (Scalar(2) / v.squaredNorm()) * v * v.transpose();
    }
    block = col_matrix::Identity(n, n);
    Q.resize(n, n);
    omega.resize(n > 0 ? n - 1 : 0, n > 0 ? n - 1 : 0);
    qr.emplace(omega.rows(), omega.cols());
  }

  /// Q from (N-1)^2 standard normal values (column-major).
  const col_matrix& make(const Scalar* normals) {
    const Eigen::Index n = omega.rows();
    omega = Eigen::Map<const col_matrix>(normals, n, n);
    qr->compute(omega);
    omega = qr->householderQ();
    for (Eigen::Index k = 0; k < n; ++k)
      if (qr->matrixQR()(k, k) < Scalar(0)) omega.col(k) = -omega.col(k);
    block.bottomRightCorner(n, n) = omega;
    Q.noalias() = reflection * block * reflection;
    return Q;
  }
};

}  // namespace attractor::da::detail
