// safetensors checkpoints (host side): the format of Hugging Face's `safetensors` package, which PyTorch users
// read with safetensors.torch.load_file and write with save_file.
//
// The format: an 8-byte little-endian uint64 N, then N bytes of UTF-8 JSON, then the data section. The JSON is an
// object mapping each tensor name to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, offsets in
// bytes from the start of the data section, plus an optional "__metadata__" object of string to string. Data are
// little-endian, row-major and tightly packed.
//
// Writing (save_safetensors; nn/checkpoint.hpp's save_parameters) produces the bytes the Python package writes: the
// tensors sorted by dtype (F64 before F32, as its descending-alignment order puts them) and then by name, laid out
// contiguously in that order; the JSON compact, "__metadata__" first, strings escaped as serde_json escapes them; the
// header padded with spaces to a multiple of 8 bytes. Only the order of several metadata keys can differ (Python's
// comes from a hash map; ours is sorted). The file is written to a temporary in the same directory and renamed into
// place, so an interrupted save never leaves a half-written checkpoint.
//
// Integrity: every file we write carries __metadata__["attractor.checksum"] = "fnv1a64:<16 lowercase hex digits>",
// the 64-bit FNV-1a hash (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of the data section's bytes. On
// load, when the key is present the hash is recomputed and a mismatch throws ("checksum mismatch: the file is
// corrupt"). Files written by PyTorch or the Python package have no such key and load without the check; their
// header is still validated in full. In Python: h = 0xcbf29ce484222325; for b in data: h = ((h ^ b) *
// 0x100000001b3) % 2**64.
//
// Reading (safetensors_file::read, ::parse) validates the whole file before any tensor is handed out, and never
// allocates more than the file's size or reads out of bounds, whatever the bytes:
// - N at most 100,000,000 (the reference implementation's limit) and no larger than what follows it in the file;
// - the header valid UTF-8 starting with '{' and well-formed JSON of exactly the shape above (no duplicate keys,
//   no other fields in a tensor entry, metadata values strings only, only whitespace after the object); the parser
//   is a fixed-depth recursive descent, so no input can make it recurse deeper;
// - each dtype one of the safetensors dtypes with whole-byte elements (BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0,
//   I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, C64), each begin <= end, end - begin equal to
//   product(shape) * sizeof(dtype) without overflow (and the shape's strides representable), and at most 64 extents;
// - the tensors, sorted by offsets, neither overlapping nor leaving gaps, covering the data section exactly: no
//   trailing bytes (the reference implementation requires the same).
// A file with tensors of other whole-byte dtypes (an I64 step counter, say) parses, and its names, shapes and
// dtypes can be listed; only get() and copy_into() read data, and they accept exactly F32 as float and F64 as
// double, never converting.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "attractor/backend/tags.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/io/file.hpp"
#include "attractor/io/scan.hpp"
#include "attractor/tensor/shape.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor {

// Data are copied as raw bytes; a big-endian host would need byte swapping, which is not implemented.
static_assert(std::endian::native == std::endian::little, "attractor safetensors I/O assumes a little-endian host");

namespace detail::safetensors {

/// The reference implementation's limit on the header length N.
inline constexpr std::uint64_t max_header_size = 100'000'000;
/// Longest shape accepted in a file (the library's tensors have rank <= 4; listing a file needs no more).
inline constexpr std::size_t max_extents = 64;
/// The metadata key holding the checksum of the data section.
inline constexpr std::string_view checksum_key = "attractor.checksum";
inline constexpr std::string_view checksum_prefix = "fnv1a64:";

/// Bytes per element of a safetensors dtype with whole-byte elements; 0 for any other string.
inline std::uint64_t element_size(std::string_view dtype) {
  static constexpr std::pair<std::string_view, std::uint64_t> table[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"F64", 8}, {"I64", 8}, {"U64", 8},     {"C64", 8}};
  for (const auto& [name, size] : table)
    if (name == dtype) return size;
  return 0;
}

template <floating_scalar S>
inline constexpr std::string_view dtype_name = std::is_same_v<S, float> ? "F32" : "F64";

