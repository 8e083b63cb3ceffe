// metrics::kd_tree: an exact nearest-neighbour search over points of D coordinates on the host, for the d-bar
// metrics (spec §5), which need the nearest of 1.6e7 test states for each of 1e6 generated ones and the reverse.
//
// The tree is balanced and implicit: the points are reordered so that a node covering positions [b, e) splits at
// m = b + (e - b) / 2 along the dimension of largest extent, with every point of [b, m) at or below the split value
// and every point of [m, e) at or above it; leaves hold at most `leaf_size` points. Nodes are stored in heap order
// (children of node i are 2i + 1 and 2i + 2), so subtrees are built in parallel without coordination. A query
// descends to the nearer child first and visits the farther one only when the distance from the query to that
// child's cell (tracked incrementally per dimension, as in Arya and Mount's algorithm) is below the best so far:
// the result is exact. Squared distances are accumulated in double, the dimensions in order.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor::metrics {

/// The nearest point of a set: its squared Euclidean distance to the query and its row in the set.
struct nearest_neighbour {
  double sq_distance = std::numeric_limits<double>::infinity();
  std::size_t index = 0;
};

template <floating_scalar Scalar, std::size_t D>
class kd_tree {
  static_assert(D >= 1, "kd_tree: at least one dimension");

public:
  kd_tree() = default;

  /// Builds the tree over n points, row-major (n x D) at `points`, on ctx's threads. The tree keeps its own copy.
  /// Throws unless 1 <= n < 2^32, leaf_size >= 1 and every coordinate is finite.
  kd_tree(context<cpu>& ctx, const Scalar* points, std::size_t n, std::size_t leaf_size = 8) {
    constexpr const char* fn = "metrics::kd_tree";
    require(n >= 1 && n < (std::size_t{1} << 32), fn, "between 1 and 2^32 - 1 points", n);
    require(leaf_size >= 1, fn, "a leaf size >= 1", leaf_size);
    require_finite(points, n * D, fn, "the points");
    points_.resize(n);
    for_each_index(ctx, n, [&](std::size_t i) {
      for (std::size_t k = 0; k < D; ++k) points_[i].x[k] = points[i * D + k];
      points_[i].index = static_cast<std::uint32_t>(i);
    });
    levels_ = 0;
    while (((n - 1) >> levels_) + 1 > leaf_size) ++levels_;  // ceil(n / 2^levels) <= leaf_size
    const std::size_t internal = (std::size_t{1} << levels_) - 1;
    split_value_.assign(internal, Scalar(0));
    split_dim_.assign(internal, 0);
    // The top levels one node at a time (each split parallel over nothing but cheap next to the rest), then the
    // subtrees below them in parallel.
    const std::size_t wanted = 4 * static_cast<std::size_t>(std::max(1, ctx.threads()));
    std::size_t top = 0;
    while (top < levels_ && (std::size_t{1} << top) < wanted) ++top;
    build_levels(0, 0, n, 0, top);
    const std::size_t first = (std::size_t{1} << top) - 1, count = std::size_t{1} << top;
    for_each_index_coarse(ctx, count, [&](std::size_t j) {
      const auto [b, e] = range_of(top, j, n);
      build_levels(first + j, b, e, top, levels_);
    });
  }

  [[nodiscard]] std::size_t size() const { return points_.size(); }
  [[nodiscard]] bool empty() const { return points_.empty(); }

  /// The point nearest to query[0..D), exact. Ties go to any of the nearest points.
  [[nodiscard]] nearest_neighbour nearest(const Scalar* query) const {
    ATTRACTOR_ASSERT(!points_.empty());
    nearest_neighbour best;
    std::array<double, D> q{}, offset{};
    for (std::size_t k = 0; k < D; ++k) q[k] = static_cast<double>(query[k]);
    search(0, 0, points_.size(), 0, q, offset, 0.0, best);
    best.index = points_[best.index].index;
    return best;
  }

  /// out[i] = the squared distance from query i (m queries, row-major m x D) to its nearest point, in parallel.
  template <class Out>
  void nearest_sq_distances(context<cpu>& ctx, const Scalar* queries, std::size_t m, Out* out) const {
    for_each_block(ctx, m, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) out[i] = static_cast<Out>(nearest(queries + i * D).sq_distance);
    });
  }

  /// The sum over m queries of the squared distance to the nearest point, in double; deterministic (blocks of
  /// queries are summed in order whatever the thread count).
  [[nodiscard]] double sum_nearest_sq_distances(context<cpu>& ctx, const Scalar* queries, std::size_t m) const {
    std::vector<double> partial((m + block - 1) / block, 0.0);
    for_each_block(ctx, m, [&](std::size_t begin, std::size_t end) {
      double sum = 0;
      for (std::size_t i = begin; i < end; ++i) sum += nearest(queries + i * D).sq_distance;
      partial[begin / block] = sum;
    });
    double total = 0;
    for (double p : partial) total += p;
    return total;
  }

