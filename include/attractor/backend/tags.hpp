// Backend tags. Algorithms are templates on a backend tag; only the primitive kernels are overloaded on it.
#pragma once

#include <concepts>

namespace attractor {

/// Host execution: Eigen for GEMM, OpenMP loops for the rest. Needs only a C++20 compiler.
struct cpu {
  static constexpr const char* name = "cpu";
};

/// NVIDIA GPU execution: cuBLAS for GEMM, CUDA kernels and Thrust for the rest. Its implementations live in
/// the `.cuh` headers under backend/cuda/, which only nvcc compiles.
struct cuda {
  static constexpr const char* name = "cuda";
};

template <class Backend>
concept backend_tag = std::same_as<Backend, cpu> || std::same_as<Backend, cuda>;

/// Whether host code may read and write a backend's memory through plain pointers (tensor element access, checks
/// and copies that need no transfer). One trait instead of a comparison with cpu at each place that means this.
template <class Backend>
inline constexpr bool host_accessible = false;
template <>
inline constexpr bool host_accessible<cpu> = true;

/// Whether a backend's loops run on a few cores that each want a working set that stays in cache and long runs of
/// work per call (cpu), rather than on thousands of threads that each want one small item (cuda). Kernels that can
/// be blocked either way (conv2d's chunks of the batch, its layout kernels' rows per call) ask this.
template <class Backend>
inline constexpr bool cache_blocked = false;
template <>
inline constexpr bool cache_blocked<cpu> = true;

}  // namespace attractor
