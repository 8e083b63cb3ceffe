// context<cuda>: a stream, a cuBLAS handle bound to it, and device scratch memory. Work is queued on the stream;
// synchronize() waits for it. Move-only; one context per host thread.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <memory>
#include <utility>

#include "attractor/backend/context.hpp"
#include "attractor/backend/cuda/check.cuh"
#include "attractor/backend/cuda/memory.cuh"

namespace attractor {

namespace detail {

/// Device memory that Thrust algorithms borrow for their temporaries. Freed blocks are kept and handed out again,
/// so a loop that repeats the same algorithms allocates only on its first pass.
class cuda_block_cache {
public:
  using value_type = char;
  cuda_block_cache() = default;
  cuda_block_cache(const cuda_block_cache&) = delete;
  cuda_block_cache& operator=(const cuda_block_cache&) = delete;
  ~cuda_block_cache() { release(); }

  char* allocate(std::ptrdiff_t bytes) {
    const auto n = static_cast<std::size_t>(bytes);
    if (auto it = free_.lower_bound(n); it != free_.end()) {
      char* p = it->second;
      used_.emplace(p, it->first);
      free_.erase(it);
      return p;
    }
    auto* p = static_cast<char*>(memory<cuda>::allocate(n));
    ++allocation_counter<cuda>::count;
    used_.emplace(p, n);
    return p;
  }
  void deallocate(char* p, std::size_t) {
    auto it = used_.find(p);
    ATTRACTOR_ASSERT(it != used_.end());
    free_.emplace(it->second, p);
    used_.erase(it);
  }
  void release() noexcept {
    for (auto& [size, p] : free_) memory<cuda>::deallocate(p);
    for (auto& [p, size] : used_) memory<cuda>::deallocate(p);
    free_.clear();
    used_.clear();
  }

private:
  std::multimap<std::size_t, char*> free_;
  std::map<char*, std::size_t> used_;
};

/// The allocator handed to Thrust: a reference to the context's cache.
struct cuda_thrust_allocator {
  using value_type = char;
  cuda_block_cache* cache;
  char* allocate(std::ptrdiff_t bytes) { return cache->allocate(bytes); }
  void deallocate(char* p, std::size_t bytes) { cache->deallocate(p, bytes); }
};

}  // namespace detail

template <>
class context<cuda> {
public:
  /// Uses `device`, or the current device when -1. Throws attractor::error where there is no usable GPU.
  explicit context(int device = -1) {
    if (device < 0) {
      ATTRACTOR_CUDA_CHECK(cudaGetDevice(&device));
    } else {
      ATTRACTOR_CUDA_CHECK(cudaSetDevice(device));
    }
    device_ = device;
    ATTRACTOR_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, device));
    ATTRACTOR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    try {
      ATTRACTOR_CUBLAS_CHECK(cublasCreate(&cublas_));
      ATTRACTOR_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
      // FP32 by default, as PyTorch's default; allow_tf32(true) opts into tensor cores.
      ATTRACTOR_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_PEDANTIC_MATH));
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~context() { destroy(); }

  context(const context&) = delete;
  context& operator=(const context&) = delete;
  context(context&& other) noexcept { swap(other); }
  context& operator=(context&& other) noexcept {
    if (this != &other) {
      destroy();
      swap(other);
    }
    return *this;
  }

  [[nodiscard]] cudaStream_t stream() const { return stream_; }
  [[nodiscard]] cublasHandle_t cublas() const { return cublas_; }
  [[nodiscard]] int device() const { return device_; }
  [[nodiscard]] int multiprocessors() const { return multiprocessors_; }

  /// TF32 tensor-core GEMMs for float: faster, with a 10-bit mantissa in the products.
  void allow_tf32(bool allow) {
    ATTRACTOR_CUBLAS_CHECK(cublasSetMathMode(cublas_, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
  }

  /// At least `bytes` of device scratch memory, valid until the next call and ordered by the stream.
  void* scratch(std::size_t bytes) {
    if (bytes > scratch_.size()) {
      synchronize();  // the old scratch may still be in use by queued work
      scratch_ = buffer<std::byte, cuda>(bytes);
    }
    return scratch_.data();
  }

  /// The allocator Thrust algorithms use on this context.
  [[nodiscard]] detail::cuda_thrust_allocator thrust_allocator() { return {cache_.get()}; }

  void synchronize() const { ATTRACTOR_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  /// Plans and other long-lived state of the kernels that run on this context (backend/cuda/fft.cuh).
  [[nodiscard]] detail::resource_cache& resources() { return resources_; }

private:
  void destroy() noexcept {
    if (stream_ != nullptr) (void)cudaStreamSynchronize(stream_);
    resources_.clear();  // cuFFT plans, bound to the stream
    if (cache_) cache_->release();
    scratch_ = buffer<std::byte, cuda>();
    if (cublas_ != nullptr) (void)cublasDestroy(cublas_);
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
    cublas_ = nullptr;
    stream_ = nullptr;
  }
  void swap(context& other) noexcept {
    std::swap(device_, other.device_);
    std::swap(multiprocessors_, other.multiprocessors_);
    std::swap(stream_, other.stream_);
    std::swap(cublas_, other.cublas_);
    std::swap(scratch_, other.scratch_);
    std::swap(cache_, other.cache_);
    std::swap(resources_, other.resources_);
  }

  int device_ = 0;
  int multiprocessors_ = 1;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  buffer<std::byte, cuda> scratch_;
  std::unique_ptr<detail::cuda_block_cache> cache_ = std::make_unique<detail::cuda_block_cache>();
  detail::resource_cache resources_;
};

}  // namespace attractor
