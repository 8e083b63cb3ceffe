// Batched real-to-complex and complex-to-real FFTs of rank 1 to 3: a primitive kernel of the backend layer, on cpu
// through FFTW3 (this header; link attractor::fftw) and on cuda through cuFFT (cuda/fft.cuh; link attractor::cufft).
// Only programs that include one of them need FFTW or cuFFT. FFTW is GPL: a program linked with it is bound by the
// GPL (or needs a commercial FFTW licence); see README.
//
// Layout, the same on both backends: `batch` transforms of one shape, fft_dims{n0, n1, ...}, row-major with the last
// axis fastest. The real side holds batch x real_size() values; the spectrum holds batch x complex_size() complex
// numbers (the last axis halved to n/2 + 1, as FFTW and cuFFT do), interleaved as (re, im) pairs, so 2 x batch x
// complex_size() Scalars. Wavenumber k of index i on a full axis of length n is i for i < n/2 and i - n otherwise.
// Both directions are unnormalised with FFTW's signs (forward exp(-2 pi i jk/n)): forward then inverse multiplies by
// real_size(). The inverse may overwrite its input spectrum, as FFTW's and cuFFT's multi-dimensional c2r do.
//
// Plans are made on first use and kept in the context (context::resources()), so a loop reuses them. On cpu they are
// made with FFTW_ESTIMATE: FFTW_MEASURE times candidate algorithms and may choose differently from run to run, which
// would change the last bits of results from a fixed seed. Execution is threaded across the batch (FFTW's new-array
// execute functions are thread-safe; its planner is not, so plans are made and destroyed under one mutex).
#pragma once

#include <fftw3.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>

#include "attractor/backend/context.hpp"
#include "attractor/backend/fft_dims.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"

namespace attractor {

namespace detail {

/// FFTW's double and float interfaces under one name.
template <class Scalar>
struct fftw_api;

template <>
struct fftw_api<double> {
  using plan = fftw_plan;
  using complex = fftw_complex;
  static plan r2c(int rank, const int* n, double* in, complex* out, unsigned flags) {
    return fftw_plan_dft_r2c(rank, n, in, out, flags);
  }
  static plan c2r(int rank, const int* n, complex* in, double* out, unsigned flags) {
    return fftw_plan_dft_c2r(rank, n, in, out, flags);
  }
  static void execute_r2c(plan p, double* in, complex* out) { fftw_execute_dft_r2c(p, in, out); }
  static void execute_c2r(plan p, complex* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
  static void* malloc(std::size_t bytes) { return fftw_malloc(bytes); }
  static void free(void* p) { fftw_free(p); }
  static int alignment_of(double* p) { return fftw_alignment_of(p); }
};

template <>
struct fftw_api<float> {
  using plan = fftwf_plan;
  using complex = fftwf_complex;
  static plan r2c(int rank, const int* n, float* in, complex* out, unsigned flags) {
    return fftwf_plan_dft_r2c(rank, n, in, out, flags);
  }
  static plan c2r(int rank, const int* n, complex* in, float* out, unsigned flags) {
    return fftwf_plan_dft_c2r(rank, n, in, out, flags);
  }
  static void execute_r2c(plan p, float* in, complex* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void execute_c2r(plan p, complex* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftwf_destroy_plan(p); }
  static void* malloc(std::size_t bytes) { return fftwf_malloc(bytes); }
  static void free(void* p) { fftwf_free(p); }
  static int alignment_of(float* p) { return fftwf_alignment_of(p); }
};

/// FFTW's planner is not thread-safe; every plan is made and destroyed under this one lock.
inline std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

/// The plans of one transform shape: forward and inverse, each for SIMD-aligned arrays (as fftw_malloc returns) and
/// for arrays of any alignment, since a batch's later members or a caller's vector need not be aligned.
template <class Scalar>
class fftw_plans {
  using api = fftw_api<Scalar>;
  using complex = typename api::complex;

public:
  explicit fftw_plans(const fft_dims& dims) : real_size_(dims.real_size()), complex_size_(dims.complex_size()) {
    const auto n = dims.as_int();
    const int rank = static_cast<int>(dims.rank());
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    // FFTW_ESTIMATE reads neither array, but plans for their alignment; fftw_malloc's is the aligned case.
    auto* real = static_cast<Scalar*>(api::malloc(real_size_ * sizeof(Scalar)));
    auto* spectrum = static_cast<complex*>(api::malloc(complex_size_ * sizeof(complex)));
    for (int aligned = 0; aligned < 2; ++aligned) {
      const unsigned flags = FFTW_ESTIMATE | (aligned ? 0u : static_cast<unsigned>(FFTW_UNALIGNED));
      forward_[aligned] = api::r2c(rank, n.data(), real, spectrum, flags);
      inverse_[aligned] = api::c2r(rank, n.data(), spectrum, real, flags);
    }
    api::free(real);
    api::free(spectrum);
    for (int aligned = 0; aligned < 2; ++aligned) {
      if (forward_[aligned] == nullptr || inverse_[aligned] == nullptr) {
        release();
        throw error("fft_forward: FFTW could not plan a transform of shape " + dims.key());
      }
    }
  }
  fftw_plans(const fftw_plans&) = delete;
  fftw_plans& operator=(const fftw_plans&) = delete;
  ~fftw_plans() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    release();
  }

