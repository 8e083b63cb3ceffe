// Owning, typed, uninitialised memory on a backend: buffer<T, Backend>.
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <utility>

#include "attractor/backend/tags.hpp"
#include "attractor/core/error.hpp"

namespace attractor {

/// Raw allocation per backend; memory<cuda> lives in backend/cuda/memory.cuh.
template <class Backend>
struct memory;

template <>
struct memory<cpu> {
  static constexpr std::size_t alignment = 64;
  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    return ::operator new (bytes, std::align_val_t{alignment});
  }
  static void deallocate(void* p) noexcept {
    if (p != nullptr) ::operator delete (p, std::align_val_t{alignment});
  }
};

/// Counts every allocation made through buffer<>, per backend, so tests can show a loop allocates nothing (count)
/// or how much a structure holds (bytes: allocated in all, frees not subtracted).
template <class Backend>
struct allocation_counter {
  static inline std::size_t count = 0;
  static inline std::size_t bytes = 0;
};

/// Owning, move-only array of n elements of T on Backend. Contents are uninitialised.
template <class T, class Backend>
class buffer {
public:
  using value_type = T;
  using backend_type = Backend;

  buffer() = default;
  explicit buffer(std::size_t n) : size_(n) {
    if (n > 0) {
      require(n <= std::size_t(-1) / sizeof(T), "buffer",
              detail::text("at most ", std::size_t(-1) / sizeof(T), " elements"), n);
      data_ = static_cast<T*>(memory<Backend>::allocate(n * sizeof(T)));
      ++allocation_counter<Backend>::count;
      allocation_counter<Backend>::bytes += n * sizeof(T);
    }
  }
  ~buffer() { memory<Backend>::deallocate(data_); }

  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  buffer(buffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  buffer& operator=(buffer&& other) noexcept {
    if (this != &other) {
      memory<Backend>::deallocate(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace attractor
