// Tests of the random layer: Philox4x32-10 known answers, the bits-to-numbers conversions, the statistics of the
// uniform and normal fills, reproducibility and non-overlap, and argument validation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attractor/random.hpp"
#include "tolerance.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::philox_counter;
using attractor::philox_key;
using attractor_test::absolute;
using attractor_test::relative;

bool same_words(const philox_counter& a, const philox_counter& b) {
  return a.v[0] == b.v[0] && a.v[1] == b.v[1] && a.v[2] == b.v[2] && a.v[3] == b.v[3];
}

// Sample moments, computed in double whatever the sample type: two passes, so the central moments do not lose
// digits to cancellation.
struct moments {
  double mean = 0, variance = 0, skewness = 0, excess_kurtosis = 0;
};

template <class Scalar>
moments moments_of(const std::vector<Scalar>& x) {
  const auto n = static_cast<double>(x.size());
  double sum = 0;
  for (Scalar v : x) sum += static_cast<double>(v);
  moments m;
  m.mean = sum / n;
  double m2 = 0, m3 = 0, m4 = 0;
  for (Scalar v : x) {
    const double d = static_cast<double>(v) - m.mean, d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  m.variance = m2;
  m.skewness = m3 / std::pow(m2, 1.5);
  m.excess_kurtosis = m4 / (m2 * m2) - 3;
  return m;
}

// One-sample Kolmogorov-Smirnov statistic D = sup |F_n(x) - F(x)|, returned as D sqrt(n), whose 0.001 critical
// value is 1.95 for large n.
template <class Scalar, class Cdf>
double ks_scaled(std::vector<Scalar> x, Cdf cdf) {
  std::sort(x.begin(), x.end());
  const auto n = static_cast<double>(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(static_cast<double>(x[i]));
    d = std::max({d, static_cast<double>(i + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return d * std::sqrt(n);
}

template <class F>
std::string error_message(F f) {
  try {
    f();
  } catch (const attractor::error& e) {
    return e.what();
  }
  return "(no attractor::error thrown)";
}

constexpr std::uint64_t test_seed = 20240611;
constexpr std::size_t sample_size = std::size_t{1} << 20;  // ~10^6 draws per statistical test

}  // namespace

// ----------------------------------------------------------------------------------------------------------------
// Known answers
// ----------------------------------------------------------------------------------------------------------------

// Random123's tests/kat_vectors, the three "philox4x32 10" lines (format: name rounds ctr[4] key[2] expected[4]):
//   philox4x32 10 00000000 00000000 00000000 00000000 00000000 00000000   6627e8d5 e169c58d bc57ac4c 9b00dbd8
//   philox4x32 10 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff   408f276d 41c83b0e a20bc7c6 6d5451fd
//   philox4x32 10 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0   d16cfe09 94fdcceb 5001e420 24126ea1
// Checked against several public copies of that file and reproduced by an independent Python implementation.
static_assert(attractor::philox4x32_10({{0, 0, 0, 0}}, {{0, 0}}).v[0] == 0x6627e8d5u,
              "Philox4x32-10 is usable in constant expressions");

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
  struct kat {
    philox_counter counter;
    philox_key key;
    philox_counter expected;
  };
  const kat kats[] = {
      {{{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}},
       {{0x00000000u, 0x00000000u}},
       {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       {{0xffffffffu, 0xffffffffu}},
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       {{0xa4093822u, 0x299f31d0u}},
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const kat& k : kats) CHECK(same_words(attractor::philox4x32_10(k.counter, k.key), k.expected));
}

TEST_CASE("philox maps (seed, stream, offset + block) onto key and counter words") {
  const philox gen(0x0123456789ABCDEFull, 0x0000000200000003ull, 0xFFFFFFFFull);
  const philox_key key = gen.key();
  CHECK(key.v[0] == 0x89ABCDEFu);
  CHECK(key.v[1] == 0x01234567u);
  const philox_counter c0 = gen.counter(0);
  const philox_counter c1 = gen.counter(1);  // the block number carries into the second word
  CHECK(same_words(c0, {{0xFFFFFFFFu, 0u, 3u, 2u}}));
  CHECK(same_words(c1, {{0u, 1u, 3u, 2u}}));
  CHECK(same_words(gen.block(1), attractor::philox4x32_10(c1, key)));
}

// Golden values for (seed 0x0123456789ABCDEF, stream 0x0000000200000003, offset 0xFFFFFFFF), computed by an
// independent Python implementation of the documented mapping (block i / k, lane i % k; midpoint conversions;
// Box-Muller in double precision). They pin the element layout, which the cpu and cuda backends must share.
TEST_CASE("fills follow the documented element layout (golden values)") {
  context<cpu> ctx;
  const philox start(0x0123456789ABCDEFull, 0x0000000200000003ull, 0xFFFFFFFFull);
  CHECK(same_words(start.block(0), {{0x385b77b9u, 0x8f57a06fu, 0x474e5b4eu, 0xef6924a7u}}));
  CHECK(same_words(start.block(1), {{0xb82ea4e2u, 0x6bba7f39u, 0x6adee77fu, 0x5da5e801u}}));

  SUBCASE("uniform float (exact)") {
    philox gen = start;
    std::vector<float> x(6);
    attractor::fill_uniform(ctx, gen, x.data(), x.size());
    const float expected[] = {0x1.c2dbb8p-3f, 0x1.1eaf42p-1f, 0x1.1d396cp-2f,
                              0x1.ded24ap-1f, 0x1.705d4ap-1f, 0x1.aee9fcp-2f};
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == expected[i]);
    CHECK(gen.offset() == start.offset() + 2);
  }
  SUBCASE("uniform double (exact)") {
    philox gen = start;
    std::vector<double> x(3);
    attractor::fill_uniform(ctx, gen, x.data(), x.size());
    const double expected[] = {0x1.c2dbbdcc7abd4p-3, 0x1.1d396d3bbda4ap-2, 0x1.705d49c4d774fp-1};
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == expected[i]);
    CHECK(gen.offset() == start.offset() + 2);
  }
  SUBCASE("normal float (to float rounding of log, sqrt, sin, cos)") {
    philox gen = start;
    std::vector<float> x(6);
    attractor::fill_normal(ctx, gen, x.data(), x.size());
    const double expected[] = {-1.61791064, -0.639763261, 1.46816156, -0.63316147, -0.713098781, 0.387290578};
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == relative(expected[i], 2e-6));
  }
  SUBCASE("normal double") {
    philox gen = start;
    std::vector<double> x(3);
    attractor::fill_normal(ctx, gen, x.data(), x.size());
    const double expected[] = {-0.3103099556067998, 1.7119109840194981, -0.7047876969269401};
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == relative(expected[i], 1e-14));
  }
}

TEST_CASE("uniform conversions stay strictly inside (0, 1) and are symmetric") {
  CHECK(attractor::uniform_float(0u) == 0x1p-24f);
  CHECK(attractor::uniform_float(0xFFFFFFFFu) == 1.0f - 0x1p-24f);
  CHECK(attractor::uniform_float(0xFFFFFFFFu) < 1.0f);
  CHECK(attractor::uniform_double(0u, 0u) == 0x1p-53);
  CHECK(attractor::uniform_double(0xFFFFFFFFu, 0xFFFFFFFFu) == 1.0 - 0x1p-53);
  CHECK(attractor::uniform_double(0xFFFFFFFFu, 0xFFFFFFFFu) < 1.0);
  // u(x) + u(~x) = 1 exactly: the grid of midpoints is symmetric about 1/2, so the mean is unbiased.
  for (std::uint32_t x : {0u, 1u, 12345u, 0x80000000u, 0xDEADBEEFu}) {
    CHECK(attractor::uniform_float(x) + attractor::uniform_float(~x) == 1.0f);
    CHECK(attractor::uniform_double(x, ~x) + attractor::uniform_double(~x, x) == 1.0);
  }
}

// ----------------------------------------------------------------------------------------------------------------
// Statistics (fixed seed, so reproducible; bounds are ~5 standard errors)
// ----------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("uniform draws have the moments and distribution of U(0, 1)", Scalar, float, double) {
  context<cpu> ctx;
  philox gen(test_seed, 1);
  std::vector<Scalar> x(sample_size);
  attractor::fill_uniform(ctx, gen, x.data(), x.size());

  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  CHECK(*lo > Scalar(0));
  CHECK(*hi < Scalar(1));

  const moments m = moments_of(x);
  const double n = static_cast<double>(x.size());
  // Var(U) = 1/12; Var((U - 1/2)^2) = 1/80 - 1/144 = 1/180.
  CHECK(std::abs(m.mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(m.variance - 1.0 / 12) < 5 * std::sqrt(1.0 / 180 / n));

  const double ks = ks_scaled(x, [](double v) { return std::clamp(v, 0.0, 1.0); });
  INFO("KS D sqrt(n) = ", ks);
  CHECK(ks < 1.95);
}

TEST_CASE_TEMPLATE("uniform draws on (low, high) are the affine image of U(0, 1)", Scalar, float, double) {
  context<cpu> ctx;
  philox a(test_seed, 2);
  philox b = a;
  std::vector<Scalar> unit(1001), scaled(1001);
  attractor::fill_uniform(ctx, a, unit.data(), unit.size());
  attractor::fill_uniform(ctx, b, scaled.data(), scaled.size(), Scalar(-2), Scalar(3));
  for (std::size_t i = 0; i < unit.size(); ++i) {
    // Two roundings in Scalar of values up to 5 in magnitude; the result may be near zero: absolute.
    CHECK(scaled[i] == absolute(-2 + 5 * static_cast<double>(unit[i]), 10 * std::numeric_limits<Scalar>::epsilon()));
    CHECK(scaled[i] >= Scalar(-2));
    CHECK(scaled[i] <= Scalar(3));
  }
}

TEST_CASE_TEMPLATE("normal draws have the moments and distribution of N(0, 1)", Scalar, float, double) {
  context<cpu> ctx;
  philox gen(test_seed, 3);
  std::vector<Scalar> x(sample_size);
  attractor::fill_normal(ctx, gen, x.data(), x.size());

  CHECK(std::all_of(x.begin(), x.end(), [](Scalar v) { return std::isfinite(v); }));

  const moments m = moments_of(x);
  const double n = static_cast<double>(x.size());
  INFO("mean ", m.mean, ", variance ", m.variance, ", skewness ", m.skewness, ", excess kurtosis ", m.excess_kurtosis);
  // Standard errors for a normal sample: mean 1/sqrt(n), variance sqrt(2/n), skewness sqrt(6/n), kurtosis
  // sqrt(24/n).
  CHECK(std::abs(m.mean) < 5 * std::sqrt(1 / n));
  CHECK(std::abs(m.variance - 1) < 5 * std::sqrt(2 / n));
  CHECK(std::abs(m.skewness) < 5 * std::sqrt(6 / n));
  CHECK(std::abs(m.excess_kurtosis) < 5 * std::sqrt(24 / n));

  const double ks = ks_scaled(x, [](double v) { return 0.5 * std::erfc(-v / std::sqrt(2.0)); });
  INFO("KS D sqrt(n) = ", ks);
  CHECK(ks < 1.95);
}

TEST_CASE_TEMPLATE("normal draws with mean and stddev are the affine image of N(0, 1)", Scalar, float, double) {
  context<cpu> ctx;
  philox a(test_seed, 4);
  philox b = a;
  std::vector<Scalar> unit(999), scaled(999);
  attractor::fill_normal(ctx, a, unit.data(), unit.size());
  attractor::fill_normal(ctx, b, scaled.data(), scaled.size(), Scalar(10), Scalar(0.5));
  for (std::size_t i = 0; i < unit.size(); ++i)
    CHECK(scaled[i] == relative(10 + 0.5 * static_cast<double>(unit[i]), std::numeric_limits<Scalar>::epsilon()));

  // stddev = 0 is a valid degenerate normal: every value is the mean.
  std::vector<Scalar> constant(10);
  attractor::fill_normal(ctx, b, constant.data(), constant.size(), Scalar(1.5), Scalar(0));
  for (Scalar v : constant) CHECK(v == Scalar(1.5));
}

// ----------------------------------------------------------------------------------------------------------------
// Reproducibility and non-overlap
// ----------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("the same (seed, stream, offset) reproduces, and other streams and seeds differ", Scalar, float,
                   double) {
  context<cpu> ctx;
  const std::size_t n = 4097;
  auto draw = [&](philox gen) {
    std::vector<Scalar> x(n);
    attractor::fill_normal(ctx, gen, x.data(), x.size());
    return x;
  };
  const std::vector<Scalar> base = draw(philox(test_seed, 5, 11));
  CHECK(draw(philox(test_seed, 5, 11)) == base);

  auto differs_everywhere = [&](const std::vector<Scalar>& other) {
    std::size_t equal = 0;
    for (std::size_t i = 0; i < n; ++i) equal += other[i] == base[i];
    return equal == 0;
  };
  CHECK(differs_everywhere(draw(philox(test_seed, 6, 11))));                 // another stream
  CHECK(differs_everywhere(draw(philox(test_seed, 5 + (1ull << 32), 11))));  // stream high word
  CHECK(differs_everywhere(draw(philox(test_seed + 1, 5, 11))));             // another seed
  CHECK(differs_everywhere(draw(philox(test_seed + (1ull << 32), 5, 11))));  // seed high word
  CHECK(differs_everywhere(draw(philox(test_seed, 5, 12 + n))));             // a later, disjoint offset
}

