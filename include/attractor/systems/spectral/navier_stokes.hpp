// Two-dimensional Navier-Stokes vorticity with random-wave forcing (spec section 4; the paper's eq. 11-13 and the
// FourierCore branch response_2dns), on the doubly periodic grid of systems/spectral/grid.hpp:
//   d zeta/dt = -1/2 [u.grad(zeta) + div(u zeta)] + D zeta + F,
//   psi = Laplacian^-1 zeta (0 at k = 0), u = (d psi/dy + A, -d psi/dx) with the mean flow A = pi along x,
//   D = -nu_h Laplacian^-2 - nu Laplacian^2 on k != 0 (nu_h = 1e-2, nu = 1e-5), and minus the spatial mean at k = 0
//       (rate 1, "minus the spatial mean of zeta" in the code),
//   F = Re(IFFT(a W_k exp(i phi_k))) - 0.9 mean(...), a = 300 (n/128)^2, W_k the disk kx^2 + ky^2 <= 2 (kmax/2)^2 of
//       the full complex plane with kmax = n/2 - 1 (112.5 at n = 32), k = 0 included, the Nyquist row and column
//       zeroed (the disk never reaches them: 2 kx^2 <= (n/2 - 1)^2 keeps |kx| < n/2 - 1).
// The advection is the skew-symmetric form, evaluated pseudo-spectrally without dealiasing as the code does; with
// skew-adjoint spectral derivatives (odd multipliers 0 at the Nyquist index, grid.hpp) it conserves the discrete
// enstrophy sum(zeta^2) exactly for any velocity, and the energy up to aliasing.
//
// The forcing's phases phi_k, one per forced mode of the full complex plane (k and -k have phases of their own) and
// per member, start uniform on [0, 2 pi) and each takes a step sqrt(dt) N(0, 1) at t + dt/2 and another at t + dt
// (d phi = sqrt(2) dW). RK4 stage 1 uses phi(t), stages 2 and 3 phi(t + dt/2), stage 4 phi(t + dt). Re(IFFT(.)) of
// the full-plane forcing is the transform of its Hermitian part, so in the spectrum of the real field the forcing at
// k is (a/2) W_k (exp(i phi_k) + exp(-i phi_-k)); the mean removal keeps 1 - 0.9 of it at k = 0.
//
// The phases are hidden state: a member's state is its n^2 vorticity values (the field, in the layout of grid.hpp)
// followed by its forced_modes() phases, so dimension() = n^2 + forced_modes(). The phases are in the order of the
// forced modes in the full complex plane, row-major by (iky, ikx) with both indices in [0, n).
//
// Time step: RK4 with dt = 1/(4n) = 1/128. Each stage transforms five fields back (zeta, its two derivatives and the
// two velocity components, in one batch) and three products forward (u.grad(zeta), u_x zeta, u_y zeta).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>

#include "attractor/backend/context.hpp"
#include "attractor/backend/fft.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/spectral/grid.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems::spectral {

/// The spec's constants; dt is the spec's 1/(4n) at n = 32: change it with n.
struct navier_stokes_parameters {
  std::size_t n = 32;                   // grid points per side
  double hypoviscosity = 1e-2;          // nu_h, on Laplacian^-2
  double viscosity = 1e-5;              // nu, on Laplacian^2
  double mean_damping = 1;              // the rate at which the spatial mean decays
  double mean_flow = std::numbers::pi;  // A, the uniform flow along x
  double forcing = 300;                 // the forcing amplitude at n = 128: a = forcing (n/128)^2
  double forcing_mean_removed = 0.9;    // the fraction of the forcing's spatial mean taken off
  double dt = 1.0 / 128;                // time step
};

