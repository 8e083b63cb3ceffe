// File helpers shared by the loaders and savers of the library (.npy and safetensors, beside it in io/):
//
// - quote(): a printable rendering of untrusted bytes for error messages;
// - input_file: a regular file opened for binary reading, its size known before anything is read, every failure
//   an attractor::error naming the caller;
// - write_atomically(): writes a file into a temporary in the target's directory and renames it over the target,
//   so an interrupted save leaves either the old file or the new one, never a half-written one.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define ATTRACTOR_HAS_FSYNC 1
#else
#define ATTRACTOR_HAS_FSYNC 0
#endif

#include "attractor/core/error.hpp"

namespace attractor::detail {

/// Printable rendering of untrusted bytes for error messages (at most `limit` of them), in single quotes;
/// bytes outside printable ASCII, and the backslash, are written as \xNN.
inline std::string quote(std::string_view bytes, std::size_t limit = 40) {
  std::string out = "'";
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out + (bytes.size() > limit ? "'..." : "'");
}

/// A regular file opened for binary reading. The constructor checks that the file exists, is a regular file and
/// can be opened, and measures its size; read() reads exactly n bytes or throws. Every message names `fn`.
class input_file {
public:
  input_file(const std::filesystem::path& path, std::string_view fn) : fn_(fn) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status)) fail(fn_, "an existing file", "no such file");
    if (!std::filesystem::is_regular_file(status)) fail(fn_, "a regular file", "a directory or special file");
    in_.open(path, std::ios::binary);
    if (!in_) fail(fn_, "a readable file", concat("a file that cannot be opened (", std::strerror(errno), ")"));
    in_.seekg(0, std::ios::end);
    const std::streamoff end = in_.tellg();
    in_.seekg(0, std::ios::beg);
    if (end < 0 || !in_) fail(fn_, "a file whose size can be determined", "a failed seek");
    size_ = static_cast<std::uint64_t>(end);
  }

  [[nodiscard]] std::uint64_t size() const { return size_; }

  /// Reads exactly n bytes into dst. Callers check n against size() first: a short read is an I/O error here.
  void read(void* dst, std::uint64_t n) {
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::streamsize>::max()))
      fail(fn_, "a read that fits in std::streamsize", concat(n, " bytes"));
    if (n > 0 && !in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n)))
      fail(fn_, "a readable file", "a read error");
  }

private:
  std::string fn_;
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

/// A temporary file name in the same directory as `target`, unlikely to collide; creation is exclusive anyway.
inline std::filesystem::path temporary_name(const std::filesystem::path& target, unsigned attempt) {
  static std::atomic<unsigned long long> counter{0};
  const auto stamp = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
  const auto tid = std::hash<std::thread::id>{}(std::this_thread::get_id());
  auto name = target.filename();
  name += concat(".tmp-", std::hex, stamp ^ (tid << 1), "-", counter++, "-", attempt);
  return target.parent_path() / name;
}

/// Writes `path` through a temporary file in the same directory that is flushed to disk and then renamed over
/// `path` (atomic on POSIX). `write(std::FILE*)` writes the contents and returns false on a write error;
/// `bytes` is the size it is expected to write, for the message. On any failure, or if `write` throws, the
/// temporary is removed, the previous file (if any) is left untouched, and attractor::error (or the exception
/// `write` threw) propagates.
template <class Writer>
void write_atomically(const std::filesystem::path& path, std::string_view fn, std::uint64_t bytes, Writer&& write) {
  std::filesystem::path tmp;
  std::FILE* file = nullptr;
  for (unsigned attempt = 0; file == nullptr && attempt < 16; ++attempt) {
    tmp = temporary_name(path, attempt);
    file = std::fopen(tmp.string().c_str(), "wbx");  // "x": exclusive, never clobber another writer's temporary
    if (file == nullptr && errno != EEXIST) break;
  }
  if (file == nullptr) fail(fn, "a writable directory", concat("cannot create ", tmp, " (", std::strerror(errno), ")"));

  auto discard = [&] {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
  };
  bool ok = false;
  try {
    ok = static_cast<bool>(write(file));
  } catch (...) {
    std::fclose(file);
    discard();
    throw;
  }
  int err = ok ? 0 : errno;
  auto failed = [&] {
    ok = false;
    err = errno;
  };
  if (ok && std::fflush(file) != 0) failed();
#if ATTRACTOR_HAS_FSYNC
  // On disk before the rename, so that a crash of the machine cannot leave an empty file under the new name.
  if (ok && ::fsync(::fileno(file)) != 0) failed();
#endif
  if (std::fclose(file) != 0 && ok) failed();  // fclose flushes: a full disk may only show here
  if (!ok) {
    discard();
    fail(fn, concat(bytes, " bytes written"), concat("a write error (", std::strerror(err), ")"));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    discard();
    fail(fn, "the temporary file renamed into place", concat("an error (", ec.message(), ")"));
  }
}

}  // namespace attractor::detail
