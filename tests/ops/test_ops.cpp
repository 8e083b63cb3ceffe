// The op table on cpu: every row's gradients against central differences, in double.
#include <doctest/doctest.h>

#include "attractor/backend/context.hpp"
#include "op_table.hpp"

TEST_CASE("op table: every operation's gradient matches central differences") {
  constexpr double tolerance = 1e-6;
  attractor::context<attractor::cpu> ctx;
  for (const auto& row : attractor_test::ops::rows<attractor::cpu>()) {
    const double error = attractor_test::ops::max_gradient_error(ctx, row);
    MESSAGE("gradient check ", row.name, ": max relative error ", error);
    CHECK_MESSAGE(error < tolerance, row.name);
  }
}
