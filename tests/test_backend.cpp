// The cpu primitive kernels against naive double-precision references, in float and double, on odd, non-square
// and degenerate shapes; and their argument checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "attractor/backend.hpp"
#include "attractor/tensor/ops.hpp"
#include "reference.hpp"

using namespace attractor;
using attractor_test::naive_gemm;
using attractor_test::random_vector;
using attractor_test::sum_tolerance;

namespace {

struct gemm_case {
  std::size_t m, n, k;
};
// Odd, prime, non-square, thin and empty-inner shapes, and one large enough to run Eigen's parallel path.
const gemm_case gemm_cases[] = {{1, 1, 1},    {3, 5, 7},     {17, 1, 33}, {1, 31, 4},     {64, 64, 64},
                                {129, 67, 5}, {7, 200, 131}, {2, 3, 0},   {300, 257, 129}};

template <class Scalar>
void check_gemm(context<cpu>& ctx, bool ta, bool tb, const gemm_case& g, double alpha, double beta) {
  const auto a = random_vector<Scalar>(g.m * g.k, 1 + g.m);
  const auto b = random_vector<Scalar>(g.k * g.n, 2 + g.n);
  auto c = random_vector<Scalar>(g.m * g.n, 3 + g.k);
  if (beta == 0) std::fill(c.begin(), c.end(), std::numeric_limits<Scalar>::quiet_NaN());  // must not be read
  const auto ref = naive_gemm(ta, tb, g.m, g.n, g.k, alpha, a.data(), b.data(), beta, c.data());
  gemm(ctx, ta ? transpose::yes : transpose::no, tb ? transpose::yes : transpose::no, g.m, g.n, g.k,
       static_cast<Scalar>(alpha), a.data(), std::max<std::size_t>(1, ta ? g.m : g.k), b.data(),
       std::max<std::size_t>(1, tb ? g.k : g.n), static_cast<Scalar>(beta), c.data(), g.n);
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("m=", g.m, " n=", g.n, " k=", g.k, " ta=", ta, " tb=", tb, " i=", i);
    REQUIRE(std::abs(c[i] - ref.c[i]) <= sum_tolerance<Scalar>(ref.magnitude[i], g.k + 1));
  }
}

}  // namespace

TEST_CASE_TEMPLATE("gemm matches a double reference for every transpose, alpha and beta", Scalar, float, double) {
  context<cpu> ctx;
  for (const auto& g : gemm_cases)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{-0.5, 1.0}, std::pair{2.0, 0.25}})
          check_gemm<Scalar>(ctx, ta, tb, g, alpha, beta);
}

TEST_CASE_TEMPLATE("gemm split along a long inner dimension across threads matches the reference", Scalar, float,
                   double) {
  // Small C, k >= 4096 and >= 16 max(m, n): the split-k path on two or more threads (each thread one chunk of k).
  for (int threads : {2, 3}) {
    context<cpu> ctx(threads);
    for (const gemm_case& g : {gemm_case{3, 5, 5000}, gemm_case{17, 9, 8193}})
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (auto [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{-0.5, 1.0}, std::pair{2.0, 0.25}})
            check_gemm<Scalar>(ctx, ta, tb, g, alpha, beta);
  }
}

TEST_CASE_TEMPLATE("gemm respects leading dimensions wider than the matrix", Scalar, float, double) {
  context<cpu> ctx;
  const std::size_t m = 5, n = 3, k = 4, lda = 7, ldb = 6, ldc = 9;
  const auto a_wide = random_vector<Scalar>(m * lda, 11);
  const auto b_wide = random_vector<Scalar>(k * ldb, 12);
  std::vector<Scalar> c_wide(m * ldc, Scalar(42));
  gemm(ctx, transpose::no, transpose::no, m, n, k, Scalar(1), a_wide.data(), lda, b_wide.data(), ldb, Scalar(0),
       c_wide.data(), ldc);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < ldc; ++j) {
      if (j >= n) {
        CHECK(c_wide[i * ldc + j] == Scalar(42));  // padding untouched
        continue;
      }
      double ref = 0;
      for (std::size_t l = 0; l < k; ++l) ref += double(a_wide[i * lda + l]) * double(b_wide[l * ldb + j]);
      CHECK(std::abs(c_wide[i * ldc + j] - ref) <= sum_tolerance<Scalar>(double(k), k));
    }
  }
}

