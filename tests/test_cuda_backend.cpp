// The cuda primitive kernels against the cpu ones on the same inputs, and against double references. Runs only
// where a GPU is present (see cuda_main.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "attractor/backend.hpp"
#include "cuda/harness.hpp"
#include "reference.hpp"
#include "tolerance.hpp"

using namespace attractor;
using namespace attractor_test;

TEST_CASE_TEMPLATE("cuda gemm matches cpu gemm and the double reference", Scalar, float, double) {
  context<cpu> host;
  struct dims {
    std::size_t m, n, k;
  };
  for (auto d : {dims{1, 1, 1}, dims{3, 5, 7}, dims{129, 67, 5}, dims{300, 257, 129}, dims{2, 3, 0}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const auto a = random_vector<Scalar>(d.m * d.k, 1), b = random_vector<Scalar>(d.k * d.n, 2);
        auto c_gpu = random_vector<Scalar>(d.m * d.n, 3);
        auto c_cpu = c_gpu;
        const auto ref = naive_gemm(ta, tb, d.m, d.n, d.k, -0.5, a.data(), b.data(), 0.75, c_cpu.data());
        cuda_gemm<Scalar>(ta, tb, d.m, d.n, d.k, Scalar(-0.5), a.data(), b.data(), Scalar(0.75), c_gpu.data());
        gemm(host, ta ? transpose::yes : transpose::no, tb ? transpose::yes : transpose::no, d.m, d.n, d.k,
             Scalar(-0.5), a.data(), std::max<std::size_t>(1, ta ? d.m : d.k), b.data(),
             std::max<std::size_t>(1, tb ? d.k : d.n), Scalar(0.75), c_cpu.data(), std::max<std::size_t>(1, d.n));
        for (std::size_t i = 0; i < c_gpu.size(); ++i) {
          INFO("m=", d.m, " n=", d.n, " k=", d.k, " ta=", ta, " tb=", tb);
          const double tol = sum_tolerance<Scalar>(ref.magnitude[i], d.k + 1);
          REQUIRE(std::abs(c_gpu[i] - ref.c[i]) <= tol);
          REQUIRE(std::abs(c_gpu[i] - c_cpu[i]) <= 2 * tol);
        }
      }
}

TEST_CASE_TEMPLATE("cuda strided-batched gemm matches the double reference", Scalar, float, double) {
  const std::size_t m = 13, n = 6, k = 9, batch = 5;
  const auto a = random_vector<Scalar>(batch * m * k, 4), b = random_vector<Scalar>(batch * k * n, 5);
  std::vector<Scalar> c(batch * m * n);
  cuda_gemm_strided_batched<Scalar>(false, true, m, n, k, Scalar(1), a.data(), b.data(), Scalar(0), c.data(), batch);
  for (std::size_t i = 0; i < batch; ++i) {
    const auto ref = naive_gemm(false, true, m, n, k, 1.0, a.data() + i * m * k, b.data() + i * k * n, 0.0, c.data());
    for (std::size_t j = 0; j < m * n; ++j)
      REQUIRE(std::abs(c[i * m * n + j] - ref.c[j]) <= sum_tolerance<Scalar>(ref.magnitude[j], k));
  }
}

TEST_CASE_TEMPLATE("cuda maps equal the cpu maps", Scalar, float, double) {
  context<cpu> host;
  const std::size_t n = 100003;
  const auto x = random_vector<Scalar>(n, 6), y = random_vector<Scalar>(n, 7), z = random_vector<Scalar>(n, 8);
  std::vector<Scalar> axpy_gpu(n), fma_gpu(n), scale_gpu(n), expected(n);
  cuda_maps<Scalar>(x.data(), y.data(), z.data(), n, Scalar(-3), axpy_gpu.data(), fma_gpu.data(), scale_gpu.data());
  // a x + y rounded once (fused) or twice: the two differ by less than 2 eps (|a x| + |y|). Results may cancel to
  // near zero, so the bound is absolute, from the terms' magnitudes.
  const double eps = std::numeric_limits<Scalar>::epsilon();
  map(host, n, expected.data(), ops::axpy<Scalar>{Scalar(-3)}, x.data(), y.data());
  for (std::size_t i = 0; i < n; ++i)
    REQUIRE(axpy_gpu[i] == absolute(expected[i], 2 * eps * (3 * std::abs(double(x[i])) + std::abs(double(y[i])))));
  map(host, n, expected.data(), ops::fma{}, x.data(), y.data(), z.data());
  for (std::size_t i = 0; i < n; ++i)
    REQUIRE(fma_gpu[i] ==
            absolute(expected[i], 2 * eps * (std::abs(double(x[i]) * double(y[i])) + std::abs(double(z[i])))));
  for (std::size_t i = 0; i < n; ++i) REQUIRE(scale_gpu[i] == Scalar(2) * x[i]);
}

TEST_CASE_TEMPLATE("cuda reductions match the double reference", Scalar, float, double) {
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{1, 1}, {1000, 3}, {129, 5000}, {16384, 256}}) {
    const auto x = random_vector<Scalar>(rows * cols, 9, -1.0, 2.0);
    // Float inputs accumulate in double, so only the final rounding counts; double inputs are summed in an
    // order Thrust chooses, so they get the worst-case bound for that many terms.
    const bool accumulates_wider = std::is_same_v<Scalar, float>;
    const std::size_t all_terms = accumulates_wider ? 8 : rows * cols, row_terms = accumulates_wider ? 8 : cols;
    Scalar all3[3];
    std::vector<Scalar> rs(rows), rm(rows), rq(rows);
    cuda_reductions<Scalar>(x.data(), rows, cols, all3, rs.data(), rm.data(), rq.data());
    double s = 0, sa = 0, ss = 0, mx = -1e300;
    for (Scalar v : x) {
      s += v;
      sa += std::abs(double(v));
      ss += double(v) * v;
      mx = std::max(mx, double(v));
    }
    CHECK(std::abs(all3[0] - s) <= sum_tolerance<Scalar>(sa, all_terms));
    CHECK(all3[1] == static_cast<Scalar>(mx));
    CHECK(std::abs(all3[2] - ss) <= sum_tolerance<Scalar>(ss, all_terms));
    for (std::size_t r = 0; r < rows; ++r) {
      double rsum = 0, rabs = 0, rsq = 0, rmax = -1e300;
      for (std::size_t c = 0; c < cols; ++c) {
        const double v = x[r * cols + c];
        rsum += v;
        rabs += std::abs(v);
        rsq += v * v;
        rmax = std::max(rmax, v);
      }
      REQUIRE(std::abs(rs[r] - rsum) <= sum_tolerance<Scalar>(rabs, row_terms));
      REQUIRE(std::abs(rq[r] - rsq) <= sum_tolerance<Scalar>(rsq, row_terms));
      REQUIRE(rm[r] == static_cast<Scalar>(rmax));
    }
  }
}

