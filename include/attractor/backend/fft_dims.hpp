// fft_dims: the shape of one transform of the batched real FFTs (backend/fft.hpp on cpu, backend/cuda/fft.cuh on
// cuda), and the argument checks both backends share. Needs neither FFTW nor cuFFT.
#pragma once

#include <array>
#include <climits>
#include <cstddef>
#include <initializer_list>
#include <string>

#include "attractor/core/error.hpp"

namespace attractor {

/// The real dimensions of one transform: rank 1, 2 or 3, each at least 1.
class fft_dims {
public:
  fft_dims(std::initializer_list<std::size_t> dims) {
    require(dims.size() >= 1 && dims.size() <= 3, "fft_dims", "rank 1, 2 or 3", dims.size());
    std::size_t total = 1;
    for (std::size_t d : dims) {
      require(d >= 1 && d <= static_cast<std::size_t>(INT_MAX) / 2, "fft_dims", "dimensions in [1, INT_MAX/2]", d);
      require(total <= static_cast<std::size_t>(INT_MAX) / d, "fft_dims", "a transform of at most INT_MAX values",
              detail::text("a product beyond it at dimension ", d));
      total *= d;
      n_[rank_++] = d;
    }
  }
  [[nodiscard]] std::size_t rank() const { return rank_; }
  [[nodiscard]] std::size_t operator[](std::size_t axis) const { return n_[axis]; }
  /// Values in one real transform: the product of the dimensions.
  [[nodiscard]] std::size_t real_size() const {
    std::size_t s = 1;
    for (std::size_t i = 0; i < rank_; ++i) s *= n_[i];
    return s;
  }
  /// Complex numbers in one spectrum: the product of all but the last dimension, times last / 2 + 1.
  [[nodiscard]] std::size_t complex_size() const { return real_size() / n_[rank_ - 1] * (n_[rank_ - 1] / 2 + 1); }
  /// The dimensions as FFTW and cuFFT take them.
  [[nodiscard]] std::array<int, 3> as_int() const {
    return {static_cast<int>(n_[0]), static_cast<int>(n_[1]), static_cast<int>(n_[2])};
  }
  /// A key for plan caches, such as "32x32".
  [[nodiscard]] std::string key() const {
    std::string k;
    for (std::size_t i = 0; i < rank_; ++i) {
      if (i > 0) k += 'x';
      k += std::to_string(n_[i]);
    }
    return k;
  }

private:
  std::array<std::size_t, 3> n_{1, 1, 1};
  std::size_t rank_ = 0;
};

namespace detail {

/// Checks shared by both backends' fft_forward and fft_inverse.
template <class Scalar>
void check_fft_arguments(const char* where, const fft_dims& dims, std::size_t batch, const Scalar* real,
                         const Scalar* spectrum) {
  require((real != nullptr && spectrum != nullptr) || batch == 0, where, "non-null arrays for a batch > 0",
          detail::text("batch = ", batch));
  const std::size_t real_bytes = batch * dims.real_size() * sizeof(Scalar);
  const std::size_t spectrum_bytes = batch * dims.complex_size() * 2 * sizeof(Scalar);
  const auto* r = reinterpret_cast<const char*>(real);
  const auto* s = reinterpret_cast<const char*>(spectrum);
  require(batch == 0 || r + real_bytes <= s || s + spectrum_bytes <= r, where,
          "real and spectrum arrays that do not overlap (transforms are out of place)", dims.key());
}

/// A few flops per value per level of the transform: enough to decide whether a batch is worth a parallel region.
inline std::size_t fft_work(const fft_dims& dims) {
  std::size_t levels = 1;
  for (std::size_t n = dims.real_size(); n > 1; n /= 2) ++levels;
  return 5 * dims.real_size() * levels;
}

}  // namespace detail

}  // namespace attractor
