// tensor<T, Backend>: owning, contiguous, row-major, rank up to 4. tensor_view<T, Backend>: the same without
// ownership; T may be const. Views come from row ranges and reshapes, and never copy.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "attractor/backend/memory.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/tensor/shape.hpp"

namespace attractor {

namespace detail {
/// T is `const U`: a view of U converts to a view of T.
template <class T, class U>
concept const_of = std::is_const_v<T> && std::is_same_v<U, std::remove_const_t<T>>;
}  // namespace detail

template <class T, class Backend>
class tensor_view {
public:
  using value_type = std::remove_const_t<T>;
  using element_type = T;
  using backend_type = Backend;

  tensor_view() = default;
  tensor_view(T* data, const attractor::shape& s) : data_(data), shape_(s) {}
  /// A view of non-const elements converts to a view of const ones.
  template <class U>
  requires detail::const_of<T, U> tensor_view(const tensor_view<U, Backend>& other)
      : data_(other.data()), shape_(other.shape()) {}

  [[nodiscard]] T* data() const { return data_; }
  [[nodiscard]] const attractor::shape& shape() const { return shape_; }
  [[nodiscard]] std::size_t rank() const { return shape_.rank(); }
  [[nodiscard]] std::size_t extent(std::size_t axis) const { return shape_.extent(axis); }
  [[nodiscard]] std::size_t size() const { return shape_.size(); }
  [[nodiscard]] bool empty() const { return size() == 0; }

  /// Rows [begin, end) along the first axis.
  [[nodiscard]] tensor_view rows(std::size_t begin, std::size_t end) const {
    require(rank() >= 1, "tensor_view::rows", "rank >= 1", rank());
    require(begin <= end && end <= shape_[0], "tensor_view::rows", detail::text("0 <= begin <= end <= ", shape_[0]),
            detail::text("[", begin, ", ", end, ")"));
    std::array<std::size_t, max_rank> dims{};
    for (std::size_t i = 0; i < rank(); ++i) dims[i] = shape_[i];
    dims[0] = end - begin;
    return {data_ + begin * shape_.stride(0), attractor::shape(dims.begin(), dims.begin() + rank())};
  }
  /// Row `index` along the first axis, one rank lower.
  [[nodiscard]] tensor_view row(std::size_t index) const {
    require(rank() >= 1 && index < shape_[0], "tensor_view::row", detail::text("an index < ", shape_[0]), index);
    return {data_ + index * shape_.stride(0), attractor::shape(shape_.begin() + 1, shape_.end())};
  }
  /// The same elements under another shape with the same number of elements.
  [[nodiscard]] tensor_view reshape(const attractor::shape& s) const {
    require(s.size() == size(), "tensor_view::reshape", detail::text(size(), " elements"),
            detail::text(s.size(), " elements in ", s));
    return {data_, s};
  }

  /// Host access by multi-index; checked. For tests and small host-side work, not for hot loops.
  template <class... I>
  [[nodiscard]] T& at(I... index) const requires host_accessible<Backend> {
    constexpr std::size_t n = sizeof...(I);
    require(n == rank(), "tensor_view::at", detail::text(rank(), " indices"), n);
    const std::size_t idx[] = {static_cast<std::size_t>(index)...};
    std::size_t flat = 0;
    for (std::size_t i = 0; i < n; ++i) {
      require(idx[i] < shape_[i], "tensor_view::at", detail::text("index < ", shape_[i], " on axis ", i), idx[i]);
      flat = flat * shape_[i] + idx[i];
    }
    return data_[flat];
  }
  [[nodiscard]] T& operator[](std::size_t flat) const requires host_accessible<Backend> { return data_[flat]; }
  [[nodiscard]] T* begin() const requires host_accessible<Backend> { return data_; }
  [[nodiscard]] T* end() const requires host_accessible<Backend> { return data_ + size(); }

private:
  T* data_ = nullptr;
  attractor::shape shape_{0};  // a default view is empty, not a rank-0 scalar over no data
};

template <class T, class Backend>
using const_tensor_view = tensor_view<const T, Backend>;

template <class T, class Backend>
class tensor {
public:
  using value_type = T;
  using backend_type = Backend;

