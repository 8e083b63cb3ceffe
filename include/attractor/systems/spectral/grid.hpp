// The grid the spectral systems (systems/spectral/) share: an n x n doubly periodic grid on [0, 2 pi)^2, its
// wavenumbers, and the layout of fields and spectra.
//
// A field is stored row-major as field[iy][ix] with x the fastest (last) axis: flat pixel p = iy n + ix, which is
// Julia's column-major linear index minus 1 in the paper's code (its first array index is x, the direction of
// advection), so the paper's pixel (1, 1) is p = 0 and the pixels next to it along x are p = 1, 2, 3. Node (ix, iy)
// sits at (x, y) = (2 pi ix / n, 2 pi iy / n).
//
// A spectrum is the real-to-complex transform of a field with fft_dims{n, n} (backend/fft.hpp): the halved axis is x,
// so mode j = iky (n/2 + 1) + ikx with ikx in [0, n/2] and iky in [0, n), stored as interleaved (re, im) pairs. The
// integer wavenumber of index i is i for i < n/2 and i - n otherwise, the order [0..n/2-1, -n/2..-1] of the spec:
// the Nyquist index n/2 is the wavenumber -n/2. Transforms are unnormalised, so the spectrum of a field u is
// u_hat(k) = sum_p u_p exp(-i k.x_p) and the inverse transform returns n^2 u.
//
// Derivatives are diagonal: d/dx -> i kx, Laplacian -> -|k|^2. An odd derivative multiplies the Nyquist index by 0
// (odd_wavenumber). The paper's code keeps the Nyquist wavenumber, transforms over the full complex plane and takes
// the real part after each inverse transform. At the Nyquist index the grid sees exp(-i (n/2) x_p) = (-1)^ix, a real
// sign, and the column of a real field's spectrum there is Hermitian in ky, so (i kx u_hat) contributes a purely
// imaginary field there, which the real part drops: a multiplier of 0 is the same thing. It also keeps every
// multiplier m(k) with m(-k) = conj(m(k)), so the spectra stay Hermitian, which is what the complex-to-real transform
// assumes of its columns ikx = 0 and ikx = n/2. Even multipliers (|k|^2) are the same for -n/2 and n/2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attractor/backend/context.hpp"
#include "attractor/backend/fft_dims.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"

namespace attractor::systems::spectral {

/// An n x n grid on [0, 2 pi)^2 with its wavenumbers (see the header comment for the layouts).
struct grid {
  std::size_t n = 32;

