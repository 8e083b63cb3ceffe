// require_finite on a tensor of any backend: the check every public function runs on the data it is given.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "attractor/backend/map.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor {

namespace detail {
/// 1 where x is NaN or infinite, else 0 (x - x is NaN exactly for those).
struct not_finite_indicator {
  template <class Scalar>
  ATTRACTOR_HOST_DEVICE Scalar operator()(Scalar x) const {
    return x - x == Scalar(0) ? Scalar(0) : Scalar(1);
  }
};
}  // namespace detail

/// Throws attractor::error("fn: expected finite values in <what>, got ...") if any element of x is NaN or infinite.
/// On cpu the message names the first such element; elsewhere it counts them (a reduction on the backend, in
/// chunks small enough that the count is exact in Scalar).
template <class Backend, class T>
void require_finite(context<Backend>& ctx, tensor_view<T, Backend> x, std::string_view fn, std::string_view what) {
  using scalar = std::remove_const_t<T>;
  if constexpr (host_accessible<Backend>) {
    require_finite(x.data(), x.size(), fn, what);
  } else {
    constexpr std::size_t chunk = std::size_t{1} << 22;  // below 2^24, exact in float
    const std::size_t width = std::min(chunk, x.size());
    tensor<scalar, Backend> flags(shape{width});
    double bad = 0;
    for (std::size_t begin = 0; begin < x.size(); begin += chunk) {
      const std::size_t count = std::min(chunk, x.size() - begin);
      map(ctx, count, flags.data(), detail::not_finite_indicator{}, static_cast<const scalar*>(x.data() + begin));
      bad += static_cast<double>(reduce(ctx, reduction::sum, flags.data(), count));
    }
    if (bad > 0)
      fail(fn, attractor::detail::concat("finite values in ", what),
           attractor::detail::concat(bad, " NaN or infinite values"));
  }
}

}  // namespace attractor
