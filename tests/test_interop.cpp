// Conversions between tensors and xtensor / Eigen: values, shapes, layouts and views.
#include "attractor/tensor/eigen.hpp"
#include "attractor/tensor/xtensor.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xmanipulation.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

namespace {

using attractor::cpu;
using attractor::shape;
using attractor::tensor;

template <class T>
tensor<T, cpu> iota_tensor(const shape& s) {
  tensor<T, cpu> t(s);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(i % 200 + 1);
  return t;
}

// Views of a temporary tensor would dangle: those overloads are deleted.
template <class X>
concept adaptable = requires(X&& x) {
  attractor::adapt(std::forward<X>(x));
};
template <class X>
concept eigen_mappable = requires(X&& x) {
  attractor::as_eigen(std::forward<X>(x));
};
static_assert(adaptable<tensor<float, cpu>&> && !adaptable<tensor<float, cpu>>);
static_assert(eigen_mappable<const tensor<float, cpu>&> && !eigen_mappable<tensor<float, cpu>>);

}  // namespace

TEST_CASE_TEMPLATE("xtensor: to_xarray and from_xarray round-trip values and shapes", T, float, double, std::int32_t,
                   std::int64_t, std::uint32_t, std::uint8_t) {
  const std::vector<shape> shapes = {{}, {0}, {5}, {3, 0}, {2, 3}, {2, 3, 4}, {1, 3, 1, 2}, {2, 0, 1, 3}};
  for (const auto& s : shapes) {
    CAPTURE(s);
    const auto t = iota_tensor<T>(s);
    const xt::xarray<T> x = attractor::to_xarray(t);
    REQUIRE(x.dimension() == s.rank());
    for (std::size_t i = 0; i < s.rank(); ++i) CHECK(x.shape()[i] == s[i]);
    CHECK(std::equal(t.begin(), t.end(), x.begin(), x.end()));
    const auto u = attractor::from_xarray(x);
    static_assert(std::is_same_v<decltype(u), const tensor<T, cpu>>);
    CHECK(u.shape() == s);
    CHECK(std::equal(t.begin(), t.end(), u.begin(), u.end()));
  }
}

TEST_CASE("xtensor: element positions agree, and non-row-major expressions are read in row-major order") {
  auto t = iota_tensor<double>(shape{2, 3, 4});
  const auto x = attractor::to_xarray(t.view());  // from a mutable view
  CHECK(x(1, 2, 3) == t.at(1, 2, 3));
  CHECK(x(0, 1, 2) == t.at(0, 1, 2));

  SUBCASE("a transposed expression") {
    const xt::xarray<double> a = {{1, 2, 3}, {4, 5, 6}};
    const auto u = attractor::from_xarray(xt::transpose(a));
    REQUIRE(u.shape() == shape{3, 2});
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 2; ++j) CHECK(u.at(i, j) == a(j, i));
  }
  SUBCASE("a column-major container") {
    xt::xarray<float, xt::layout_type::column_major> a = {{1, 2, 3}, {4, 5, 6}};
    const auto u = attractor::from_xarray(a);
    REQUIRE(u.shape() == shape{2, 3});
    const float want[] = {1, 2, 3, 4, 5, 6};
    CHECK(std::equal(u.begin(), u.end(), std::begin(want), std::end(want)));
  }
  SUBCASE("a strided view and a fixed-rank xtensor") {
    const xt::xtensor<std::int32_t, 2> a = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    const auto u = attractor::from_xarray(xt::view(a, xt::range(0, 3, 2), xt::range(1, 4, 2)));
    REQUIRE(u.shape() == shape{2, 2});
    CHECK(u.at(0, 0) == 2);
    CHECK(u.at(0, 1) == 4);
    CHECK(u.at(1, 0) == 10);
    CHECK(u.at(1, 1) == 12);
  }
  SUBCASE("rank above 4 throws") {
    const auto a = xt::xarray<double>::from_shape({1, 2, 1, 2, 1});
    try {
      (void)attractor::from_xarray(a);
      FAIL("no exception");
    } catch (const attractor::error& e) {
      const std::string msg = e.what();
      CHECK(msg.find("from_xarray") != std::string::npos);
      CHECK(msg.find("rank <= 4") != std::string::npos);
      CHECK(msg.find("got 5") != std::string::npos);
    }
  }
}