namespace detail {

/// The largest m >= 0 with 2 (m^2 + ky^2) <= r2, or -1 when there is none: the forced modes of row ky are
/// kx in [-m, m].
ATTRACTOR_HOST_DEVICE inline std::int64_t forced_half_width(std::int64_t ky, std::int64_t r2) {
  if (2 * ky * ky > r2) return -1;
  auto m = static_cast<std::int64_t>(std::sqrt(static_cast<double>(r2 - 2 * ky * ky) / 2));
  while (2 * ((m + 1) * (m + 1) + ky * ky) <= r2) ++m;
  while (m > 0 && 2 * (m * m + ky * ky) > r2) --m;
  return m;
}

/// The number of forced modes in row ky: 2 m + 1, or 0.
ATTRACTOR_HOST_DEVICE inline std::int64_t forced_row_count(std::int64_t ky, std::int64_t r2) {
  const std::int64_t m = forced_half_width(ky, r2);
  return m < 0 ? 0 : 2 * m + 1;
}

/// The phase index of the full-plane mode (iky, ikx), both in [0, n), or -1 when it is not forced. r2 = (n/2 - 1)^2.
ATTRACTOR_HOST_DEVICE inline std::int64_t forced_mode_index(const grid& g, std::size_t iky, std::size_t ikx) {
  const auto half_n = static_cast<std::int64_t>(g.n / 2);
  const std::int64_t r2 = (half_n - 1) * (half_n - 1);
  const std::int64_t m = forced_half_width(g.wavenumber(iky), r2);
  const std::int64_t kx = g.wavenumber(ikx);
  if (m < 0 || kx > m || kx < -m) return -1;
  std::int64_t before = 0;
  for (std::size_t row = 0; row < iky; ++row) before += forced_row_count(g.wavenumber(row), r2);
  return before + (kx >= 0 ? kx : m + 1 + (kx + m));
}

/// The number of forced modes of the full complex plane.
inline std::size_t forced_mode_count(const grid& g) {
  const auto half_n = static_cast<std::int64_t>(g.n / 2);
  std::int64_t count = 0;
  for (std::size_t row = 0; row < g.n; ++row) count += forced_row_count(g.wavenumber(row), (half_n - 1) * (half_n - 1));
  return static_cast<std::size_t>(count);
}

/// For mode j of the half spectrum: the phase indices of k and of -k (-1 when not forced).
struct forcing_table_kernel {
  grid g;
  std::int32_t* out;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t j) const {
    const std::size_t ikx = j % g.half(), iky = j / g.half();
    out[2 * j] = static_cast<std::int32_t>(forced_mode_index(g, iky, ikx));
    out[2 * j + 1] = static_cast<std::int32_t>(forced_mode_index(g, (g.n - iky) % g.n, (g.n - ikx) % g.n));
  }
};

/// Stage input v (N x modes) -> five spectra [zeta, i kx zeta, i ky zeta, u_x = i ky psi, u_y = -i kx psi], each
/// N x modes, one after the other in s, with psi = -zeta / |k|^2 (0 at k = 0).
template <class Scalar>
struct ns_prepare_kernel {
  grid g;
  const Scalar* v;
  Scalar* s;
  std::size_t members;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t b, std::size_t j) const {
    const std::size_t stride = 2 * g.modes() * members;  // one spectrum of every member
    const std::size_t i = 2 * (b * g.modes() + j);
    const auto kx = static_cast<Scalar>(g.odd_wavenumber(j % g.half()));
    const auto ky = static_cast<Scalar>(g.odd_wavenumber(j / g.half()));
    const auto k2 = static_cast<Scalar>(g.squared_wavenumber(j));
    const Scalar zr = v[i], zi = v[i + 1];
    const Scalar inv = k2 == 0 ? Scalar(0) : Scalar(1) / k2;
    const Scalar pr = -zr * inv, pi = -zi * inv;  // psi
    s[i] = zr;
    s[i + 1] = zi;
    s[stride + i] = -kx * zi;  // i kx zeta
    s[stride + i + 1] = kx * zr;
    s[2 * stride + i] = -ky * zi;  // i ky zeta
    s[2 * stride + i + 1] = ky * zr;
    s[3 * stride + i] = -ky * pi;  // i ky psi
    s[3 * stride + i + 1] = ky * pr;
    s[4 * stride + i] = kx * pi;  // -i kx psi
    s[4 * stride + i + 1] = -kx * pr;
  }
};

