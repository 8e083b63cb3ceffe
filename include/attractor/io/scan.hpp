// What the file formats' header parsers (.npy's Python dict, safetensors' JSON) share: a read position in the header
// text with its whitespace, look-ahead and punctuation, and the strict integer scanner.
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

/// A read position in a header's text, for a recursive-descent parser to derive from: every read is bounds-checked.
/// `fn` names the public function whose messages the parser's errors carry.
class text_cursor {
protected:
  text_cursor(std::string_view text, std::string_view fn) : text_(text), fn_(fn) {}

  /// Skips spaces, tabs and line breaks (JSON's whitespace); returns the position after them.
  std::size_t skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
    return pos_;
  }
  [[nodiscard]] char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  /// Consumes `c` after any whitespace, if it is there.
  bool accept(char c) {
    skip_space();
    if (pos_ == text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  std::string_view text_;
  std::string_view fn_;
  std::size_t pos_ = 0;
};

}  // namespace attractor::detail
