// Shape-checked tensor operations over the backend primitives: copy, fill, map, matmul, reductions and
// segment_sum. Each takes the backend's context first and works on every backend whose primitives are included
// (backend/cuda/*.cuh for cuda). Owning tensors and views are both accepted.
#pragma once

#include <cstddef>
#include <type_traits>

#include "attractor/backend/copy.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/backend/segment_sum.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor {

/// A view of a tensor or a view, so one template serves both.
template <class T, class B>
tensor_view<T, B> as_view(tensor<T, B>& x) {
  return x.view();
}
template <class T, class B>
const_tensor_view<T, B> as_view(const tensor<T, B>& x) {
  return x.view();
}
template <class T, class B>
tensor_view<T, B> as_view(const tensor_view<T, B>& x) {
  return x;
}

namespace detail {
template <class X>
using view_of = decltype(as_view(std::declval<X&>()));
template <class X>
using value_of = typename view_of<X>::value_type;
template <class X>
using backend_of = typename view_of<X>::backend_type;

inline void require_same_shape(const shape& expected, const shape& actual, const char* function, const char* what) {
  if (!(expected == actual)) fail(function, detail::concat(what, " of shape ", expected), actual);
}
}  // namespace detail

/// Any tensor<T, B>, tensor_view<T, B> or tensor_view<const T, B>.
template <class X>
concept tensor_like = requires(X& x) {
  as_view(x);
};

/// Copies src into dst (same shape), within a backend or between two. For a copy that involves cuda, pass the
/// cuda context.
template <class Ctx, tensor_like Src, tensor_like Dst>
void copy(Ctx& ctx, const Src& src, Dst&& dst) {
  auto s = as_view(src);
  auto d = as_view(dst);
  detail::require_same_shape(s.shape(), d.shape(), "copy", "a destination");
  transfer<detail::backend_of<const Src>, detail::backend_of<std::remove_reference_t<Dst>>>::run(ctx, s.data(),
                                                                                                 d.data(), s.size());
}

/// A new tensor on backend To holding a copy of x.
template <class To, class Ctx, tensor_like X>
tensor<detail::value_of<const X>, To> to_backend(Ctx& ctx, const X& x) {
  auto v = as_view(x);
  tensor<detail::value_of<const X>, To> out(v.shape());
  copy(ctx, v, out);
  return out;
}

template <class Backend, class T>
void fill(context<Backend>& ctx, tensor_view<T, Backend> x, T value) {
  fill(ctx, x.size(), x.data(), value);
}
template <class Backend, class T>
void fill(context<Backend>& ctx, tensor<T, Backend>& x, T value) {
  fill(ctx, x.size(), x.data(), value);
}

/// out = f(in...), element-wise, for one to three inputs of out's shape.
template <class Backend, tensor_like Out, class F, tensor_like... In>
requires(sizeof...(In) >= 1 && sizeof...(In) <= 3) void map(context<Backend>& ctx, Out&& out, F f, const In&... in) {
  auto o = as_view(out);
  static_assert(std::is_same_v<typename decltype(o)::backend_type, Backend>, "map: out is on another backend");
  (detail::require_same_shape(o.shape(), as_view(in).shape(), "map", "an input"), ...);
  map(ctx, o.size(), o.data(), f, as_view(in).data()...);
}

