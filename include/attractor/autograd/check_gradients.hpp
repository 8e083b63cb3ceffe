// check_gradients: compares the gradients backward() computes with central differences of the loss, element by
// element. Part of the public API, as in dlib: a user who adds an operation checks it the same way the library's
// tests check theirs. Use a graph in double; on cuda each element is read and written through the host.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/backend/copy.hpp"

namespace attractor::autograd {

struct gradient_error {
  std::string name;          ///< the value's name (a parameter's, or "input")
  std::size_t elements = 0;  ///< elements checked
  double max_abs_error = 0;  ///< max |analytic - numeric|
  double max_rel_error = 0;  ///< max |analytic - numeric| / max(|analytic| + |numeric|, floor)
  std::size_t worst_index = 0;
};

struct gradient_check {
  std::vector<gradient_error> values;
  [[nodiscard]] double max_rel_error() const {
    double e = 0;
    for (const auto& v : values) e = std::max(e, v.max_rel_error);
    return e;
  }
};

namespace detail {
template <class Scalar, class Backend>
Scalar read_element(context<Backend>& ctx, const Scalar* p) {
  Scalar v;
  transfer<Backend, cpu>::run(ctx, p, &v, 1);
  return v;
}
template <class Scalar, class Backend>
void write_element(context<Backend>& ctx, Scalar* p, Scalar v) {
  transfer<cpu, Backend>::run(ctx, &v, p, 1);
}
}  // namespace detail

/// For every element of every value in `wrt` (inputs created with requires_grad, or parameters), compares
/// d loss / d element from backward() with (loss(x + h) - loss(x - h)) / 2h. The graph's inputs must already hold
/// the point to check at; they are restored afterwards. An element's error is relative to its own magnitude, but
/// never to less than `scale_floor` times the largest gradient of its tensor (nor `floor`): an element whose
/// gradient is a millionth of its neighbours' carries the loss's rounding error divided by the step, which is not
/// a fault of the backward pass.
template <class Backend>
gradient_check check_gradients(graph<double, Backend>& g, value loss, const std::vector<value>& wrt, double step = 1e-6,
                               double scale_floor = 1e-3, double floor = 1e-8) {
  constexpr const char* fn = "check_gradients";
  require(step > 0 && std::isfinite(step), fn, "a finite step > 0", step);
  auto& ctx = g.ctx();
  auto loss_now = [&] {
    g.forward();
    return detail::read_element(ctx, g.value_of(loss).data());
  };
  // Analytic gradients, copied out before the perturbations overwrite the graph's state.
  g.forward();
  g.backward(loss);
  std::vector<std::vector<double>> analytic;
  for (value v : wrt) {
    require(g.needs_grad(v), fn, "values with gradients (parameters or requires_grad inputs)", g.name_of(v));
    const auto grad = g.grad_of(v);
    std::vector<double> host(grad.size());
    transfer<Backend, cpu>::run(ctx, grad.data(), host.data(), host.size());
    analytic.push_back(std::move(host));
  }
  gradient_check result;
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    gradient_error err;
    err.name = g.name_of(wrt[k]);
    double* x = g.value_of(wrt[k]).data();
    err.elements = analytic[k].size();
    double largest = 0;
    for (double a : analytic[k]) largest = std::max(largest, std::abs(a));
    const double denominator_floor = std::max(floor, scale_floor * largest);
    for (std::size_t i = 0; i < analytic[k].size(); ++i) {
      const double original = detail::read_element(ctx, x + i);
      detail::write_element(ctx, x + i, original + step);
      const double up = loss_now();
      detail::write_element(ctx, x + i, original - step);
      const double down = loss_now();
      detail::write_element(ctx, x + i, original);
      const double numeric = (up - down) / (2 * step);
      // A NaN or infinite gradient (either way) is an infinite error: NaN would fail every comparison below.
      const bool finite = std::isfinite(analytic[k][i]) && std::isfinite(numeric);
      constexpr double infinite = std::numeric_limits<double>::infinity();
      const double abs_error = finite ? std::abs(analytic[k][i] - numeric) : infinite;
      const double rel_error =
          finite ? abs_error / std::max(std::abs(analytic[k][i]) + std::abs(numeric), denominator_floor) : infinite;
      err.max_abs_error = std::max(err.max_abs_error, abs_error);
      if (rel_error > err.max_rel_error) {
        err.max_rel_error = rel_error;
        err.worst_index = i;
      }
    }
    result.values.push_back(err);
  }
  g.forward();  // leave the graph's values consistent with its inputs
  return result;
}

}  // namespace attractor::autograd