TEST_CASE_TEMPLATE("cuda segment_sum matches cpu segment_sum and rejects bad keys", Scalar, float, double) {
  context<cpu> host;
  const std::size_t rows = 16384, cols = 256, segments = 1000;
  const auto x = random_vector<Scalar>(rows * cols, 10);
  std::vector<std::int32_t> keys(rows);
  std::mt19937 engine(11);
  for (auto& k : keys) k = static_cast<std::int32_t>(1 + engine() % (segments - 1));  // segment 0 stays empty
  std::vector<Scalar> gpu(segments * cols), cpu_out(segments * cols);
  cuda_segment_sum<Scalar>(keys.data(), x.data(), rows, cols, segments, gpu.data());
  segment_sum(host, keys.data(), x.data(), rows, cols, segments, cpu_out.data());
  for (std::size_t i = 0; i < gpu.size(); ++i) REQUIRE(std::abs(gpu[i] - cpu_out[i]) <= sum_tolerance<Scalar>(64, 64));
  for (std::size_t c = 0; c < cols; ++c) CHECK(gpu[c] == Scalar(0));
  char message[256] = {};
  CHECK(cuda_segment_sum_rejects_bad_key(message, sizeof message));
  CHECK(std::string(message).find("keys in [0, 2)") != std::string::npos);
}

TEST_CASE("cuda for_each_row_col visits every (row, column) once, with the right row and column") {
  for (auto [rows, cols] :
       {std::pair<std::size_t, std::size_t>{1, 1}, {3, 7}, {1, 100003}, {100003, 1}, {16384, 256}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    const std::size_t n = rows * cols;
    std::vector<std::uint32_t> row_of(n), col_of(n), visits(n);
    cuda_row_col_visits(rows, cols, row_of.data(), col_of.data(), visits.data());
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i)
      wrong += visits[i] != 1 || row_of[i] != i / cols || col_of[i] != i % cols ? 1 : 0;
    CHECK(wrong == 0);
  }
}