/// "F32 (float)", "F64 (double)", or the dtype alone.
inline std::string describe(std::string_view dtype) {
  if (dtype == "F32") return "F32 (float)";
  if (dtype == "F64") return "F64 (double)";
  return std::string(dtype);
}

/// 64-bit FNV-1a, fed in pieces.
struct fnv1a64 {
  std::uint64_t state = 0xcbf29ce484222325ULL;
  void update(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = state;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    state = h;
  }
};

/// "fnv1a64:" followed by the hash as 16 lowercase hex digits.
inline std::string checksum_text(std::uint64_t hash) {
  std::string out(checksum_prefix);
  for (int shift = 60; shift >= 0; shift -= 4) out += "0123456789abcdef"[(hash >> shift) & 15];
  return out;
}

/// Position of the first byte that is not part of valid UTF-8 (no overlong forms, no surrogates, at most
/// U+10FFFF), or npos.
inline std::size_t invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;  // at most U+10FFFF
    } else {
      return i;
    }
    if (s.size() - i < len) return i;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      const auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xbf) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

/// Appends `s` as a JSON string, escaped exactly as serde_json (and so the Python package) escapes it.
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += "0123456789abcdef"[c >> 4];
          out += "0123456789abcdef"[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

/// "[2, 3]": a shape as the messages print it.
inline std::string extents_text(const std::vector<std::uint64_t>& extents) {
  std::string out = "[";
  for (std::size_t i = 0; i < extents.size(); ++i) out += concat(i ? ", " : "", extents[i]);
  return out + "]";
}

/// At most `limit` quoted names, then "and k more".
inline std::string names_text(const std::vector<std::string>& names, std::size_t limit = 8) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + quote(names[i], 60);
  if (names.size() > limit) out += concat(" and ", names.size() - limit, " more");
  return out;
}

/// One tensor entry of the header.
struct entry {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

struct header {
  std::vector<entry> tensors;  // in header order
  std::map<std::string, std::string> metadata;
};

/// Parser for exactly the JSON of a safetensors header. Recursion is fixed (object -> tensor entry -> array of
/// integers, or object -> metadata object of strings): no input makes it go deeper, and every read is bounds-checked.
class header_parser : text_cursor {
public:
  header_parser(std::string_view text, std::string_view fn) : text_cursor(text, fn) {}