  tensor() = default;
  /// Uninitialised storage of the given shape.
  explicit tensor(const attractor::shape& s) : storage_(s.size()), shape_(s) {}

  // A moved-from tensor is empty (its storage went with the move, so must its shape).
  tensor(tensor&& other) noexcept
      : storage_(std::move(other.storage_)), shape_(std::exchange(other.shape_, attractor::shape{0})) {}
  tensor& operator=(tensor&& other) noexcept {
    storage_ = std::move(other.storage_);
    shape_ = std::exchange(other.shape_, attractor::shape{0});
    return *this;
  }
  tensor(const tensor&) = delete;  // copies cost a transfer on cuda: make them explicit with copy()
  tensor& operator=(const tensor&) = delete;

  [[nodiscard]] T* data() { return storage_.data(); }
  [[nodiscard]] const T* data() const { return storage_.data(); }
  [[nodiscard]] const attractor::shape& shape() const { return shape_; }
  [[nodiscard]] std::size_t rank() const { return shape_.rank(); }
  [[nodiscard]] std::size_t extent(std::size_t axis) const { return shape_.extent(axis); }
  [[nodiscard]] std::size_t size() const { return shape_.size(); }
  [[nodiscard]] bool empty() const { return size() == 0; }

  [[nodiscard]] tensor_view<T, Backend> view() { return {data(), shape_}; }
  [[nodiscard]] const_tensor_view<T, Backend> view() const { return {data(), shape_}; }
  operator tensor_view<T, Backend>() { return view(); }
  operator const_tensor_view<T, Backend>() const { return view(); }

  [[nodiscard]] tensor_view<T, Backend> rows(std::size_t b, std::size_t e) { return view().rows(b, e); }
  [[nodiscard]] const_tensor_view<T, Backend> rows(std::size_t b, std::size_t e) const { return view().rows(b, e); }
  [[nodiscard]] tensor_view<T, Backend> row(std::size_t i) { return view().row(i); }
  [[nodiscard]] const_tensor_view<T, Backend> row(std::size_t i) const { return view().row(i); }
  [[nodiscard]] tensor_view<T, Backend> reshape(const attractor::shape& s) { return view().reshape(s); }
  [[nodiscard]] const_tensor_view<T, Backend> reshape(const attractor::shape& s) const { return view().reshape(s); }

  /// Changes the shape, reallocating only when the element count grows beyond the current storage.
  void resize(const attractor::shape& s) {
    if (s.size() > storage_.size()) storage_ = buffer<T, Backend>(s.size());
    shape_ = s;
  }

  template <class... I>
  [[nodiscard]] T& at(I... index) requires host_accessible<Backend> {
    return view().at(index...);
  }
  template <class... I>
  [[nodiscard]] const T& at(I... index) const requires host_accessible<Backend> {
    return view().at(index...);
  }
  [[nodiscard]] T& operator[](std::size_t flat) requires host_accessible<Backend> { return data()[flat]; }
  [[nodiscard]] const T& operator[](std::size_t flat) const requires host_accessible<Backend> { return data()[flat]; }
  [[nodiscard]] T* begin() requires host_accessible<Backend> { return data(); }
  [[nodiscard]] T* end() requires host_accessible<Backend> { return data() + size(); }
  [[nodiscard]] const T* begin() const requires host_accessible<Backend> { return data(); }
  [[nodiscard]] const T* end() const requires host_accessible<Backend> { return data() + size(); }

private:
  buffer<T, Backend> storage_;
  attractor::shape shape_{0};  // a default tensor is empty, as its storage
};

}  // namespace attractor
