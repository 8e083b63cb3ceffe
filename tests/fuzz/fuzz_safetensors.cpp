// libFuzzer target for the safetensors reader: any input must either parse, with every F32/F64 tensor readable,
// or throw attractor::error. Anything else (a crash, a sanitizer report, another exception, a leak, a huge
// allocation) is a bug. Built with clang++ -fsanitize=fuzzer,address,undefined by tests/CMakeLists.txt.
//
// When ATTRACTOR_FUZZ_SEED_DIR is set, LLVMFuzzerInitialize first writes a few valid files there with
// save_safetensors (float, double, both, empty tensors, ranks 0 to 4, metadata), so the fuzzer starts from inputs
// that get past the header checks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attractor/io/safetensors.hpp"

namespace {

void write_seeds(const std::filesystem::path& dir) {
  using attractor::cpu;
  using attractor::shape;
  using attractor::tensor;
  std::filesystem::create_directories(dir);
  tensor<float, cpu> w(shape{3, 2}), b(shape{3}), e(shape{0, 4}), k(shape{1, 2, 1, 2});
  tensor<double, cpu> s(shape{}), d(shape{2, 2});
  float v = 0.25f;
  for (auto* t : {&w, &b, &e, &k})
    for (auto& x : *t) x = (v *= -1.5f);
  s[0] = 2.5;
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = 0.1 * static_cast<double>(i);
  using attractor::save_safetensors;
  save_safetensors(dir / "seed_f32.safetensors", {{"inp.weight", w}, {"inp.bias", b}});
  save_safetensors(dir / "seed_mixed.safetensors",
                   {{"blocks.0.film.weight", k}, {"scale", s}, {"cov", d}, {"empty", e}},
                   {{"format", "pt"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}});
  save_safetensors(dir / "seed_f64.safetensors", {{"x", d}});
  save_safetensors(dir / "seed_empty.safetensors", std::vector<std::pair<std::string, attractor::safetensors_view>>{});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("ATTRACTOR_FUZZ_SEED_DIR"); dir != nullptr && *dir != '\0') write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto file = attractor::safetensors_file::parse(std::as_bytes(std::span(data, size)));
    for (const auto& name : file.names()) {
      const auto& info = file.info(name);
      if (info.extents.size() > attractor::max_rank) continue;
      (void)file.shape(name);
      if (info.dtype == "F32") (void)file.get<float>(name);
      if (info.dtype == "F64") (void)file.get<double>(name);
    }
    (void)file.metadata();
  } catch (const attractor::error&) {
    // Rejected cleanly: what the reader must do with bad input.
  }
  return 0;
}