  header parse() {
    if (const std::size_t bad = invalid_utf8(text_); bad != std::string_view::npos) {
      pos_ = bad;
      malformed("UTF-8 text");
    }
    if (text_.empty() || text_[0] != '{') malformed("'{' as the first byte of the header");
    pos_ = 1;
    header h;
    std::map<std::string, std::size_t, std::less<>> seen;  // tensor names
    bool seen_metadata = false;
    if (!accept('}')) {
      for (;;) {
        const std::size_t key_at = skip_space();
        std::string key = string("a quoted tensor name or \"__metadata__\"");
        expect(':', "':' after a key");
        if (key == "__metadata__") {
          if (seen_metadata) duplicate(key_at, key);
          seen_metadata = true;
          h.metadata = metadata();
        } else {
          if (seen.count(key) != 0) duplicate(key_at, key);
          seen.emplace(key, h.tensors.size());
          h.tensors.push_back(tensor(std::move(key)));
        }
        if (accept(',')) continue;
        expect('}', "',' or '}' after a value");
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) malformed("only whitespace after the header object");
    return h;
  }

private:
  [[noreturn]] void malformed(std::string_view what) const {
    fail(fn_, concat("malformed header: expected ", what, " at byte ", pos_, ", got ",
                     pos_ < text_.size() ? quote(text_.substr(pos_), 20) : "the end of the header"));
  }
  [[noreturn]] void duplicate(std::size_t at, const std::string& key) {
    pos_ = at;
    fail(fn_, concat("malformed header: expected each key once, got ", quote(key, 60), " twice (at byte ", at, ")"));
  }
  void expect(char c, std::string_view what) {
    if (!accept(c)) malformed(what);
  }

  unsigned hex4() {
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      unsigned d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<unsigned>(c - 'A' + 10);
      } else {
        malformed("four hex digits after \\u");
      }
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  /// A JSON string with its escapes decoded (\uXXXX and surrogate pairs to UTF-8; lone surrogates rejected).
  std::string string(std::string_view what) {
    skip_space();
    if (peek() != '"') malformed(what);
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) malformed("a closing '\"'");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) malformed("no unescaped control character in a string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            pos_ -= 6;
            malformed("a \\u escape that is not a lone low surrogate");
          }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (peek() != '\\' || pos_ + 1 >= text_.size() || text_[pos_ + 1] != 'u')
              malformed("a \\u low surrogate completing the pair");
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xdc00 || low > 0xdfff) {
              pos_ -= 6;
              malformed("a \\u low surrogate (DC00-DFFF) completing the pair");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          append_utf8(out, cp);
          break;
        }
        default: pos_ -= 2; malformed("a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
      }
    }
  }

  /// A non-negative JSON integer that fits in 64 bits: no sign, fraction, exponent or leading zero.
  std::uint64_t integer() {
    skip_space();
    const std::size_t start = pos_;
    std::uint64_t v = 0;
    const scanned s = scan_uint64(text_, pos_, v);
    if (s == scanned::overflow) malformed("an integer that fits in 64 bits");
    if (s == scanned::no_digits) malformed("a non-negative integer");
    if (text_[start] == '0' && pos_ - start > 1) {
      pos_ = start;
      malformed("an integer without leading zeros");
    }
    const char c = peek();
    if (c == '.' || c == 'e' || c == 'E') malformed("an integer (no fraction or exponent)");
    return v;
  }

  /// "[i, j, ...]" with at most `limit` integers.
  std::vector<std::uint64_t> integers(std::string_view what, std::size_t limit) {
    std::vector<std::uint64_t> out;
    expect('[', what);
    if (accept(']')) return out;
    for (;;) {
      if (out.size() == limit) malformed(concat(what, " (at most ", limit, " integers)"));
      out.push_back(integer());
      if (accept(']')) return out;
      expect(',', "',' or ']' in an array of integers");
    }
  }

  entry tensor(std::string name) {
    entry t;
    t.name = std::move(name);
    expect('{', concat("an object {\"dtype\", \"shape\", \"data_offsets\"} for tensor ", quote(t.name, 60)));
    bool seen[3] = {false, false, false};
    if (!accept('}')) {
      for (;;) {
        const std::size_t key_at = skip_space();
        const std::string key = string("a quoted field name");
        expect(':', "':' after a field name");
        int index = -1;
        if (key == "dtype") {
          index = 0;
          t.dtype = string("a dtype string such as \"F32\"");
        } else if (key == "shape") {
          index = 1;
          t.shape = integers("an array of extents for \"shape\"", max_extents);
        } else if (key == "data_offsets") {
          index = 2;
          const auto offsets = integers("an array [begin, end] for \"data_offsets\"", 2);
          if (offsets.size() != 2) malformed("two integers [begin, end] for \"data_offsets\"");
          t.begin = offsets[0];
          t.end = offsets[1];
        } else {
          pos_ = key_at;
          malformed(concat("only the fields \"dtype\", \"shape\" and \"data_offsets\" in tensor ", quote(t.name, 60)));
        }
        if (seen[index]) duplicate(key_at, key);
        seen[index] = true;
        if (accept(',')) continue;
        expect('}', "',' or '}' after a field");
        break;
      }
    }
    for (int i = 0; i < 3; ++i) {
      if (!seen[i]) {
        static constexpr const char* fields[] = {"\"dtype\"", "\"shape\"", "\"data_offsets\""};
        fail(fn_, concat("malformed header: expected the fields \"dtype\", \"shape\" and \"data_offsets\" in tensor ",
                         quote(t.name, 60), ", got an entry without ", fields[i]));
      }
    }
    return t;
  }

  std::map<std::string, std::string> metadata() {
    std::map<std::string, std::string> out;
    expect('{', "an object of strings for \"__metadata__\"");
    if (accept('}')) return out;
    for (;;) {
      const std::size_t key_at = skip_space();
      std::string key = string("a quoted metadata key");
      expect(':', "':' after a metadata key");
      skip_space();
      if (peek() != '"')
        malformed(concat("a string value for metadata key ", quote(key, 60), " (metadata maps strings to strings)"));
      std::string value = string("a string value");
      if (out.count(key) != 0) duplicate(key_at, key);
      out.emplace(std::move(key), std::move(value));
      if (accept(',')) continue;
      expect('}', "',' or '}' in \"__metadata__\"");
      return out;
    }
  }
};

