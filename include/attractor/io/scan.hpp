// The strict integer scanner shared by the file formats' header parsers (.npy's Python dict, safetensors' JSON).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace attractor::detail {

/// The outcome of scan_uint64: no digits at `pos`, digits whose value overflows 64 bits, or a value.
enum class scanned { no_digits, overflow, value };

/// Reads the decimal digits of `text` from `pos` as an unsigned 64-bit value into `v`, advancing `pos` past them.
/// Nothing else is accepted (no sign, space or suffix: each format decides what may follow). On overflow `pos` is
/// left at the first digit, so that a message can point there.
inline scanned scan_uint64(std::string_view text, std::size_t& pos, std::uint64_t& v) {
  const std::size_t start = pos;
  v = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    const auto d = static_cast<std::uint64_t>(text[pos] - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      pos = start;
      return scanned::overflow;
    }
    v = v * 10 + d;
    ++pos;
  }
  return pos == start ? scanned::no_digits : scanned::value;
}

}  // namespace attractor::detail
