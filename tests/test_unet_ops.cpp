// The operations of the periodic U-Net (conv2d with circular padding, group_norm, upsample_nearest,
// concat_channels, gaussian_fourier_features, the leading-prefix broadcast of add and mul): forward values against
// direct computations written here, and bad arguments refused with a clear message when the graph is built. Their
// gradients, and cpu against cuda, are the op table's (tests/ops/).
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attractor/autograd.hpp"
#include "reference.hpp"

using namespace attractor;
using attractor::autograd::graph;
using attractor::autograd::value;

namespace {

using cpu_graph = graph<double, cpu>;

/// Fills a graph input with uniform values in [low, high) from the test's own generator.
template <class Scalar>
void set_random(graph<Scalar, cpu>& g, value v, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  auto view = g.value_of(v);
  const auto values = attractor_test::random_vector<Scalar>(view.size(), seed, low, high);
  std::copy(values.begin(), values.end(), view.begin());
}

/// a mod m for a possibly negative a.
std::size_t wrap(long long a, std::size_t m) {
  const auto mm = static_cast<long long>(m);
  return static_cast<std::size_t>(((a % mm) + mm) % mm);
}

/// The circular convolution by its definition, in long double: seven nested loops.
std::vector<long double> naive_conv2d(const double* x, const double* w, const double* b, std::size_t n_, std::size_t c_,
                                      std::size_t h, std::size_t wd, std::size_t o_, std::size_t k,
                                      std::size_t stride) {
  const std::size_t ho = h / stride, wo = wd / stride;
  const auto half = static_cast<long long>(k / 2);
  std::vector<long double> y(n_ * o_ * ho * wo);
  for (std::size_t n = 0; n < n_; ++n)
    for (std::size_t o = 0; o < o_; ++o)
      for (std::size_t oy = 0; oy < ho; ++oy)
        for (std::size_t ox = 0; ox < wo; ++ox) {
          long double acc = b ? b[o] : 0.0L;
          for (std::size_t c = 0; c < c_; ++c)
            for (std::size_t dy = 0; dy < k; ++dy)
              for (std::size_t dx = 0; dx < k; ++dx) {
                const std::size_t iy = wrap(static_cast<long long>(stride * oy + dy) - half, h);
                const std::size_t ix = wrap(static_cast<long long>(stride * ox + dx) - half, wd);
                acc += static_cast<long double>(w[((o * c_ + c) * k + dy) * k + dx]) *
                       x[((n * c_ + c) * h + iy) * wd + ix];
              }
          y[((n * o_ + o) * ho + oy) * wo + ox] = acc;
        }
  return y;
}

}  // namespace

TEST_CASE("unet ops: conv2d matches a direct circular convolution") {
  struct conv_case {
    std::size_t n, c, h, w, o, k, stride;
    bool bias;
  };
  const std::vector<conv_case> cases = {
      {2, 3, 4, 4, 2, 3, 1, true}, {2, 3, 4, 6, 4, 3, 1, false},  {2, 3, 4, 6, 2, 3, 2, true},
      {1, 2, 6, 6, 3, 5, 1, true}, {3, 4, 8, 6, 5, 1, 1, true},   {1, 2, 2, 4, 2, 5, 2, false},
      {2, 5, 8, 8, 7, 3, 2, true}, {2, 2, 16, 16, 3, 3, 1, true},  // N Ho Wo = 512: the padded row stride
  };
  // With the default column budget (one chunk for these sizes) and with one sample per chunk (the cpu path of large
  // fields).
  const std::size_t saved = autograd::detail::conv_chunk_bytes;
  for (std::size_t budget : {saved, std::size_t{1}})
    for (const auto& cc : cases) {
      autograd::detail::conv_chunk_bytes = budget;
      CAPTURE(budget);
      CAPTURE(cc.h);
      CAPTURE(cc.w);
      CAPTURE(cc.k);
      CAPTURE(cc.stride);
      context<cpu> ctx;
      cpu_graph g(ctx);
      const value x = g.input({cc.n, cc.c, cc.h, cc.w}), w = g.input({cc.o, cc.c, cc.k, cc.k});
      const value b = cc.bias ? g.input({cc.o}) : value{};
      set_random(g, x, 1);
      set_random(g, w, 2);
      if (cc.bias) set_random(g, b, 3);
      const value y = autograd::conv2d(g, x, w, b, cc.stride);
      CHECK(g.shape_of(y) == shape{cc.n, cc.o, cc.h / cc.stride, cc.w / cc.stride});
      g.forward();
      const auto expected =
          naive_conv2d(g.value_of(x).data(), g.value_of(w).data(), cc.bias ? g.value_of(b).data() : nullptr, cc.n, cc.c,
                       cc.h, cc.w, cc.o, cc.k, cc.stride);
      const auto Y = g.value_of(y);
      REQUIRE(Y.size() == expected.size());
      double err = 0;
      for (std::size_t i = 0; i < expected.size(); ++i)
        err = std::max(err, static_cast<double>(std::fabs(static_cast<long double>(Y[i]) - expected[i])));
      CHECK(err < 1e-13);
    }
  autograd::detail::conv_chunk_bytes = saved;
}