/// Checks every entry against the dtype table and the data section of `data_size` bytes (see the file comment).
inline void validate(const header& h, std::uint64_t data_size, std::string_view fn) {
  for (const auto& t : h.tensors) {
    // Messages are built only on failure.
    auto what = [&] { return concat("tensor ", quote(t.name, 60)); };
    auto offsets = [&] { return concat("data_offsets [", t.begin, ", ", t.end, "]"); };
    const std::uint64_t size = element_size(t.dtype);
    if (size == 0)
      fail(fn, concat(what(), " with a safetensors dtype of whole-byte elements (F32, F64, F16, BF16, I64, ...)"),
           concat("dtype ", quote(t.dtype), " (unknown or unsupported)"));
    // The product of the extents, zeros counted as ones, in bytes: bounds every stride as well as the size.
    std::uint64_t bound = size;
    std::uint64_t bytes = size;
    const std::uint64_t limit = std::numeric_limits<std::size_t>::max();
    for (const auto d : t.shape) {
      if (d > 1 && bound > limit / d)
        fail(fn, concat(what(), " with a shape whose size in bytes fits in memory"),
             concat("shape ", extents_text(t.shape), " of ", t.dtype, " (overflow)"));
      bound *= d > 1 ? d : 1;
      bytes *= d;
    }
    if (t.begin > t.end) fail(fn, concat(what(), " with data_offsets [begin, end], begin <= end"), offsets());
    if (t.end - t.begin != bytes)
      fail(fn,
           concat(what(), " of dtype ", t.dtype, " and shape ", extents_text(t.shape), " to span ", bytes,
                  " bytes (the dtype or shape disagrees with the offsets)"),
           concat(offsets(), ", ", t.end - t.begin, " bytes"));
    if (t.end > data_size)
      fail(fn, concat(what(), " within the data section of ", data_size, " bytes"),
           concat(offsets(), " (truncated file)"));
  }
  // Sorted by offsets, the tensors must tile [0, data_size) exactly. Empty tensors may share an offset.
  std::vector<const entry*> order;
  order.reserve(h.tensors.size());
  for (const auto& t : h.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const entry* a, const entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t covered = 0;
  const entry* previous = nullptr;
  for (const entry* t : order) {
    if (t->begin < covered)
      fail(fn, "tensors whose data_offsets do not overlap",
           concat("tensor ", quote(t->name, 60), " at [", t->begin, ", ", t->end, "] overlapping tensor ",
                  quote(previous->name, 60), " at [", previous->begin, ", ", previous->end, "]"));
    if (t->begin > covered)
      fail(fn, "tensors that cover the data section without gaps",
           concat("a gap of bytes [", covered, ", ", t->begin, ") before tensor ", quote(t->name, 60)));
    covered = t->end;
    previous = t;
  }
  if (covered != data_size)
    fail(fn, concat("a data section of ", covered, " bytes, as the tensors cover"),
         concat(data_size, " bytes (", data_size - covered, " trailing bytes after the last tensor)"));
}

/// The header length at the start of a file of `file_size` bytes, checked against the file and the limit.
inline std::uint64_t header_length(const unsigned char (&prefix)[8], std::uint64_t file_size, std::string_view fn) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[i];
  if (n > file_size - 8)
    fail(fn, concat("a header of ", n, " bytes, as the first 8 bytes say"),
         concat(file_size - 8, " bytes after them (truncated file, or not a safetensors file)"));
  if (n > max_header_size)
    fail(fn, concat("a header of at most ", max_header_size, " bytes"), concat("a header of ", n, " bytes"));
  return n;
}

