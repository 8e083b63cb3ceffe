// context<Backend>: the per-backend execution state every kernel takes first, in the way a Thrust execution
// policy is passed: for `cpu` the thread count and host scratch memory; for `cuda` (backend/cuda/context.cuh)
// the stream, the cuBLAS handle and device scratch memory.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <typeinfo>

#include "attractor/backend/tags.hpp"
#include "attractor/core/error.hpp"

#if ATTRACTOR_HAS_OPENMP
#include <omp.h>
#endif

namespace attractor {

namespace detail {
/// The calling thread's index in the enclosing OpenMP team, and the team's size; 0 and 1 without OpenMP.
inline int omp_thread_index() {
#if ATTRACTOR_HAS_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}
inline int omp_team_size() {
#if ATTRACTOR_HAS_OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}
/// Long-lived objects a context keeps for the kernels that run on it, such as FFT plans: made on first use, found
/// again by type and key, and destroyed with the context. Not thread-safe, like the context that owns it.
class resource_cache {
public:
  /// The T stored under `key`, made by make() (which returns a std::unique_ptr<T>) when there is none yet.
  template <class T, class Make>
  T& get(const std::string& key, Make make) {
    const std::string full = std::string(typeid(T).name()) + '/' + key;
    auto it = items_.find(full);
    if (it == items_.end()) it = items_.emplace(full, std::shared_ptr<void>(make())).first;
    return *static_cast<T*>(it->second.get());
  }
  void clear() noexcept { items_.clear(); }

private:
  std::map<std::string, std::shared_ptr<void>> items_;
};

}  // namespace detail

template <class Backend>
class context;

template <>
class context<cpu> {
public:
  /// `threads` = 0 uses every thread OpenMP offers (OMP_NUM_THREADS or the core count).
  explicit context(int threads = 0) { set_threads(threads); }

  context(const context&) = delete;
  context& operator=(const context&) = delete;
  context(context&&) noexcept = default;
  context& operator=(context&&) noexcept = default;

  [[nodiscard]] int threads() const { return threads_; }

  void set_threads(int threads) {
    require(threads >= 0, "context<cpu>::set_threads", "a thread count >= 0", threads);
#if ATTRACTOR_HAS_OPENMP
    threads_ = threads == 0 ? omp_get_max_threads() : threads;
#else
    threads_ = 1;
#endif
  }

  /// At least `bytes` of 64-byte-aligned scratch memory, valid until the next call. Grows, never shrinks, so a
  /// steady-state loop allocates nothing.
  void* scratch(std::size_t bytes) {
    if (bytes > scratch_bytes_) {
      scratch_.reset(static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{64})));
      scratch_bytes_ = bytes;
    }
    return scratch_.get();
  }

  /// Work on `cpu` is synchronous; provided so that algorithms can call it on any backend.
  void synchronize() const {}

  /// Plans and other long-lived state of the kernels that run on this context (backend/fft.hpp).
  [[nodiscard]] detail::resource_cache& resources() { return resources_; }

private:
  struct aligned_delete {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  int threads_ = 1;
  std::unique_ptr<std::byte[], aligned_delete> scratch_;
  std::size_t scratch_bytes_ = 0;
  detail::resource_cache resources_;
};

}  // namespace attractor