  /// Pixels of a field, n^2.
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::size_t pixels() const { return n * n; }
  /// Columns of a spectrum, n/2 + 1.
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::size_t half() const { return n / 2 + 1; }
  /// Complex modes of a spectrum, n (n/2 + 1).
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::size_t modes() const { return n * half(); }
  /// The integer wavenumber of index i in [0, n): i below n/2, i - n from the Nyquist index n/2 on.
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::int64_t wavenumber(std::size_t i) const {
    return i < n / 2 ? static_cast<std::int64_t>(i) : static_cast<std::int64_t>(i) - static_cast<std::int64_t>(n);
  }
  /// The wavenumber an odd derivative multiplies by: wavenumber(i), but 0 at the Nyquist index n/2.
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::int64_t odd_wavenumber(std::size_t i) const {
    return i == n / 2 ? 0 : wavenumber(i);
  }
  /// |k|^2 of the spectrum's mode j = iky (n/2 + 1) + ikx.
  [[nodiscard]] ATTRACTOR_HOST_DEVICE std::int64_t squared_wavenumber(std::size_t j) const {
    const std::int64_t kx = wavenumber(j % half());
    const std::int64_t ky = wavenumber(j / half());
    return kx * kx + ky * ky;
  }
  /// The transform shape of one field.
  [[nodiscard]] fft_dims dims() const { return fft_dims{n, n}; }
};

/// Throws attractor::error naming `function` unless n is even and at least 4.
inline void require_grid(std::size_t n, std::string_view function) {
  require(n >= 4 && n % 2 == 0 && n <= (std::size_t{1} << 15), function, "a grid size n even, >= 4 and <= 32768", n);
}

namespace detail {

/// Bytes of `count` elements of T, rounded up to whole 64-byte lines, so arrays carved one after another from one
/// scratch block stay aligned as the block is.
template <class T>
constexpr std::size_t aligned_bytes(std::size_t count) {
  return (count * sizeof(T) + 63) / 64 * 64;
}

/// Carves one scratch block into arrays: take<T>(count) hands out the next 64-byte aligned array.
class carver {
public:
  explicit carver(void* base) : next_(static_cast<std::byte*>(base)) {}
  template <class T>
  T* take(std::size_t count) {
    T* p = reinterpret_cast<T*>(next_);
    next_ += aligned_bytes<T>(count);
    return p;
  }

private:
  std::byte* next_;
};

/// out[r ro + c co] = scale in[r ri + c ci] over a rows x cols index space: the strided copy behind gather_members
/// and scatter_members (their outputs and inputs are offset beforehand).
template <class Scalar>
struct strided_copy_kernel {
  const Scalar* in;
  Scalar* out;
  std::size_t in_row, in_col, out_row, out_col;
  Scalar scale;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t r, std::size_t c) const {
    out[r * out_row + c * out_col] = scale * in[r * in_row + c * in_col];
  }
};

/// Rows [first, first + count) of the states (Nx x N), scaled, into a member-major array (N x count): the transpose
/// a stepper makes once per call of advance, so that each member's field is contiguous for the batched transforms.
template <class Scalar, class Backend>
void gather_members(context<Backend>& ctx, const Scalar* states, Scalar* member_major, std::size_t members,
                    std::size_t first, std::size_t count, Scalar scale) {
  // rows: members, columns: state variables, so the member-major writes are contiguous
  for_each_row_col(ctx, members, count,
                   strided_copy_kernel<Scalar>{states + first * members, member_major, 1, members, count, 1, scale});
}

/// The inverse of gather_members: a member-major array (N x count), scaled, into rows [first, first + count) of the
/// states (Nx x N).
template <class Scalar, class Backend>
void scatter_members(context<Backend>& ctx, const Scalar* member_major, Scalar* states, std::size_t members,
                     std::size_t first, std::size_t count, Scalar scale) {
  // rows: state variables, columns: members, so the writes into the states are contiguous
  for_each_row_col(ctx, count, members,
                   strided_copy_kernel<Scalar>{member_major, states + first * members, 1, count, members, 1, scale});
}

/// The bookkeeping of RK4 stage `stage` (0-3) of a spectral system at the real number i of its N spectra, given the
/// stage's tendency k (kr, ki): stages 0-2 accumulate k into acc (k1 + 2 k2 + 2 k3) and return the next stage's input
/// u + c k (c = dt/2, dt/2, dt); stage 3 completes the step, u += dt/6 (acc + k) + noise, and returns the new u (the
/// next step's first input).
template <class Scalar>
ATTRACTOR_HOST_DEVICE inline void rk4_stage_update(int stage, Scalar dt, Scalar kr, Scalar ki, Scalar* u, Scalar* acc,
                                                   std::size_t i, Scalar noise_re, Scalar noise_im, Scalar& next_re,
                                                   Scalar& next_im) {
  if (stage == 3) {
    next_re = u[i] + dt / 6 * (acc[i] + kr) + noise_re;
    next_im = u[i + 1] + dt / 6 * (acc[i + 1] + ki) + noise_im;
    u[i] = next_re;
    u[i + 1] = next_im;
    return;
  }
  if (stage == 0) {
    acc[i] = kr;
    acc[i + 1] = ki;
  } else {
    acc[i] += 2 * kr;
    acc[i + 1] += 2 * ki;
  }
  const Scalar c = stage == 2 ? dt : dt / 2;
  next_re = u[i] + c * kr;
  next_im = u[i + 1] + c * ki;
}

}  // namespace detail

}  // namespace attractor::systems::spectral
