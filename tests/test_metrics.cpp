// The metrics layer against independent computations: hand-computed histograms, Hellinger distances and
// quantiles, closed forms of the Fréchet distance between Gaussians, and brute-force nearest neighbours.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "attractor/metrics.hpp"
#include "attractor/nn/checkpoint.hpp"
#include "attractor/systems/lorenz63.hpp"
#include "file_helpers.hpp"
#include "tolerance.hpp"

using namespace attractor;
using attractor_test::absolute;
using attractor_test::relative;
using metrics::cube_grid;
using metrics::cube_histogram;

namespace {

template <class T>
tensor<T, cpu> make_states(const std::vector<T>& values, std::size_t d) {
  REQUIRE(values.size() % d == 0);
  tensor<T, cpu> t(shape{values.size() / d, d});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

/// n states of d coordinates uniform in [low, high), from std::mt19937_64.
template <class T>
tensor<T, cpu> uniform_states(std::size_t n, std::size_t d, std::uint64_t seed, double low, double high) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> dist(low, high);
  tensor<T, cpu> t(shape{n, d});
  for (auto& x : t) x = static_cast<T>(dist(engine));
  return t;
}

/// Brute force: for each query, the smallest squared distance to any reference state, in double.
template <class T>
std::vector<double> brute_force_nearest(const tensor<T, cpu>& q, const tensor<T, cpu>& r) {
  const std::size_t m = q.extent(0), n = r.extent(0), d = q.extent(1);
  std::vector<double> out(m);
  for (std::size_t i = 0; i < m; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < n; ++j) {
      double d2 = 0;
      for (std::size_t k = 0; k < d; ++k) {
        const double diff = static_cast<double>(q[i * d + k]) - static_cast<double>(r[j * d + k]);
        d2 += diff * diff;
      }
      best = std::min(best, d2);
    }
    out[i] = best;
  }
  return out;
}

/// Counts per cube computed directly, for states that lie on no edge: floor((x - low) / width) per coordinate.
template <class T>
std::map<std::int64_t, std::uint64_t> naive_counts(const tensor<T, cpu>& x, const cube_grid& g) {
  std::map<std::int64_t, std::uint64_t> counts;
  const std::size_t d = x.extent(1);
  const double width = (g.high - g.low) / static_cast<double>(g.bins);
  for (std::size_t i = 0; i < x.extent(0); ++i) {
    std::int64_t cube = 0;
    bool inside = true;
    for (std::size_t k = 0; k < d; ++k) {
      const double v = static_cast<double>(x[i * d + k]);
      if (v < g.low || v > g.high) inside = false;
      const auto b = std::min<std::int64_t>(static_cast<std::int64_t>(std::floor((v - g.low) / width)),
                                            static_cast<std::int64_t>(g.bins) - 1);
      cube = cube * static_cast<std::int64_t>(g.bins) + b;
    }
    if (inside) ++counts[cube];
  }
  return counts;
}