TEST_CASE("unet ops: conv2d's layout kernels agree at a GPU's blocking (one row per call) and cpu's (whole planes)") {
  // The cpu suite runs conv2d with whole planes per call; a GPU runs one row per call. Both blockings of each layout
  // kernel, run here on the host, must write the same values: im2col against its definition, col2im per row
  // against per plane.
  namespace k = autograd::kernels;
  struct geometry_case {
    std::size_t n, c, h, w, k, stride;
  };
  for (const auto& gc : std::vector<geometry_case>{
           {2, 3, 4, 6, 3, 1}, {2, 2, 4, 6, 3, 2}, {1, 2, 2, 4, 5, 2}, {3, 1, 5, 3, 5, 1}, {2, 2, 8, 8, 1, 1}}) {
    CAPTURE(gc.h);
    CAPTURE(gc.w);
    CAPTURE(gc.k);
    CAPTURE(gc.stride);
    const std::size_t ho = gc.h / gc.stride, wo = gc.w / gc.stride, taps = gc.c * gc.k * gc.k;
    const std::size_t ld = gc.n * ho * wo + 3;  // a padded row stride, as conv2d may use
    const k::conv_geometry geo{
        gc.n, gc.c, gc.h, gc.w, gc.k, gc.stride, ho, wo, gc.h - (gc.k / 2) % gc.h, gc.w - (gc.k / 2) % gc.w, ld};
    const auto x = attractor_test::random_vector<double>(gc.n * gc.c * gc.h * gc.w, 11);
    std::vector<double> by_row(taps * ld, -7.0), by_plane(taps * ld, -7.0);
    const k::im2col_circular<double> rows{by_row.data(), x.data(), geo, false},
        planes{by_plane.data(), x.data(), geo, true};
    for (std::size_t i = 0; i < rows.items(); ++i) rows(i);
    for (std::size_t i = 0; i < planes.items(); ++i) planes(i);
    const auto half = static_cast<long long>(gc.k / 2);
    std::size_t mismatches = 0;
    for (std::size_t c = 0; c < gc.c; ++c)
      for (std::size_t dy = 0; dy < gc.k; ++dy)
        for (std::size_t dx = 0; dx < gc.k; ++dx)
          for (std::size_t n = 0; n < gc.n; ++n)
            for (std::size_t oy = 0; oy < ho; ++oy)
              for (std::size_t ox = 0; ox < wo; ++ox) {
                const std::size_t iy = wrap(static_cast<long long>(gc.stride * oy + dy) - half, gc.h);
                const std::size_t ix = wrap(static_cast<long long>(gc.stride * ox + dx) - half, gc.w);
                const double expected = x[((n * gc.c + c) * gc.h + iy) * gc.w + ix];
                const std::size_t at = ((c * gc.k + dy) * gc.k + dx) * ld + (n * ho + oy) * wo + ox;
                mismatches += (by_row[at] != expected) + (by_plane[at] != expected);
              }
    CHECK(mismatches == 0);

    // col2im: the same sums whether a call takes one row or a whole plane, overwriting and adding.
    const auto dcol = attractor_test::random_vector<double>(taps * ld, 12);
    for (const bool accumulate : {false, true}) {
      std::vector<double> dx_row(x.size(), 0.5), dx_plane(x.size(), 0.5);
      const k::col2im_circular<double> one{dx_row.data(), dcol.data(), geo, accumulate, 1};
      const k::col2im_circular<double> whole{dx_plane.data(), dcol.data(), geo, accumulate, gc.h};
      for (std::size_t i = 0; i < gc.n * gc.c * gc.h; ++i) one(i);
      for (std::size_t i = 0; i < gc.n * gc.c; ++i) whole(i);
      CHECK(dx_row == dx_plane);
    }
  }
}

