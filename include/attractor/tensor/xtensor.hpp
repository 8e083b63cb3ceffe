// Conversions between host tensors and xtensor. This is the only attractor header that includes xtensor, which
// does not compile under nvcc: include it from host-only translation units.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "attractor/backend/tags.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/shape.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor {

namespace detail {
template <class T>
std::vector<std::size_t> xshape(const tensor_view<T, cpu>& view) {
  return {view.shape().begin(), view.shape().end()};
}
}  // namespace detail

/// A row-major xt::xarray holding a copy of `view`.
template <class T>
requires tensor_element<std::remove_const_t<T>> xt::xarray<std::remove_const_t<T>> to_xarray(tensor_view<T, cpu> view) {
  auto out = xt::xarray<std::remove_const_t<T>>::from_shape(detail::xshape(view));
  std::copy(view.begin(), view.end(), out.data());
  return out;
}

template <tensor_element T>
xt::xarray<T> to_xarray(const tensor<T, cpu>& t) {
  return to_xarray(t.view());
}

/// A tensor holding a copy of any xtensor expression (an xarray, an xtensor, a transposed or strided view...),
/// read in row-major order whatever the expression's own layout. Throws if its rank exceeds max_rank.
template <class E>
requires tensor_element<std::remove_cv_t<typename E::value_type>> tensor<std::remove_cv_t<typename E::value_type>, cpu>
from_xarray(const xt::xexpression<E>& expression) {
  const E& e = expression.derived_cast();
  require(e.dimension() <= max_rank, "from_xarray", detail::text("rank <= ", max_rank), e.dimension());
  tensor<std::remove_cv_t<typename E::value_type>, cpu> out(shape(e.shape().begin(), e.shape().end()));
  if constexpr (std::is_base_of_v<xt::xcontainer<E>, E> && E::static_layout == xt::layout_type::row_major) {
    std::copy(e.data(), e.data() + out.size(), out.data());  // already contiguous and row-major
  } else {
    std::copy(e.template begin<xt::layout_type::row_major>(), e.template end<xt::layout_type::row_major>(), out.data());
  }
  return out;
}

/// A non-owning, row-major xtensor adaptor over the view's elements: writes go to the tensor. It must not
/// outlive the tensor it views.
template <class T>
requires tensor_element<std::remove_const_t<T>>
auto adapt(tensor_view<T, cpu> view) {
  return xt::adapt<xt::layout_type::row_major>(view.data(), view.size(), xt::no_ownership(), detail::xshape(view));
}

template <tensor_element T>
auto adapt(tensor<T, cpu>& t) {
  return adapt(t.view());
}
template <tensor_element T>
auto adapt(const tensor<T, cpu>& t) {
  return adapt(t.view());
}
/// An adaptor over a temporary tensor would dangle.
template <tensor_element T>
void adapt(tensor<T, cpu>&&) = delete;

}  // namespace attractor
