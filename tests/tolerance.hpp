// Comparisons that say which tolerance they use, for CHECK(actual == relative(expected, tol)) and
// CHECK(actual == absolute(expected, tol)).
//
// doctest's Approx(v).epsilon(e) passes when |a - v| < e (scale + max(|a|, |v|)), with scale 1 unless set: about e in
// absolute terms for values well below 1 and about e relative for values well above, so for a value far from 1 its
// tolerance is not the one it appears to be (Approx(2.43e-6).epsilon(0.01) passes any value within 0.01 of it). Tests
// compare with one of these two instead, or with an Approx whose scale is set on purpose and said (docs/mutation.md).
#pragma once

#include <cmath>
#include <ios>
#include <ostream>

namespace attractor_test {

/// expected within tol |expected|: a relative tolerance, for a value away from zero, whatever its magnitude.
struct relative {
  double expected;
  double tol;

  relative(double expected_value, double tolerance) : expected(expected_value), tol(tolerance) {}

  [[nodiscard]] bool matches(double actual) const { return std::abs(actual - expected) <= tol * std::abs(expected); }
  friend bool operator==(double actual, const relative& r) { return r.matches(actual); }  // C++20 adds r == a, !=
  friend std::ostream& operator<<(std::ostream& os, const relative& r) {
    const auto precision = os.precision(12);
    os << r.expected << " (within " << r.tol << " relative)";
    os.precision(precision);
    return os;
  }
};

/// expected within tol: an absolute tolerance, for a value near zero (chosen for that value and the computation).
struct absolute {
  double expected;
  double tol;

  absolute(double expected_value, double tolerance) : expected(expected_value), tol(tolerance) {}

  [[nodiscard]] bool matches(double actual) const { return std::abs(actual - expected) <= tol; }
  friend bool operator==(double actual, const absolute& a) { return a.matches(actual); }
  friend std::ostream& operator<<(std::ostream& os, const absolute& a) {
    const auto precision = os.precision(12);
    os << a.expected << " (within " << a.tol << ")";
    os.precision(precision);
    return os;
  }
};

}  // namespace attractor_test