/// A tensor to write: its name, dtype, shape and bytes.
struct output {
  std::string name;
  std::string_view dtype;
  attractor::shape shape;
  const void* data = nullptr;
  std::uint64_t bytes = 0;
};

template <floating_scalar S>
output make_output(const std::string& name, const_tensor_view<S, cpu> view) {
  return {name, dtype_name<S>, view.shape(), view.data(), std::uint64_t{view.size()} * sizeof(S)};
}

/// Writes `tensors` and `metadata` (plus the checksum) to `path` as the Python package would.
inline void save(const std::filesystem::path& path, std::vector<output> tensors,
                 const std::map<std::string, std::string>& user_metadata, std::string_view fn) {
  // Validate everything before touching the file system.
  for (const auto& [key, value] : user_metadata) {
    if (invalid_utf8(key) != std::string_view::npos) fail(fn, "metadata keys in UTF-8", quote(key));
    if (invalid_utf8(value) != std::string_view::npos)
      fail(fn, "metadata values in UTF-8", concat(quote(value), " for key ", quote(key)));
  }
  for (const auto& t : tensors) {
    require(!t.name.empty(), fn, "a non-empty name for every tensor", "an empty name");
    require(t.name != "__metadata__", fn, "tensor names other than \"__metadata__\" (reserved by the format)",
            "a tensor named \"__metadata__\"");
    if (invalid_utf8(t.name) != std::string_view::npos) fail(fn, "tensor names in UTF-8", quote(t.name));
    if (t.bytes != 0 && t.data == nullptr)
      fail(fn, concat("data for tensor ", quote(t.name, 60)), "a null data pointer");
  }
  // The Python package's order: descending dtype (F64 before F32), then name (bytewise).
  std::sort(tensors.begin(), tensors.end(), [](const output& a, const output& b) {
    if (a.dtype != b.dtype) return a.dtype == "F64";
    return a.name < b.name;
  });
  std::map<std::string_view, int> seen;
  for (const auto& t : tensors)
    if (!seen.emplace(t.name, 0).second) fail(fn, "unique tensor names", concat(quote(t.name, 60), " twice"));

  fnv1a64 hash;
  for (const auto& t : tensors) hash.update(t.data, static_cast<std::size_t>(t.bytes));
  auto metadata = user_metadata;
  metadata[std::string(checksum_key)] = checksum_text(hash.state);  // a stale checksum passed in is replaced

  std::string json = "{\"__metadata__\":{";
  bool first = true;
  for (const auto& [key, value] : metadata) {
    if (!first) json += ',';
    first = false;
    append_json_string(json, key);
    json += ':';
    append_json_string(json, value);
  }
  json += '}';
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    json += ',';
    append_json_string(json, t.name);
    json += concat(":{\"dtype\":\"", t.dtype, "\",\"shape\":[");
    for (std::size_t i = 0; i < t.shape.rank(); ++i) json += concat(i ? "," : "", t.shape[i]);
    json += concat("],\"data_offsets\":[", offset, ",", offset + t.bytes, "]}");
    offset += t.bytes;
  }
  json += '}';
  json.append((8 - json.size() % 8) % 8, ' ');
  if (json.size() > max_header_size)
    fail(fn, concat("a header of at most ", max_header_size, " bytes"), concat(json.size(), " bytes"));

  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(std::uint64_t{json.size()} >> (8 * i));
  write_atomically(path, fn, 8 + json.size() + offset, [&](std::FILE* file) {
    bool ok = std::fwrite(prefix, 1, 8, file) == 8 && std::fwrite(json.data(), 1, json.size(), file) == json.size();
    for (const auto& t : tensors) {
      const auto n = static_cast<std::size_t>(t.bytes);
      ok = ok && (n == 0 || std::fwrite(t.data, 1, n, file) == n);
    }
    return ok;
  });
}

}  // namespace detail::safetensors

/// The "__metadata__" of a safetensors file: string keys to string values.
using safetensors_metadata = std::map<std::string, std::string>;