/// c = alpha * op(a) * op(b) + beta * c for rank-2 operands, or the batched product for rank-3 operands
/// (batch x rows x cols), where a or b may also be rank 2 and is then shared by every batch entry.
template <class Backend, tensor_like A, tensor_like B, tensor_like C>
void matmul(context<Backend>& ctx, const A& a, const B& b, C&& c, transpose trans_a = transpose::no,
            transpose trans_b = transpose::no, detail::value_of<const A> alpha = 1,
            detail::value_of<const A> beta = 0) {
  constexpr const char* fn = "matmul";
  auto va = as_view(a);
  auto vb = as_view(b);
  auto vc = as_view(c);
  const std::size_t ra = va.rank(), rb = vb.rank(), rc = vc.rank();
  require((ra == 2 || ra == 3) && (rb == 2 || rb == 3) && rc == std::max(ra, rb), fn,
          "a and b of rank 2 or 3 and c of the larger rank",
          detail::text("a ", va.shape(), ", b ", vb.shape(), ", c ", vc.shape()));
  const std::size_t batch = rc == 3 ? vc.shape()[0] : 1;
  if (ra == 3) require(va.shape()[0] == batch, fn, detail::text("a batch of ", batch), va.shape());
  if (rb == 3) require(vb.shape()[0] == batch, fn, detail::text("b batch of ", batch), vb.shape());
  const std::size_t a_rows = va.shape()[ra - 2], a_cols = va.shape()[ra - 1];
  const std::size_t b_rows = vb.shape()[rb - 2], b_cols = vb.shape()[rb - 1];
  const std::size_t m = trans_a == transpose::no ? a_rows : a_cols;
  const std::size_t k = trans_a == transpose::no ? a_cols : a_rows;
  const std::size_t kb = trans_b == transpose::no ? b_rows : b_cols;
  const std::size_t n = trans_b == transpose::no ? b_cols : b_rows;
  require(k == kb, fn, detail::text("inner dimensions to agree (op(a) has ", k, " columns)"),
          detail::text(kb, " rows in op(b); a ", va.shape(), ", b ", vb.shape()));
  require(vc.shape()[rc - 2] == m && vc.shape()[rc - 1] == n, fn, detail::text("c with ", m, " x ", n, " matrices"),
          vc.shape());
  if (rc == 2) {
    gemm(ctx, trans_a, trans_b, m, n, k, alpha, va.data(), a_cols, vb.data(), b_cols, beta, vc.data(), n);
  } else {
    gemm_strided_batched(ctx, trans_a, trans_b, m, n, k, alpha, va.data(), a_cols, ra == 3 ? a_rows * a_cols : 0,
                         vb.data(), b_cols, rb == 3 ? b_rows * b_cols : 0, beta, vc.data(), n, m * n, batch);
  }
}

/// The reduction of all elements of x.
template <class Backend, tensor_like X>
detail::value_of<const X> reduce(context<Backend>& ctx, reduction op, const X& x) {
  auto v = as_view(x);
  return reduce(ctx, op, v.data(), v.size());
}
template <class Backend, tensor_like X>
detail::value_of<const X> sum(context<Backend>& ctx, const X& x) {
  return reduce(ctx, reduction::sum, x);
}
template <class Backend, tensor_like X>
detail::value_of<const X> max(context<Backend>& ctx, const X& x) {
  return reduce(ctx, reduction::max, x);
}
template <class Backend, tensor_like X>
detail::value_of<const X> sum_squares(context<Backend>& ctx, const X& x) {
  return reduce(ctx, reduction::sum_squares, x);
}

/// out[i...] = op over x[i..., :]: x of shape (..., n), out of shape (...), rank one lower.
template <class Backend, tensor_like X, tensor_like Out>
void reduce_last_axis(context<Backend>& ctx, reduction op, const X& x, Out&& out) {
  auto vx = as_view(x);
  auto vo = as_view(out);
  require(vx.rank() >= 1, "reduce_last_axis", "x of rank >= 1", vx.shape());
  const shape lead(vx.shape().begin(), vx.shape().end() - 1);
  detail::require_same_shape(lead, vo.shape(), "reduce_last_axis", "out");
  reduce_rows(ctx, op, vx.data(), lead.size(), vx.shape()[vx.rank() - 1], vo.data());
}

/// out[keys[r], :] = sum of x[r, :] over the rows r with that key; x is rows x cols, keys has rows entries in
/// [0, segments), out is segments x cols.
template <class Backend, tensor_like Keys, tensor_like X, tensor_like Out>
void segment_sum(context<Backend>& ctx, const Keys& keys, const X& x, Out&& out) {
  auto vk = as_view(keys);
  auto vx = as_view(x);
  auto vo = as_view(out);
  require(vx.rank() == 2 && vo.rank() == 2 && vk.rank() == 1, "segment_sum", "keys of rank 1, x and out of rank 2",
          detail::text("keys ", vk.shape(), ", x ", vx.shape(), ", out ", vo.shape()));
  require(vk.shape()[0] == vx.shape()[0], "segment_sum", detail::text(vx.shape()[0], " keys"), vk.shape()[0]);
  require(vo.shape()[1] == vx.shape()[1], "segment_sum", detail::text("out with ", vx.shape()[1], " columns"),
          vo.shape());
  segment_sum(ctx, vk.data(), vx.data(), vx.shape()[0], vx.shape()[1], vo.shape()[0], vo.data());
}

}  // namespace attractor