private:
  struct point {
    Scalar x[D];
    std::uint32_t index;
  };

  static constexpr std::size_t block = 2048;  // queries per parallel work item

  template <class F>
  static void for_each_block(context<cpu>& ctx, std::size_t m, F f) {
    for_each_index_coarse(ctx, (m + block - 1) / block,
                          [&](std::size_t j) { f(j * block, std::min(m, (j + 1) * block)); });
  }

  /// The positions [b, e) covered by node j (counted from the left) of level `level`, for n points.
  static std::pair<std::size_t, std::size_t> range_of(std::size_t level, std::size_t j, std::size_t n) {
    std::size_t b = 0, e = n;
    for (std::size_t l = level; l-- > 0;) {
      const std::size_t m = b + (e - b) / 2;
      if ((j >> l) & 1) {
        b = m;
      } else {
        e = m;
      }
    }
    return {b, e};
  }

  /// Builds node `node` (covering [b, e), at depth `depth`) and its descendants down to depth `stop`.
  void build_levels(std::size_t node, std::size_t b, std::size_t e, std::size_t depth, std::size_t stop) {
    if (depth >= stop) return;
    std::array<Scalar, D> lo, hi;
    lo.fill(std::numeric_limits<Scalar>::infinity());
    hi.fill(-std::numeric_limits<Scalar>::infinity());
    for (std::size_t i = b; i < e; ++i) {
      for (std::size_t k = 0; k < D; ++k) {
        lo[k] = std::min(lo[k], points_[i].x[k]);
        hi[k] = std::max(hi[k], points_[i].x[k]);
      }
    }
    std::size_t dim = 0;
    for (std::size_t k = 1; k < D; ++k)
      if (hi[k] - lo[k] > hi[dim] - lo[dim]) dim = k;
    const std::size_t m = b + (e - b) / 2;
    std::nth_element(points_.begin() + static_cast<std::ptrdiff_t>(b), points_.begin() + static_cast<std::ptrdiff_t>(m),
                     points_.begin() + static_cast<std::ptrdiff_t>(e),
                     [dim](const point& p, const point& q) { return p.x[dim] < q.x[dim]; });
    split_dim_[node] = static_cast<std::uint8_t>(dim);
    split_value_[node] = points_[m].x[dim];
    build_levels(2 * node + 1, b, m, depth + 1, stop);
    build_levels(2 * node + 2, m, e, depth + 1, stop);
  }

  /// Visits node `node` (covering [b, e) at `depth`); `rd` is the squared distance from q to the node's cell as far
  /// as the splits above have bounded it, offset[k] its component along dimension k.
  void search(std::size_t node, std::size_t b, std::size_t e, std::size_t depth, const std::array<double, D>& q,
              std::array<double, D>& offset, double rd, nearest_neighbour& best) const {
    if (depth == levels_) {
      for (std::size_t i = b; i < e; ++i) {
        double d2 = 0;
        for (std::size_t k = 0; k < D; ++k) {
          const double diff = q[k] - static_cast<double>(points_[i].x[k]);
          d2 += diff * diff;
        }
        if (d2 < best.sq_distance) {
          best.sq_distance = d2;
          best.index = i;  // a position; nearest() maps it to the original row
        }
      }
      return;
    }
    const std::size_t dim = split_dim_[node];
    const std::size_t m = b + (e - b) / 2;
    const double diff = q[dim] - static_cast<double>(split_value_[node]);
    const bool left_first = diff < 0;
    if (left_first) {
      search(2 * node + 1, b, m, depth + 1, q, offset, rd, best);
    } else {
      search(2 * node + 2, m, e, depth + 1, q, offset, rd, best);
    }
    const double old = offset[dim];
    const double far_rd = rd - old * old + diff * diff;
    if (far_rd < best.sq_distance) {
      offset[dim] = diff;
      if (left_first) {
        search(2 * node + 2, m, e, depth + 1, q, offset, far_rd, best);
      } else {
        search(2 * node + 1, b, m, depth + 1, q, offset, far_rd, best);
      }
      offset[dim] = old;
    }
  }

  std::vector<point> points_;
  std::vector<Scalar> split_value_;
  std::vector<std::uint8_t> split_dim_;
  std::size_t levels_ = 0;
};

}  // namespace attractor::metrics
