// shape: the extents of a row-major tensor of rank 0 to 4.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>

#include "attractor/core/error.hpp"

namespace attractor {

inline constexpr std::size_t max_rank = 4;

class shape {
public:
  constexpr shape() = default;
  shape(std::initializer_list<std::size_t> extents) {
    require(extents.size() <= max_rank, "shape", detail::text("rank <= ", max_rank), extents.size());
    rank_ = extents.size();
    std::size_t i = 0;
    for (auto e : extents) dims_[i++] = e;
    require_size_fits();
  }
  template <class It>
  shape(It first, It last) {
    for (; first != last; ++first) {
      require(rank_ < max_rank, "shape", detail::text("rank <= ", max_rank), "more extents");
      dims_[rank_++] = static_cast<std::size_t>(*first);
    }
    require_size_fits();
  }

  [[nodiscard]] constexpr std::size_t rank() const { return rank_; }
  [[nodiscard]] constexpr std::size_t operator[](std::size_t axis) const { return dims_[axis]; }
  [[nodiscard]] std::size_t extent(std::size_t axis) const {
    require(axis < rank_, "shape::extent", detail::text("an axis < ", rank_), axis);
    return dims_[axis];
  }
  /// Number of elements (1 for rank 0).
  [[nodiscard]] constexpr std::size_t size() const {
    std::size_t n = 1;
    for (std::size_t i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  /// Elements between consecutive indices along `axis`.
  [[nodiscard]] constexpr std::size_t stride(std::size_t axis) const {
    std::size_t s = 1;
    for (std::size_t i = axis + 1; i < rank_; ++i) s *= dims_[i];
    return s;
  }
  [[nodiscard]] const std::size_t* begin() const { return dims_.data(); }
  [[nodiscard]] const std::size_t* end() const { return dims_.data() + rank_; }

  friend constexpr bool operator==(const shape& a, const shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (std::size_t i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }

  [[nodiscard]] std::string str() const {
    std::ostringstream out;
    out << '(';
    for (std::size_t i = 0; i < rank_; ++i) out << (i ? ", " : "") << dims_[i];
    out << ')';
    return out.str();
  }
  friend std::ostream& operator<<(std::ostream& out, const shape& s) { return out << s.str(); }

private:
  /// Every extent product (size(), stride()) is computed unchecked, so the constructors refuse extents whose
  /// product overflows std::size_t: a wrapped size would allocate a small buffer that indexing then overruns.
  void require_size_fits() const {
    std::size_t n = 1;
    for (std::size_t i = 0; i < rank_; ++i)
      if (__builtin_mul_overflow(n, dims_[i], &n)) fail("shape", "extents whose product fits in std::size_t", str());
  }

  std::array<std::size_t, max_rank> dims_{};
  std::size_t rank_ = 0;
};

}  // namespace attractor
