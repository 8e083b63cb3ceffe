// The engine the Ornstein-Uhlenbeck and Allen-Cahn systems share (spec sections 1-3): a stochastic PDE on the
// doubly periodic grid (systems/spectral/grid.hpp) whose drift is diagonal in Fourier space plus Sigma times a
// pointwise nonlinearity,
//   du = [ L u + alpha Sigma f(u) ] dt + (noise),   f(u) = u (1 - u^2),   Sigma = (1 - Laplacian)^-1 -> 1/(1 + |k|^2),
//   L(k) = -lambda Sigma(k) - kappa |k|^2 - i A kx,
// that is -lambda Sigma u + kappa Laplacian u - A du/dx. Ornstein-Uhlenbeck is alpha = 0, Allen-Cahn is lambda = 0.
//
// Time stepping, as the paper's code: classical RK4 on the drift, then the additive noise (operator splitting,
// Euler-Maruyama). The state stays a spectrum u_hat during a call to advance: each RK4 stage evaluates f with one
// inverse transform (of a copy, since the complex-to-real transform overwrites its input) and one forward transform.
// With alpha = 0 the drift is diagonal, so a step is the RK4 stages evaluated mode by mode with no transform at all,
// which is exactly the RK4 amplification 1 + z + z^2/2 + z^3/6 + z^4/24 of z = dt L(k).
//
// The noise. The code adds, per step, sqrt(dt) Re(IFFT(n^2 sqrt(Sigma_eps(k)) (xi_r + i xi_i))) with xi_r, xi_i iid
// N(0, 1) per mode of the full complex plane and Sigma_eps = eps^2 Sigma, IFFT normalised by 1/n^2. Both that and
// sqrt(dt) n eps Sigma^{1/2} eta, with eta iid N(0, 1) per pixel, are zero-mean Gaussian fields, so they have the same
// distribution when their covariances agree:
//   * For the code's: Re(xi_k e^{i theta}) = xi_r cos(theta) - xi_i sin(theta), so
//     E[Re(xi_k e^{i k.x}) Re(xi_k e^{i k.y})] = cos(k.x) cos(k.y) + sin(k.x) sin(k.y) = cos(k.(x - y)), and the
//     modes are independent: the covariance is dt sum_k eps^2 Sigma(k) cos(k.(x - y)) = dt sum_k eps^2 Sigma(k)
//     e^{i k.(x - y)} (Sigma is even in k, the Nyquist wavenumber included).
//   * For the pixel form: the circulant matrix with eigenvalues s(k) has entries (1/n^2) sum_k s(k) e^{i k.(x - y)},
//     so dt n^2 eps^2 Sigma has entries dt sum_k eps^2 Sigma(k) e^{i k.(x - y)}: the same.
// In the spectrum the pixel form's increment is sqrt(dt) n eps sqrt(Sigma(k)) eta_hat(k), and eta_hat = FFT(eta) is
// itself Gaussian with a known law (Hermitian; E|eta_hat(k)|^2 = n^2; the 4 self-conjugate modes, both wavenumbers 0
// or -n/2, real with variance n^2; the others complex with independent real and imaginary parts of variance n^2/2,
// independent across pairs {k, -k}). So it is drawn directly in the spectrum (detail::hermitian_normal), which saves
// a transform per step: E|increment(k)|^2 = dt n^4 eps^2 Sigma(k).
//
// The analytic score of the stationary density on the grid (spec section 5), with this noise (covariance
// n^2 eps^2 Sigma per unit time): s = (2 / (n^2 eps^2)) [alpha f(u) - lambda u + kappa (Laplacian u - Laplacian^2 u)],
// the continuum score divided by n^2. The advection does not enter: it is antisymmetric and commutes with Sigma.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "attractor/backend/context.hpp"
#include "attractor/backend/fft.hpp"
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/systems/spectral/grid.hpp"
#include "attractor/tensor/checks.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::systems::spectral {