TEST_CASE_TEMPLATE("results do not depend on the thread count", Scalar, float, double) {
  // Enough blocks to pass the parallel grain of for_each_index, so that the many-thread run is parallel.
  const std::size_t n = 8 * attractor::detail::parallel_grain + 3;
  std::vector<Scalar> one(n), many(n), four(n);
  context<cpu> ctx_one(1), ctx_many(0), ctx_four(4);
  philox g1(test_seed, 7), g2(test_seed, 7), g3(test_seed, 7);
  attractor::fill_normal(ctx_one, g1, one.data(), n);
  attractor::fill_normal(ctx_many, g2, many.data(), n);
  attractor::fill_normal(ctx_four, g3, four.data(), n);
  CHECK(one == many);
  CHECK(one == four);
  CHECK(g1 == g2);
  CHECK(g1 == g3);
}

TEST_CASE_TEMPLATE("each fill advances the offset by the blocks it consumed", Scalar, float, double) {
  context<cpu> ctx;
  constexpr std::size_t k = attractor::philox_values_per_block<Scalar>();
  philox gen(test_seed, 8, 100);
  std::vector<Scalar> x(4 * k + 1);
  attractor::fill_uniform(ctx, gen, x.data(), 0);  // an empty fill consumes nothing
  CHECK(gen.offset() == 100);
  attractor::fill_uniform(ctx, gen, x.data(), 1);
  CHECK(gen.offset() == 101);
  attractor::fill_normal(ctx, gen, x.data(), k);
  CHECK(gen.offset() == 102);
  attractor::fill_normal(ctx, gen, x.data(), 4 * k + 1);
  CHECK(gen.offset() == 107);
  CHECK(attractor::philox_blocks<Scalar>(std::numeric_limits<std::size_t>::max()) ==
        std::numeric_limits<std::size_t>::max() / k + 1);
}

