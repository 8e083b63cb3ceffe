// A consumer's program: includes the umbrella header and uses a tensor, a GEMM and a reduction.
#include <attractor/attractor.hpp>
#include <cstdio>

// The project defaults to Release when configured without a build type (see CMakeLists.txt); NDEBUG comes with it.
#if defined(ATTRACTOR_CONSUMER_EXPECT_RELEASE) && !defined(NDEBUG)
#error "the consumer was built without Release's flags: its default build type did not apply"
#endif

int main() {
  using namespace attractor;
  context<cpu> ctx;
  tensor<double, cpu> a({2, 3}), b({3, 2}), c({2, 2});
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<double>(i + 1);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<double>(i + 1);
  matmul(ctx, a, b, c);
  // [[1 2 3] [4 5 6]] . [[1 2] [3 4] [5 6]] = [[22 28] [49 64]]; the sum is 163.
  const double total = sum(ctx, c);
  std::printf("sum %g\n", total);
  return total == 163.0 ? 0 : 1;
}
