// Views of host tensors as Eigen matrices, and copies of Eigen matrices into tensors.
//
// as_eigen maps a rank-2 view as a row-major (rows x cols) matrix and a rank-1 view as a column vector (n x 1),
// without copying. from_eigen copies any Eigen matrix expression into a rank-2 tensor, converting column-major
// storage to the tensor's row-major order.
#pragma once

#include "attractor/core/eigen.hpp"

#include <cstddef>
#include <type_traits>

#include "attractor/backend/tags.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/shape.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor {

/// The dense Eigen type a tensor maps to.
template <class Scalar>
using eigen_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// An Eigen::Map over a rank-1 or rank-2 view (Map<const ...> for a view of const elements). It must not
/// outlive the tensor it views.
template <class T>
requires tensor_element<std::remove_const_t<T>>
auto as_eigen(tensor_view<T, cpu> view) {
  using matrix = std::conditional_t<std::is_const_v<T>, const eigen_matrix<std::remove_const_t<T>>,
                                    eigen_matrix<std::remove_const_t<T>>>;
  require(view.rank() == 1 || view.rank() == 2, "as_eigen", "a rank-1 or rank-2 view",
          detail::text("rank ", view.rank(), ", shape ", view.shape()));
  const std::size_t rows = view.shape()[0];
  const std::size_t cols = view.rank() == 2 ? view.shape()[1] : 1;
  constexpr auto index_max = static_cast<std::size_t>(Eigen::NumTraits<Eigen::Index>::highest());
  require(rows <= index_max && cols <= index_max, "as_eigen", "extents that fit in Eigen::Index", view.shape());
  return Eigen::Map<matrix>(view.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
}

template <tensor_element T>
auto as_eigen(tensor<T, cpu>& t) {
  return as_eigen(t.view());
}
template <tensor_element T>
auto as_eigen(const tensor<T, cpu>& t) {
  return as_eigen(t.view());
}
/// A map of a temporary tensor would dangle.
template <tensor_element T>
void as_eigen(tensor<T, cpu>&&) = delete;

/// A rank-2 (rows x cols) tensor holding a copy of `m`, whatever its storage order (vectors become n x 1 or
/// 1 x n).
template <class Derived>
requires tensor_element<typename Derived::Scalar> tensor<typename Derived::Scalar, cpu> from_eigen(
    const Eigen::MatrixBase<Derived>& m) {
  using T = typename Derived::Scalar;
  const auto rows = static_cast<std::size_t>(m.rows());
  const auto cols = static_cast<std::size_t>(m.cols());
  tensor<T, cpu> out(shape{rows, cols});
  // Eigen's assignment does the storage-order conversion (and evaluates expressions such as transposes).
  if (out.size() > 0) Eigen::Map<eigen_matrix<T>>(out.data(), m.rows(), m.cols()) = m;
  return out;
}

}  // namespace attractor