TEST_CASE_TEMPLATE("gemm_strided_batched equals one gemm per batch entry", Scalar, float, double) {
  context<cpu> ctx;
  for (std::size_t batch : {1, 3, 8}) {
    const std::size_t m = 13, n = 6, k = 9;
    const auto a = random_vector<Scalar>(batch * m * k, 21);
    const auto b = random_vector<Scalar>(batch * k * n, 22);
    std::vector<Scalar> c(batch * m * n);
    gemm_strided_batched(ctx, transpose::no, transpose::yes, m, n, k, Scalar(1), a.data(), k, m * k, b.data(), k, k * n,
                         Scalar(0), c.data(), n, m * n, batch);
    for (std::size_t i = 0; i < batch; ++i) {
      const auto ref = naive_gemm(false, true, m, n, k, 1.0, a.data() + i * m * k, b.data() + i * k * n, 0.0, c.data());
      for (std::size_t j = 0; j < m * n; ++j)
        REQUIRE(std::abs(c[i * m * n + j] - ref.c[j]) <= sum_tolerance<Scalar>(ref.magnitude[j], k));
    }
  }
}

TEST_CASE("gemm rejects a leading dimension smaller than the matrix") {
  context<cpu> ctx;
  std::vector<double> a(12), b(12), c(16);
  CHECK_THROWS_WITH_AS(
      gemm(ctx, transpose::no, transpose::no, 4, 4, 3, 1.0, a.data(), 2, b.data(), 4, 0.0, c.data(), 4),
      doctest::Contains("gemm: expected lda >= 3, got 2"), attractor::error);
  CHECK_THROWS_AS(gemm(ctx, transpose::no, transpose::yes, 4, 4, 3, 1.0, a.data(), 3, b.data(), 2, 0.0, c.data(), 4),
                  attractor::error);
  CHECK_THROWS_AS(gemm(ctx, transpose::no, transpose::no, 4, 4, 3, 1.0, a.data(), 3, b.data(), 4, 0.0, c.data(), 3),
                  attractor::error);
}

TEST_CASE_TEMPLATE("matmul checks shapes and multiplies rank-2 and batched rank-3 operands", Scalar, float, double) {
  context<cpu> ctx;
  tensor<Scalar, cpu> a({4, 3}), b({5, 3}), c({4, 5});
  const auto av = random_vector<Scalar>(12, 31), bv = random_vector<Scalar>(15, 32);
  std::copy(av.begin(), av.end(), a.begin());
  std::copy(bv.begin(), bv.end(), b.begin());
  matmul(ctx, a, b, c, transpose::no, transpose::yes);  // a linear layer: x W^T
  const auto ref = naive_gemm(false, true, 4, 5, 3, 1.0, a.data(), b.data(), 0.0, c.data());
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(std::abs(c[i] - ref.c[i]) <= sum_tolerance<Scalar>(3.0, 3));

  CHECK_THROWS_WITH_AS(matmul(ctx, a, b, c), doctest::Contains("inner dimensions"), attractor::error);
  tensor<Scalar, cpu> wrong({5, 4});
  CHECK_THROWS_WITH_AS(matmul(ctx, a, b, wrong, transpose::no, transpose::yes), doctest::Contains("4 x 5"),
                       attractor::error);

  // Rank 3 batch times a shared rank-2 matrix.
  tensor<Scalar, cpu> x({2, 4, 3}), y({2, 4, 5});
  const auto xv = random_vector<Scalar>(24, 33);
  std::copy(xv.begin(), xv.end(), x.begin());
  matmul(ctx, x, b, y, transpose::no, transpose::yes);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto r = naive_gemm(false, true, 4, 5, 3, 1.0, x.data() + 12 * i, b.data(), 0.0, y.data());
    for (std::size_t j = 0; j < 20; ++j) CHECK(std::abs(y[20 * i + j] - r.c[j]) <= sum_tolerance<Scalar>(3.0, 3));
  }
  tensor<Scalar, cpu> bad_batch({3, 4, 5});
  CHECK_THROWS_WITH_AS(matmul(ctx, x, b, bad_batch, transpose::no, transpose::yes), doctest::Contains("batch"),
                       attractor::error);
}