TEST_CASE("xtensor: adapt is a non-owning view that writes through") {
  auto t = iota_tensor<float>(shape{2, 3});
  auto a = attractor::adapt(t);
  REQUIRE(a.dimension() == 2);
  CHECK(a.shape()[0] == 2);
  CHECK(a.shape()[1] == 3);
  CHECK(a(1, 2) == t.at(1, 2));
  a(1, 2) = -4.0f;
  CHECK(t.at(1, 2) == -4.0f);
  a += 1.0f;  // xtensor arithmetic on the adaptor
  CHECK(t.at(0, 0) == 2.0f);

  const auto& ct = t;
  const auto c = attractor::adapt(ct);
  CHECK(c(1, 2) == -3.0f);
  CHECK(xt::sum(attractor::adapt(t.row(0)))() == 2.0f + 3.0f + 4.0f);  // small integers: the sum is exact
}

TEST_CASE_TEMPLATE("eigen: as_eigen maps rank-2 row-major and rank-1 as a column, and writes through", T, float, double,
                   std::int32_t, std::int64_t, std::uint32_t, std::uint8_t) {
  auto t = iota_tensor<T>(shape{3, 4});
  auto m = attractor::as_eigen(t);
  static_assert(std::is_same_v<decltype(m), Eigen::Map<attractor::eigen_matrix<T>>>);
  REQUIRE(m.rows() == 3);
  REQUIRE(m.cols() == 4);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      CHECK(m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) == t.at(i, j));
  m(2, 1) = T(7);
  CHECK(t.at(2, 1) == T(7));

  const auto& ct = t;
  const auto cm = attractor::as_eigen(ct);
  static_assert(std::is_same_v<decltype(cm), const Eigen::Map<const attractor::eigen_matrix<T>>>);
  CHECK(cm(2, 1) == T(7));

  auto v = attractor::as_eigen(t.row(1));
  CHECK(v.rows() == 4);
  CHECK(v.cols() == 1);
  CHECK(v(3, 0) == t.at(1, 3));

  // from_eigen(as_eigen(t)) is a copy of t.
  const auto u = attractor::from_eigen(m);
  CHECK(u.shape() == t.shape());
  CHECK(std::equal(t.begin(), t.end(), u.begin(), u.end()));
  CHECK(u.data() != t.data());
}

TEST_CASE("eigen: from_eigen respects storage order and evaluates expressions") {
  Eigen::MatrixXd col(2, 3);  // column-major by default
  col << 1, 2, 3, 4, 5, 6;
  const auto t = attractor::from_eigen(col);
  REQUIRE(t.shape() == shape{2, 3});
  const double want[] = {1, 2, 3, 4, 5, 6};
  CHECK(std::equal(t.begin(), t.end(), std::begin(want), std::end(want)));

  const auto tt = attractor::from_eigen(col.transpose());
  REQUIRE(tt.shape() == shape{3, 2});
  CHECK(tt.at(2, 1) == 6.0);
  CHECK(tt.at(2, 0) == 3.0);

  const auto block = attractor::from_eigen(col.block(0, 1, 2, 2));
  CHECK(block.shape() == shape{2, 2});
  CHECK(block.at(1, 1) == 6.0);

  Eigen::VectorXf vec(3);
  vec << 1, 2, 3;
  CHECK(attractor::from_eigen(vec).shape() == shape{3, 1});
  CHECK(attractor::from_eigen(Eigen::MatrixXi(0, 4)).shape() == shape{0, 4});

  // Round trip through a column-major copy and back.
  const Eigen::MatrixXd back = attractor::as_eigen(t);
  CHECK(back == col);
}

TEST_CASE("eigen: as_eigen rejects ranks other than 1 and 2") {
  auto t = iota_tensor<double>(shape{2, 2, 2});
  try {
    (void)attractor::as_eigen(t);
    FAIL("no exception");
  } catch (const attractor::error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("as_eigen") != std::string::npos);
    CHECK(msg.find("rank 3") != std::string::npos);
    CHECK(msg.find("(2, 2, 2)") != std::string::npos);
  }
  tensor<double, cpu> scalar(shape{});
  CHECK_THROWS_AS((void)attractor::as_eigen(scalar), attractor::error);
}