/// The coefficients of a diagonal-plus-pointwise SPDE (see the header comment).
struct sde_coefficients {
  std::size_t n = 32;             // grid points per side
  double lambda = 0;              // -lambda Sigma u
  double alpha = 0;               // alpha Sigma u (1 - u^2)
  double kappa = 2.5e-4;          // kappa Laplacian u
  double advection = 0.02;        // -A du/dx
  double noise_variance = 0.004;  // eps^2
  double dt = 1.0 / 32;           // time step
};

namespace detail {

/// What one mode needs during a step: L(k) = (re, im), alpha Sigma(k), and the noise scale sqrt(dt) n^2 eps
/// sqrt(Sigma(k)) of a unit Hermitian normal (hermitian_normal).
template <class Scalar>
struct sde_mode {
  Scalar linear_re;
  Scalar linear_im;
  Scalar nonlinear;
  Scalar noise;
};

template <class Scalar>
struct sde_table_kernel {
  grid g;
  sde_coefficients c;
  sde_mode<Scalar>* out;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t j) const {
    const double k2 = static_cast<double>(g.squared_wavenumber(j));
    const double kx = static_cast<double>(g.odd_wavenumber(j % g.half()));
    const double sigma = 1 / (1 + k2);
    const double n = static_cast<double>(g.n);
    out[j] = {static_cast<Scalar>(-c.lambda * sigma - c.kappa * k2), static_cast<Scalar>(-c.advection * kx),
              static_cast<Scalar>(c.alpha * sigma),
              static_cast<Scalar>(std::sqrt(c.dt * c.noise_variance * sigma) * n * n)};
  }
};

/// A draw of eta_hat(k) / n for eta iid N(0, 1) per pixel (see the header of sde.hpp) at mode j of the spectrum,
/// from the 2 (n/2 + 1) n standard normals `xi` of one member: mode j uses xi[2j] and xi[2j + 1]; in the columns
/// ikx = 0 and ikx = n/2, the rows iky > n/2 are the conjugates of the rows n - iky, and the 4 self-conjugate modes
/// are real. E|value|^2 = 1.
template <class Scalar>
ATTRACTOR_HOST_DEVICE inline void hermitian_normal(const grid& g, const Scalar* xi, std::size_t j, Scalar& re,
                                                   Scalar& im) {
  constexpr Scalar r = static_cast<Scalar>(0.70710678118654752440084436210485);
  const std::size_t h = g.half();
  const std::size_t ikx = j % h;
  const std::size_t iky = j / h;
  const std::size_t mid = g.n / 2;
  if ((ikx != 0 && ikx != mid) || (iky != 0 && iky < mid)) {
    re = r * xi[2 * j];
    im = r * xi[2 * j + 1];
  } else if (iky == 0 || iky == mid) {
    re = xi[2 * j];
    im = 0;
  } else {
    const std::size_t partner = (g.n - iky) * h + ikx;
    re = r * xi[2 * partner];
    im = -r * xi[2 * partner + 1];
  }
}

/// One whole step of the linear system (alpha = 0) at mode (b, j): the four RK4 stages of du/dt = L u in registers,
/// then the noise.
template <class Scalar>
struct sde_linear_step_kernel {
  grid g;
  Scalar* u;
  const Scalar* xi;
  const sde_mode<Scalar>* table;
  Scalar dt;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t b, std::size_t j) const {
    const std::size_t modes = g.modes();
    const sde_mode<Scalar> m = table[j];
    Scalar* w = u + 2 * (b * modes + j);
    const Scalar ur = w[0], ui = w[1];
    Scalar kr, ki, sr, si, vr, vi;
    const auto tendency = [&m, &kr, &ki](Scalar re, Scalar im) {  // k = L v
      kr = m.linear_re * re - m.linear_im * im;
      ki = m.linear_re * im + m.linear_im * re;
    };
    tendency(ur, ui);
    sr = kr;
    si = ki;
    for (int stage = 1; stage < 4; ++stage) {  // the inputs u + dt/2 k1, u + dt/2 k2, u + dt k3
      const Scalar c = stage == 3 ? dt : dt / 2;
      vr = ur + c * kr;
      vi = ui + c * ki;
      tendency(vr, vi);
      if (stage < 3) {
        sr += 2 * kr;
        si += 2 * ki;
      }
    }
    Scalar nr, ni;
    hermitian_normal(g, xi + 2 * b * modes, j, nr, ni);
    w[0] = ur + dt / 6 * (sr + kr) + m.noise * nr;
    w[1] = ui + dt / 6 * (si + ki) + m.noise * ni;
  }
};