TEST_CASE_TEMPLATE("maps of one, two and three inputs, in place and out of place", Scalar, float, double) {
  context<cpu> ctx;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1001}, std::size_t{70001}}) {
    const auto x = random_vector<Scalar>(n, 41), y = random_vector<Scalar>(n, 42), z = random_vector<Scalar>(n, 43);
    std::vector<Scalar> out(n);
    map(ctx, n, out.data(), ops::scale<Scalar>{Scalar(3)}, x.data());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i] == Scalar(3) * x[i]);
    map(ctx, n, out.data(), ops::axpy<Scalar>{Scalar(-2)}, x.data(), y.data());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i] == Scalar(-2) * x[i] + y[i]);
    map(ctx, n, out.data(), ops::fma{}, x.data(), y.data(), z.data());
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(std::abs(out[i] - (double(x[i]) * y[i] + z[i])) <= 2 * std::numeric_limits<Scalar>::epsilon());
    std::vector<Scalar> inplace = x;
    map(ctx, n, inplace.data(), ops::plus{}, inplace.data(), y.data());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(inplace[i] == x[i] + y[i]);
  }
}

TEST_CASE("map over tensors rejects mismatched shapes") {
  context<cpu> ctx;
  tensor<float, cpu> a({3, 4}), b({4, 3}), out({3, 4});
  CHECK_THROWS_WITH_AS(map(ctx, out, ops::plus{}, a, b), doctest::Contains("map: expected an input of shape (3, 4)"),
                       attractor::error);
}

TEST_CASE_TEMPLATE("reductions over all elements match a double reference", Scalar, float, double) {
  context<cpu> ctx;
  for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{4097}, std::size_t{1000003}}) {
    const auto x = random_vector<Scalar>(n, 50 + n, -2.0, 3.0);
    double s = 0, sa = 0, ss = 0, mx = -1e300;
    for (Scalar v : x) {
      s += v;
      sa += std::abs(double(v));
      ss += double(v) * v;
      mx = std::max(mx, double(v));
    }
    INFO("n=", n);
    // Chunked sums: each chunk of 4096 summed in Scalar, so the bound uses the chunk length.
    CHECK(std::abs(reduce(ctx, reduction::sum, x.data(), n) - s) <= sum_tolerance<Scalar>(sa, 4096) + 1e-7 * sa);
    CHECK(std::abs(reduce(ctx, reduction::sum_squares, x.data(), n) - ss) <= sum_tolerance<Scalar>(ss, 4096));
    CHECK(reduce(ctx, reduction::max, x.data(), n) == static_cast<Scalar>(mx));
  }
  CHECK(reduce(ctx, reduction::sum, static_cast<const Scalar*>(nullptr), 0) == Scalar(0));
  CHECK_THROWS_WITH_AS(reduce(ctx, reduction::max, static_cast<const Scalar*>(nullptr), 0),
                       doctest::Contains("at least one element"), attractor::error);
}

TEST_CASE_TEMPLATE("reductions along the last axis match a double reference", Scalar, float, double) {
  context<cpu> ctx;
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{1, 1}, {3, 257}, {1000, 3}, {129, 5000}, {0, 4}}) {
    const auto x = random_vector<Scalar>(rows * cols, 60 + cols, -1.0, 1.0);
    std::vector<Scalar> sum_out(rows), max_out(rows), sq_out(rows);
    reduce_rows(ctx, reduction::sum, x.data(), rows, cols, sum_out.data());
    reduce_rows(ctx, reduction::max, x.data(), rows, cols, max_out.data());
    reduce_rows(ctx, reduction::sum_squares, x.data(), rows, cols, sq_out.data());
    for (std::size_t r = 0; r < rows; ++r) {
      double s = 0, sa = 0, ss = 0, mx = -1e300;
      for (std::size_t c = 0; c < cols; ++c) {
        const double v = x[r * cols + c];
        s += v;
        sa += std::abs(v);
        ss += v * v;
        mx = std::max(mx, v);
      }
      REQUIRE(std::abs(sum_out[r] - s) <= sum_tolerance<Scalar>(sa, std::min<std::size_t>(cols, 4096)));
      REQUIRE(std::abs(sq_out[r] - ss) <= sum_tolerance<Scalar>(ss, std::min<std::size_t>(cols, 4096)));
      REQUIRE(max_out[r] == static_cast<Scalar>(mx));
    }
  }
  tensor<Scalar, cpu> x({2, 3, 4}), bad({2, 4});
  CHECK_THROWS_WITH_AS(reduce_last_axis(ctx, reduction::sum, x, bad), doctest::Contains("out of shape (2, 3)"),
                       attractor::error);
}