TEST_CASE_TEMPLATE("consecutive fills never overlap", Scalar, float, double) {
  context<cpu> ctx;
  constexpr std::size_t k = attractor::philox_values_per_block<Scalar>();

  SUBCASE("block-aligned fills concatenate to one fill") {
    philox split(test_seed, 9), whole(test_seed, 9);
    const std::size_t n = 3 * k;
    std::vector<Scalar> parts(2 * n), all(2 * n);
    attractor::fill_normal(ctx, split, parts.data(), n);
    attractor::fill_normal(ctx, split, parts.data() + n, n);
    attractor::fill_normal(ctx, whole, all.data(), 2 * n);
    CHECK(parts == all);
    CHECK(split == whole);
  }
  SUBCASE("unaligned fills skip the rest of their last block") {
    philox split(test_seed, 10), whole(test_seed, 10);
    const std::size_t n = 2 * k + 1;  // three blocks, the last one partly used
    std::vector<Scalar> first(n), second(n), all(6 * k);
    attractor::fill_uniform(ctx, split, first.data(), n);
    attractor::fill_uniform(ctx, split, second.data(), n);
    attractor::fill_uniform(ctx, whole, all.data(), all.size());
    for (std::size_t i = 0; i < n; ++i) {
      CHECK(first[i] == all[i]);
      CHECK(second[i] == all[3 * k + i]);  // the second fill starts at block 3, not at element n
      for (std::size_t j = 0; j < n; ++j) CHECK(second[i] != first[j]);
    }
  }
}