/// A host tensor to save, float or double, so that one file can hold both.
using safetensors_view = std::variant<const_tensor_view<float, cpu>, const_tensor_view<double, cpu>>;

/// The metadata key under which save_safetensors records the checksum of the data section.
inline constexpr std::string_view safetensors_checksum_key = attractor::detail::safetensors::checksum_key;

/// A safetensors file read into memory and validated in full (see the top of this header). Tensors are copied
/// out with get() or copy_into(), which accept exactly F32 as float and F64 as double.
class safetensors_file {
public:
  /// One tensor of the header.
  struct tensor_info {
    std::string name;
    std::string dtype;                   // "F32", "F64", "I64", ...
    std::vector<std::uint64_t> extents;  // the shape as stored, of any rank up to 64
    std::uint64_t begin = 0;             // byte offsets into the data section
    std::uint64_t end = 0;
  };

  safetensors_file() = default;

  /// Reads and validates the file at `path`. Throws attractor::error naming the file and the problem.
  static safetensors_file read(const std::filesystem::path& path) {
    const std::string fn = attractor::detail::concat("safetensors_file::read(", path, ")");
    attractor::detail::input_file in(path, fn);
    safetensors_file out = header_of(in, fn, attractor::detail::concat(path), /*with_data=*/true);
    in.read(out.data_.data(), out.data_.size());
    out.verify_checksum(fn);
    return out;
  }

  /// The "__metadata__" of the file at `path`, reading its header only: the header is parsed and validated
  /// against the file's size as read() does, but the data section is neither read nor checked against the
  /// checksum (read() does both). For what a checkpoint says of itself before its tensors are needed.
  static safetensors_metadata read_metadata(const std::filesystem::path& path) {
    const std::string fn = attractor::detail::concat("safetensors_file::read_metadata(", path, ")");
    attractor::detail::input_file in(path, fn);
    return header_of(in, fn, attractor::detail::concat(path), /*with_data=*/false).metadata_;
  }

  /// Parses and validates a whole file held in memory (for tests and the fuzzer).
  static safetensors_file parse(std::span<const std::byte> bytes) {
    const std::string fn = "safetensors_file::parse";
    if (bytes.size() < 8)
      fail(fn, "at least 8 bytes (the header length)",
           attractor::detail::concat(bytes.size(), " bytes (truncated file)"));
    unsigned char prefix[8];
    std::memcpy(prefix, bytes.data(), 8);
    const std::uint64_t n = attractor::detail::safetensors::header_length(prefix, bytes.size(), fn);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(n));
    safetensors_file out = from_header(text, bytes.size() - 8 - n, fn, "", /*with_data=*/true);
    if (!out.data_.empty()) std::memcpy(out.data_.data(), bytes.data() + 8 + n, out.data_.size());
    out.verify_checksum(fn);
    return out;
  }

  /// Tensor names in header order (for files written here and by the Python package: F64 first, then by name).
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& t : tensors_) out.push_back(t.name);
    return out;
  }
  [[nodiscard]] std::size_t size() const { return tensors_.size(); }
  [[nodiscard]] bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }

  /// The header entry of `name`; throws attractor::error when the file has no such tensor.
  [[nodiscard]] const tensor_info& info(std::string_view name) const { return entry("info", name); }
  /// The dtype string of `name` as stored ("F32", "F64", ...).
  [[nodiscard]] const std::string& dtype(std::string_view name) const { return entry("dtype", name).dtype; }
  /// The shape of `name`; throws attractor::error for a rank above 4 (info().extents has any rank).
  [[nodiscard]] attractor::shape shape(std::string_view name) const {
    const tensor_info& t = entry("shape", name);
    require_rank(t, "shape");
    return {t.extents.begin(), t.extents.end()};
  }
  /// The "__metadata__" as stored, including "attractor.checksum" when present.
  [[nodiscard]] const safetensors_metadata& metadata() const { return metadata_; }
  /// Whether the file carried an "attractor.checksum" (which then matched: a mismatch throws on read).
  [[nodiscard]] bool checksum_verified() const { return checksum_verified_; }

  /// A copy of tensor `name`, whose dtype must be exactly S (F32 for float, F64 for double).
  template <floating_scalar S>
  [[nodiscard]] tensor<S, cpu> get(std::string_view name) const {
    const tensor_info& t = checked<S>("get", name);
    tensor<S, cpu> out(attractor::shape(t.extents.begin(), t.extents.end()));
    copy_bytes(t, out.data());
    return out;
  }

  /// Copies tensor `name` into `destination`, whose shape must equal the stored one; the dtype must be S.
  template <floating_scalar S>
  void copy_into(std::string_view name, tensor_view<S, cpu> destination) const {
    const tensor_info& t = checked<S>("copy_into", name);
    const bool same = t.extents.size() == destination.rank() &&
                      std::equal(t.extents.begin(), t.extents.end(), destination.shape().begin());
    if (!same)
      fail(
          function("copy_into", name), attractor::detail::concat("shape ", destination.shape()),
          attractor::detail::concat("shape ", attractor::detail::safetensors::extents_text(t.extents), " in the file"));
    if (destination.size() != 0 && destination.data() == nullptr)
      fail(function("copy_into", name), "a destination with data", "a null data pointer");
    copy_bytes(t, destination.data());
  }