/// H from two count maps, straight from the definition.
double naive_hellinger(const std::map<std::int64_t, std::uint64_t>& p, const std::map<std::int64_t, std::uint64_t>& q) {
  double np = 0, nq = 0;
  for (const auto& [c, n] : p) np += static_cast<double>(n);
  for (const auto& [c, n] : q) nq += static_cast<double>(n);
  double bc = 0;  // Bhattacharyya coefficient: H^2 = 1 - sum sqrt(p q)
  for (const auto& [c, n] : p)
    if (auto it = q.find(c); it != q.end())
      bc += std::sqrt(static_cast<double>(n) / np * static_cast<double>(it->second) / nq);
  return std::sqrt(std::max(0.0, 1.0 - bc));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Hellinger
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("metrics hellinger is 0 for identical sets and 1 for disjoint ones", T, float, double) {
  context<cpu> ctx;
  const auto a = uniform_states<T>(5000, 3, 1, -2.0, 2.0);
  CHECK(metrics::hellinger_distance(ctx, a, a) == 0.0);
  // Permuted and split into chunks: still the same histogram.
  tensor<T, cpu> b(a.shape());
  for (std::size_t i = 0; i < 5000; ++i)
    for (std::size_t k = 0; k < 3; ++k) b.at(i, k) = a.at(4999 - i, k);
  cube_histogram p, q;
  p.add(ctx, a);
  for (std::size_t begin = 0; begin < 5000; begin += 777)
    q.add(ctx, b.rows(begin, std::min<std::size_t>(5000, begin + 777)));
  CHECK(p.counts() == q.counts());
  CHECK(metrics::hellinger_distance(p, q) == 0.0);
  // Disjoint supports: a in x < 0, c in x > 0 (cube edges at 0 in the default grid).
  auto c = uniform_states<T>(3000, 3, 2, 0.05, 3.0);
  auto neg = uniform_states<T>(3000, 3, 3, -3.0, -0.05);
  CHECK(metrics::hellinger_distance(ctx, neg, c) == relative(1.0, 1e-12));
}

TEST_CASE("metrics hellinger of a hand-computed case, with torch.histogramdd's edge rules") {
  context<cpu> ctx;
  // 1-D, 2 bins over [-1, 1]: edges -1, 0, 1. 0 goes right; 1 (the last edge) is inside; -1.5 and 1.0001 dropped.
  const cube_grid g{2, -1.0, 1.0};
  const auto x = make_states<double>({-0.5, -0.25, -1.0, 0.0, -1.5, 1.0001}, 1);  // p = (3/4, 1/4)
  const auto y = make_states<double>({0.5, 1.0, 0.25, -0.75}, 1);                 // q = (1/4, 3/4)
  cube_histogram p(1, g), q(1, g);
  p.add(ctx, x);
  q.add(ctx, y);
  CHECK(p.counts() == std::vector<std::uint64_t>{3, 1});
  CHECK(q.counts() == std::vector<std::uint64_t>{1, 3});
  CHECK(p.in_range() == 4);
  CHECK(p.out_of_range() == 2);
  // H^2 = 1 - sum sqrt(p q) = 1 - 2 sqrt(3/16) = 1 - sqrt(3)/2.
  CHECK(metrics::hellinger_distance(p, q) == relative(std::sqrt(1.0 - std::sqrt(3.0) / 2.0), 1e-14));

  // 2-D, 2 x 2 cubes over [0, 2]^2; the first coordinate varies slowest in the flat index.
  const cube_grid g2{2, 0.0, 2.0};
  cube_histogram h(2, g2);
  h.add(ctx, make_states<float>({0.5f, 1.5f, 0.5f, 1.5f, 1.5f, 0.5f, 2.0f, 2.0f, 0.0f, 0.0f, 2.5f, 1.0f}, 2));
  CHECK(h.counts() == std::vector<std::uint64_t>{1, 2, 1, 1});
  CHECK(h.out_of_range() == 1);

  // The paper's grid: 3.5 and -3.5 are inside, 3.5 + 1e-9 is not; an edge belongs to the bin on its right.
  cube_histogram paper;
  CHECK(paper.cells() == 343000);
  const double inside[3] = {3.5, -3.5, 0.5};  // 0.5 = -3.5 + 40 (0.1) is edge 40 exactly
  CHECK(paper.cube_of(inside) == (69 * 70 + 0) * 70 + 40);
  const double outside[3] = {0.0, 3.5 + 1e-9, 0.0};
  CHECK(paper.cube_of(outside) == -1);
  const double just_below[3] = {std::nextafter(0.5, 0.0), 0.0, 0.0};
  CHECK(paper.cube_of(just_below) == (39 * 70 + 35) * 70 + 35);
}

TEST_CASE_TEMPLATE("metrics histogram counts match a direct count, on one thread and on several", T, float, double) {
  // 1000 cubes and 1e5 states: the parallel path with one count array per thread.
  const cube_grid g{10, -1.0, 1.0};
  const auto x = uniform_states<T>(100000, 3, 7, -1.2, 1.2);
  const auto expected = naive_counts(x, g);
  for (int threads : {1, 2, 3}) {
    context<cpu> ctx(threads);
    cube_histogram h(3, g);
    h.add(ctx, x);
    std::map<std::int64_t, std::uint64_t> got;
    for (std::size_t c = 0; c < h.cells(); ++c)
      if (h.counts()[c] > 0) got[static_cast<std::int64_t>(c)] = h.counts()[c];
    CHECK(got == expected);
    std::uint64_t inside = 0;
    for (const auto& [c, n] : expected) inside += n;
    CHECK(h.in_range() == inside);
    CHECK(h.out_of_range() == 100000 - inside);
  }
  context<cpu> ctx;
  const auto y = uniform_states<T>(20000, 3, 8, -1.0, 0.7);
  cube_histogram p(3, g), q(3, g);
  p.add(ctx, x);
  q.add(ctx, y);
  CHECK(metrics::hellinger_distance(p, q) == relative(naive_hellinger(expected, naive_counts(y, g)), 1e-12));
  cube_histogram sum(3, g);
  sum += p;
  sum += q;
  CHECK(sum.in_range() == p.in_range() + q.in_range());
}

TEST_CASE("metrics hellinger rejects bad arguments with clear errors") {
  context<cpu> ctx;
  const auto good = uniform_states<double>(10, 3, 1, -1.0, 1.0);
  CHECK_THROWS_WITH_AS((void)cube_histogram(3, cube_grid{0, -1.0, 1.0}), doctest::Contains("at least one bin"),
                       attractor::error);
  CHECK_THROWS_WITH_AS((void)cube_histogram(3, cube_grid{10, 1.0, 1.0}), doctest::Contains("low < high"),
                       attractor::error);
  CHECK_THROWS_WITH_AS((void)cube_histogram(0), doctest::Contains("dimension >= 1"), attractor::error);
  CHECK_THROWS_WITH_AS((void)cube_histogram(6, cube_grid{100, 0.0, 1.0}), doctest::Contains("2^31"), attractor::error);
  cube_histogram h;
  const auto wrong = uniform_states<double>(10, 2, 1, -1.0, 1.0);
  CHECK_THROWS_WITH_AS(h.add(ctx, wrong),
                       doctest::Contains("cube_histogram::add: expected states of shape (n, 3), got (10, 2)"),
                       attractor::error);
  auto nan = uniform_states<double>(10, 3, 1, -1.0, 1.0);
  nan.at(4, 1) = std::numeric_limits<double>::quiet_NaN();
  h.add(ctx, good);
  const auto before = h.counts();
  CHECK_THROWS_WITH_AS(h.add(ctx, nan), doctest::Contains("expected finite states, got 1 NaN or infinite"),
                       attractor::error);
  CHECK(h.counts() == before);  // unchanged
  CHECK(h.in_range() == 10);
  const tensor<double, cpu> empty(shape{0, 3});
  CHECK_THROWS_WITH_AS((void)metrics::hellinger_distance(ctx, empty, good), doctest::Contains("non-empty first set"),
                       attractor::error);
  const auto far = uniform_states<double>(10, 3, 1, 5.0, 6.0);
  CHECK_THROWS_WITH_AS((void)metrics::hellinger_distance(ctx, far, good),
                       doctest::Contains("at least one state inside"), attractor::error);
  cube_histogram other(3, cube_grid{10, -1.0, 1.0});
  other.add(ctx, good);
  CHECK_THROWS_WITH_AS((void)metrics::hellinger_distance(h, other), doctest::Contains("histograms on one grid"),
                       attractor::error);
}

TEST_CASE("metrics hellinger floor: draws from the source, reproducibly") {
  context<cpu> ctx;
  // Reference: 3 states in cube A, 1 in cube B. A source that is one state in A: every draw lands in A, so
  // H^2 = 1 - sqrt(p_A) = 1 - sqrt(3/4).
  cube_histogram ref;
  ref.add(ctx, make_states<double>({0.05, 0.05, 0.05, 0.06, 0.07, 0.08, 0.01, 0.02, 0.03, 1.0, 1.0, 1.0}, 3));
  const auto source = make_states<double>({0.04, 0.04, 0.04}, 3);
  philox gen(3);
  CHECK(metrics::hellinger_floor(ctx, ref, source, 1000, gen, 64) == relative(std::sqrt(1.0 - std::sqrt(0.75)), 1e-14));
  CHECK(gen.offset() == 500);  // 1000 doubles drawn, two per block

  // Trajectories as the source (members x steps x 3): the same generator state gives the same floor, whatever the
  // chunking; the floor of a set against a large sample of its own distribution is small and shrinks with n.
  const auto states = uniform_states<double>(200000, 3, 11, -1.0, 1.0);
  const auto trajectories = states.reshape(shape{4, 50000, 3});
  cube_histogram big;
  big.add(ctx, uniform_states<double>(200000, 3, 12, -1.0, 1.0));
  philox g1(5), g2(5);
  const double f1 = metrics::hellinger_floor(ctx, big, trajectories, 20000, g1, 20000);
  const double f2 = metrics::hellinger_floor(ctx, big, trajectories, 20000, g2, 999);
  CHECK(f1 == f2);
  philox g3(6);
  const double f3 = metrics::hellinger_floor(ctx, big, trajectories, 100000, g3);
  CHECK(f1 > 0.1);
  CHECK(f1 < 0.5);
  CHECK(f3 < f1);
  CHECK_THROWS_WITH_AS((void)metrics::hellinger_floor(ctx, big, trajectories, 0, g3), doctest::Contains("n > 0"),
                       attractor::error);
}

// ---------------------------------------------------------------------------------------------------------------
// Nearest neighbours
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("metrics nearest neighbours match brute force on random sets", T, float, double) {
  context<cpu> ctx;
  for (std::size_t d : {1u, 2u, 3u, 4u, 5u}) {
    CAPTURE(d);
    const auto ref = uniform_states<T>(2000, d, 20 + d, -2.0, 2.0);
    const auto q = uniform_states<T>(500, d, 40 + d, -2.5, 2.5);
    const auto expected = brute_force_nearest(q, ref);
    tensor<T, cpu> out(shape{500});
    metrics::nearest_sq_distances(ctx, q, ref, out);
    double sum = 0;
    for (std::size_t i = 0; i < 500; ++i) {
      // Squared distances down to about 1e-6 (d = 1), accumulated in double and stored in T: relative.
      CHECK(static_cast<double>(out[i]) == relative(expected[i], 8 * std::numeric_limits<T>::epsilon()));
      sum += expected[i];
    }
    CHECK(metrics::mean_nearest_sq_distance(ctx, q, ref) == relative(sum / 500, 1e-9));
  }
  // The tree on its own: the index of the nearest point is right too (distinct distances almost surely).
  const auto ref = uniform_states<T>(3000, 3, 1, -1.0, 1.0);
  const metrics::kd_tree<T, 3> tree(ctx, ref.data(), 3000, 4);
  CHECK(tree.size() == 3000);
  const auto q = uniform_states<T>(50, 3, 2, -1.5, 1.5);
  for (std::size_t i = 0; i < 50; ++i) {
    std::size_t best = 0;
    double best_d2 = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < 3000; ++j) {
      double d2 = 0;
      for (std::size_t k = 0; k < 3; ++k) d2 += std::pow(double(q.at(i, k)) - double(ref.at(j, k)), 2);
      if (d2 < best_d2) best_d2 = d2, best = j;
    }
    const auto found = tree.nearest(q.data() + 3 * i);
    CHECK(found.index == best);
    CHECK(found.sq_distance == relative(best_d2, 1e-12));
  }
}