TEST_CASE_TEMPLATE("element i does not depend on how the draw is chunked", Scalar, float, double) {
  context<cpu> ctx;
  constexpr std::size_t k = attractor::philox_values_per_block<Scalar>();
  const std::uint64_t offset = 1000;
  const std::size_t n = 1001;
  std::vector<Scalar> all(n);
  philox whole(test_seed, 12, offset);
  attractor::fill_normal(ctx, whole, all.data(), n);

  for (std::size_t start_block : {std::size_t{1}, std::size_t{7}, std::size_t{100}, (n - 1) / k}) {
    CAPTURE(start_block);
    philox part(test_seed, 12, offset + start_block);
    const std::size_t first = start_block * k;
    std::vector<Scalar> tail(n - first);
    attractor::fill_normal(ctx, part, tail.data(), tail.size());
    for (std::size_t i = 0; i < tail.size(); ++i) CHECK(tail[i] == all[first + i]);
  }
  // A shorter fill is a prefix of a longer one.
  philox again(test_seed, 12, offset);
  std::vector<Scalar> prefix(37);
  attractor::fill_normal(ctx, again, prefix.data(), prefix.size());
  CHECK(std::equal(prefix.begin(), prefix.end(), all.begin()));
}

TEST_CASE_TEMPLATE("tensor and tensor_view overloads fill in flat order", Scalar, float, double) {
  context<cpu> ctx;
  attractor::tensor<Scalar, cpu> t(attractor::shape{5, 3});
  std::vector<Scalar> flat(t.size());
  philox a(test_seed, 13), b(test_seed, 13), c(test_seed, 13);
  attractor::fill_normal(ctx, a, t.view(), Scalar(1), Scalar(2));
  attractor::fill_normal(ctx, b, flat.data(), flat.size(), Scalar(1), Scalar(2));
  CHECK(std::equal(t.begin(), t.end(), flat.begin()));
  CHECK(a == b);

  attractor::fill_uniform(ctx, a, t, Scalar(-1), Scalar(1));
  attractor::fill_uniform(ctx, b, flat.data(), flat.size(), Scalar(-1), Scalar(1));
  CHECK(std::equal(t.begin(), t.end(), flat.begin()));

  attractor::tensor<Scalar, cpu> empty(attractor::shape{0, 3});
  attractor::fill_uniform(ctx, c, empty);
  CHECK(c.offset() == 0);
}

