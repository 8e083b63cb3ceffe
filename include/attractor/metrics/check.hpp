// Argument checks shared by the metrics: shapes of state sets (finite values: tensor/checks.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "attractor/backend/map.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics::detail {

/// A view of a non-empty (n x d) set of states, d > 0 (and d == dimension where dimension > 0). `what` names it.
template <class View>
void require_state_set(const View& x, std::size_t dimension, std::string_view fn, std::string_view what) {
  const bool ok = x.rank() == 2 && x.extent(0) > 0 && x.extent(1) > 0 && (dimension == 0 || x.extent(1) == dimension);
  if (!ok) {
    fail(fn,
         attractor::detail::concat("a non-empty ", what, " of shape (n, ",
                                   dimension == 0 ? std::string("d") : std::to_string(dimension), ")"),
         x.shape());
  }
}

}  // namespace attractor::metrics::detail
