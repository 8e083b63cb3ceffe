// Helpers shared by the tests of the file formats (.npy, safetensors): temporary paths, hex literals, raw bytes.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "attractor/core/error.hpp"

namespace attractor_test {

using bytes = std::vector<unsigned char>;

/// A unique path under the system temporary directory, removed (recursively) on scope exit.
struct temp_path {
  std::filesystem::path path;
  temp_path() {
    static unsigned counter = 0;
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           attractor::detail::concat("attractor_test_", std::hex, rd(), "_", counter++, ".bin");
  }
  ~temp_path() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_path(const temp_path&) = delete;
  temp_path& operator=(const temp_path&) = delete;
};

inline bytes from_hex(std::initializer_list<const char*> parts) {
  bytes out;
  for (const char* p : parts)
    for (std::size_t i = 0; p[i] != '\0'; i += 2)
      out.push_back(static_cast<unsigned char>(std::stoi(std::string(p + i, 2), nullptr, 16)));
  return out;
}

inline void write_bytes(const std::filesystem::path& p, const bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(out.good());
}

inline bytes read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace attractor_test
