// The cuda side of the op table (tests/ops/op_table.hpp): every row run on the cuda backend, on the inputs the cpu
// run uses, its results and gradients returned to the host for tests/test_cuda_ops.cpp.
#include "attractor/cuda.cuh"
#include "ops/op_table.hpp"

namespace attractor_test::ops {

std::vector<row_run> cuda_run_table() {
  attractor::context<attractor::cuda> ctx;
  std::vector<row_run> out;
  for (const auto& r : rows<attractor::cuda>()) out.push_back(run(ctx, r));
  return out;
}

}  // namespace attractor_test::ops