TEST_CASE_TEMPLATE("segment_sum matches a double reference and is deterministic", Scalar, float, double) {
  for (int threads : {1, 2}) {
    context<cpu> ctx(threads);
    // Narrow (row-split path), wide (column-split path) and tiny (serial path) arrays.
    for (auto [rows, cols, segments] :
         {std::tuple<std::size_t, std::size_t, std::size_t>{16384, 3, 1000}, {5000, 256, 37}, {10, 4, 3}, {0, 5, 2}}) {
      const auto x = random_vector<Scalar>(rows * cols, 70 + cols);
      std::vector<std::int32_t> keys(rows);
      std::mt19937 engine(71);
      for (auto& k : keys) k = static_cast<std::int32_t>(engine() % segments);
      std::vector<double> ref(segments * cols, 0.0), mag(segments * cols, 0.0);
      std::vector<std::size_t> count(segments, 0);
      for (std::size_t r = 0; r < rows; ++r) {
        ++count[keys[r]];
        for (std::size_t c = 0; c < cols; ++c) {
          ref[keys[r] * cols + c] += x[r * cols + c];
          mag[keys[r] * cols + c] += std::abs(double(x[r * cols + c]));
        }
      }
      std::vector<Scalar> out(segments * cols, Scalar(-99)), again(segments * cols);
      segment_sum(ctx, keys.data(), x.data(), rows, cols, segments, out.data());
      segment_sum(ctx, keys.data(), x.data(), rows, cols, segments, again.data());
      for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("rows=", rows, " cols=", cols, " threads=", threads, " i=", i);
        REQUIRE(std::abs(out[i] - ref[i]) <= sum_tolerance<Scalar>(mag[i], count[i / cols]));
        REQUIRE(out[i] == again[i]);
      }
    }
  }
}

TEST_CASE("segment_sum rejects out-of-range keys and mismatched shapes") {
  context<cpu> ctx;
  tensor<std::int32_t, cpu> keys({3});
  tensor<float, cpu> x({3, 2}), out({2, 2});
  keys[0] = 0;
  keys[1] = 2;
  keys[2] = 1;
  CHECK_THROWS_WITH_AS(segment_sum(ctx, keys, x, out), doctest::Contains("keys in [0, 2), got 2 at row 1"),
                       attractor::error);
  keys[1] = -1;
  CHECK_THROWS_AS(segment_sum(ctx, keys, x, out), attractor::error);
  tensor<float, cpu> narrow({2, 3});
  keys[1] = 1;
  CHECK_THROWS_WITH_AS(segment_sum(ctx, keys, x, narrow), doctest::Contains("out with 2 columns"), attractor::error);
}