TEST_CASE("unet ops: conv2d in float and a second forward give the same values") {
  context<cpu> ctx;
  graph<float, cpu> g(ctx);
  const value x = g.input({2, 3, 4, 6}), w = g.input({4, 3, 3, 3}), b = g.input({4});
  set_random(g, x, 4);
  set_random(g, w, 5);
  set_random(g, b, 6);
  const value y = autograd::conv2d(g, x, w, b, 1);
  g.forward();
  std::vector<double> xd(g.value_of(x).begin(), g.value_of(x).end()), wd(g.value_of(w).begin(), g.value_of(w).end()),
      bd(g.value_of(b).begin(), g.value_of(b).end());
  const auto expected = naive_conv2d(xd.data(), wd.data(), bd.data(), 2, 3, 4, 6, 4, 3, 1);
  const std::vector<float> first(g.value_of(y).begin(), g.value_of(y).end());
  for (std::size_t i = 0; i < expected.size(); ++i)
    CHECK(std::fabs(static_cast<double>(first[i]) - static_cast<double>(expected[i])) < 1e-5);
  g.forward();
  for (std::size_t i = 0; i < first.size(); ++i) CHECK(g.value_of(y)[i] == first[i]);
}

TEST_CASE("unet ops: group_norm matches torch's GroupNorm formula") {
  const std::size_t n_ = 2, c_ = 6, h = 3, w = 2, spatial = h * w;
  for (std::size_t groups : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{6}}) {
    CAPTURE(groups);
    context<cpu> ctx;
    cpu_graph g(ctx);
    const value x = g.input({n_, c_, h, w}), gamma = g.input({c_}), beta = g.input({c_});
    set_random(g, x, 7, -2.0, 3.0);
    set_random(g, gamma, 8);
    set_random(g, beta, 9);
    const double eps = 1e-3;
    const value y = autograd::group_norm(g, x, groups, gamma, beta, eps);
    g.forward();
    const auto X = g.value_of(x), G = g.value_of(gamma), B = g.value_of(beta), Y = g.value_of(y);
    const std::size_t per = c_ / groups;
    double err = 0;
    for (std::size_t n = 0; n < n_; ++n)
      for (std::size_t gr = 0; gr < groups; ++gr) {
        long double mean = 0, var = 0;
        const std::size_t first = (n * c_ + gr * per) * spatial, count = per * spatial;
        for (std::size_t i = 0; i < count; ++i) mean += X[first + i];
        mean /= static_cast<long double>(count);
        for (std::size_t i = 0; i < count; ++i) var += (X[first + i] - mean) * (X[first + i] - mean);
        var /= static_cast<long double>(count);  // biased, as torch
        for (std::size_t i = 0; i < count; ++i) {
          const std::size_t ch = gr * per + i / spatial;
          const long double expected = (X[first + i] - mean) / std::sqrt(var + eps) * G[ch] + B[ch];
          err = std::max(err, static_cast<double>(std::fabs(expected - Y[first + i])));
        }
      }
    CHECK(err < 1e-13);
  }
}