/// Stage `stage` (0-3) of an RK4 step of the nonlinear system at mode (b, j). On entry v holds the stage's input and
/// t the transform of f(v); k = L v + alpha Sigma t. Stages 0-2 accumulate k into acc and write the next stage's
/// input into v and t (t is the copy the inverse transform may overwrite); stage 3 completes the step in u, adds the
/// noise, and writes the new u into v and t too, ready for the next step.
template <class Scalar>
struct sde_stage_kernel {
  grid g;
  Scalar* u;
  Scalar* v;
  Scalar* acc;
  Scalar* t;
  const Scalar* xi;
  const sde_mode<Scalar>* table;
  Scalar dt;
  int stage;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t b, std::size_t j) const {
    const std::size_t modes = g.modes();
    const std::size_t i = 2 * (b * modes + j);
    const sde_mode<Scalar> m = table[j];
    const Scalar vr = v[i], vi = v[i + 1];
    const Scalar kr = m.linear_re * vr - m.linear_im * vi + m.nonlinear * t[i];
    const Scalar ki = m.linear_re * vi + m.linear_im * vr + m.nonlinear * t[i + 1];
    Scalar xr = 0, xi_im = 0;
    if (stage == 3) {
      hermitian_normal(g, xi + 2 * b * modes, j, xr, xi_im);
      xr *= m.noise;
      xi_im *= m.noise;
    }
    Scalar nr, ni;
    rk4_stage_update(stage, dt, kr, ki, u, acc, i, xr, xi_im, nr, ni);
    v[i] = nr;
    v[i + 1] = ni;
    t[i] = nr;
    t[i + 1] = ni;
  }
};

/// x <- f(scale x) = (scale x)(1 - (scale x)^2): the nonlinearity on a field the inverse transform left n^2 too large.
template <class Scalar>
struct cubic_kernel {
  Scalar scale;
  ATTRACTOR_HOST_DEVICE Scalar operator()(Scalar x) const {
    const Scalar v = scale * x;
    return v * (1 - v * v);
  }
};

/// Multiplies each member's spectrum (N x modes complex) by a real multiplier of the mode, m(j) times `factor`.
template <class Scalar, class Multiplier>
struct spectral_scale_kernel {
  Scalar* spectrum;
  std::size_t modes;
  Multiplier m;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t b, std::size_t j) const {
    const Scalar f = m(j);
    spectrum[2 * (b * modes + j)] *= f;
    spectrum[2 * (b * modes + j) + 1] *= f;
  }
};

/// The score's linear part: (-lambda - kappa (|k|^2 + |k|^4)) / n^2 (the 1/n^2 undoes the unnormalised pair of
/// transforms).
template <class Scalar>
struct score_multiplier {
  grid g;
  double lambda;
  double kappa;
  ATTRACTOR_HOST_DEVICE Scalar operator()(std::size_t j) const {
    const double k2 = static_cast<double>(g.squared_wavenumber(j));
    const double n2 = static_cast<double>(g.pixels());
    return static_cast<Scalar>((-lambda - kappa * (k2 + k2 * k2)) / n2);
  }
};

