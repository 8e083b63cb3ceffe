// Philox4x32-10: the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy
// as 1, 2, 3" (SC11), as in Random123. A draw is a pure function of (key, counter), so any backend can compute
// element i without having seen elements 0..i-1: the same seed gives the same numbers on cpu and cuda, for any
// thread count or launch configuration.
//
// Layout: key = seed (low word, high word); counter = (block low, block high, stream low, stream high), where
// block = offset + b for the b-th block of a fill. Each block is 4 x uint32 and yields 4 floats or 2 doubles
// (uniform or normal), so element i of a fill comes from block i / k, lane i % k (k = 4 for float, 2 for
// double) and depends only on (seed, stream, offset, i).
//
// The block function and the conversions are pure integer/floating arithmetic marked ATTRACTOR_HOST_DEVICE (no
// intrinsics), so this header compiles under g++ and nvcc alike. Uniform values are bit-identical across
// backends; normals go through log/sqrt/sin/cos, whose host and device implementations may differ in the last
// few ulps, as may low + (high - low) * u where nvcc contracts it into an FMA.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor {

// ---------------------------------------------------------------------------------------------------------------
// The block function
// ---------------------------------------------------------------------------------------------------------------

/// Four 32-bit words: a Philox counter, and also the shape of one output block.
struct philox_counter {
  std::uint32_t v[4];
};

/// Two 32-bit words: a Philox key.
struct philox_key {
  std::uint32_t v[2];
};

namespace detail {

/// One Philox round: two 32x32->64 multiplies (hi and lo halves) and a Feistel-like mix with the round key.
/// A plain 64-bit product gives mulhi identically on host and device without __umulhi.
ATTRACTOR_HOST_DEVICE constexpr philox_counter philox4x32_round(const philox_counter& c, const philox_key& k) {
  const std::uint64_t p0 = std::uint64_t{0xD2511F53u} * c.v[0];
  const std::uint64_t p1 = std::uint64_t{0xCD9E8D57u} * c.v[2];
  return {{static_cast<std::uint32_t>(p1 >> 32) ^ c.v[1] ^ k.v[0], static_cast<std::uint32_t>(p1),
           static_cast<std::uint32_t>(p0 >> 32) ^ c.v[3] ^ k.v[1], static_cast<std::uint32_t>(p0)}};
}

}  // namespace detail

/// Philox4x32 with R rounds; R = 10 is the standard (Crush-resistant with a safety margin) choice. The key is
/// bumped by the Weyl constants (golden ratio, sqrt(3) - 1) between rounds; unsigned arithmetic wraps mod 2^32.
template <unsigned Rounds = 10>
ATTRACTOR_HOST_DEVICE constexpr philox_counter philox4x32(philox_counter counter, philox_key key) {
  for (unsigned r = 0; r < Rounds; ++r) {
    if (r != 0) {
      key.v[0] += 0x9E3779B9u;
      key.v[1] += 0xBB67AE85u;
    }
    counter = detail::philox4x32_round(counter, key);
  }
  return counter;
}

/// Philox4x32-10, the variant whose Random123 known answers the tests check.
ATTRACTOR_HOST_DEVICE constexpr philox_counter philox4x32_10(const philox_counter& counter, const philox_key& key) {
  return philox4x32<10>(counter, key);
}

// ---------------------------------------------------------------------------------------------------------------
// Conversions from bits to numbers
// ---------------------------------------------------------------------------------------------------------------

/// Uniform float in the open interval (0, 1) from one word: the midpoint (k + 1/2) 2^-23 of one of 2^23 equal
/// bins, k = the top 23 bits. Midpoints keep 0 and 1 out (Box-Muller takes log(u)) and the grid symmetric under
/// u -> 1 - u; 2k + 1 < 2^24 fits a float's 24-bit significand, so the value is exact. (A 24-bit midpoint grid
/// would need 25 bits and round its top bin to 1.)
ATTRACTOR_HOST_DEVICE constexpr float uniform_float(std::uint32_t x) {
  return static_cast<float>(((x >> 9) << 1) | 1u) * 0x1p-24f;
}

/// Uniform double in (0, 1) from two words (hi first): the midpoint (k + 1/2) 2^-52 with k = the top 52 of the
/// 64 bits, exact in a double's 53-bit significand for the same reason as uniform_float.
ATTRACTOR_HOST_DEVICE constexpr double uniform_double(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = (std::uint64_t{hi} << 32) | lo;
  return static_cast<double>(((bits >> 12) << 1) | 1u) * 0x1p-53;
}

/// Values one Philox block yields: 4 floats (one word each) or 2 doubles (two words each).
template <floating_scalar Scalar>
ATTRACTOR_HOST_DEVICE constexpr unsigned philox_values_per_block() {
  return std::is_same_v<Scalar, float> ? 4u : 2u;
}

