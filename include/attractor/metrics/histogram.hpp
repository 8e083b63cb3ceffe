// metrics::cube_histogram: integer counts of states on a regular grid of cubes, accumulated chunk by chunk, with the
// semantics of torch.histogramdd given explicit bin edges (spec §5): per dimension the edges are
// linspace(low, high, bins + 1); bin i holds [e_i, e_{i+1}), the last bin also its right edge; a state with any
// coordinate outside [low, high] is dropped (and counted as out of range). The default grid is the paper's: 70 bins
// over [-3.5, 3.5] per dimension, 70^3 = 343,000 cubes of width 0.1 in normalised space.
//
// Edges are e_i = low + ((high - low) i) / bins in double, the same on every backend (no fused multiply-add can
// change them), and coordinates are compared with them in double. torch builds its edges with linspace in float32,
// whose edges lie a few float ulps from these: a state that close to an edge may fall in the neighbouring bin there
// (a fraction of about 1e-6 of the states of a float set); nothing else differs.
//
// Counts are integers, so accumulation is exact and deterministic on every backend: on cpu each thread counts its
// share of a large chunk into its own array and the arrays are added; on cuda (metrics/cuda/histogram.cuh) integer
// atomics count into device memory. A chunk with a NaN or infinite coordinate throws attractor::error and leaves the
// histogram unchanged.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "attractor/backend/context.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics {

/// The grid of cubes: `bins` equal bins over [low, high] in every dimension.
struct cube_grid {
  std::size_t bins = 70;
  double low = -3.5;
  double high = 3.5;
};

namespace detail {

/// Where a state falls: a cube index in [0, cells), or one of these.
inline constexpr std::int64_t cube_out_of_range = -1;
inline constexpr std::int64_t cube_not_finite = -2;

/// A cube_grid in the form kernels use: plain numbers, copied by value onto any backend.
struct cube_layout {
  std::size_t dimension;
  std::size_t bins;
  double low, high, width, scale;  // scale = bins / (high - low)

  /// Edge i of every dimension (i in [0, bins]): computed the same way on host and device.
  [[nodiscard]] ATTRACTOR_HOST_DEVICE double edge(std::size_t i) const {
    return low + ((high - low) * static_cast<double>(i)) / static_cast<double>(bins);
  }

  /// The cube of the state x[0..dimension), row-major over dimensions (the first coordinate varies slowest, as the
  /// flattened torch.histogramdd result), or cube_out_of_range, or cube_not_finite.
  template <class Scalar>
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::int64_t cube_of(const Scalar* x) const {
    std::int64_t cube = 0;
    bool inside = true;
    for (std::size_t k = 0; k < dimension; ++k) {
      const double v = static_cast<double>(x[k]);
      if (!(v - v == 0.0)) return cube_not_finite;  // NaN or infinite (x - x is NaN for both)
      if (!(v >= low && v <= high)) {
        inside = false;
        continue;  // still check the remaining coordinates for NaN
      }
      // A first guess from the width, then one comparison with each neighbouring edge settles rounding.
      double guess = (v - low) * scale;
      guess = guess < 0.0 ? 0.0 : guess;
      auto b = static_cast<std::size_t>(guess);
      if (b >= bins) b = bins - 1;
      if (v < edge(b)) {
        --b;
      } else if (b + 1 < bins && v >= edge(b + 1)) {
        ++b;
      }
      cube = cube * static_cast<std::int64_t>(bins) + static_cast<std::int64_t>(b);
    }
    return inside ? cube : cube_out_of_range;
  }
};

/// Counts of one chunk: cells counts, plus the states dropped as out of range and those with a NaN or Inf.
struct cube_tally {
  std::uint64_t out_of_range = 0;
  std::uint64_t not_finite = 0;
};

/// The per-backend counting kernel: counts[c] += the states of x (n rows of layout.dimension values, on Backend)
/// in cube c, for a host array counts of layout cells; returns the tally. The cpu specialisation is below, the
/// cuda one in metrics/cuda/histogram.cuh. Implementations write counts only when tally.not_finite == 0.
template <class Backend>
struct cube_counter;

template <>
struct cube_counter<cpu> {
  template <floating_scalar Scalar>
  static cube_tally count(context<cpu>& ctx, const cube_layout& layout, const Scalar* x, std::size_t n,
                          std::uint64_t* counts, std::size_t cells) {
    cube_tally tally;
    const std::size_t d = layout.dimension;
    for (std::size_t i = 0; i < n * d; ++i) {
      const double v = static_cast<double>(x[i]);
      if (!(v - v == 0.0)) ++tally.not_finite;
    }
    if (tally.not_finite > 0) return tally;
    const int threads = ctx.threads();
    // Small chunks: one pass on one thread. Large ones: one count array per thread, added in thread order.
    if (threads <= 1 || n < 4 * cells || n < 65536) {
      for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t c = layout.cube_of(x + i * d);
        if (c >= 0) {
          ++counts[c];
        } else {
          ++tally.out_of_range;
        }
      }
      return tally;
    }
    std::vector<std::vector<std::uint64_t>> local(static_cast<std::size_t>(threads));
    std::vector<std::uint64_t> dropped(static_cast<std::size_t>(threads), 0);
    ATTRACTOR_OMP(parallel num_threads(threads)) {
      const auto t = static_cast<std::size_t>(attractor::detail::omp_thread_index());
      const auto nt = static_cast<std::size_t>(attractor::detail::omp_team_size());
      std::vector<std::uint64_t>& mine = local[t];
      mine.assign(cells, 0);
      std::uint64_t out = 0;
      for (std::size_t i = n * t / nt; i < n * (t + 1) / nt; ++i) {
        const std::int64_t c = layout.cube_of(x + i * d);
        if (c >= 0) {
          ++mine[static_cast<std::size_t>(c)];
        } else {
          ++out;
        }
      }
      dropped[t] = out;
    }
    for (std::size_t t = 0; t < local.size(); ++t) {
      tally.out_of_range += dropped[t];
      if (local[t].empty()) continue;  // a team smaller than asked for
      const std::uint64_t* src = local[t].data();
      for (std::size_t c = 0; c < cells; ++c) counts[c] += src[c];
    }
    return tally;
  }
};

}  // namespace detail