/// Sigma(k) = 1/(1 + |k|^2): the smoothing of the Allen-Cahn initial condition (its eps^2 cancels in the division by
/// the maximum).
template <class Scalar>
struct sigma_multiplier {
  grid g;
  ATTRACTOR_HOST_DEVICE Scalar operator()(std::size_t j) const {
    return static_cast<Scalar>(1 / (1 + static_cast<double>(g.squared_wavenumber(j))));
  }
};

/// out = c (alpha u (1 - u^2) + lin): the score from the field u and its linear part lin.
template <class Scalar>
struct score_combine {
  Scalar c;
  Scalar alpha;
  ATTRACTOR_HOST_DEVICE Scalar operator()(Scalar u, Scalar lin) const { return c * (alpha * u * (1 - u * u) + lin); }
};

/// |x|, on every backend.
struct absolute_value {
  template <class T>
  ATTRACTOR_HOST_DEVICE T operator()(T x) const {
    return x < T(0) ? -x : x;
  }
};

/// states[i N + b] = field[b P + i] / max[b]: a member-major field divided by its member's maximum, into the states.
template <class Scalar>
struct divide_by_max_kernel {
  const Scalar* field;
  const Scalar* max;
  Scalar* states;
  std::size_t pixels;
  std::size_t members;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t i, std::size_t b) const {
    states[i * members + b] = field[b * pixels + i] / max[b];
  }
};

/// Throws attractor::error naming `fn` unless every coefficient is finite, n is a valid grid, dt > 0 and eps^2 >= 0.
inline void require_coefficients(const sde_coefficients& c, std::string_view fn) {
  require_grid(c.n, fn);
  require(std::isfinite(c.dt) && c.dt > 0, fn, "a finite time step dt > 0", c.dt);
  require(std::isfinite(c.noise_variance) && c.noise_variance >= 0, fn, "a finite noise variance eps^2 >= 0",
          c.noise_variance);
  require(std::isfinite(c.lambda) && std::isfinite(c.alpha) && std::isfinite(c.kappa) && std::isfinite(c.advection), fn,
          "finite coefficients",
          attractor::detail::text("lambda = ", c.lambda, ", alpha = ", c.alpha, ", kappa = ", c.kappa,
                                  ", A = ", c.advection));
}

}  // namespace detail

/// The stepper (systems/stepper.hpp) and the analytic score of a diagonal-plus-pointwise SPDE (the header comment),
/// for Scalar on Backend; the base of ornstein_uhlenbeck and allen_cahn. A state is one field of n^2 values (grid.hpp's
/// layout). `name` prefixes every message.
template <floating_scalar Scalar, class Backend>
class diagonal_sde {
public:
  diagonal_sde(const sde_coefficients& c, std::string name) : c_(c), name_(std::move(name)) {
    detail::require_coefficients(c_, name_);
  }

  [[nodiscard]] const sde_coefficients& coefficients() const { return c_; }
  [[nodiscard]] std::size_t dimension() const { return c_.n * c_.n; }