private:
  /// Reads the length prefix and the header of `in`, leaving it at the data section; with_data sizes the result's
  /// buffer for that section.
  static safetensors_file header_of(attractor::detail::input_file& in, std::string_view fn, std::string origin,
                                    bool with_data) {
    const std::uint64_t file_size = in.size();
    if (file_size < 8)
      fail(fn, "at least 8 bytes (the header length)", attractor::detail::concat(file_size, " bytes (truncated file)"));
    unsigned char prefix[8];
    in.read(prefix, 8);
    const std::uint64_t n = attractor::detail::safetensors::header_length(prefix, file_size, fn);
    std::string text(static_cast<std::size_t>(n), '\0');
    in.read(text.data(), n);
    return from_header(text, file_size - 8 - n, fn, std::move(origin), with_data);
  }

  static safetensors_file from_header(std::string_view text, std::uint64_t data_size, std::string_view fn,
                                      std::string origin, bool with_data) {
    attractor::detail::safetensors::header h = attractor::detail::safetensors::header_parser(text, fn).parse();
    attractor::detail::safetensors::validate(h, data_size, fn);
    safetensors_file out;
    out.origin_ = std::move(origin);
    out.tensors_.reserve(h.tensors.size());
    for (auto& e : h.tensors) {
      out.index_.emplace(e.name, out.tensors_.size());
      out.tensors_.push_back({std::move(e.name), std::move(e.dtype), std::move(e.shape), e.begin, e.end});
    }
    out.metadata_ = std::move(h.metadata);
    if (with_data) out.data_.resize(static_cast<std::size_t>(data_size));  // bounded by the real size of the input
    return out;
  }

  void verify_checksum(std::string_view fn) {
    const auto it = metadata_.find(std::string(attractor::detail::safetensors::checksum_key));
    if (it == metadata_.end()) return;  // a file from PyTorch or the Python package: nothing to check against
    const std::string& stored = it->second;
    const std::string_view prefix = attractor::detail::safetensors::checksum_prefix;
    bool well_formed = stored.size() == prefix.size() + 16 && stored.compare(0, prefix.size(), prefix) == 0;
    for (std::size_t i = prefix.size(); well_formed && i < stored.size(); ++i)
      well_formed = (stored[i] >= '0' && stored[i] <= '9') || (stored[i] >= 'a' && stored[i] <= 'f');
    if (!well_formed)
      fail(fn,
           attractor::detail::concat("__metadata__[\"", attractor::detail::safetensors::checksum_key,
                                     "\"] of the form \"fnv1a64:\" and 16 lowercase hex digits"),
           attractor::detail::quote(stored, 60));
    attractor::detail::safetensors::fnv1a64 hash;
    hash.update(data_.data(), data_.size());
    const std::string computed = attractor::detail::safetensors::checksum_text(hash.state);
    if (computed != stored)
      fail(fn, attractor::detail::concat("checksum mismatch: the file is corrupt (the header records ", stored,
                                         ", the ", data_.size(), "-byte data section hashes to ", computed, ")"));
    checksum_verified_ = true;
  }

  [[nodiscard]] std::string function(std::string_view method, std::string_view name) const {
    return attractor::detail::concat("safetensors_file::", method, "(", attractor::detail::quote(name, 60), ")",
                                     origin_.empty() ? "" : " of ", origin_);
  }

  [[nodiscard]] const tensor_info& entry(std::string_view method, std::string_view name) const {
    const auto it = index_.find(name);
    if (it == index_.end())
      fail(function(method, name), "the name of a tensor in the file",
           attractor::detail::concat(attractor::detail::quote(name, 60), "; the file holds ", tensors_.size(),
                                     " tensors: ", attractor::detail::safetensors::names_text(names())));
    return tensors_[it->second];
  }

  template <floating_scalar S>
  [[nodiscard]] const tensor_info& checked(std::string_view method, std::string_view name) const {
    const tensor_info& t = entry(method, name);
    constexpr std::string_view want = attractor::detail::safetensors::dtype_name<S>;
    if (t.dtype != want)
      fail(function(method, name),
           attractor::detail::concat("dtype ", attractor::detail::safetensors::describe(want),
                                     " (no implicit conversion)"),
           attractor::detail::concat("dtype ", attractor::detail::safetensors::describe(t.dtype),
                                     t.dtype == "F32" || t.dtype == "F64" ? "" : " (only F32 and F64 can be read)"));
    require_rank(t, method);
    return t;
  }

  /// The library's tensors have rank <= 4; a file may hold more.
  void require_rank(const tensor_info& t, std::string_view method) const {
    if (t.extents.size() > max_rank)
      fail(function(method, t.name), attractor::detail::concat("rank <= ", max_rank),
           attractor::detail::concat("rank ", t.extents.size(), ", shape ",
                                     attractor::detail::safetensors::extents_text(t.extents)));
  }

  void copy_bytes(const tensor_info& t, void* destination) const {
    const auto n = static_cast<std::size_t>(t.end - t.begin);
    if (n > 0) std::memcpy(destination, data_.data() + t.begin, n);
  }

  std::string origin_;  // the path, for messages; empty for parse()
  std::vector<tensor_info> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  safetensors_metadata metadata_;
  std::vector<std::byte> data_;
  bool checksum_verified_ = false;
};

