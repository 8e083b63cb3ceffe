// transfer_learning::row_map: what the transfer layer composes and rolls out. A row map sends each row of a (n x
// inputs()) array on a backend to a row of a (n x outputs()) array: a feature map (the frozen backbone, random Fourier
// features), a head (the ridge solution, a network), or a surrogate's increment g(x). identity_map copies; chained
// runs one map after another, chunk by chunk, through a scratch array of bounded size.
//
//   struct my_map {
//     std::size_t inputs() const;
//     std::size_t outputs() const;
//     void apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, tensor_view<Scalar, Backend> out);
//   };
//
// apply checks shapes (throwing attractor::error) but not values: a roll-out that diverged feeds NaN or Inf
// through, and the scores report it. Functions that learn from data (ridge_accumulator::add, the objectives) refuse
// non-finite values.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <string_view>

#include "attractor/core/error.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::transfer_learning {

template <class M, class Scalar, class Backend>
concept row_map = requires(M& m, const M& c, context<Backend>& ctx, const_tensor_view<Scalar, Backend> x,
                           tensor_view<Scalar, Backend> out) {
  { c.inputs() } -> std::convertible_to<std::size_t>;
  { c.outputs() } -> std::convertible_to<std::size_t>;
  m.apply(ctx, x, out);
};

namespace detail {

/// Throws unless x is (n x inputs) and out (n x outputs), n >= 1; `fn` names the caller.
template <class X, class Out>
void require_row_shapes(const X& x, const Out& out, std::size_t inputs, std::size_t outputs, std::string_view fn) {
  require(x.rank() == 2 && x.extent(0) > 0 && x.extent(1) == inputs, fn,
          attractor::detail::text("inputs of shape (n >= 1, ", inputs, ")"), x.shape());
  require(out.rank() == 2 && out.extent(0) == x.extent(0) && out.extent(1) == outputs, fn,
          attractor::detail::text("outputs of shape (", x.extent(0), ", ", outputs, ")"), out.shape());
}

}  // namespace detail

/// out = x: the states themselves as features (a linear fit on x).
template <floating_scalar Scalar, class Backend>
class identity_map {
public:
  explicit identity_map(std::size_t dimension = 3) : dimension_(dimension) {
    require(dimension > 0, "transfer_learning::identity_map", "a dimension > 0", dimension);
  }
  [[nodiscard]] std::size_t inputs() const { return dimension_; }
  [[nodiscard]] std::size_t outputs() const { return dimension_; }
  void apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, tensor_view<Scalar, Backend> out) {
    detail::require_row_shapes(x, out, dimension_, dimension_, "transfer_learning::identity_map::apply");
    copy(ctx, x, out);
  }

private:
  std::size_t dimension_;
};

/// second(first(x)), `chunk` rows at a time through a (chunk x first.outputs()) scratch array. Both maps must
/// outlive the chain.
template <floating_scalar Scalar, class Backend, class First, class Second>
requires row_map<First, Scalar, Backend> && row_map<Second, Scalar, Backend>
class chained {
public:
  chained(First& first, Second& second, std::size_t chunk = 4096) : first_(&first), second_(&second), chunk_(chunk) {
    constexpr const char* fn = "transfer_learning::chained";
    require(chunk > 0, fn, "a chunk of at least one row", chunk);
    require(first.outputs() == second.inputs(), fn,
            attractor::detail::text("a second map of ", first.outputs(), " inputs"), second.inputs());
  }
  [[nodiscard]] std::size_t inputs() const { return first_->inputs(); }
  [[nodiscard]] std::size_t outputs() const { return second_->outputs(); }

  void apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, tensor_view<Scalar, Backend> out) {
    detail::require_row_shapes(x, out, inputs(), outputs(), "transfer_learning::chained::apply");
    const std::size_t n = x.extent(0), width = first_->outputs();
    if (middle_.size() == 0) middle_ = tensor<Scalar, Backend>(shape{chunk_, width});
    for (std::size_t begin = 0; begin < n; begin += chunk_) {
      const std::size_t count = std::min(chunk_, n - begin);
      auto mid = middle_.rows(0, count);
      first_->apply(ctx, x.rows(begin, begin + count), mid);
      second_->apply(ctx, const_tensor_view<Scalar, Backend>(mid), out.rows(begin, begin + count));
    }
  }

private:
  First* first_;
  Second* second_;
  std::size_t chunk_;
  tensor<Scalar, Backend> middle_;
};

}  // namespace attractor::transfer_learning
