// .npy load and save for host tensors (NumPy format versions 1.0, 2.0 and 3.0).
//
// load_npy<T> reads only files whose dtype is exactly T (little-endian, C order): loading a float32 file as
// double is an error, never a silent conversion. Every size read from the file is checked against the file's
// real length before anything is allocated, so a corrupt or hostile file throws attractor::error and never
// reads out of bounds. Bytes after the array data are an error too ("trailing bytes"): a path-based loader that
// ignored them would silently accept a file written with another shape, or several arrays saved back to back.
//
// save_npy writes version 1.0 byte for byte as numpy.save does (same dict, same padding to 64 bytes), into a
// temporary file in the target's directory that is then renamed over the target: an interrupted save leaves
// either the old file or the new one, never a half-written one.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
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
static_assert(std::endian::native == std::endian::little, "attractor .npy I/O assumes a little-endian host");

namespace detail::npy {

inline constexpr char magic[] = "\x93NUMPY";
inline constexpr std::size_t magic_size = 6;
inline constexpr std::size_t align = 64;

using detail::quote;  // io/file.hpp

/// The dtype name numpy would print for a descr we know, to make mismatch messages readable.
inline std::string describe(std::string_view descr) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"f2", "float16"}, {"f4", "float32"}, {"f8", "float64"},   {"i1", "int8"},       {"i2", "int16"},
      {"i4", "int32"},   {"i8", "int64"},   {"u1", "uint8"},     {"u2", "uint16"},     {"u4", "uint32"},
      {"u8", "uint64"},  {"b1", "bool"},    {"c8", "complex64"}, {"c16", "complex128"}};
  std::string out = quote(descr);
  if (descr.size() >= 2) {
    for (const auto& [code, name] : names)
      if (descr.substr(1) == code) return out + " (" + std::string(name) + ")";
  }
  return out;
}

/// The parsed header dict.
struct header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

/// Recursive-descent parser for the Python dict literal numpy writes, e.g.
/// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }". Keys in any order, any whitespace,
/// optional trailing commas, single or double quotes, Python-2 "L" suffixes on integers.
class header_parser : text_cursor {
public:
  header_parser(std::string_view text, std::string_view fn) : text_cursor(text, fn) {}