/// Writes host tensors of both scalar types to `path` as a safetensors file, byte for byte as the Python package
/// would (see the top of this header), with the checksum in the metadata. Names must be unique, non-empty and
/// UTF-8, and not "__metadata__"; an "attractor.checksum" in `metadata` is replaced by the data's checksum. The
/// file appears whole or not at all: on failure attractor::error is thrown and no temporary is left behind.
inline void save_safetensors(const std::filesystem::path& path,
                             const std::vector<std::pair<std::string, safetensors_view>>& tensors,
                             const safetensors_metadata& metadata = {}) {
  const std::string fn = attractor::detail::concat("save_safetensors(", path, ")");
  std::vector<attractor::detail::safetensors::output> out;
  out.reserve(tensors.size());
  for (const auto& item : tensors) {  // (clang < 16 cannot capture a structured binding in a lambda)
    const std::string& name = item.first;
    out.push_back(
        std::visit([&](const auto& v) { return attractor::detail::safetensors::make_output(name, v); }, item.second));
  }
  attractor::detail::safetensors::save(path, std::move(out), metadata, fn);
}

/// The same for tensors of one scalar type.
template <floating_scalar S>
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, const_tensor_view<S, cpu>>>& tensors,
                      const safetensors_metadata& metadata = {}) {
  const std::string fn = attractor::detail::concat("save_safetensors(", path, ")");
  std::vector<attractor::detail::safetensors::output> out;
  out.reserve(tensors.size());
  for (const auto& [name, view] : tensors) out.push_back(attractor::detail::safetensors::make_output<S>(name, view));
  attractor::detail::safetensors::save(path, std::move(out), metadata, fn);
}

}  // namespace attractor