/// Counts of states on a cube_grid, accumulated over any number of chunks on any backend. The counts live on the
/// host (343,000 x 8 bytes for the default grid in 3-D).
class cube_histogram {
public:
  /// An empty histogram of `dimension`-dimensional states. Throws unless dimension >= 1, bins >= 1, low < high
  /// (both finite), and bins^dimension cubes fit in memory (at most 2^31).
  explicit cube_histogram(std::size_t dimension = 3, const cube_grid& grid = {}) : grid_(grid) {
    constexpr const char* fn = "metrics::cube_histogram";
    require(dimension >= 1, fn, "a dimension >= 1", dimension);
    require(grid.bins >= 1, fn, "at least one bin per dimension", grid.bins);
    require(std::isfinite(grid.low) && std::isfinite(grid.high) && grid.low < grid.high, fn,
            "a finite range with low < high", attractor::detail::text("[", grid.low, ", ", grid.high, "]"));
    std::size_t cells = 1;
    for (std::size_t k = 0; k < dimension; ++k) {
      require(cells <= (std::size_t{1} << 31) / grid.bins, fn, "at most 2^31 cubes",
              attractor::detail::text(grid.bins, "^", dimension));
      cells *= grid.bins;
    }
    layout_ = {dimension,
               grid.bins,
               grid.low,
               grid.high,
               (grid.high - grid.low) / static_cast<double>(grid.bins),
               static_cast<double>(grid.bins) / (grid.high - grid.low)};
    counts_.assign(cells, 0);
  }

  /// Adds the states of a (rows x dimension) tensor or view on any backend whose counter is included. Throws
  /// attractor::error, leaving the histogram unchanged, on a wrong shape or a NaN or infinite coordinate.
  template <class Backend, tensor_like States>
  void add(context<Backend>& ctx, const States& states) {
    auto x = as_view(states);
    static_assert(std::is_same_v<typename decltype(x)::backend_type, Backend>, "add: states on another backend");
    require(x.rank() == 2 && x.extent(1) == dimension(), "metrics::cube_histogram::add",
            attractor::detail::text("states of shape (n, ", dimension(), ")"), x.shape());
    const std::size_t n = x.extent(0);
    if (n == 0) return;
    // The counter adds into counts_ only once it knows every coordinate is finite.
    const detail::cube_tally tally =
        detail::cube_counter<Backend>::count(ctx, layout_, x.data(), n, counts_.data(), counts_.size());
    if (tally.not_finite > 0) {
      fail("metrics::cube_histogram::add", "finite states",
           attractor::detail::concat(tally.not_finite, " NaN or infinite coordinates"));
    }
    out_of_range_ += tally.out_of_range;
    in_range_ += n - tally.out_of_range;
  }

  /// Adds another histogram of the same grid and dimension.
  cube_histogram& operator+=(const cube_histogram& other) {
    require_same_grid(other, "metrics::cube_histogram::operator+=");
    for (std::size_t c = 0; c < counts_.size(); ++c) counts_[c] += other.counts_[c];
    in_range_ += other.in_range_;
    out_of_range_ += other.out_of_range_;
    return *this;
  }

  /// Forgets every count.
  void clear() {
    std::fill(counts_.begin(), counts_.end(), std::uint64_t{0});
    in_range_ = out_of_range_ = 0;
  }

  [[nodiscard]] std::size_t dimension() const { return layout_.dimension; }
  [[nodiscard]] const cube_grid& grid() const { return grid_; }
  /// bins^dimension.
  [[nodiscard]] std::size_t cells() const { return counts_.size(); }
  /// Counts per cube, the first coordinate varying slowest (torch.histogramdd(...).hist.flatten()).
  [[nodiscard]] const std::vector<std::uint64_t>& counts() const { return counts_; }
  /// States counted in a cube.
  [[nodiscard]] std::uint64_t in_range() const { return in_range_; }
  /// States dropped because a coordinate lay outside [low, high].
  [[nodiscard]] std::uint64_t out_of_range() const { return out_of_range_; }
  /// The cube of one host state (its flat index), or -1 where it is out of range or not finite.
  template <floating_scalar Scalar>
  [[nodiscard]] std::int64_t cube_of(const Scalar* state) const {
    const std::int64_t c = layout_.cube_of(state);
    return c >= 0 ? c : -1;
  }

  void require_same_grid(const cube_histogram& other, const char* fn) const {
    const bool same = dimension() == other.dimension() && grid_.bins == other.grid_.bins &&
                      grid_.low == other.grid_.low && grid_.high == other.grid_.high;
    require(same, fn,
            attractor::detail::text("histograms on one grid (", dimension(), "-D, ", grid_.bins, " bins over [",
                                    grid_.low, ", ", grid_.high, "])"),
            attractor::detail::text(other.dimension(), "-D, ", other.grid_.bins, " bins over [", other.grid_.low, ", ",
                                    other.grid_.high, "]"));
  }

private:
  cube_grid grid_;
  detail::cube_layout layout_{};
  std::vector<std::uint64_t> counts_;
  std::uint64_t in_range_ = 0;
  std::uint64_t out_of_range_ = 0;
};

}  // namespace attractor::metrics
