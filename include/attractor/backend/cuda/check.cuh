// Every CUDA and cuBLAS status is checked and turned into attractor::error, naming the call that failed.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "attractor/core/error.hpp"

namespace attractor::detail {

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) {
    throw error(concat(call, ": expected cudaSuccess, got ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
                       ") at ", file, ":", line));
  }
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw error(concat(call, ": expected CUBLAS_STATUS_SUCCESS, got ", cublasGetStatusName(status), " (",
                       cublasGetStatusString(status), ") at ", file, ":", line));
  }
}

}  // namespace attractor::detail

#define ATTRACTOR_CUDA_CHECK(call) ::attractor::detail::check_cuda((call), #call, __FILE__, __LINE__)
#define ATTRACTOR_CUBLAS_CHECK(call) ::attractor::detail::check_cublas((call), #call, __FILE__, __LINE__)
