// attractor::error and the checks that raise it.
//
// Public functions validate their input and throw attractor::error with a message of the form
// "function: expected ..., got ...". ATTRACTOR_ASSERT guards internal invariants; it throws too (rather than
// aborting) so that tests can observe a broken invariant, as Eigen's eigen_assert can be made to.
#pragma once

#include <cmath>
#include <cstddef>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "attractor/core/config.hpp"

namespace attractor {

/// The one exception type of the library. what() names the function, what it expected and what it got.
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

/// The parts of a message, streamed only when printed: pass text(...) rather than concat(...) to require(), whose
/// arguments are evaluated on every call, so that checks in hot paths build no string unless they fail. It holds
/// references, so it must not outlive the full expression that made it.
template <class... Parts>
struct lazy_text {
  std::tuple<const Parts&...> parts;
  friend std::ostream& operator<<(std::ostream& out, const lazy_text& t) {
    std::apply([&out](const auto&... p) { ((out << p), ...); }, t.parts);
    return out;
  }
};

template <class... Parts>
lazy_text<Parts...> text(const Parts&... parts) {
  return {std::tuple<const Parts&...>(parts...)};
}

}  // namespace detail

/// Throws attractor::error("function: expected <expected>, got <actual>").
template <class Expected, class Actual>
[[noreturn]] void fail(std::string_view function, const Expected& expected, const Actual& actual) {
  throw error(detail::concat(function, ": expected ", expected, ", got ", actual));
}

/// Throws attractor::error("function: message").
[[noreturn]] inline void fail(std::string_view function, std::string_view message) {
  throw error(detail::concat(function, ": ", message));
}

/// Throws unless `condition`; the message is built only on failure.
template <class Expected, class Actual>
void require(bool condition, std::string_view function, const Expected& expected, const Actual& actual) {
  if (!condition) fail(function, expected, actual);
}

/// a * b, or attractor::error naming `function` if the product of the counts `what` overflows std::size_t (a count
/// that wrapped would size a small buffer that indexing then overruns).
inline std::size_t checked_product(std::size_t a, std::size_t b, std::string_view function, std::string_view what) {
  std::size_t n = 0;
  if (__builtin_mul_overflow(a, b, &n))
    fail(function, detail::concat(what, " whose product fits in std::size_t"), detail::concat(a, " x ", b));
  return n;
}

/// a + b, or attractor::error naming `function` if the sum of the counts `what` overflows std::size_t.
inline std::size_t checked_sum(std::size_t a, std::size_t b, std::string_view function, std::string_view what) {
  std::size_t n = 0;
  if (__builtin_add_overflow(a, b, &n))
    fail(function, detail::concat(what, " whose sum fits in std::size_t"), detail::concat(a, " + ", b));
  return n;
}

/// Throws if any of the n values at `data` is NaN or infinite; names the first offending index.
template <class Scalar>
void require_finite(const Scalar* data, std::size_t n, std::string_view function, std::string_view what) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(data[i])) {
      fail(function, detail::concat("finite values in ", what), detail::concat(data[i], " at flat index ", i));
    }
  }
}

}  // namespace attractor

#define ATTRACTOR_STRINGIFY_IMPL(x) #x
#define ATTRACTOR_STRINGIFY(x) ATTRACTOR_STRINGIFY_IMPL(x)

/// Internal invariant. Always checked on the host (the checks are cheap and the cost of a silent bug is not).
#define ATTRACTOR_ASSERT(condition)                                                                                   \
  do {                                                                                                                \
    if (!(condition)) {                                                                                               \
      throw ::attractor::error(                                                                                       \
          ::attractor::detail::concat("internal invariant violated: ", #condition, " at ", __FILE__, ":", __LINE__)); \
    }                                                                                                                 \
  } while (false)