/// The five fields (each N x n^2, left n^2 too large by the inverse transforms) -> the three products
/// [u.grad(zeta), u_x zeta, u_y zeta] in the first three, with u_x += A.
template <class Scalar>
struct ns_products_kernel {
  Scalar* r;
  std::size_t count;  // N n^2
  Scalar scale;       // 1/n^2
  Scalar mean_flow;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t p) const {
    const Scalar zeta = scale * r[p];
    const Scalar zx = scale * r[count + p];
    const Scalar zy = scale * r[2 * count + p];
    const Scalar ux = scale * r[3 * count + p] + mean_flow;
    const Scalar uy = scale * r[4 * count + p];
    r[p] = ux * zx + uy * zy;
    r[count + p] = ux * zeta;
    r[2 * count + p] = uy * zeta;
  }
};

/// RK4 stage `stage` (0-3) at mode (b, j): the tendency k = -1/2 [A + i kx B + i ky C] + D v + forcing, with A, B, C
/// the transforms of the three products in s, then the same updates as the diagonal SDE's stage (sde.hpp) without
/// noise: v receives the next stage's input (stage 3: the new state, which is also the next step's first input).
template <class Scalar>
struct ns_stage_kernel {
  grid g;
  Scalar* u;
  Scalar* v;
  Scalar* acc;
  const Scalar* s;
  const Scalar* phases;  // N x forced modes
  const std::int32_t* forcing_index;
  std::size_t members;
  std::size_t forced;
  Scalar hypoviscosity, viscosity, mean_damping;
  Scalar half_amplitude;  // a/2
  Scalar mean_kept;       // 1 - the fraction of the mean removed
  Scalar dt;
  int stage;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t b, std::size_t j) const {
    const std::size_t stride = 2 * g.modes() * members;
    const std::size_t i = 2 * (b * g.modes() + j);
    const auto kx = static_cast<Scalar>(g.odd_wavenumber(j % g.half()));
    const auto ky = static_cast<Scalar>(g.odd_wavenumber(j / g.half()));
    const auto k2 = static_cast<Scalar>(g.squared_wavenumber(j));
    const Scalar damping = k2 == 0 ? -mean_damping : -hypoviscosity / (k2 * k2) - viscosity * k2 * k2;
    const Scalar vr = v[i], vi = v[i + 1];
    // -1/2 (A + i kx B + i ky C)
    Scalar kr = Scalar(-0.5) * (s[i] - kx * s[stride + i + 1] - ky * s[2 * stride + i + 1]) + damping * vr;
    Scalar ki = Scalar(-0.5) * (s[i + 1] + kx * s[stride + i] + ky * s[2 * stride + i]) + damping * vi;
    const std::int32_t plus = forcing_index[2 * j], minus = forcing_index[2 * j + 1];
    if (plus >= 0) {  // W is symmetric, so -k is forced too
      const Scalar a = phases[b * forced + static_cast<std::size_t>(plus)];
      const Scalar c = phases[b * forced + static_cast<std::size_t>(minus)];
      const Scalar keep = k2 == 0 ? mean_kept : Scalar(1);
      kr += keep * half_amplitude * (std::cos(a) + std::cos(c));
      ki += keep * half_amplitude * (std::sin(a) - std::sin(c));
    }
    Scalar nr, ni;
    rk4_stage_update(stage, dt, kr, ki, u, acc, i, Scalar(0), Scalar(0), nr, ni);
    v[i] = nr;
    v[i + 1] = ni;
  }
};

/// sin(3x) sin(3y) at pixel p for every member: states[p N + b].
template <class Scalar>
struct ns_initial_kernel {
  grid g;
  Scalar* states;
  std::size_t members;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t p, std::size_t b) const {
    const double h = 2 * 3.14159265358979323846 / static_cast<double>(g.n);
    const double x = h * static_cast<double>(p % g.n), y = h * static_cast<double>(p / g.n);
    states[p * members + b] = static_cast<Scalar>(std::sin(3 * x) * std::sin(3 * y));
  }
};

}  // namespace detail