TEST_CASE("metrics nearest neighbours with duplicates, lattice points on cell boundaries, and one point") {
  context<cpu> ctx;
  // A 12^3 integer lattice, every point twice: splits fall on lattice planes, many points sit exactly on them and
  // many distances tie.
  std::vector<double> lattice;
  for (int rep = 0; rep < 2; ++rep)
    for (int i = 0; i < 12; ++i)
      for (int j = 0; j < 12; ++j)
        for (int k = 0; k < 12; ++k) lattice.insert(lattice.end(), {double(i), double(j), double(k)});
  const auto ref = make_states(lattice, 3);
  // Queries: the lattice points themselves (distance 0), half-integer points (ties among 8 neighbours) and points
  // outside the lattice's box.
  std::vector<double> qv;
  for (int i = 0; i < 12; i += 3)
    for (int j = 0; j < 12; j += 5) qv.insert(qv.end(), {double(i), double(j), 7.0, i + 0.5, j + 0.5, 3.5});
  qv.insert(qv.end(), {-3.0, 5.0, 20.0, 11.25, -0.5, 6.0, 100.0, 100.0, 100.0});
  const auto q = make_states(qv, 3);
  const auto expected = brute_force_nearest(q, ref);
  tensor<double, cpu> out(shape{q.extent(0)});
  for (int threads : {1, 2}) {
    context<cpu> c(threads);
    metrics::nearest_sq_distances(c, q, ref, out);
    for (std::size_t i = 0; i < q.extent(0); ++i) CHECK(out[i] == expected[i]);  // exact: small integers
  }
  CHECK(expected[0] == 0.0);
  CHECK(expected[1] == 0.75);
  // Leaves of one point, and a reference of one point.
  const metrics::kd_tree<double, 3> tree(ctx, ref.data(), ref.extent(0), 1);
  for (std::size_t i = 0; i < q.extent(0); ++i) CHECK(tree.nearest(q.data() + 3 * i).sq_distance == expected[i]);
  const auto single = make_states<double>({1.0, 2.0, 3.0}, 3);
  CHECK(metrics::mean_nearest_sq_distance(ctx, make_states<double>({1.0, 2.0, 5.0, 0.0, 2.0, 3.0}, 3), single) == 2.5);
}