  header parse() {
    header h;
    bool seen[3] = {false, false, false};
    expect('{', "'{' opening the header dict");
    while (!accept('}')) {
      const std::string key = string("a quoted key or '}'");
      expect(':', "':' after a key");
      int index = -1;
      if (key == "descr") {
        index = 0;
        skip_space();
        if (peek() == '[') malformed("a dtype string for 'descr' (structured dtypes are not supported)");
        h.descr = string("a dtype string for 'descr'");
      } else if (key == "fortran_order") {
        index = 1;
        h.fortran_order = boolean();
      } else if (key == "shape") {
        index = 2;
        h.shape = tuple();
      } else {
        fail(fn_, detail::concat("malformed header: expected only the keys 'descr', 'fortran_order' and 'shape', got ",
                                 quote(key)));
      }
      if (seen[index])
        fail(fn_, detail::concat("malformed header: expected each key once, got ", quote(key), " twice"));
      seen[index] = true;
      if (!accept(',')) {
        expect('}', "',' or '}' after a value");
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) malformed("only whitespace after the header dict");
    if (!(seen[0] && seen[1] && seen[2]))
      fail(fn_, detail::concat(
                    "malformed header: expected the keys 'descr', 'fortran_order' and 'shape', got a dict without ",
                    !seen[0]   ? "'descr'"
                    : !seen[1] ? "'fortran_order'"
                               : "'shape'"));
    return h;
  }

private:
  [[noreturn]] void malformed(std::string_view what) const {
    fail(fn_, detail::concat("malformed header: expected ", what, " at byte ", pos_, ", got ",
                             pos_ < text_.size() ? quote(text_.substr(pos_), 20) : "the end of the header"));
  }
  void expect(char c, std::string_view what) {
    if (!accept(c)) malformed(what);
  }
  bool accept_word(std::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  std::string string(std::string_view what) {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') malformed(what);
    const std::size_t end = text_.find(q, pos_ + 1);
    if (end == std::string_view::npos) malformed("a closing quote");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    if (s.find('\\') != std::string::npos) malformed("a string without escapes");
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    if (accept_word("True")) return true;
    if (accept_word("False")) return false;
    malformed("True or False for 'fortran_order'");
  }
  std::uint64_t integer() {
    skip_space();
    std::uint64_t v = 0;
    const scanned s = scan_uint64(text_, pos_, v);
    if (s == scanned::overflow) malformed("an extent that fits in 64 bits");
    if (s == scanned::no_digits) malformed("a non-negative integer extent");
    if (peek() == 'L' || peek() == 'l') ++pos_;  // files written by Python 2
    return v;
  }
  std::vector<std::uint64_t> tuple() {
    std::vector<std::uint64_t> dims;
    expect('(', "a tuple for 'shape'");
    if (accept(')')) return dims;
    for (;;) {
      // More than max_rank extents is reported as a rank error, but stop collecting before the vector grows
      // without bound on a hostile header.
      if (dims.size() > 64) malformed("a shape tuple of reasonable length");
      dims.push_back(integer());
      if (accept(')')) {
        if (dims.size() == 1) malformed("',' in a 1-tuple shape such as (5,)");
        return dims;
      }
      expect(',', "',' or ')' in the shape tuple");
      if (accept(')')) return dims;
    }
  }
};

/// The header dict numpy writes for this dtype and shape (numpy >= 1.23: keys sorted, 'shape' repr, then room
/// for the first extent to grow to 21 digits), wrapped in the version-1.0 preamble and padded to 64 bytes.
template <class T>
std::string make_header(const shape& s) {
  std::string dict =
      detail::concat("{'descr': '", scalar_traits<T>::npy_descr, "', 'fortran_order': False, 'shape': (");
  for (std::size_t i = 0; i < s.rank(); ++i) dict += detail::concat(i ? ", " : "", s[i]);
  dict += s.rank() == 1 ? ",), }" : "), }";
  if (s.rank() > 0) dict.append(21 - std::to_string(s[0]).size(), ' ');
  // numpy always adds 1..64 spaces (never 0) before the final newline.
  const std::size_t hlen = dict.size() + 1;
  const std::size_t pad = align - (magic_size + 4 + hlen) % align;
  require(hlen + pad <= 0xffff, "save_npy", "a header shorter than 65536 bytes", hlen + pad);
  std::string out(magic, magic_size);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>((hlen + pad) & 0xff);
  out += static_cast<char>((hlen + pad) >> 8);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

}  // namespace detail::npy

/// Loads a .npy file whose dtype is exactly T. Throws attractor::error on any malformed, truncated, mismatched
/// or unsupported file, naming the file, what was expected and what was found.
template <tensor_element T>
tensor<T, cpu> load_npy(const std::filesystem::path& path) {
  namespace npy = detail::npy;
  const std::string fn = detail::concat("load_npy(", path, ")");

  detail::input_file in(path, fn);
  const std::uint64_t file_size = in.size();
  auto read = [&](char* dst, std::uint64_t n) { in.read(dst, n); };

  // Preamble: magic, version, header length (2 bytes in 1.0, 4 bytes in 2.0 and 3.0).
  char pre[12] = {};
  if (file_size < 10)
    fail(fn, "a .npy preamble of at least 10 bytes", detail::concat(file_size, " bytes (truncated header)"));
  read(pre, 10);
  if (std::memcmp(pre, npy::magic, npy::magic_size) != 0)
    fail(fn, "the .npy magic string '\\x93NUMPY'", npy::quote({pre, npy::magic_size}));
  const auto major = static_cast<unsigned char>(pre[6]);
  const auto minor = static_cast<unsigned char>(pre[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    fail(fn, "format version 1.0, 2.0 or 3.0", detail::concat("version ", +major, ".", +minor));
  std::uint64_t preamble = 10;
  std::uint64_t hlen = static_cast<unsigned char>(pre[8]) | (std::uint64_t{static_cast<unsigned char>(pre[9])} << 8);
  if (major >= 2) {
    if (file_size < 12) fail(fn, "a .npy preamble of 12 bytes", detail::concat(file_size, " bytes (truncated header)"));
    read(pre + 10, 2);
    preamble = 12;
    hlen |= std::uint64_t{static_cast<unsigned char>(pre[10])} << 16 |
            std::uint64_t{static_cast<unsigned char>(pre[11])} << 24;
  }
  if (hlen > file_size - preamble)
    fail(fn, detail::concat("a header of ", hlen, " bytes"),
         detail::concat(file_size - preamble, " bytes left in the file (truncated header)"));
  std::string text(static_cast<std::size_t>(hlen), '\0');
  read(text.data(), hlen);

  const npy::header h = npy::header_parser(text, fn).parse();

  // dtype: exactly T; a one-byte type has no byte order, so '|', '<' and '>' are all fine for uint8.
  const std::string_view want = scalar_traits<T>::npy_descr;
  const std::string_view got = h.descr;
  const bool same_type = got.size() == want.size() && got.substr(1) == want.substr(1);
  if (same_type && sizeof(T) > 1 && got[0] == '>')
    fail(fn, detail::concat("little-endian data ", npy::describe(want)),
         detail::concat("big-endian data ", npy::describe(got), "; convert with a.astype('", want, "')"));
  if (!same_type || (sizeof(T) > 1 ? got[0] != '<' : (got[0] != '|' && got[0] != '<' && got[0] != '>')))
    fail(fn, detail::concat("dtype ", npy::describe(want), " (no implicit conversion)"),
         detail::concat("dtype ", npy::describe(got)));
  if (h.fortran_order)
    fail(fn, "a C-order array (fortran_order False)",
         "fortran_order True: column-major arrays are not supported; save np.ascontiguousarray(a) instead");

  std::string shape_text = "(";
  for (std::size_t i = 0; i < h.shape.size(); ++i) shape_text += detail::concat(i ? ", " : "", h.shape[i]);
  shape_text += h.shape.size() == 1 ? ",)" : ")";
  if (h.shape.size() > max_rank)
    fail(fn, detail::concat("rank <= ", max_rank), detail::concat("rank ", h.shape.size(), ", shape ", shape_text));
  // Product of the extents (zeros counted as one, so strides cannot overflow either) in bytes must fit.
  std::uint64_t bound = sizeof(T);
  std::uint64_t bytes = sizeof(T);
  const std::uint64_t limit =
      std::min<std::uint64_t>(std::numeric_limits<std::size_t>::max(), std::numeric_limits<std::streamsize>::max());
  for (const auto d : h.shape) {
    if (d > 1 && bound > limit / d)
      fail(fn, "a shape whose size in bytes fits in memory", detail::concat("shape ", shape_text, " (overflow)"));
    bound *= d > 1 ? d : 1;
    bytes *= d;
  }
  const std::uint64_t data_left = file_size - preamble - hlen;
  if (data_left != bytes)
    fail(fn, detail::concat(bytes, " bytes of ", scalar_traits<T>::name, " data for shape ", shape_text),
         detail::concat(data_left,
                        data_left < bytes ? " bytes (truncated data)" : " bytes (trailing bytes after the array)"));

  tensor<T, cpu> out(shape(h.shape.begin(), h.shape.end()));
  read(reinterpret_cast<char*>(out.data()), bytes);
  return out;
}

/// Writes `view` as a version-1.0 .npy file, byte-identical to numpy.save, via a temporary file renamed into
/// place. On failure throws and leaves no temporary file behind (and the previous file, if any, untouched).
template <tensor_element T>
void save_npy(const std::filesystem::path& path, const_tensor_view<T, cpu> view) {
  const std::string fn = detail::concat("save_npy(", path, ")");
  require(view.size() == 0 || view.data() != nullptr, fn, "a view with data", "a null data pointer");
  const std::string head = detail::npy::make_header<T>(view.shape());

  const std::size_t bytes = view.size() * sizeof(T);
  detail::write_atomically(path, fn, head.size() + bytes, [&](std::FILE* file) {
    return std::fwrite(head.data(), 1, head.size(), file) == head.size() &&
           (bytes == 0 || std::fwrite(view.data(), 1, bytes, file) == bytes);
  });
}

template <tensor_element T>
void save_npy(const std::filesystem::path& path, tensor_view<T, cpu> view) {
  save_npy<T>(path, const_tensor_view<T, cpu>(view));
}

template <tensor_element T>
void save_npy(const std::filesystem::path& path, const tensor<T, cpu>& t) {
  save_npy<T>(path, t.view());
}

}  // namespace attractor
