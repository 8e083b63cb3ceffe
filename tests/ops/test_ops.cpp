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

TEST_CASE("op table: conv2d's rows in chunks of one sample (the cpu path for large fields) match too") {
  // Every conv2d row again with a column budget of one byte, so each sample is its own chunk: the chunks' weight and
  // bias gradients must add up, and each must write its own part of y and dx.
  constexpr double tolerance = 1e-6;
  attractor::context<attractor::cpu> ctx;
  const std::size_t saved = attractor::autograd::detail::conv_chunk_bytes;
  attractor::autograd::detail::conv_chunk_bytes = 1;
  std::size_t checked = 0;
  for (const auto& row : attractor_test::ops::rows<attractor::cpu>()) {
    if (row.name.rfind("conv2d", 0) != 0) continue;
    const double error = attractor_test::ops::max_gradient_error(ctx, row);
    MESSAGE("gradient check in chunks ", row.name, ": max relative error ", error);
    CHECK_MESSAGE(error < tolerance, row.name);
    ++checked;
  }
  attractor::autograd::detail::conv_chunk_bytes = saved;
  CHECK(checked >= 5);
}
