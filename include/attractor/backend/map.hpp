// Element-wise maps of one to three inputs: out[i] = f(in0[i], ...). Written once for every backend on top of
// for_each_index; f must be callable on the backend (mark it ATTRACTOR_HOST_DEVICE for cuda). `out` may alias an
// input.
#pragma once

#include <cstddef>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"

namespace attractor {

namespace detail {

template <class Out, class F, class... In>
struct map_kernel;

template <class Out, class F, class A>
struct map_kernel<Out, F, A> {
  Out* out;
  F f;
  const A* a;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = f(a[i]); }
};

template <class Out, class F, class A, class B>
struct map_kernel<Out, F, A, B> {
  Out* out;
  F f;
  const A* a;
  const B* b;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = f(a[i], b[i]); }
};

template <class Out, class F, class A, class B, class C>
struct map_kernel<Out, F, A, B, C> {
  Out* out;
  F f;
  const A* a;
  const B* b;
  const C* c;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = f(a[i], b[i], c[i]); }
};

}  // namespace detail

/// out[i] = f(in[i]...) for i in [0, n), with one to three inputs.
template <class Backend, class Out, class F, class... In>
requires(sizeof...(In) >= 1 && sizeof...(In) <= 3) void map(context<Backend>& ctx, std::size_t n, Out* out, F f,
                                                            const In*... in) {
  for_each_index(ctx, n, detail::map_kernel<Out, F, In...>{out, f, in...});
}

/// Functors for the common maps; each works on every backend.
namespace ops {
struct identity {
  template <class T>
  ATTRACTOR_HOST_DEVICE T operator()(T a) const {
    return a;
  }
};
struct plus {
  template <class T>
  ATTRACTOR_HOST_DEVICE T operator()(T a, T b) const {
    return a + b;
  }
};
struct minus {
  template <class T>
  ATTRACTOR_HOST_DEVICE T operator()(T a, T b) const {
    return a - b;
  }
};
struct multiplies {
  template <class T>
  ATTRACTOR_HOST_DEVICE T operator()(T a, T b) const {
    return a * b;
  }
};
/// a * x + y
template <class T>
struct axpy {
  T alpha;
  ATTRACTOR_HOST_DEVICE T operator()(T x, T y) const { return alpha * x + y; }
};
/// a * b + c
struct fma {
  template <class T>
  ATTRACTOR_HOST_DEVICE T operator()(T a, T b, T c) const {
    return a * b + c;
  }
};
template <class T>
struct scale {
  T alpha;
  ATTRACTOR_HOST_DEVICE T operator()(T x) const { return alpha * x; }
};
template <class T>
struct constant {
  T value;
  template <class U>
  ATTRACTOR_HOST_DEVICE T operator()(U) const {
    return value;
  }
};
}  // namespace ops

}  // namespace attractor

namespace attractor {

namespace detail {
template <class T>
struct fill_kernel {
  T* out;
  T value;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = value; }
};
}  // namespace detail

/// out[i] = value for i in [0, n).
template <class Backend, class T>
void fill(context<Backend>& ctx, std::size_t n, T* out, T value) {
  for_each_index(ctx, n, detail::fill_kernel<T>{out, value});
}

}  // namespace attractor
