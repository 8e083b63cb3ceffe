// Nearest-neighbour distances (spec §5): for each query state the smallest squared Euclidean distance to any state
// of a reference set, exact, and their mean:
//
//   d_gen  = mean over generated x of min over test y of ||x - y||^2  = mean_nearest_sq_distance(ctx, gen, test)
//   d_test = mean over test y of min over generated x of ||x - y||^2  = mean_nearest_sq_distance(ctx, test, gen)
//
// nearest_search<Scalar, Backend> is the search over a fixed reference set, built once and queried chunk by chunk,
// written once over a per-backend kernel: on cpu a k-d tree (metrics/kd_tree.hpp) for 1 to 4 dimensions and a
// parallel exhaustive search above; on cuda (metrics/cuda/nearest.cuh) an exhaustive search tiled through shared
// memory.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <variant>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/metrics/check.hpp"
#include "attractor/metrics/kd_tree.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics {

namespace detail {

/// The per-backend kernel of nearest_search over a validated (n x d) reference set: constructed with (ctx,
/// reference), it answers
///   sq_distances(ctx, queries, m, out):  out[i] = min_j ||q_i - r_j||^2 for the m x d queries (all on Backend)
///   sum_sq_distances(ctx, queries, m):    the sum of those, in double
/// for queries nearest_search has already checked. The cpu kernel is below; the cuda one in cuda/nearest.cuh.
template <floating_scalar Scalar, class Backend>
class nearest_kernel;

/// On cpu: a k-d tree (metrics/kd_tree.hpp) for 1 to 4 dimensions, a parallel exhaustive search above.
template <floating_scalar Scalar>
class nearest_kernel<Scalar, cpu> {
public:
  nearest_kernel(context<cpu>& ctx, const_tensor_view<Scalar, cpu> reference) : reference_(reference) {
    const std::size_t n = reference.extent(0);
    switch (reference.extent(1)) {
      case 1: tree_.template emplace<kd_tree<Scalar, 1>>(ctx, reference.data(), n); break;
      case 2: tree_.template emplace<kd_tree<Scalar, 2>>(ctx, reference.data(), n); break;
      case 3: tree_.template emplace<kd_tree<Scalar, 3>>(ctx, reference.data(), n); break;
      case 4: tree_.template emplace<kd_tree<Scalar, 4>>(ctx, reference.data(), n); break;
      default: break;  // exhaustive search
    }
  }

  void sq_distances(context<cpu>& ctx, const Scalar* queries, std::size_t m, Scalar* out) const {
    std::visit(
        [&](const auto& tree) {
          if constexpr (std::is_same_v<std::decay_t<decltype(tree)>, std::monostate>) {
            for_each_index_coarse(ctx, (m + 255) / 256, [&](std::size_t j) {
              for (std::size_t i = j * 256; i < std::min(m, j * 256 + 256); ++i)
                out[i] = static_cast<Scalar>(exhaustive(queries + i * dimension()));
            });
          } else {
            tree.nearest_sq_distances(ctx, queries, m, out);
          }
        },
        tree_);
  }

  [[nodiscard]] double sum_sq_distances(context<cpu>& ctx, const Scalar* queries, std::size_t m) const {
    return std::visit(
        [&](const auto& tree) {
          if constexpr (std::is_same_v<std::decay_t<decltype(tree)>, std::monostate>) {
            std::vector<double> partial((m + 255) / 256, 0.0);
            for_each_index_coarse(ctx, partial.size(), [&](std::size_t j) {
              double sum = 0;
              for (std::size_t i = j * 256; i < std::min(m, j * 256 + 256); ++i)
                sum += exhaustive(queries + i * dimension());
              partial[j] = sum;
            });
            double total = 0;
            for (double p : partial) total += p;
            return total;
          } else {
            return tree.sum_nearest_sq_distances(ctx, queries, m);
          }
        },
        tree_);
  }

private:
  [[nodiscard]] std::size_t dimension() const { return reference_.extent(1); }

  /// The smallest squared distance from q to the reference, by looking at every reference state.
  double exhaustive(const Scalar* q) const {
    const std::size_t d = dimension(), n = reference_.extent(0);
    const Scalar* r = reference_.data();
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < n; ++j) {
      double d2 = 0;
      for (std::size_t k = 0; k < d; ++k) {
        const double diff = static_cast<double>(q[k]) - static_cast<double>(r[j * d + k]);
        d2 += diff * diff;
      }
      best = std::min(best, d2);
    }
    return best;
  }