TEST_CASE("tensor views: rows, row and reshape share storage and check bounds") {
  tensor<double, cpu> t({4, 3});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = double(i);
  auto mid = t.rows(1, 3);
  CHECK(mid.shape() == shape{2, 3});
  CHECK(mid.at(0, 0) == 3.0);
  mid.at(1, 2) = -1.0;
  CHECK(t.at(2, 2) == -1.0);
  CHECK(t.row(3).shape() == shape{3});
  CHECK(t.row(3).at(1) == 10.0);
  CHECK(t.reshape({2, 2, 3}).at(1, 1, 1) == 10.0);
  CHECK_THROWS_WITH_AS((void)t.rows(2, 5), doctest::Contains("0 <= begin <= end <= 4"), attractor::error);
  CHECK_THROWS_WITH_AS((void)t.reshape({5, 3}), doctest::Contains("expected 12 elements, got 15 elements"),
                       attractor::error);
  CHECK_THROWS_WITH_AS((void)t.at(4, 0), doctest::Contains("index < 4 on axis 0"), attractor::error);
  CHECK_THROWS_WITH_AS((void)t.at(1), doctest::Contains("expected 2 indices"), attractor::error);
  CHECK_THROWS_AS((shape{1, 2, 3, 4, 5}), attractor::error);
  CHECK(shape{}.size() == 1);
  CHECK(shape{3, 0}.size() == 0);
  // Default-constructed tensors and views hold nothing, and say so (not a rank-0 element over no storage).
  const tensor<double, cpu> none;
  const tensor_view<double, cpu> no_view;
  CHECK(none.empty());
  CHECK(none.begin() == none.end());
  CHECK(no_view.empty());
  CHECK(no_view.begin() == no_view.end());
  tensor<double, cpu> from({2, 3});
  tensor<double, cpu> to(std::move(from));
  CHECK(to.shape() == shape{2, 3});
  CHECK(from.empty());  // NOLINT(bugprone-use-after-move): a moved-from tensor must say it holds nothing
  from = std::move(to);
  CHECK(from.shape() == shape{2, 3});
  CHECK(to.empty());  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("copy between tensors checks shapes, and resize reuses storage") {
  context<cpu> ctx;
  tensor<float, cpu> a({2, 3}), b({2, 3}), c({3, 2});
  fill(ctx, a, 1.5f);
  copy(ctx, a, b);
  CHECK(b.at(1, 2) == 1.5f);
  CHECK_THROWS_WITH_AS(copy(ctx, a, c), doctest::Contains("copy: expected a destination of shape (2, 3)"),
                       attractor::error);
  const auto before = allocation_counter<cpu>::count;
  const float* storage = a.data();
  a.resize({3, 2});
  a.resize({1, 6});
  CHECK(a.data() == storage);
  CHECK(allocation_counter<cpu>::count == before);
  auto d = to_backend<cpu>(ctx, b);
  CHECK(d.at(0, 1) == 1.5f);
}

TEST_CASE_TEMPLATE("segment_sum_sorted with a make_segment_plan plan equals segment_sum", Scalar, float, double) {
  context<cpu> ctx;
  const std::size_t rows = 3000, cols = 7, segments = 50;
  const auto x = random_vector<Scalar>(rows * cols, 80);
  std::vector<std::int32_t> keys(rows);
  std::mt19937 engine(81);
  for (auto& k : keys) k = static_cast<std::int32_t>(engine() % (segments - 1));  // the last segment stays empty
  std::vector<std::uint32_t> order(rows);
  std::vector<std::int32_t> offsets(segments + 1);
  make_segment_plan(keys.data(), rows, segments, order.data(), offsets.data());
  CHECK(offsets.front() == 0);
  CHECK(offsets.back() == static_cast<std::int32_t>(rows));
  CHECK(offsets[segments - 1] == offsets[segments]);
  std::vector<Scalar> planned(segments * cols), direct(segments * cols);
  segment_sum_sorted(ctx, order.data(), offsets.data(), x.data(), cols, segments, planned.data());
  segment_sum(ctx, keys.data(), x.data(), rows, cols, segments, direct.data());
  // The two sum each segment's rows in different orders: each is within sum_tolerance of the exact sum, whose terms
  // have total magnitude sum |x| over the segment's rows (sums near zero included: an absolute bound).
  std::vector<double> magnitude(segments * cols, 0.0);
  std::vector<std::size_t> count(segments, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    ++count[static_cast<std::size_t>(keys[r])];
    for (std::size_t c = 0; c < cols; ++c)
      magnitude[static_cast<std::size_t>(keys[r]) * cols + c] += std::abs(double(x[r * cols + c]));
  }
  for (std::size_t i = 0; i < planned.size(); ++i)
    REQUIRE(std::abs(double(planned[i]) - double(direct[i])) <=
            2 * sum_tolerance<Scalar>(magnitude[i], count[i / cols]));
  keys[5] = static_cast<std::int32_t>(segments);
  CHECK_THROWS_WITH_AS(make_segment_plan(keys.data(), rows, segments, order.data(), offsets.data()),
                       doctest::Contains("make_segment_plan: expected keys in [0, 50)"), attractor::error);
}

TEST_CASE("for_each_row_col visits every (row, column) once, with the right row and column, on 1 and 2 threads") {
  for (int threads : {1, 2}) {
    context<cpu> ctx(threads);
    // Empty, single, one long row, one long column, below and above the parallel grain.
    for (auto [rows, cols] :
         {std::pair<std::size_t, std::size_t>{0, 5}, {5, 0}, {1, 1}, {3, 7}, {1, 100003}, {100003, 1}, {2048, 256}}) {
      CAPTURE(threads);
      CAPTURE(rows);
      CAPTURE(cols);
      const std::size_t n = rows * cols;
      std::vector<std::size_t> row_of(n, 0), col_of(n, 0);
      std::vector<int> visits(n, 0);
      for_each_row_col(ctx, rows, cols, [&](std::size_t r, std::size_t c) {
        row_of[r * cols + c] = r;
        col_of[r * cols + c] = c;
        ++visits[r * cols + c];
      });
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < n; ++i) wrong += visits[i] != 1 || row_of[i] != i / cols || col_of[i] != i % cols;
      CHECK(wrong == 0);
    }
  }
}