TEST_CASE("metrics nearest neighbours reject bad arguments") {
  context<cpu> ctx;
  const auto ref = uniform_states<float>(10, 3, 1, -1.0, 1.0);
  const tensor<float, cpu> empty(shape{0, 3});
  CHECK_THROWS_WITH_AS((void)metrics::mean_nearest_sq_distance(ctx, ref, empty),
                       doctest::Contains("non-empty reference set"), attractor::error);
  CHECK_THROWS_WITH_AS((void)metrics::mean_nearest_sq_distance(ctx, empty, ref),
                       doctest::Contains("non-empty query set"), attractor::error);
  const auto two = uniform_states<float>(10, 2, 1, -1.0, 1.0);
  CHECK_THROWS_WITH_AS((void)metrics::mean_nearest_sq_distance(ctx, two, ref),
                       doctest::Contains("expected a non-empty query set of shape (n, 3), got (10, 2)"),
                       attractor::error);
  auto nan = uniform_states<float>(10, 3, 1, -1.0, 1.0);
  nan.at(3, 2) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS((void)metrics::mean_nearest_sq_distance(ctx, nan, ref),
                       doctest::Contains("finite values in the queries"), attractor::error);
  CHECK_THROWS_WITH_AS((void)metrics::mean_nearest_sq_distance(ctx, ref, nan),
                       doctest::Contains("finite values in the reference set"), attractor::error);
  tensor<float, cpu> out(shape{9});
  CHECK_THROWS_WITH_AS(metrics::nearest_sq_distances(ctx, ref, ref, out), doctest::Contains("out of shape (10)"),
                       attractor::error);
}