// ----------------------------------------------------------------------------------------------------------------
// Errors
// ----------------------------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("bad arguments throw attractor::error and leave the generator alone", Scalar, float, double) {
  context<cpu> ctx;
  philox gen(test_seed, 14, 5);
  std::vector<Scalar> x(8);
  const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
  const Scalar inf = std::numeric_limits<Scalar>::infinity();
  const Scalar big = std::numeric_limits<Scalar>::max();

  auto normal = [&](Scalar mean, Scalar stddev) { attractor::fill_normal(ctx, gen, x.data(), x.size(), mean, stddev); };
  auto uniform = [&](Scalar low, Scalar high) { attractor::fill_uniform(ctx, gen, x.data(), x.size(), low, high); };

  CHECK_THROWS_AS(normal(0, -1), attractor::error);
  CHECK_THROWS_AS(normal(nan, 1), attractor::error);
  CHECK_THROWS_AS(normal(inf, 1), attractor::error);
  CHECK_THROWS_AS(normal(0, nan), attractor::error);
  CHECK_THROWS_AS(normal(0, inf), attractor::error);
  CHECK_THROWS_AS(uniform(1, 1), attractor::error);
  CHECK_THROWS_AS(uniform(2, 1), attractor::error);
  CHECK_THROWS_AS(uniform(nan, 1), attractor::error);
  CHECK_THROWS_AS(uniform(0, inf), attractor::error);
  CHECK_THROWS_AS(uniform(-big, big), attractor::error);  // high - low overflows
  CHECK_THROWS_AS(attractor::fill_normal(ctx, gen, static_cast<Scalar*>(nullptr), 3), attractor::error);
  CHECK_THROWS_AS(attractor::fill_uniform(ctx, gen, static_cast<Scalar*>(nullptr), 3), attractor::error);
  CHECK(gen.offset() == 5);

  // The message names the function, what it expected and what it got.
  const std::string normal_msg = error_message([&] { normal(0, -1); });
  CHECK(normal_msg.find("fill_normal") != std::string::npos);
  CHECK(normal_msg.find("stddev >= 0") != std::string::npos);
  CHECK(normal_msg.find("got -1") != std::string::npos);
  const std::string uniform_msg = error_message([&] { uniform(2, 1); });
  CHECK(uniform_msg.find("fill_uniform") != std::string::npos);
  CHECK(uniform_msg.find("low < high") != std::string::npos);
  CHECK(uniform_msg.find("low = 2, high = 1") != std::string::npos);

  // A null pointer with n = 0 is fine: nothing is written.
  CHECK_NOTHROW(attractor::fill_normal(ctx, gen, static_cast<Scalar*>(nullptr), 0));
}