/// The stepper (systems/stepper.hpp) of the vorticity and its forcing phases, for Scalar on Backend.
template <floating_scalar Scalar, class Backend = cpu>
class navier_stokes {
public:
  using parameters = navier_stokes_parameters;

  /// Throws attractor::error naming systems::spectral::navier_stokes on a grid size that is not even and >= 4, a
  /// coefficient that is not finite, or dt <= 0.
  explicit navier_stokes(const parameters& p = {}) : p_(p) {
    constexpr const char* fn = "systems::spectral::navier_stokes";
    require_grid(p_.n, fn);
    require(std::isfinite(p_.dt) && p_.dt > 0, fn, "a finite time step dt > 0", p_.dt);
    require(std::isfinite(p_.hypoviscosity) && std::isfinite(p_.viscosity) && std::isfinite(p_.mean_damping) &&
                std::isfinite(p_.mean_flow) && std::isfinite(p_.forcing) && std::isfinite(p_.forcing_mean_removed),
            fn, "finite coefficients",
            attractor::detail::text("nu_h = ", p_.hypoviscosity, ", nu = ", p_.viscosity,
                                    ", mean damping = ", p_.mean_damping, ", A = ", p_.mean_flow,
                                    ", forcing = ", p_.forcing, ", mean removed = ", p_.forcing_mean_removed));
    forced_ = detail::forced_mode_count(grid{p_.n});
  }

  [[nodiscard]] const parameters& params() const { return p_; }
  /// The number of forced modes (of the full complex plane), each with a phase per member.
  [[nodiscard]] std::size_t forced_modes() const { return forced_; }
  /// n^2 vorticity values, then forced_modes() phases.
  [[nodiscard]] std::size_t dimension() const { return p_.n * p_.n + forced_; }
  /// The forcing amplitude a = forcing (n/128)^2 (18.75 at n = 32).
  [[nodiscard]] double amplitude() const {
    const double r = static_cast<double>(p_.n) / 128;
    return p_.forcing * r * r;
  }

