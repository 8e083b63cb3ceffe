// Scalar traits: which scalar types the library computes in, and their names in file formats.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

namespace attractor {

/// The floating-point types every numerical kernel supports.
template <class Scalar>
concept floating_scalar = std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>;

/// Element types a tensor may hold: the floating scalars plus the integer types used for indices and keys.
template <class T>
concept tensor_element = floating_scalar<T> || std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::uint8_t>;

template <class T>
struct scalar_traits;

template <>
struct scalar_traits<float> {
  static constexpr const char* name = "float32";
  static constexpr const char* npy_descr = "<f4";
  static constexpr float epsilon = std::numeric_limits<float>::epsilon();
};
template <>
struct scalar_traits<double> {
  static constexpr const char* name = "float64";
  static constexpr const char* npy_descr = "<f8";
  static constexpr double epsilon = std::numeric_limits<double>::epsilon();
};
template <>
struct scalar_traits<std::int32_t> {
  static constexpr const char* name = "int32";
  static constexpr const char* npy_descr = "<i4";
};
template <>
struct scalar_traits<std::int64_t> {
  static constexpr const char* name = "int64";
  static constexpr const char* npy_descr = "<i8";
};
template <>
struct scalar_traits<std::uint32_t> {
  static constexpr const char* name = "uint32";
  static constexpr const char* npy_descr = "<u4";
};
template <>
struct scalar_traits<std::uint8_t> {
  static constexpr const char* name = "uint8";
  static constexpr const char* npy_descr = "|u1";
};

}  // namespace attractor
