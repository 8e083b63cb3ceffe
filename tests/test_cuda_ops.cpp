// The op table on cuda: every row's results and its inputs' gradients, in double, against cpu on the same inputs.
#include <doctest/doctest.h>

#include <cstddef>

#include "attractor/backend/context.hpp"
#include "ops/op_table.hpp"
#include "tolerance.hpp"

TEST_CASE("op table: every operation's values and gradients on cuda match cpu") {
  namespace ops = attractor_test::ops;
  attractor::context<attractor::cpu> host;
  const auto table = ops::rows<attractor::cpu>();
  const auto gpu = ops::cuda_run_table();
  REQUIRE(gpu.size() == table.size());
  // Double on both sides; the kernels differ only in summation order (reductions, GEMMs, segment sums) and in the
  // last bits of exp and tanh, on values and gradients of order 1.
  constexpr double tolerance = 1e-10;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const ops::row_run cpu = ops::run(host, table[i]);
    INFO("row ", cpu.name);
    REQUIRE(gpu[i].name == cpu.name);
    auto compare = [&](const auto& expected, const auto& actual, const char* what) {
      REQUIRE(actual.size() == expected.size());
      for (std::size_t k = 0; k < expected.size(); ++k) {
        REQUIRE(actual[k].size() == expected[k].size());
        for (std::size_t j = 0; j < expected[k].size(); ++j) {
          INFO(what, " ", k, " element ", j);
          CHECK(actual[k][j] == attractor_test::absolute(expected[k][j], tolerance));
        }
      }
    };
    compare(cpu.results, gpu[i].results, "result");
    compare(cpu.gradients, gpu[i].gradients, "gradient of input");
  }
}