  /// Advances states (n^2 x N, one member per column) by `steps` steps in place. Draws n (n + 2) N normals per step
  /// from gen (one per real number of the N spectra; none when eps^2 = 0) and nothing else, so two ensembles of the
  /// same size advanced with copies of one generator receive the same noise (common random numbers), and member b's
  /// noise depends on the generator and b alone. Throws attractor::error on states of another shape.
  void advance(context<Backend>& ctx, tensor_view<Scalar, Backend> states, std::size_t steps, philox& gen) const {
    const std::string fn = name_ + "::advance";
    const grid g{c_.n};
    const std::size_t pixels = g.pixels();
    require(states.rank() == 2 && states.extent(0) == pixels, fn,
            attractor::detail::text("states of shape ", pixels, " x N (one member per column)"), states.shape());
    const std::size_t members = states.extent(1);
    if (members == 0 || steps == 0) return;
    const std::size_t modes = g.modes();
    const std::size_t spectra = checked_product(2 * modes, members, fn, "spectrum values");
    const std::size_t fields = checked_product(pixels, members, fn, "field values");
    const bool linear = c_.alpha == 0;
    const std::size_t bytes = detail::aligned_bytes<detail::sde_mode<Scalar>>(modes) +
                              detail::aligned_bytes<Scalar>(fields) +
                              detail::aligned_bytes<Scalar>(spectra) * (linear ? 2 : 5);
    detail::carver ws(ctx.scratch(bytes));
    auto* table = ws.take<detail::sde_mode<Scalar>>(modes);
    Scalar* r = ws.take<Scalar>(fields);
    Scalar* u = ws.take<Scalar>(spectra);
    Scalar* xi = ws.take<Scalar>(spectra);
    Scalar* v = linear ? nullptr : ws.take<Scalar>(spectra);
    Scalar* acc = linear ? nullptr : ws.take<Scalar>(spectra);
    Scalar* t = linear ? xi : ws.take<Scalar>(spectra);  // the linear path reuses xi for the last copy

    for_each_index(ctx, modes, detail::sde_table_kernel<Scalar>{g, c_, table});
    detail::gather_members(ctx, static_cast<const Scalar*>(states.data()), r, members, 0, pixels, Scalar(1));
    const fft_dims dims = g.dims();
    fft_forward(ctx, dims, members, static_cast<const Scalar*>(r), u);
    const auto dt = static_cast<Scalar>(c_.dt);
    const Scalar scale = Scalar(1) / static_cast<Scalar>(pixels);
    // Without noise (eps^2 = 0) the system is deterministic and leaves gen untouched, as the stepper concept asks.
    const bool noisy = c_.noise_variance > 0;
    if (!noisy) fill(ctx, spectra, xi, Scalar(0));
    if (linear) {
      for (std::size_t s = 0; s < steps; ++s) {
        if (noisy) fill_normal(ctx, gen, xi, spectra);
        for_each_row_col(ctx, members, modes, detail::sde_linear_step_kernel<Scalar>{g, u, xi, table, dt});
      }
      map(ctx, spectra, t, ops::identity{}, static_cast<const Scalar*>(u));
    } else {
      map(ctx, spectra, v, ops::identity{}, static_cast<const Scalar*>(u));
      map(ctx, spectra, t, ops::identity{}, static_cast<const Scalar*>(u));
      for (std::size_t s = 0; s < steps; ++s) {
        if (noisy) fill_normal(ctx, gen, xi, spectra);
        for (int stage = 0; stage < 4; ++stage) {
          fft_inverse(ctx, dims, members, t, r);
          map(ctx, fields, r, detail::cubic_kernel<Scalar>{scale}, static_cast<const Scalar*>(r));
          fft_forward(ctx, dims, members, static_cast<const Scalar*>(r), t);
          for_each_row_col(ctx, members, modes,
                           detail::sde_stage_kernel<Scalar>{g, u, v, acc, t, xi, table, dt, stage});
        }
      }
    }
    fft_inverse(ctx, dims, members, t, r);
    detail::scatter_members(ctx, static_cast<const Scalar*>(r), states.data(), members, 0, pixels, scale);
  }