  void forward(const Scalar* real, Scalar* spectrum) const {
    // r2c leaves its input as it was (FFTW_PRESERVE_INPUT is the default for r2c); FFTW's signature is not const.
    auto* in = const_cast<Scalar*>(real);
    auto* out = reinterpret_cast<complex*>(spectrum);
    api::execute_r2c(forward_[is_aligned(in, spectrum)], in, out);
  }
  void inverse(Scalar* spectrum, Scalar* real) const {
    api::execute_c2r(inverse_[is_aligned(real, spectrum)], reinterpret_cast<complex*>(spectrum), real);
  }
  [[nodiscard]] std::size_t real_size() const { return real_size_; }
  [[nodiscard]] std::size_t complex_size() const { return complex_size_; }

private:
  static int is_aligned(Scalar* a, Scalar* b) { return api::alignment_of(a) == 0 && api::alignment_of(b) == 0; }
  void release() noexcept {
    for (auto& p : forward_)
      if (p != nullptr) api::destroy(std::exchange(p, nullptr));
    for (auto& p : inverse_)
      if (p != nullptr) api::destroy(std::exchange(p, nullptr));
  }

  std::size_t real_size_;
  std::size_t complex_size_;
  typename api::plan forward_[2] = {nullptr, nullptr};  // [0] any alignment, [1] SIMD-aligned
  typename api::plan inverse_[2] = {nullptr, nullptr};
};

}  // namespace detail

/// `batch` forward real-to-complex transforms of shape `dims` (layout: the header's comment).
template <floating_scalar Scalar>
void fft_forward(context<cpu>& ctx, const fft_dims& dims, std::size_t batch, const Scalar* real, Scalar* spectrum) {
  detail::check_fft_arguments("fft_forward", dims, batch, real, spectrum);
  if (batch == 0) return;
  const auto& plans = ctx.resources().get<detail::fftw_plans<Scalar>>(
      dims.key(), [&] { return std::make_unique<detail::fftw_plans<Scalar>>(dims); });
  const std::size_t rs = plans.real_size(), cs = 2 * plans.complex_size();
  for_each_index_coarse(
      ctx, batch, [&](std::size_t b) { plans.forward(real + b * rs, spectrum + b * cs); }, detail::fft_work(dims));
}

/// `batch` inverse complex-to-real transforms of shape `dims`, unnormalised; `spectrum` may be overwritten.
template <floating_scalar Scalar>
void fft_inverse(context<cpu>& ctx, const fft_dims& dims, std::size_t batch, Scalar* spectrum, Scalar* real) {
  detail::check_fft_arguments("fft_inverse", dims, batch, real, spectrum);
  if (batch == 0) return;
  const auto& plans = ctx.resources().get<detail::fftw_plans<Scalar>>(
      dims.key(), [&] { return std::make_unique<detail::fftw_plans<Scalar>>(dims); });
  const std::size_t rs = plans.real_size(), cs = 2 * plans.complex_size();
  for_each_index_coarse(
      ctx, batch, [&](std::size_t b) { plans.inverse(spectrum + b * cs, real + b * rs); }, detail::fft_work(dims));
}

}  // namespace attractor
