// Philox on cuda: the known-answer vectors computed on the GPU, and the same (seed, stream, offset) giving the same
// draws as on cpu: bit-identical uniforms on (0, 1); normals within a few ulps (device log/sin/cos differ).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "attractor/backend.hpp"
#include "attractor/random.hpp"
#include "cuda/harness.hpp"

using namespace attractor_test;

TEST_CASE("cuda philox reproduces the Random123 known-answer vectors") {
  struct kat {
    std::uint64_t seed, stream, offset;
    std::uint32_t expected[4];
  };
  // Counter words (c0, c1, c2, c3) = (offset lo, offset hi, stream lo, stream hi); key words = (seed lo, seed hi).
  const kat kats[] = {
      {0, 0, 0, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {~0ull, ~0ull, ~0ull, {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {0x299f31d0a4093822ull,
       0x0370734413198a2eull,
       0x85a308d3243f6a88ull,
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const kat& k : kats) {
    std::uint32_t words[4] = {};
    cuda_philox_words(k.seed, k.stream, k.offset, words, 1);
    for (int j = 0; j < 4; ++j) CHECK(words[j] == k.expected[j]);
  }
}

TEST_CASE_TEMPLATE("cuda and cpu fills agree for the same seed, stream and offset", Scalar, float, double) {
  attractor::context<attractor::cpu> host;
  const std::size_t n = (std::size_t{1} << 20) + 3;                         // not a whole number of blocks
  const std::uint64_t seed = 20231121, stream = 7, offset = 0xFFFFFFF0ull;  // crosses the 32-bit counter word
  std::vector<Scalar> gpu(n), cpu(n);

  cuda_fill_uniform<Scalar>(seed, stream, offset, gpu.data(), n, Scalar(0), Scalar(1));
  attractor::philox gen(seed, stream, offset);
  attractor::fill_uniform(host, gen, cpu.data(), n);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < n; ++i) differing += gpu[i] != cpu[i];
  CHECK(differing == 0);

  cuda_fill_normal<Scalar>(seed, stream, offset, gpu.data(), n, Scalar(0), Scalar(1));
  attractor::philox gen2(seed, stream, offset);
  attractor::fill_normal(host, gen2, cpu.data(), n);
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double ulp = std::numeric_limits<Scalar>::epsilon() * std::max(1.0, std::abs(double(cpu[i])));
    worst = std::max(worst, std::abs(double(gpu[i]) - double(cpu[i])) / ulp);
  }
  MESSAGE("largest cpu/cuda difference of normal draws: ", worst, " ulp");
  CHECK(worst <= 16);
}
