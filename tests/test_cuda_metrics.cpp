// The metrics on cuda against the same code on cpu, on the same inputs: histogram counts exactly, nearest-neighbour
// distances to float rounding, and every score of the evaluator. Runs only where a GPU is present (cuda_main.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "attractor/metrics.hpp"
#include "cuda/harness.hpp"
#include "reference.hpp"
#include "tolerance.hpp"

using namespace attractor;
using namespace attractor_test;

TEST_CASE_TEMPLATE("cuda metrics histogram counts equal cpu counts", Scalar, float, double) {
  const std::size_t n = 300001;
  // Most states inside the paper's grid, some outside, and some exactly on edges and on the boundary.
  auto x = random_vector<Scalar>(3 * n, 31, -3.8, 3.8);
  for (std::size_t i = 0; i < 3000; ++i) x[7 * i] = Scalar(-3.5 + 0.1 * double(i % 71));
  x[0] = Scalar(3.5);
  x[1] = Scalar(-3.5);
  tensor<Scalar, cpu> states(shape{n, 3});
  std::copy(x.begin(), x.end(), states.begin());
  context<cpu> ctx;
  metrics::cube_histogram h;
  h.add(ctx, states);
  std::vector<std::uint64_t> counts(h.cells());
  std::uint64_t dropped = 0;
  cuda_cube_counts<Scalar>(x.data(), n, 3, 70, -3.5, 3.5, counts.data(), &dropped);
  CHECK(counts == h.counts());
  CHECK(dropped == h.out_of_range());
  // A coarser 2-D grid, and the same again: deterministic.
  metrics::cube_histogram h2(2, {7, -1.0, 2.0});
  h2.add(ctx, states.reshape(shape{3 * n / 2, 2}).rows(0, 450000));
  std::vector<std::uint64_t> c2(h2.cells()), again(h2.cells());
  cuda_cube_counts<Scalar>(x.data(), 450000, 2, 7, -1.0, 2.0, c2.data(), &dropped);
  cuda_cube_counts<Scalar>(x.data(), 450000, 2, 7, -1.0, 2.0, again.data(), &dropped);
  CHECK(c2 == h2.counts());
  CHECK(again == c2);

  char message[256] = {};
  CHECK(cuda_histogram_rejects_nan(message, sizeof message));
  CHECK(std::string(message).find("expected finite states") != std::string::npos);
}

TEST_CASE_TEMPLATE("cuda metrics nearest neighbours equal cpu nearest neighbours", Scalar, float, double) {
  context<cpu> ctx;
  for (std::size_t d : {1u, 2u, 3u, 4u}) {
    CAPTURE(d);
    // Few queries against many reference states (the reference split across blocks), and the reverse.
    for (auto [m, n] : {std::pair<std::size_t, std::size_t>{37, 200003}, {100003, 2001}}) {
      const auto q = random_vector<Scalar>(m * d, 41 + d, -2.0, 2.0);
      auto r = random_vector<Scalar>(n * d, 43 + d, -2.0, 2.0);
      for (std::size_t k = 0; k < d; ++k) r[5 * d + k] = q[3 * d + k];  // one exact match: distance 0
      tensor<Scalar, cpu> tq(shape{m, d}), tr(shape{n, d}), expected(shape{m});
      std::copy(q.begin(), q.end(), tq.begin());
      std::copy(r.begin(), r.end(), tr.begin());
      metrics::nearest_sq_distances(ctx, tq, tr, expected);
      std::vector<Scalar> got(m);
      double sum = 0;
      cuda_nearest_sq_distances<Scalar>(q.data(), m, r.data(), n, d, got.data(), &sum);
      double expected_sum = 0;
      std::size_t bad = 0;
      for (std::size_t i = 0; i < m; ++i) {
        // The cpu sums squares in double, the gpu in Scalar: a few ulps apart.
        const double tolerance = 8 * std::numeric_limits<Scalar>::epsilon() * double(expected[i]);
        bad += std::abs(double(got[i]) - double(expected[i])) > tolerance;
        expected_sum += double(expected[i]);
      }
      CHECK(bad == 0);
      CHECK(got[3] == 0);
      // Sums from 5e-9 (d = 1, 37 queries) to 2e4: relative. Each term is within 8 eps (above) and non-negative;
      // the gpu's chunked reductions in Scalar add a few eps more.
      CHECK(sum == relative(expected_sum, 1e-5));
    }
  }
}

TEST_CASE("cuda metrics evaluator scores equal cpu scores") {
  const std::size_t n = 40000, s = 30000, m = 20000;
  const auto reference = random_vector<float>(3 * n, 51, -2.0, 2.0);
  const auto source = random_vector<float>(3 * s, 52, -2.0, 2.0);
  const auto generated = random_vector<float>(3 * m, 53, -2.2, 1.9);
  double gpu[7] = {};
  cuda_evaluate(reference.data(), n, source.data(), s, generated.data(), m, 32, 7, 4096, gpu);

  context<cpu> ctx;
  tensor<float, cpu> r(shape{n, 3}), so(shape{s, 3}), g(shape{m, 3});
  std::copy(reference.begin(), reference.end(), r.begin());
  std::copy(source.begin(), source.end(), so.begin());
  std::copy(generated.begin(), generated.end(), g.begin());
  philox gen(7);
  metrics::dense_surrogate<float, cpu> net(ctx, gen, {3, 32, 2});
  metrics::evaluation_options o;
  o.chunk = 4096;
  o.feature_chunk = 4096;
  metrics::evaluator<float, cpu> eval(ctx, r, so, &net, o);
  const auto e = eval.evaluate(ctx, g);
  CHECK(gpu[0] == e.hellinger);        // integer counts: exact
  CHECK(gpu[1] == e.hellinger_floor);  // the same uniform draws: exact
  CHECK(gpu[2] == double(e.out_of_range));
  // The FSD is about 0.0146 here (cpu): relative 0.07 is the tolerance the check had as Approx(...).epsilon(1e-3);
  // not tightened without a GPU to measure the cuda-cpu difference on.
  CHECK(gpu[3] == relative(*e.frechet, 0.07));
  // Mean squared distances of about 0.008: relative, as the sums of the nearest-neighbour test.
  CHECK(gpu[4] == relative(e.nearest_generated, 1e-5));
  CHECK(gpu[5] == relative(e.nearest_reference, 1e-5));
  CHECK(gpu[6] == e.pot);
}