TEST_CASE("unet ops: upsample_nearest, concat_channels, Fourier features and the leading-prefix broadcast") {
  context<cpu> ctx;
  cpu_graph g(ctx);
  const value x = g.input({2, 3, 2, 3}), other = g.input({2, 2, 2, 3}), t = g.input({4}), freq = g.input({3}),
              emb = g.input({2, 3, 1, 1});
  set_random(g, x, 10);
  set_random(g, other, 11);
  set_random(g, t, 12, 0.0, 1.0);
  set_random(g, freq, 13, -5.0, 5.0);
  set_random(g, emb, 14);
  const value up = autograd::upsample_nearest(g, x), up3 = autograd::upsample_nearest(g, x, 3);
  const value cat = autograd::concat_channels(g, x, other);
  const value ff = autograd::gaussian_fourier_features(g, t, freq);
  const value sum = autograd::add(g, x, emb), product = autograd::mul(g, x, emb);
  CHECK(g.shape_of(up) == shape{2, 3, 4, 6});
  CHECK(g.shape_of(up3) == shape{2, 3, 6, 9});
  CHECK(g.shape_of(cat) == shape{2, 5, 2, 3});
  CHECK(g.shape_of(ff) == shape{4, 6});
  g.forward();
  const auto X = g.value_of(x), O = g.value_of(other), T = g.value_of(t), F = g.value_of(freq), E = g.value_of(emb);
  for (std::size_t nc = 0; nc < 6; ++nc)
    for (std::size_t yy = 0; yy < 6; ++yy)
      for (std::size_t xx = 0; xx < 9; ++xx) {
        if (yy < 4 && xx < 6) CHECK(g.value_of(up)[(nc * 4 + yy) * 6 + xx] == X[(nc * 2 + yy / 2) * 3 + xx / 2]);
        CHECK(g.value_of(up3)[(nc * 6 + yy) * 9 + xx] == X[(nc * 2 + yy / 3) * 3 + xx / 3]);
      }
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 5; ++c)
      for (std::size_t p = 0; p < 6; ++p)
        CHECK(g.value_of(cat)[(n * 5 + c) * 6 + p] == (c < 3 ? X[(n * 3 + c) * 6 + p] : O[(n * 2 + c - 3) * 6 + p]));
  const long double two_pi = 6.283185307179586476925286766559L;
  for (std::size_t n = 0; n < 4; ++n)
    for (std::size_t j = 0; j < 3; ++j) {
      const long double theta = two_pi * F[j] * T[n];
      CHECK(std::fabs(g.value_of(ff)[n * 6 + j] - static_cast<double>(std::sin(theta))) < 1e-12);
      CHECK(std::fabs(g.value_of(ff)[n * 6 + 3 + j] - static_cast<double>(std::cos(theta))) < 1e-12);
    }
  for (std::size_t nc = 0; nc < 6; ++nc)
    for (std::size_t p = 0; p < 6; ++p) {
      CHECK(g.value_of(sum)[nc * 6 + p] == X[nc * 6 + p] + E[nc]);
      CHECK(g.value_of(product)[nc * 6 + p] == X[nc * 6 + p] * E[nc]);
    }
}