  /// The analytic score on the grid (the header's formula) of each row of `fields` (batch x n^2) into `out` (the
  /// same shape, not the same memory). Throws attractor::error on other shapes, an output that is the input, NaN or
  /// Inf in fields, or eps^2 = 0.
  void score(context<Backend>& ctx, const_tensor_view<Scalar, Backend> fields, tensor_view<Scalar, Backend> out) const {
    const std::string fn = name_ + "::score";
    const grid g{c_.n};
    const std::size_t pixels = g.pixels();
    require(fields.rank() == 2 && fields.extent(1) == pixels, fn,
            attractor::detail::text("fields of shape batch x ", pixels, " (one field per row)"), fields.shape());
    require(out.shape() == fields.shape(), fn, attractor::detail::text("an output of shape ", fields.shape()),
            out.shape());
    require(out.data() != fields.data() || fields.empty(), fn, "an output that is not the input", "the same memory");
    require(c_.noise_variance > 0, fn, "a positive noise variance eps^2 (the score divides by it)", c_.noise_variance);
    require_finite(ctx, fields, fn, "fields");
    const std::size_t batch = fields.extent(0);
    if (batch == 0) return;
    const std::size_t spectra = checked_product(2 * g.modes(), batch, fn, "spectrum values");
    auto* spectrum = static_cast<Scalar*>(ctx.scratch(spectra * sizeof(Scalar)));
    const fft_dims dims = g.dims();
    fft_forward(ctx, dims, batch, fields.data(), spectrum);
    for_each_row_col(ctx, batch, g.modes(),
                     detail::spectral_scale_kernel<Scalar, detail::score_multiplier<Scalar>>{
                         spectrum, g.modes(), detail::score_multiplier<Scalar>{g, c_.lambda, c_.kappa}});
    fft_inverse(ctx, dims, batch, spectrum, out.data());
    const auto c = static_cast<Scalar>(2 / (c_.noise_variance * static_cast<double>(pixels)));
    map(ctx, out.size(), out.data(), detail::score_combine<Scalar>{c, static_cast<Scalar>(c_.alpha)}, fields.data(),
        static_cast<const Scalar*>(out.data()));
  }

protected:
  /// Allen-Cahn's initial condition (spec section 3): per member, a standard normal field smoothed by Sigma and
  /// divided by its largest absolute value, into `states` (n^2 x N).
  void smoothed_normal_states(context<Backend>& ctx, tensor_view<Scalar, Backend> states, philox& gen) const {
    const std::string fn = name_ + "::initial_states";
    const grid g{c_.n};
    const std::size_t pixels = g.pixels();
    require(states.rank() == 2 && states.extent(0) == pixels, fn,
            attractor::detail::text("states of shape ", pixels, " x N (one member per column)"), states.shape());
    const std::size_t members = states.extent(1);
    if (members == 0) return;
    const std::size_t fields = checked_product(pixels, members, fn, "field values");
    const std::size_t spectra = checked_product(2 * g.modes(), members, fn, "spectrum values");
    detail::carver ws(ctx.scratch(detail::aligned_bytes<Scalar>(fields) + detail::aligned_bytes<Scalar>(spectra) +
                                  detail::aligned_bytes<Scalar>(members)));
    Scalar* r = ws.take<Scalar>(fields);
    Scalar* spectrum = ws.take<Scalar>(spectra);
    Scalar* max = ws.take<Scalar>(members);
    fill_normal(ctx, gen, r, fields);
    const fft_dims dims = g.dims();
    fft_forward(ctx, dims, members, static_cast<const Scalar*>(r), spectrum);
    for_each_row_col(ctx, members, g.modes(),
                     detail::spectral_scale_kernel<Scalar, detail::sigma_multiplier<Scalar>>{
                         spectrum, g.modes(), detail::sigma_multiplier<Scalar>{g}});
    fft_inverse(ctx, dims, members, spectrum, r);
    // Each member's largest |u|, so that every member starts in [-1, 1] whatever its draw. (The paper's code divides
    // the whole ensemble array by its one maximum; a member's own maximum alone can be a small positive number
    // beside a large negative minimum, and such a member, scaled up tenfold, overflows the explicit scheme.)
    map(ctx, fields, spectrum, detail::absolute_value{}, static_cast<const Scalar*>(r));
    reduce_rows(ctx, reduction::max, static_cast<const Scalar*>(spectrum), members, pixels, max);
    for_each_row_col(ctx, pixels, members,
                     detail::divide_by_max_kernel<Scalar>{r, max, states.data(), pixels, members});
  }

private:
  sde_coefficients c_;
  std::string name_;
};

}  // namespace attractor::systems::spectral