// ---------------------------------------------------------------------------------------------------------------
// Quantiles and POT
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("metrics quantiles interpolate linearly as numpy does, and POT counts entries at or beyond them") {
  // Sorted 1, 2, 3, 10: h = q (n - 1) = 3 q.
  std::vector<double> v{3.0, 1.0, 10.0, 2.0};
  CHECK(metrics::quantile(v, 0.5) == relative(2.5, 1e-14));    // h = 1.5
  CHECK(metrics::quantile(v, 0.99) == relative(9.79, 1e-14));  // h = 2.97: 10 - 7 (0.03)
  CHECK(metrics::quantile(v, 0.01) == relative(1.03, 1e-14));  // h = 0.03: 1 + 1 (0.03)
  CHECK(metrics::quantile(v, 0.0) == 1.0);
  CHECK(metrics::quantile(v, 1.0) == 10.0);
  std::vector<float> one{4.0f};
  CHECK(metrics::quantile(one, 0.3) == 4.0);
  // 0, 1, ..., 100 in x and 0, 2, ..., 200 in y: the 1% and 99% quantiles are 1 and 99, 2 and 198.
  std::vector<double> ref;
  for (int i = 0; i <= 100; ++i) ref.insert(ref.end(), {double(100 - i), 2.0 * i});
  context<cpu> ctx;
  const auto t = metrics::quantile_thresholds(ctx, make_states(ref, 2));
  CHECK(t.lower[0] == relative(1.0, 1e-14));
  CHECK(t.upper[0] == relative(99.0, 1e-14));
  CHECK(t.lower[1] == relative(2.0, 1e-14));
  CHECK(t.upper[1] == relative(198.0, 1e-14));
  // Entries: x = 1 (at the lower threshold: counts), 50, 99.5 (beyond); y = 100, 198 (counts), -1 (counts).
  const auto samples = make_states<double>({1.0, 100.0, 50.0, 198.0, 99.5, -1.0}, 2);
  CHECK(metrics::peak_over_threshold(ctx, samples, t) == relative(4.0 / 6.0, 1e-14));
  // The reference against its own thresholds: 2 of 101 values per dimension reach them (the 0/100 and 1/99 ones
  // for x: 0, 1, 99, 100 -> 4 of 101, since the thresholds are attained).
  CHECK(metrics::peak_over_threshold(ctx, make_states(ref, 2), t) == relative(8.0 / 202.0, 1e-14));
}

