// memory<cuda>: device allocations through cudaMalloc, failures reported with the size asked for.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "attractor/backend/cuda/check.cuh"
#include "attractor/backend/memory.hpp"

namespace attractor {

template <>
struct memory<cuda> {
  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();  // clear the sticky-free error so later calls are unaffected
      fail("memory<cuda>::allocate", detail::concat(bytes, " bytes of device memory"), cudaGetErrorString(status));
    }
    return p;
  }
  static void deallocate(void* p) noexcept {
    if (p != nullptr) (void)cudaFree(p);
  }
};

}  // namespace attractor