  const_tensor_view<Scalar, cpu> reference_;
  std::variant<std::monostate, kd_tree<Scalar, 1>, kd_tree<Scalar, 2>, kd_tree<Scalar, 3>, kd_tree<Scalar, 4>> tree_;
};

}  // namespace detail

/// An exact nearest-neighbour search over a reference set of (n x d) states on Backend, written once over the
/// backend's detail::nearest_kernel: this class checks every input, the kernel only searches. Construct it with
/// (context<Backend>&, const_tensor_view<Scalar, Backend> reference); then
///   sq_distances(ctx, queries, out):  out[i] = min_j ||queries_i - reference_j||^2, queries (m x d), out (m)
///   sum_sq_distances(ctx, queries):   the sum of those over the queries, in double
/// The reference view must outlive the search (the cpu k-d tree keeps a copy; the other searches read it). Throws
/// attractor::error on empty sets, mismatched shapes, or NaN or infinite states.
template <floating_scalar Scalar, class Backend>
class nearest_search {
public:
  nearest_search(context<Backend>& ctx, const_tensor_view<Scalar, Backend> reference)
      : reference_(validated(ctx, reference)), kernel_(ctx, reference) {}

  [[nodiscard]] std::size_t dimension() const { return reference_.extent(1); }
  [[nodiscard]] std::size_t size() const { return reference_.extent(0); }

  void sq_distances(context<Backend>& ctx, const_tensor_view<Scalar, Backend> queries,
                    tensor_view<Scalar, Backend> out) const {
    constexpr const char* fn = "metrics::nearest_search::sq_distances";
    check_queries(ctx, queries, fn);
    require(out.rank() == 1 && out.extent(0) == queries.extent(0), fn,
            attractor::detail::text("out of shape (", queries.extent(0), ")"), out.shape());
    kernel_.sq_distances(ctx, queries.data(), queries.extent(0), out.data());
  }

  [[nodiscard]] double sum_sq_distances(context<Backend>& ctx, const_tensor_view<Scalar, Backend> queries) const {
    check_queries(ctx, queries, "metrics::nearest_search::sum_sq_distances");
    return kernel_.sum_sq_distances(ctx, queries.data(), queries.extent(0));
  }

private:
  static const_tensor_view<Scalar, Backend> validated(context<Backend>& ctx,
                                                      const_tensor_view<Scalar, Backend> reference) {
    constexpr const char* fn = "metrics::nearest_search";
    detail::require_state_set(reference, 0, fn, "reference set");
    require_finite(ctx, reference, fn, "the reference set");
    return reference;
  }

  void check_queries(context<Backend>& ctx, const_tensor_view<Scalar, Backend> queries, const char* fn) const {
    detail::require_state_set(queries, dimension(), fn, "query set");
    require_finite(ctx, queries, fn, "the queries");
  }

  const_tensor_view<Scalar, Backend> reference_;
  detail::nearest_kernel<Scalar, Backend> kernel_;
};

/// out[i] = the squared distance from query i to its nearest reference state: queries (m x d), reference (n x d),
/// out (m), all on Backend. Throws on empty sets, mismatched shapes, or NaN or infinite states.
template <class Backend, tensor_like Queries, tensor_like Reference, tensor_like Out>
void nearest_sq_distances(context<Backend>& ctx, const Queries& queries, const Reference& reference, Out&& out) {
  using scalar = attractor::detail::value_of<const Reference>;
  const nearest_search<scalar, Backend> search(ctx, const_tensor_view<scalar, Backend>(as_view(reference)));
  search.sq_distances(ctx, const_tensor_view<scalar, Backend>(as_view(queries)), as_view(out));
}

/// The mean over the queries of the squared distance to the nearest reference state, in double: d_gen with
/// (generated, test), d_test with (test, generated). Throws as nearest_sq_distances.
template <class Backend, tensor_like Queries, tensor_like Reference>
double mean_nearest_sq_distance(context<Backend>& ctx, const Queries& queries, const Reference& reference) {
  using scalar = attractor::detail::value_of<const Reference>;
  const const_tensor_view<scalar, Backend> q(as_view(queries));
  const nearest_search<scalar, Backend> search(ctx, const_tensor_view<scalar, Backend>(as_view(reference)));
  const double sum = search.sum_sq_distances(ctx, q);
  return sum / static_cast<double>(q.extent(0));
}

}  // namespace attractor::metrics