/// Blocks a fill of n values consumes: ceil(n / values per block), written to avoid overflow near SIZE_MAX.
template <floating_scalar Scalar>
constexpr std::uint64_t philox_blocks(std::size_t n) {
  constexpr std::size_t k = philox_values_per_block<Scalar>();
  return static_cast<std::uint64_t>(n / k + (n % k != 0));
}

/// Uniform (0, 1) values of one block: the first `count` (<= values per block) are written to out.
template <floating_scalar Scalar>
ATTRACTOR_HOST_DEVICE inline void uniform_block(const philox_counter& counter, const philox_key& key, Scalar* out,
                                                unsigned count) {
  const philox_counter w = philox4x32_10(counter, key);
  if constexpr (std::is_same_v<Scalar, float>) {
    for (unsigned j = 0; j < count && j < 4; ++j) out[j] = uniform_float(w.v[j]);
  } else {
    if (count > 0) out[0] = uniform_double(w.v[0], w.v[1]);
    if (count > 1) out[1] = uniform_double(w.v[2], w.v[3]);
  }
}

/// Standard normal values of one block by Box-Muller: each pair of uniforms (u, v) gives r cos(2 pi v) and
/// r sin(2 pi v) with r = sqrt(-2 log u). Box-Muller rather than a rejection method because it takes a fixed
/// number of words per value, which is what lets element i be computed independently of the others. The first
/// `count` (<= values per block) are written to out.
template <floating_scalar Scalar>
ATTRACTOR_HOST_DEVICE inline void normal_block(const philox_counter& counter, const philox_key& key, Scalar* out,
                                               unsigned count) {
  const philox_counter w = philox4x32_10(counter, key);
  constexpr Scalar two_pi = static_cast<Scalar>(6.283185307179586476925286766559);
  Scalar u[2];
  Scalar v[2];
  unsigned pairs = 0;
  if constexpr (std::is_same_v<Scalar, float>) {
    u[0] = uniform_float(w.v[0]);
    v[0] = uniform_float(w.v[1]);
    u[1] = uniform_float(w.v[2]);
    v[1] = uniform_float(w.v[3]);
    pairs = 2;
  } else {
    u[0] = uniform_double(w.v[0], w.v[1]);
    v[0] = uniform_double(w.v[2], w.v[3]);
    pairs = 1;
  }
  for (unsigned p = 0; p < pairs; ++p) {
    const Scalar r = std::sqrt(Scalar(-2) * std::log(u[p]));
    const Scalar theta = two_pi * v[p];
    if (2 * p < count) out[2 * p] = r * std::cos(theta);
    if (2 * p + 1 < count) out[2 * p + 1] = r * std::sin(theta);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------------------------

/// A Philox4x32-10 stream: (seed, stream, offset). It holds no buffered state, only the position, so it is
/// cheap to copy into a kernel and a copy made at any point reproduces what follows. `offset` counts 128-bit
/// blocks; every fill advances it by the blocks it consumed so that consecutive fills never overlap. Different
/// `stream` values give independent sequences for the same seed (e.g. one per ensemble member or per rank). Not
/// thread-safe: one generator per thread, or a distinct stream each.
class philox {
public:
  constexpr philox() = default;
  constexpr explicit philox(std::uint64_t seed, std::uint64_t stream = 0, std::uint64_t offset = 0)
      : seed_(seed), stream_(stream), offset_(offset) {}

  [[nodiscard]] constexpr std::uint64_t seed() const { return seed_; }
  [[nodiscard]] constexpr std::uint64_t stream() const { return stream_; }
  [[nodiscard]] constexpr std::uint64_t offset() const { return offset_; }
  constexpr void set_offset(std::uint64_t blocks) { offset_ = blocks; }
  /// Skips `blocks` blocks; wraps mod 2^64 like the counter itself.
  constexpr void advance(std::uint64_t blocks) { offset_ += blocks; }

  ATTRACTOR_HOST_DEVICE constexpr philox_key key() const {
    return {{static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32)}};
  }
  /// The counter of block `b` after the current offset.
  ATTRACTOR_HOST_DEVICE constexpr philox_counter counter(std::uint64_t b) const {
    const std::uint64_t block = offset_ + b;
    return {{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
             static_cast<std::uint32_t>(stream_), static_cast<std::uint32_t>(stream_ >> 32)}};
  }
  /// The four raw words of block `b` after the current offset.
  ATTRACTOR_HOST_DEVICE constexpr philox_counter block(std::uint64_t b) const {
    return philox4x32_10(counter(b), key());
  }

  friend constexpr bool operator==(const philox&, const philox&) = default;

private:
  std::uint64_t seed_ = 0;
  std::uint64_t stream_ = 0;
  std::uint64_t offset_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// Fills, written once for every backend on for_each_index
// ---------------------------------------------------------------------------------------------------------------

namespace detail {

enum class philox_distribution { uniform, normal };

/// for_each_index functor: index b = block b, which writes shift + scale * v for the values v of block b into
/// elements [k b, k b + k), clipped to n. Named structs, not lambdas, so that nvcc needs no --extended-lambda. One
/// block per index means no block is computed twice.
template <class Scalar, philox_distribution Distribution>
struct philox_fill_kernel {
  philox gen;
  Scalar* out;
  std::size_t n;
  Scalar shift;
  Scalar scale;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t b) const {
    constexpr unsigned k = philox_values_per_block<Scalar>();
    const std::size_t first = b * k;
    const unsigned count = n - first < k ? static_cast<unsigned>(n - first) : k;
    Scalar values[k];
    if constexpr (Distribution == philox_distribution::uniform) {
      uniform_block(gen.counter(b), gen.key(), values, count);
    } else {
      normal_block(gen.counter(b), gen.key(), values, count);
    }
    for (unsigned j = 0; j < count; ++j) out[first + j] = shift + scale * values[j];
  }
};

}  // namespace detail

/// out[i] = low + (high - low) u_i with u_i uniform in (0, 1), for i in [0, n), on the backend that owns out.
/// Advances gen by philox_blocks<Scalar>(n). Throws attractor::error unless low < high, both finite and
/// high - low finite, and out is non-null when n > 0.
template <class Backend, floating_scalar Scalar>
void fill_uniform(context<Backend>& ctx, philox& gen, Scalar* out, std::size_t n,
                  std::type_identity_t<Scalar> low = Scalar(0), std::type_identity_t<Scalar> high = Scalar(1)) {
  require(std::isfinite(low) && std::isfinite(high) && low < high && std::isfinite(high - low), "fill_uniform",
          "finite bounds with low < high", detail::text("low = ", low, ", high = ", high));
  require(out != nullptr || n == 0, "fill_uniform", "a non-null output for n > 0", detail::text("n = ", n));
  if (n == 0) return;
  const std::uint64_t blocks = philox_blocks<Scalar>(n);
  for_each_index(
      ctx, static_cast<std::size_t>(blocks),
      detail::philox_fill_kernel<Scalar, detail::philox_distribution::uniform>{gen, out, n, low, high - low});
  gen.advance(blocks);
}

/// out[i] = mean + stddev z_i with z_i standard normal, for i in [0, n), on the backend that owns out.
/// Advances gen by philox_blocks<Scalar>(n). Throws attractor::error unless mean is finite, stddev finite and
/// >= 0, and out is non-null when n > 0.
template <class Backend, floating_scalar Scalar>
void fill_normal(context<Backend>& ctx, philox& gen, Scalar* out, std::size_t n,
                 std::type_identity_t<Scalar> mean = Scalar(0), std::type_identity_t<Scalar> stddev = Scalar(1)) {
  require(std::isfinite(mean), "fill_normal", "a finite mean", mean);
  require(std::isfinite(stddev) && stddev >= 0, "fill_normal", "a finite stddev >= 0", stddev);
  require(out != nullptr || n == 0, "fill_normal", "a non-null output for n > 0", detail::text("n = ", n));
  if (n == 0) return;
  const std::uint64_t blocks = philox_blocks<Scalar>(n);
  for_each_index(ctx, static_cast<std::size_t>(blocks),
                 detail::philox_fill_kernel<Scalar, detail::philox_distribution::normal>{gen, out, n, mean, stddev});
  gen.advance(blocks);
}

/// Fills every element of a view (in flat, row-major order) as the pointer overload does.
template <class Backend, floating_scalar Scalar>
void fill_uniform(context<Backend>& ctx, philox& gen, tensor_view<Scalar, Backend> out,
                  std::type_identity_t<Scalar> low = Scalar(0), std::type_identity_t<Scalar> high = Scalar(1)) {
  fill_uniform(ctx, gen, out.data(), out.size(), low, high);
}

template <class Backend, floating_scalar Scalar>
void fill_normal(context<Backend>& ctx, philox& gen, tensor_view<Scalar, Backend> out,
                 std::type_identity_t<Scalar> mean = Scalar(0), std::type_identity_t<Scalar> stddev = Scalar(1)) {
  fill_normal(ctx, gen, out.data(), out.size(), mean, stddev);
}

/// Owning tensors too: a tensor does not convert to a view during template argument deduction.
template <class Backend, floating_scalar Scalar>
void fill_uniform(context<Backend>& ctx, philox& gen, tensor<Scalar, Backend>& out,
                  std::type_identity_t<Scalar> low = Scalar(0), std::type_identity_t<Scalar> high = Scalar(1)) {
  fill_uniform(ctx, gen, out.view(), low, high);
}

template <class Backend, floating_scalar Scalar>
void fill_normal(context<Backend>& ctx, philox& gen, tensor<Scalar, Backend>& out,
                 std::type_identity_t<Scalar> mean = Scalar(0), std::type_identity_t<Scalar> stddev = Scalar(1)) {
  fill_normal(ctx, gen, out.view(), mean, stddev);
}

}  // namespace attractor
