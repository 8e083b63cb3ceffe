// Drawing i.i.d. states from a set of true states (the rows of trajectories), chunk by chunk on any backend: what the
// Hellinger floor compares a reference with.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics {

namespace detail {

/// out[r, k] = src[row(u[r]), k]: row r of the chunk is the source row floor(u[r] rows), u uniform in (0, 1).
template <class Scalar>
struct gather_drawn_rows {
  Scalar* out;
  const Scalar* src;
  const double* u;
  std::size_t rows, d;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / d, k = i % d;
    auto row = static_cast<std::size_t>(u[r] * static_cast<double>(rows));
    if (row >= rows) row = rows - 1;
    out[i] = src[row * d + k];
  }
};

}  // namespace detail

/// Draws n states uniformly with replacement from the rows of `source` (any rank >= 2 whose last axis has d
/// values: (rows x d), or trajectories (members x steps x d)), in chunks of at most `chunk` states, and calls
/// f(view) with each chunk, a (count x d) view on Backend valid during the call. The draws use double uniforms from
/// `gen`, which advances; the same generator state gives the same states on every backend. `fn` names the caller in
/// errors.
template <class Backend, tensor_like Source, class F>
void for_each_drawn_chunk(context<Backend>& ctx, const Source& source, std::size_t d, std::size_t n, philox& gen,
                          std::size_t chunk, std::string_view fn, F&& f) {
  auto src = as_view(source);
  using scalar = typename decltype(src)::value_type;
  static_assert(std::is_same_v<typename decltype(src)::backend_type, Backend>, "the source is on another backend");
  require(src.rank() >= 2 && src.extent(src.rank() - 1) == d && src.size() > 0, fn,
          attractor::detail::text("a non-empty source of true states with ", d, " values on its last axis"),
          src.shape());
  require(chunk > 0, fn, "a chunk of at least one state", chunk);
  const std::size_t rows = src.size() / d;
  // Chunks of an even count (a Philox block holds two doubles), so that no block is left half used between two
  // chunks: the draws are then the same whatever the chunk size.
  const std::size_t width = std::min(n, std::max<std::size_t>(2, chunk - chunk % 2));
  tensor<double, Backend> u(shape{width});
  tensor<scalar, Backend> drawn(shape{width, d});
  for (std::size_t done = 0; done < n;) {
    const std::size_t count = std::min(width, n - done);
    fill_uniform(ctx, gen, u.data(), count, 0.0, 1.0);
    for_each_index(ctx, count * d, detail::gather_drawn_rows<scalar>{drawn.data(), src.data(), u.data(), rows, d});
    f(drawn.rows(0, count));
    done += count;
  }
}

}  // namespace attractor::metrics