  /// Advances states (dimension() x N, one member per column) by `steps` RK4 steps in place. Draws 2 N
  /// forced_modes() normals per step from gen (the phases' two half-step increments), and nothing else.
  void advance(context<Backend>& ctx, tensor_view<Scalar, Backend> states, std::size_t steps, philox& gen) const {
    constexpr const char* fn = "systems::spectral::navier_stokes::advance";
    const grid g{p_.n};
    const std::size_t pixels = g.pixels(), d = dimension();
    require(states.rank() == 2 && states.extent(0) == d, fn,
            attractor::detail::text("states of shape ", d, " x N (n^2 vorticity values and ", forced_,
                                    " phases per member, one member per column)"),
            states.shape());
    const std::size_t members = states.extent(1);
    if (members == 0 || steps == 0) return;
    const std::size_t modes = g.modes();
    const std::size_t spectra = checked_product(2 * modes, members, fn, "spectrum values");
    const std::size_t fields = checked_product(pixels, members, fn, "field values");
    const std::size_t phase_count = checked_product(forced_, members, fn, "phases");
    detail::carver ws(
        ctx.scratch(detail::aligned_bytes<std::int32_t>(2 * modes) + detail::aligned_bytes<Scalar>(spectra) * 8 +
                    detail::aligned_bytes<Scalar>(fields) * 5 + detail::aligned_bytes<Scalar>(phase_count) * 2));
    auto* table = ws.take<std::int32_t>(2 * modes);
    Scalar* u = ws.take<Scalar>(spectra);
    Scalar* v = ws.take<Scalar>(spectra);
    Scalar* acc = ws.take<Scalar>(spectra);
    Scalar* s = ws.take<Scalar>(5 * spectra);
    Scalar* r = ws.take<Scalar>(5 * fields);
    Scalar* phases = ws.take<Scalar>(phase_count);
    Scalar* xi = ws.take<Scalar>(phase_count);

    for_each_index(ctx, modes, detail::forcing_table_kernel{g, table});
    const auto* in = static_cast<const Scalar*>(states.data());
    detail::gather_members(ctx, in, r, members, 0, pixels, Scalar(1));
    detail::gather_members(ctx, in, phases, members, pixels, forced_, Scalar(1));
    const fft_dims dims = g.dims();
    fft_forward(ctx, dims, members, static_cast<const Scalar*>(r), u);
    map(ctx, spectra, v, ops::identity{}, static_cast<const Scalar*>(u));

    const Scalar scale = Scalar(1) / static_cast<Scalar>(pixels);
    const auto dt = static_cast<Scalar>(p_.dt);
    const auto half_step = static_cast<Scalar>(std::sqrt(p_.dt));
    detail::ns_stage_kernel<Scalar> stage{g,
                                          u,
                                          v,
                                          acc,
                                          s,
                                          phases,
                                          table,
                                          members,
                                          forced_,
                                          static_cast<Scalar>(p_.hypoviscosity),
                                          static_cast<Scalar>(p_.viscosity),
                                          static_cast<Scalar>(p_.mean_damping),
                                          static_cast<Scalar>(amplitude() / 2),
                                          static_cast<Scalar>(1 - p_.forcing_mean_removed),
                                          dt,
                                          0};
    for (std::size_t step = 0; step < steps; ++step) {
      for (int k = 0; k < 4; ++k) {
        if (k == 1 || k == 3) {  // the phases at t + dt/2, then at t + dt
          fill_normal(ctx, gen, xi, phase_count, Scalar(0), half_step);
          map(ctx, phase_count, phases, ops::plus{}, static_cast<const Scalar*>(phases),
              static_cast<const Scalar*>(xi));
        }
        for_each_row_col(ctx, members, modes, detail::ns_prepare_kernel<Scalar>{g, v, s, members});
        fft_inverse(ctx, dims, 5 * members, s, r);
        for_each_index(ctx, fields,
                       detail::ns_products_kernel<Scalar>{r, fields, scale, static_cast<Scalar>(p_.mean_flow)});
        fft_forward(ctx, dims, 3 * members, static_cast<const Scalar*>(r), s);
        stage.stage = k;
        for_each_row_col(ctx, members, modes, stage);
      }
    }
    map(ctx, spectra, s, ops::identity{}, static_cast<const Scalar*>(u));
    fft_inverse(ctx, dims, members, s, r);
    detail::scatter_members(ctx, static_cast<const Scalar*>(r), states.data(), members, 0, pixels, scale);
    detail::scatter_members(ctx, static_cast<const Scalar*>(phases), states.data(), members, pixels, forced_,
                            Scalar(1));
  }

  /// The spec's initial condition: sin(3x) sin(3y) for every member, and phases uniform on [0, 2 pi) from gen
  /// (one fill of forced_modes() x N values, in the states' row-major order), into states (dimension() x N).
  void initial_states(context<Backend>& ctx, tensor_view<Scalar, Backend> states, philox& gen) const {
    constexpr const char* fn = "systems::spectral::navier_stokes::initial_states";
    const std::size_t d = dimension();
    require(states.rank() == 2 && states.extent(0) == d, fn,
            attractor::detail::text("states of shape ", d, " x N (one member per column)"), states.shape());
    const std::size_t members = states.extent(1);
    if (members == 0) return;
    const grid g{p_.n};
    for_each_row_col(ctx, g.pixels(), members, detail::ns_initial_kernel<Scalar>{g, states.data(), members});
    fill_uniform(ctx, gen, states.data() + g.pixels() * members, forced_ * members, Scalar(0),
                 static_cast<Scalar>(2 * std::numbers::pi));
  }

private:
  parameters p_;
  std::size_t forced_ = 0;
};

}  // namespace attractor::systems::spectral