TEST_CASE("unet ops: bad arguments are refused when the graph is built") {
  context<cpu> ctx;
  cpu_graph g(ctx);
  const value x = g.input({2, 3, 4, 6}), w3 = g.input({4, 3, 3, 3}), b4 = g.input({4});
  // conv2d
  CHECK_THROWS_WITH_AS(autograd::conv2d(g, g.input({3, 4, 6}), w3),
                       doctest::Contains("autograd::conv2d: expected x of shape (N, C, H, W)"), attractor::error);
  CHECK_THROWS_WITH_AS(autograd::conv2d(g, x, g.input({4, 2, 3, 3})),
                       doctest::Contains("autograd::conv2d: expected weight of shape (O, 3, k, k)"), attractor::error);
  CHECK_THROWS_WITH_AS(autograd::conv2d(g, x, g.input({4, 3, 3, 2})),
                       doctest::Contains("expected weight of shape (O, 3, k, k)"), attractor::error);
  CHECK_THROWS_WITH_AS(autograd::conv2d(g, x, g.input({4, 3, 2, 2})),
                       doctest::Contains("autograd::conv2d: expected an odd kernel size k (1, 3, 5, ...), got 2"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::conv2d(g, x, w3, b4, 3),
                       doctest::Contains("autograd::conv2d: expected stride 1 or 2, got 3"), attractor::error);
  CHECK_THROWS_WITH_AS(autograd::conv2d(g, g.input({2, 3, 5, 6}), w3, b4, 2),
                       doctest::Contains("expected H and W positive and divisible by the stride 2, got x (2, 3, 5, 6)"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::conv2d(g, x, w3, g.input({3})),
                       doctest::Contains("autograd::conv2d: expected bias of shape (4), got (3)"), attractor::error);
  // group_norm
  const value gamma = g.input({3}), beta = g.input({3});
  CHECK_THROWS_WITH_AS(autograd::group_norm(g, g.input({6}), 1, gamma, beta),
                       doctest::Contains("autograd::group_norm: expected x of shape (N, C, ...) with C > 0"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::group_norm(g, g.input({2, 3, 0}), 1, gamma, beta),
                       doctest::Contains("with C > 0 and no empty axis after it"), attractor::error);
  CHECK_THROWS_WITH_AS(autograd::group_norm(g, x, 2, gamma, beta),
                       doctest::Contains("autograd::group_norm: expected a number of groups dividing the 3 channels, "
                                         "got 2"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::group_norm(g, x, 0, gamma, beta),
                       doctest::Contains("expected a number of groups dividing the 3 channels, got 0"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::group_norm(g, x, 3, b4, beta),
                       doctest::Contains("autograd::group_norm: expected gamma and beta of shape (3)"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::group_norm(g, x, 3, gamma, beta, 0.0),
                       doctest::Contains("autograd::group_norm: expected eps > 0"), attractor::error);
  // upsample_nearest, concat_channels, gaussian_fourier_features
  CHECK_THROWS_WITH_AS(autograd::upsample_nearest(g, g.input({3, 4, 6})),
                       doctest::Contains("autograd::upsample_nearest: expected x of shape (N, C, H, W)"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::upsample_nearest(g, x, 0),
                       doctest::Contains("autograd::upsample_nearest: expected a factor >= 1, got 0"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::concat_channels(g, x, g.input({2, 3, 4, 5})),
                       doctest::Contains("autograd::concat_channels: expected (N, Ca, ...) and (N, Cb, ...) tensors "
                                         "equal but for axis 1, got a (2, 3, 4, 6), b (2, 3, 4, 5)"),
                       attractor::error);
  CHECK_THROWS_AS(autograd::concat_channels(g, x, g.input({3, 3, 4, 6})), attractor::error);
  CHECK_THROWS_AS(autograd::concat_channels(g, x, g.input({2, 3, 24})), attractor::error);
  CHECK_THROWS_WITH_AS(autograd::gaussian_fourier_features(g, g.input({4, 1}), g.input({3})),
                       doctest::Contains("autograd::gaussian_fourier_features: expected times t of shape (N)"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(autograd::gaussian_fourier_features(g, g.input({4}), g.input({0})),
                       doctest::Contains("expected frequencies w of shape (D / 2), D / 2 > 0"), attractor::error);
  // The broadcasts: a prefix must be padded to a's rank, and a non-prefix is refused, listing the prefixes.
  CHECK_THROWS_WITH_AS(autograd::add(g, x, g.input({2, 3})),
                       doctest::Contains("autograd::add: expected b of shape (2, 3, 4, 6), (6), (4, 1), (3, 1, 1), "
                                         "(2, 1, 1, 1), (2, 3, 1, 1) or (2, 3, 4, 1), got (2, 3)"),
                       attractor::error);
  CHECK_THROWS_AS(autograd::mul(g, x, g.input({1, 3, 1, 1})), attractor::error);
}
