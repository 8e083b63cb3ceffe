// Batched real FFTs on cuda through cuFFT: the same fft_forward and fft_inverse as backend/fft.hpp on cpu, with the
// same layout and conventions (see there). Link attractor::cufft. Plans are made on first use for a (shape, batch)
// and kept in the context, bound to its stream; cuFFT allocates each plan's work area itself, so the context's
// scratch memory, which a caller may be using, is left alone.
#pragma once

#include <cufft.h>

#include <climits>
#include <cstddef>
#include <memory>
#include <string>

#include "attractor/backend/cuda/check.cuh"
#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/fft_dims.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor {

namespace detail {

inline void check_cufft(cufftResult status, const char* call, const char* file, int line) {
  if (status != CUFFT_SUCCESS) {
    throw error(
        concat(call, ": expected CUFFT_SUCCESS, got cufftResult ", static_cast<int>(status), " at ", file, ":", line));
  }
}

}  // namespace detail

#define ATTRACTOR_CUFFT_CHECK(call) ::attractor::detail::check_cufft((call), #call, __FILE__, __LINE__)

namespace detail {

template <class Scalar>
struct cufft_types;
template <>
struct cufft_types<float> {
  static constexpr cufftType forward = CUFFT_R2C;
  static constexpr cufftType inverse = CUFFT_C2R;
};
template <>
struct cufft_types<double> {
  static constexpr cufftType forward = CUFFT_D2Z;
  static constexpr cufftType inverse = CUFFT_Z2D;
};

/// The forward and inverse plans of one (shape, batch), on one stream.
template <class Scalar>
class cufft_plans {
public:
  cufft_plans(const fft_dims& dims, std::size_t batch, cudaStream_t stream) {
    require(batch <= static_cast<std::size_t>(INT_MAX), "fft_forward", "a batch of at most INT_MAX transforms", batch);
    auto n = dims.as_int();
    const int rank = static_cast<int>(dims.rank());
    const int real_dist = static_cast<int>(dims.real_size());
    const int complex_dist = static_cast<int>(dims.complex_size());
    try {
      ATTRACTOR_CUFFT_CHECK(cufftPlanMany(&forward_, rank, n.data(), nullptr, 1, real_dist, nullptr, 1, complex_dist,
                                          cufft_types<Scalar>::forward, static_cast<int>(batch)));
      ATTRACTOR_CUFFT_CHECK(cufftPlanMany(&inverse_, rank, n.data(), nullptr, 1, complex_dist, nullptr, 1, real_dist,
                                          cufft_types<Scalar>::inverse, static_cast<int>(batch)));
      ATTRACTOR_CUFFT_CHECK(cufftSetStream(forward_, stream));
      ATTRACTOR_CUFFT_CHECK(cufftSetStream(inverse_, stream));
    } catch (...) {
      release();
      throw;
    }
  }
  cufft_plans(const cufft_plans&) = delete;
  cufft_plans& operator=(const cufft_plans&) = delete;
  ~cufft_plans() { release(); }

  void forward(const float* real, float* spectrum) const {
    ATTRACTOR_CUFFT_CHECK(
        cufftExecR2C(forward_, const_cast<cufftReal*>(real), reinterpret_cast<cufftComplex*>(spectrum)));
  }
  void forward(const double* real, double* spectrum) const {
    ATTRACTOR_CUFFT_CHECK(
        cufftExecD2Z(forward_, const_cast<cufftDoubleReal*>(real), reinterpret_cast<cufftDoubleComplex*>(spectrum)));
  }
  void inverse(float* spectrum, float* real) const {
    ATTRACTOR_CUFFT_CHECK(cufftExecC2R(inverse_, reinterpret_cast<cufftComplex*>(spectrum), real));
  }
  void inverse(double* spectrum, double* real) const {
    ATTRACTOR_CUFFT_CHECK(cufftExecZ2D(inverse_, reinterpret_cast<cufftDoubleComplex*>(spectrum), real));
  }

private:
  void release() noexcept {
    if (forward_ != 0) (void)cufftDestroy(forward_);
    if (inverse_ != 0) (void)cufftDestroy(inverse_);
    forward_ = inverse_ = 0;
  }
  cufftHandle forward_ = 0;
  cufftHandle inverse_ = 0;
};

template <class Scalar>
const cufft_plans<Scalar>& cufft_plans_for(context<cuda>& ctx, const fft_dims& dims, std::size_t batch) {
  return ctx.resources().get<cufft_plans<Scalar>>(dims.key() + "/" + std::to_string(batch), [&] {
    return std::make_unique<cufft_plans<Scalar>>(dims, batch, ctx.stream());
  });
}

}  // namespace detail

/// `batch` forward real-to-complex transforms of shape `dims`, queued on the context's stream.
template <floating_scalar Scalar>
void fft_forward(context<cuda>& ctx, const fft_dims& dims, std::size_t batch, const Scalar* real, Scalar* spectrum) {
  detail::check_fft_arguments("fft_forward", dims, batch, real, spectrum);
  if (batch == 0) return;
  detail::cufft_plans_for<Scalar>(ctx, dims, batch).forward(real, spectrum);
}

/// `batch` inverse complex-to-real transforms of shape `dims`, unnormalised; `spectrum` may be overwritten.
template <floating_scalar Scalar>
void fft_inverse(context<cuda>& ctx, const fft_dims& dims, std::size_t batch, Scalar* spectrum, Scalar* real) {
  detail::check_fft_arguments("fft_inverse", dims, batch, real, spectrum);
  if (batch == 0) return;
  detail::cufft_plans_for<Scalar>(ctx, dims, batch).inverse(spectrum, real);
}

}  // namespace attractor