TEST_CASE("metrics POT and quantiles reject bad arguments") {
  context<cpu> ctx;
  std::vector<double> empty;
  CHECK_THROWS_WITH_AS((void)metrics::quantile(empty, 0.5), doctest::Contains("at least one value"), attractor::error);
  std::vector<double> v{1.0, std::numeric_limits<double>::quiet_NaN()};
  CHECK_THROWS_WITH_AS((void)metrics::quantile(v, 0.5), doctest::Contains("finite values"), attractor::error);
  std::vector<double> w{1.0};
  CHECK_THROWS_WITH_AS((void)metrics::quantile(w, 1.5), doctest::Contains("[0, 1]"), attractor::error);
  const auto ref = uniform_states<double>(100, 3, 1, -1.0, 1.0);
  CHECK_THROWS_WITH_AS((void)metrics::quantile_thresholds(ctx, ref, 0.9, 0.1), doctest::Contains("lower < upper"),
                       attractor::error);
  const auto t = metrics::quantile_thresholds(ctx, ref);
  CHECK_THROWS_WITH_AS((void)metrics::peak_over_threshold(ctx, uniform_states<double>(5, 2, 1, 0.0, 1.0), t),
                       doctest::Contains("shape (n, 3)"), attractor::error);
  auto nan = uniform_states<double>(5, 3, 1, 0.0, 1.0);
  nan.at(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS((void)metrics::peak_over_threshold(ctx, nan, t),
                       doctest::Contains("finite values in the samples"), attractor::error);
  CHECK_THROWS_WITH_AS((void)metrics::quantile_thresholds(ctx, tensor<double, cpu>(shape{0, 3})),
                       doctest::Contains("non-empty reference set"), attractor::error);
}

// ---------------------------------------------------------------------------------------------------------------
// Fréchet
// ---------------------------------------------------------------------------------------------------------------

namespace {
metrics::gaussian_statistics gaussian(std::vector<double> mean, std::vector<double> cov) {
  const auto n = static_cast<Eigen::Index>(mean.size());
  metrics::gaussian_statistics s;
  s.mean = Eigen::Map<Eigen::VectorXd>(mean.data(), n);
  s.cov = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(cov.data(), n, n);
  s.count = 100;
  return s;
}
}  // namespace

TEST_CASE("metrics frechet distance is 0 for identical Gaussians and matches closed forms in 2-D") {
  const auto a = gaussian({1.0, -2.0}, {2.0, 0.3, 0.3, 1.0});
  CHECK(metrics::frechet_distance(a, a) < 1e-12);

  // Diagonal covariances commute: tr sqrt(S1 S2) = sqrt(4 * 1) + sqrt(9 * 0.25) = 3.5;
  // FD = |(1, 2)|^2 + (4 + 9) + (1 + 0.25) - 7 = 5 + 13 + 1.25 - 7 = 12.25.
  const auto d1 = gaussian({0.0, 0.0}, {4.0, 0.0, 0.0, 9.0});
  const auto d2 = gaussian({1.0, 2.0}, {1.0, 0.0, 0.0, 0.25});
  CHECK(metrics::frechet_distance(d1, d2) == relative(12.25, 1e-12));
  CHECK(metrics::frechet_distance(d2, d1) == relative(12.25, 1e-12));

  // S2 = R diag(1, 4) R^T rotated by 30 degrees, S1 = diag(2, 1/2). For 2 x 2 matrices with positive eigenvalues,
  // tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)), and det(S1 S2) = det S1 det S2 = 1 * 4.
  const double c = std::cos(std::numbers::pi / 6), s = std::sin(std::numbers::pi / 6);
  const double s2_00 = c * c * 1 + s * s * 4, s2_11 = s * s * 1 + c * c * 4, s2_01 = c * s * (1 - 4);
  const auto r1 = gaussian({0.5, 0.0}, {2.0, 0.0, 0.0, 0.5});
  const auto r2 = gaussian({0.0, 0.0}, {s2_00, s2_01, s2_01, s2_11});
  const double tr_product = 2.0 * s2_00 + 0.5 * s2_11;
  const double tr_sqrt = std::sqrt(tr_product + 2.0 * std::sqrt(1.0 * 4.0));
  const double expected = 0.25 + 2.5 + 5.0 - 2.0 * tr_sqrt;
  CHECK(metrics::frechet_distance(r1, r2) == relative(expected, 1e-12));  // about 1.71

  // A singular covariance (rank 1) is fine: FD of N(0, diag(1, 0)) and N(0, diag(0, 1)) = 1 + 1 - 0 = 2.
  CHECK(metrics::frechet_distance(gaussian({0, 0}, {1, 0, 0, 0}), gaussian({0, 0}, {0, 0, 0, 1})) ==
        relative(2.0, 1e-12));
}

TEST_CASE("metrics frechet distance rejects bad statistics") {
  const auto a = gaussian({0.0, 0.0}, {1.0, 0.0, 0.0, 1.0});
  CHECK_THROWS_WITH_AS((void)metrics::frechet_distance(a, gaussian({0.0}, {1.0})),
                       doctest::Contains("two means of one size"), attractor::error);
  CHECK_THROWS_WITH_AS((void)metrics::frechet_distance(a, gaussian({0.0, 0.0}, {1.0, 2.0, 2.0, 1.0})),
                       doctest::Contains("positive semi-definite"), attractor::error);
  CHECK_THROWS_WITH_AS(
      ((void)metrics::frechet_distance(a, gaussian({0.0, std::numeric_limits<double>::quiet_NaN()}, {1, 0, 0, 1}))),
      doctest::Contains("finite means"), attractor::error);
}

TEST_CASE_TEMPLATE("metrics moment accumulator streams the mean and covariance of rows", T, float, double) {
  context<cpu> ctx;
  const auto x = uniform_states<T>(1000, 5, 3, -1.0, 3.0);
  metrics::moment_accumulator<cpu> acc(ctx, 5);
  for (std::size_t begin = 0; begin < 1000; begin += 300)
    acc.add(ctx, x.rows(begin, std::min<std::size_t>(1000, begin + 300)));
  CHECK(acc.count() == 1000);
  const auto s = acc.statistics(ctx);
  // Two-pass mean and covariance in long double.
  std::vector<long double> mean(5, 0);
  for (std::size_t i = 0; i < 1000; ++i)
    for (std::size_t k = 0; k < 5; ++k) mean[k] += x.at(i, k);
  for (auto& m : mean) m /= 1000;
  for (std::size_t a = 0; a < 5; ++a) {
    // Means of about 1 and covariances of independent columns, some near zero: absolute, for values of order 1.
    CHECK(s.mean(static_cast<Eigen::Index>(a)) == absolute(double(mean[a]), 1e-12));
    for (std::size_t b = 0; b < 5; ++b) {
      long double c = 0;
      for (std::size_t i = 0; i < 1000; ++i) c += (x.at(i, a) - mean[a]) * (x.at(i, b) - mean[b]);
      c /= 999;
      CHECK(s.cov(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) == absolute(double(c), 1e-12));
    }
  }
  metrics::moment_accumulator<cpu> one(ctx, 5);
  one.add(ctx, x.rows(0, 1));
  CHECK_THROWS_WITH_AS((void)one.statistics(ctx), doctest::Contains("at least two rows"), attractor::error);
}

TEST_CASE("metrics dense_two surrogate has the reference's 67,587 parameters, names and checkpoints") {
  context<cpu> ctx;
  philox gen(0);
  metrics::dense_surrogate<float, cpu> net(ctx, gen);
  const auto params = net.parameters();
  CHECK(nn::parameter_count(params) == 67587);
  std::vector<std::string> names;
  for (auto* p : params) names.push_back(p->name);
  CHECK(names == std::vector<std::string>{"backbone.network.0.weight", "backbone.network.0.bias",
                                          "backbone.network.2.weight", "backbone.network.2.bias", "head.weight",
                                          "head.bias"});
  CHECK(params[2]->shape() == shape{256, 256});
  attractor_test::temp_path tmp;
  nn::save_parameters(tmp.path, params);
  philox other(1);
  metrics::dense_surrogate<float, cpu> copy(ctx, other);
  nn::load_parameters(tmp.path, copy.parameters());
  const auto loaded = copy.parameters();
  for (std::size_t i = 0; i < params.size(); ++i)
    CHECK(std::equal(params[i]->value.begin(), params[i]->value.end(), loaded[i]->value.begin()));
  // A checkpoint of another architecture is refused.
  philox g3(2);
  metrics::dense_surrogate<float, cpu> three(ctx, g3, {3, 256, 3});
  CHECK_THROWS_WITH_AS(nn::load_parameters(tmp.path, three.parameters()), doctest::Contains("wrong architecture"),
                       attractor::error);
}

TEST_CASE("metrics surrogate training learns the increment over the lead time") {
  context<cpu> ctx(1);  // small batches: threads would only wait for each other
  // Straight lines x_t = x_0 + t v: the increment over 10 steps is 10 v everywhere, whatever the start.
  const std::size_t members = 3, steps = 60;
  const double v[3] = {0.01, -0.02, 0.005};
  tensor<float, cpu> traj(shape{members, steps, 3});
  for (std::size_t m = 0; m < members; ++m)
    for (std::size_t t = 0; t < steps; ++t)
      for (std::size_t k = 0; k < 3; ++k) traj.at(m, t, k) = float(0.3 * double(m) - 0.2 + double(t) * v[k]);
  philox gen(4);
  metrics::dense_surrogate<float, cpu> net(ctx, gen, {3, 32, 2});
  metrics::surrogate_training_options o;
  o.batch = 64;
  o.steps = 400;
  o.lr = 3e-3;
  o.report_every = 100;
  std::vector<double> losses;
  o.progress = [&](std::size_t, double loss) { losses.push_back(loss); };
  const double last = metrics::train_dense_surrogate(ctx, net, traj, o);
  REQUIRE(losses.size() == 4);
  CHECK(last == losses.back());
  CHECK(last < 1e-5);
  // The head predicts 10 v from any state on the lines.
  autograd::graph<float, cpu> g(ctx);
  const auto p = net.build(g, 1);
  for (std::size_t k = 0; k < 3; ++k) g.value_of(p.input)[k] = traj.at(1, 20, k);
  g.forward();
  for (std::size_t k = 0; k < 3; ++k) CHECK(std::abs(g.value_of(p.output)[k] - 10 * v[k]) < 0.01);

  // Lorenz-63 data: the loss falls well below the variance of the increments.
  systems::lorenz63_dataset_options d;
  d.spin_up = 500;
  d.steps = 2000;
  philox data_gen(1);
  const auto l63 = systems::lorenz63_trajectories<float>(ctx, data_gen, 2, d);
  philox g2(5);
  metrics::dense_surrogate<float, cpu> lnet(ctx, g2, {3, 32, 2});
  o.steps = 300;
  o.batch = 128;
  o.progress = {};
  CHECK(metrics::train_dense_surrogate(ctx, lnet, l63, o) < 0.01);

  o.lead = 60;
  CHECK_THROWS_WITH_AS((void)metrics::train_dense_surrogate(ctx, net, traj, o),
                       doctest::Contains("more than lead = 60"), attractor::error);
}

TEST_CASE("metrics frechet surrogate distance is 0 for identical sets and grows with a shift") {
  context<cpu> ctx;
  philox gen(0);
  metrics::dense_surrogate<double, cpu> net(ctx, gen, {3, 16, 2});
  const auto x = uniform_states<double>(3000, 3, 1, -1.0, 1.0);
  CHECK(metrics::frechet_surrogate_distance(ctx, net, x, x, 1000) < 1e-10);
  auto shifted = uniform_states<double>(3000, 3, 1, -1.0, 1.0);
  for (std::size_t i = 0; i < 3000; ++i) shifted.at(i, 0) += 0.5;
  const double small = metrics::frechet_surrogate_distance(ctx, net, x, shifted, 700);
  for (std::size_t i = 0; i < 3000; ++i) shifted.at(i, 0) += 0.5;
  CHECK(small > 0);
  CHECK(metrics::frechet_surrogate_distance(ctx, net, x, shifted) > small);
  // The features of a chunked run equal those of one state at a time.
  metrics::feature_extractor<double, cpu> fx(ctx, net, 7);
  tensor<double, cpu> f(shape{20, 16});
  fx.features(ctx, x.rows(0, 20), f);
  metrics::feature_extractor<double, cpu> one(ctx, net, 1);
  tensor<double, cpu> f1(shape{1, 16});
  one.features(ctx, x.rows(13, 14), f1);
  // Features of order 1 after a ReLU (zeros among them), by GEMMs of another row count: absolute.
  for (std::size_t k = 0; k < 16; ++k) CHECK(f.at(13, k) == absolute(f1.at(0, k), 1e-14));
  for (double v : f) CHECK(v >= 0.0);  // after a ReLU
}

// ---------------------------------------------------------------------------------------------------------------
// The evaluator
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("metrics evaluator reports every score in chunks, against independent computations") {
  context<cpu> ctx;
  const auto reference = uniform_states<float>(6000, 3, 1, -2.0, 2.0);
  const auto source_states = uniform_states<float>(6000, 3, 2, -2.0, 2.0);
  const auto source = source_states.reshape(shape{2, 3000, 3});
  const auto generated = uniform_states<float>(2500, 3, 3, -2.2, 1.8);
  philox gen(0);
  metrics::dense_surrogate<float, cpu> net(ctx, gen, {3, 16, 2});
  metrics::evaluation_options o;
  o.chunk = 999;
  o.feature_chunk = 777;
  metrics::evaluator<float, cpu> eval(ctx, reference, source, &net, o);
  const auto e = eval.evaluate(ctx, generated);
  CHECK(e.samples == 2500);
  const cube_grid g{};
  CHECK(e.hellinger == relative(naive_hellinger(naive_counts(reference, g), naive_counts(generated, g)), 1e-12));
  CHECK(e.out_of_range == 0);
  double gen_sum = 0, ref_sum = 0;
  for (double v : brute_force_nearest(generated, reference)) gen_sum += v;
  for (double v : brute_force_nearest(reference, generated)) ref_sum += v;
  CHECK(e.nearest_generated == relative(gen_sum / 2500, 1e-9));  // mean squared distances of order 0.01
  CHECK(e.nearest_reference == relative(ref_sum / 6000, 1e-9));
  // POT by hand: sorted columns of the reference, h = q (n - 1) = 59.99 and 5939.01.
  double beyond = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    std::vector<double> col;
    for (std::size_t i = 0; i < 6000; ++i) col.push_back(reference.at(i, k));
    std::sort(col.begin(), col.end());
    const double lo = col[59] + (col[60] - col[59]) * 0.99, hi = col[5939] + (col[5940] - col[5939]) * 0.01;
    for (std::size_t i = 0; i < 2500; ++i) beyond += generated.at(i, k) <= lo || generated.at(i, k) >= hi;
  }
  CHECK(e.pot == relative(beyond / 7500, 1e-12));
  REQUIRE(e.frechet.has_value());
  CHECK(*e.frechet > 0);
  // The floor for 2500 states is the one hellinger_floor gives with philox(floor_seed, 2500), and is cached.
  philox fg(0, 2500);
  CHECK(e.hellinger_floor == metrics::hellinger_floor(ctx, eval.reference_histogram(), source, 2500, fg));
  CHECK(eval.hellinger_floor(ctx, 2500) == e.hellinger_floor);

  // The reference itself: H = 0, d = 0, FSD = 0, POT = the reference's own.
  const auto same = eval.evaluate(ctx, reference);
  CHECK(same.hellinger == 0);
  CHECK(same.nearest_generated == 0);
  CHECK(same.nearest_reference == 0);
  CHECK(*same.frechet < 1e-9);
  // 60 of 6000 values per dimension at or below the 1% threshold (h = 59.99) and 60 at or above the 99% one.
  CHECK(same.pot == relative(0.02, 1e-12));

  // Without a network there is no FSD; bad generated sets are refused.
  metrics::evaluator<float, cpu> plain(ctx, reference, source);
  CHECK_FALSE(plain.evaluate(ctx, generated).frechet.has_value());
  auto nan = uniform_states<float>(10, 3, 4, -1.0, 1.0);
  nan.at(9, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS((void)plain.evaluate(ctx, nan), doctest::Contains("finite values in the generated set"),
                       attractor::error);
  CHECK_THROWS_WITH_AS((void)plain.evaluate(ctx, tensor<float, cpu>(shape{1, 3})), doctest::Contains("at least two"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(((void)metrics::evaluator<float, cpu>(ctx, reference, tensor<float, cpu>(shape{0, 3}))),
                       doctest::Contains("non-empty floor source"), attractor::error);
}
