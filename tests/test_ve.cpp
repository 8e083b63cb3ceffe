// The variance-exploding SDE of the score-based response (spec §8): sigma and g against their formulas, the three
// reverse samplers against the exact law their discretisation gives on a Gaussian target, the score-matching
// objective's minimiser against an independent least-squares fit and the analytic score, training through nn::fit,
// the network score, and bad input refused.
#include <doctest/doctest.h>

#include "attractor/core/eigen.hpp"  // first: see there

#include <Eigen/Dense>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/autograd/ops/shape.hpp"
#include "attractor/diffusion.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/response/score_based.hpp"
#include "file_helpers.hpp"
#include "tolerance.hpp"

using namespace attractor;
using attractor_test::absolute;
using attractor_test::relative;

namespace {

constexpr double smin = 0.01, smax = 14.0;

/// The formulas of spec §8, written out here rather than taken from ve_sde.
double sigma_of(double t) { return smin * std::pow(smax / smin, t); }
double g2_of(double t) { return 2 * std::log(smax / smin) * sigma_of(t) * sigma_of(t); }

/// The Gaussian target N(mu, Sigma) in three dimensions, Sigma = L L^T non-diagonal.
Eigen::Vector3d target_mean() { return {0.5, -1.0, 2.0}; }
Eigen::Matrix3d target_cov() {
  Eigen::Matrix3d l;
  l << 1.0, 0, 0, 0.6, 0.8, 0, -0.3, 0.4, 0.5;
  return l * l.transpose();
}

/// The exact score of N(mu, Sigma) perturbed by the VE kernel: -(Sigma + sigma(t)^2 I)^-1 (x - mu).
struct gaussian_score {
  Eigen::Vector3d mu = target_mean();
  Eigen::Matrix3d cov = target_cov();
  double poison_below = -1;  ///< writes NaN at diffusion times below this
  void operator()(context<cpu>&, tensor_view<const double, cpu> x, double t, tensor_view<double, cpu> out) {
    REQUIRE(x.extent(1) == 3);
    const double s = sigma_of(t);
    const Eigen::Matrix3d a = -(cov + s * s * Eigen::Matrix3d::Identity()).inverse();
    for (std::size_t r = 0; r < x.extent(0); ++r) {
      const Eigen::Vector3d d = Eigen::Vector3d(x.at(r, 0), x.at(r, 1), x.at(r, 2)) - mu;
      const Eigen::Vector3d v = a * d;
      for (std::size_t k = 0; k < 3; ++k)
        out.at(r, k) = t < poison_below ? std::nan("") : v[static_cast<Eigen::Index>(k)];
    }
  }
};

static_assert(diffusion::score_model<gaussian_score, double, cpu>);

/// Mean and covariance of the rows of x (n x 3).
void moments(const tensor<double, cpu>& x, Eigen::Vector3d& mean, Eigen::Matrix3d& cov) {
  const std::size_t n = x.extent(0);
  mean.setZero();
  for (std::size_t r = 0; r < n; ++r)
    for (Eigen::Index k = 0; k < 3; ++k) mean[k] += x.at(r, static_cast<std::size_t>(k));
  mean /= static_cast<double>(n);
  cov.setZero();
  for (std::size_t r = 0; r < n; ++r) {
    Eigen::Vector3d d;
    for (Eigen::Index k = 0; k < 3; ++k) d[k] = x.at(r, static_cast<std::size_t>(k)) - mean[k];
    cov += d * d.transpose();
  }
  cov /= static_cast<double>(n - 1);
}

/// The law each sampler gives on the Gaussian target, computed mode by mode: in Sigma's eigenbasis (Sigma = Q diag
/// lambda Q^T) every scheme is a scalar linear recursion on y = Q^T (x - mu), started from the prior's y ~
/// N(-Q^T mu, sigma_max^2).
struct expected_law {
  Eigen::Vector3d mean;
  Eigen::Matrix3d cov;
};

template <class Step>  // step(lambda, mean, var) advances one mode over the whole scheme
expected_law law_of(Step step) {
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(target_cov());
  const Eigen::Matrix3d q = eig.eigenvectors();
  const Eigen::Vector3d m0 = -q.transpose() * target_mean();
  Eigen::Vector3d m, v;
  for (Eigen::Index k = 0; k < 3; ++k) {
    double mk = m0[k], vk = smax * smax;
    step(eig.eigenvalues()[k], mk, vk);
    m[k] = mk;
    v[k] = vk;
  }
  return {target_mean() + q * m, q * v.asDiagonal() * q.transpose()};
}

/// Euler-Maruyama on the grid t_i = 1 - i dt, dt = (1 - t_end) / (N - 1): y <- (1 - g^2 dt / (lambda + sigma^2)) y
/// + g sqrt(dt) xi, noise on every step.
expected_law euler_maruyama_law(std::size_t steps, double t_end) {
  return law_of([&](double lambda, double& m, double& v) {
    const double dt = (1 - t_end) / static_cast<double>(steps - 1);
    for (std::size_t i = 0; i < steps; ++i) {
      const double t = i + 1 == steps ? t_end : 1 - static_cast<double>(i) * dt;
      const double a = 1 - g2_of(t) * dt / (lambda + sigma_of(t) * sigma_of(t));
      m *= a;
      v = a * a * v + g2_of(t) * dt;
    }
  });
}

/// Heun on dy/dt = -g^2 s / 2 = c(t) y with c = g^2 / (2 (lambda + sigma^2)), from 1 to t_end in N steps: going
/// back by dt, y' = (1 - dt c_i) y, y <- y (1 - dt (c_i + c_{i+1} (1 - dt c_i)) / 2). Deterministic.
expected_law heun_law(std::size_t steps, double t_end) {
  return law_of([&](double lambda, double& m, double& v) {
    const double dt = (1 - t_end) / static_cast<double>(steps);
    auto c = [&](double t) { return g2_of(t) / (2 * (lambda + sigma_of(t) * sigma_of(t))); };
    for (std::size_t i = 0; i < steps; ++i) {
      const double t = 1 - static_cast<double>(i) * dt, next = i + 1 == steps ? t_end : t - dt;
      const double a = 1 - dt * (c(t) + c(next) * (1 - dt * c(t))) / 2;
      m *= a;
      v *= a * a;
    }
  });
}

/// Checks the sample mean and covariance of x against `law` within `k` Monte-Carlo standard errors (the sample mean:
/// sqrt(C_ii / n); the sample covariance of a Gaussian: sqrt((C_ii C_jj + C_ij^2) / n)) plus `bias` (absolute).
void check_law(const tensor<double, cpu>& x, const expected_law& law, double k, double bias) {
  Eigen::Vector3d mean;
  Eigen::Matrix3d cov;
  moments(x, mean, cov);
  const double n = static_cast<double>(x.extent(0));
  const Eigen::Matrix3d& c = law.cov;
  for (Eigen::Index i = 0; i < 3; ++i) {
    CHECK(mean[i] == absolute(law.mean[i], k * std::sqrt(c(i, i) / n) + bias));
    for (Eigen::Index j = 0; j < 3; ++j)
      CHECK(cov(i, j) == absolute(c(i, j), k * std::sqrt((c(i, i) * c(j, j) + c(i, j) * c(i, j)) / n) + bias));
  }
  MESSAGE("mean ", mean.transpose(), " expected ", law.mean.transpose(), "; cov diag ", cov.diagonal().transpose(),
          " expected ", c.diagonal().transpose(), " off (0,1) ", cov(0, 1), " vs ", c(0, 1));
}

/// net(x, t) = x W^T + b: a linear score network ignoring t (for training at one noise level).
struct linear_net {
  using scalar_type = double;
  using backend_type = cpu;
  struct pass {
    autograd::value input, time, output;
  };
  linear_net(context<cpu>& ctx, philox& init, std::size_t d) : layer(ctx, init, "net", d, d), d_(d) {}
  pass build(autograd::graph<double, cpu>& g, std::size_t batch) {
    pass p;
    p.input = g.input({batch, d_});
    p.time = g.input({batch});
    p.output = layer(g, p.input);
    return p;
  }
  nn::parameter_list<double, cpu> parameters() {
    nn::parameter_list<double, cpu> list;
    layer.append_parameters(list);
    return list;
  }
  [[nodiscard]] shape sample_shape() const { return {d_}; }
  [[nodiscard]] std::string architecture() const { return attractor::detail::concat("linear d=", d_); }
  nn::linear<double, cpu> layer;
  std::size_t d_;
};

/// net(x, t) = t (x W^T + b): the time reaches the network.
struct time_scaled_net : linear_net {
  using linear_net::linear_net;
  pass build(autograd::graph<double, cpu>& g, std::size_t batch) {
    pass p = linear_net::build(g, batch);
    p.output = autograd::mul(g, p.output, autograd::reshape(g, p.time, {batch, 1}));
    return p;
  }
  [[nodiscard]] std::string architecture() const { return attractor::detail::concat("time-scaled linear d=", d_); }
};

static_assert(diffusion::score_network<linear_net>);
static_assert(diffusion::score_network<time_scaled_net>);
static_assert(nn::objective<diffusion::score_matching_objective<linear_net>>);
static_assert(diffusion::score_model<diffusion::network_score<linear_net>, double, cpu>);
static_assert(response::score_function<diffusion::fixed_time_score<diffusion::network_score<linear_net>>, double, cpu>);

/// n samples of N(mu, Sigma) (n x 3).
tensor<double, cpu> gaussian_data(context<cpu>& ctx, std::size_t n, std::uint64_t seed) {
  tensor<double, cpu> x({n, 3});
  philox gen(seed);
  fill_normal(ctx, gen, x, 0.0, 1.0);
  const Eigen::Matrix3d l = target_cov().llt().matrixL();
  for (std::size_t r = 0; r < n; ++r) {
    const Eigen::Vector3d y = target_mean() + l * Eigen::Vector3d(x.at(r, 0), x.at(r, 1), x.at(r, 2));
    for (std::size_t k = 0; k < 3; ++k) x.at(r, k) = y[static_cast<Eigen::Index>(k)];
  }
  return x;
}

/// The minimiser of the sigma^2-weighted DSM loss at one noise level s over linear nets, for data of mean m and
/// covariance c: net = s * score = -s (c + s^2 I)^-1 (x - m), i.e. W = -s (c + s^2 I)^-1, b = -W m.
void analytic_minimiser(const Eigen::Vector3d& m, const Eigen::Matrix3d& c, double s, Eigen::Matrix3d& w,
                        Eigen::Vector3d& b) {
  w = -s * (c + s * s * Eigen::Matrix3d::Identity()).inverse();
  b = -w * m;
}

}  // namespace

TEST_CASE("diffusion VE SDE: sigma(t), g(t) and g^2 = d sigma^2 / dt against the formulas") {
  const diffusion::ve_sde sde{smin, smax};
  CHECK(sde.sigma(0) == relative(smin, 1e-14));
  CHECK(sde.sigma(1) == relative(smax, 1e-14));
  CHECK(sde.sigma(0.5) == relative(std::sqrt(smin * smax), 1e-14));
  for (double t : {0.0, 1e-5, 0.2, 0.5, 0.9, 1.0}) {
    CHECK(sde.sigma(t) == relative(sigma_of(t), 1e-13));
    CHECK(sde.g(t) == relative(sigma_of(t) * std::sqrt(2 * std::log(1400.0)), 1e-13));
    CHECK(sde.g2(t) == relative(sde.g(t) * sde.g(t), 1e-13));
  }
  // g^2 = d sigma^2 / dt by central differences (error h^2 (d^3 sigma^2/dt^3) / 6 ~ 1e-9 relative at h = 1e-5).
  for (double t : {0.1, 0.5, 0.9}) {
    const double h = 1e-5, s1 = sde.sigma(t + h), s0 = sde.sigma(t - h);
    CHECK((s1 * s1 - s0 * s0) / (2 * h) == relative(sde.g2(t), 1e-7));
  }
  CHECK(sde.prior_std() == smax);
  // The metadata text round-trips exactly, shortest form.
  CHECK(diffusion::sde_text(sde) == "ve sigma_min=0.01 sigma_max=14");
  const diffusion::ve_sde odd{0.1 + 0.2, 1.0 / 3};
  const diffusion::ve_sde back = diffusion::parse_sde(diffusion::sde_text(odd));
  CHECK(back.sigma_min == odd.sigma_min);
  CHECK(back.sigma_max == odd.sigma_max);
}

TEST_CASE("diffusion VE samplers reproduce a Gaussian target with its exact perturbed score") {
  context<cpu> ctx;
  const diffusion::ve_sde sde{smin, smax};
  gaussian_score score;
  const std::size_t n = 10000;
  diffusion::ve_sampler_options o;
  o.chunk = 3000;  // four chunks, the last short

  SUBCASE("Euler-Maruyama, 250 steps to t_end = 1e-3, noise on the last step (CliMAgen)") {
    philox gen(11);
    const auto x = diffusion::sample_euler_maruyama<double>(ctx, score, sde, n, 3, o, gen);
    // Exactly Gaussian (a linear scheme), so the mean and covariance standard errors are exact: 5 of them.
    check_law(x, euler_maruyama_law(o.steps, o.t_end), 5, 0);
    // The discrete law is within 2% of the target convolved with N(0, sigma(t_end)^2) (an O(dt) bias).
    const expected_law em = euler_maruyama_law(o.steps, o.t_end);
    const Eigen::Matrix3d ideal = target_cov() + sigma_of(o.t_end) * sigma_of(o.t_end) * Eigen::Matrix3d::Identity();
    CHECK((em.cov - ideal).norm() < 0.02 * ideal.norm());
  }
  SUBCASE("Euler-Maruyama with denoise_last: the last step's mean") {
    o.denoise_last = true;
    philox gen(12);
    tensor<double, cpu> x({n, 3});
    diffusion::sample_euler_maruyama(ctx, score, sde, x.view(), o, gen);
    // The recursion without the last noise: subtract g^2(t_end) dt from every mode's variance.
    const double dt = (1 - o.t_end) / static_cast<double>(o.steps - 1);
    expected_law law = euler_maruyama_law(o.steps, o.t_end);
    law.cov -= g2_of(o.t_end) * dt * Eigen::Matrix3d::Identity();
    check_law(x, law, 5, 0);
  }
  SUBCASE("predictor-corrector (Langevin, snr 0.16)") {
    philox gen(13);
    const auto x = diffusion::sample_predictor_corrector<double>(ctx, score, sde, n, 3, o, gen);
    // The corrector's step size depends on the batch's norms, so no closed form: against the ideal law, the target
    // convolved with N(0, sigma(t_end)^2), with 5 standard errors plus a 0.03 allowance for the discretisation
    // (Euler-Maruyama alone is off by at most 0.02 relative here; see the first subcase).
    expected_law ideal{target_mean(),
                       target_cov() + sigma_of(o.t_end) * sigma_of(o.t_end) * Eigen::Matrix3d::Identity()};
    check_law(x, ideal, 5, 0.03);
  }
  SUBCASE("probability-flow ODE, Heun, 100 steps") {
    o.steps = 100;
    philox gen(14);
    const auto x = diffusion::sample_probability_flow<double>(ctx, score, sde, n, 3, o, gen);
    check_law(x, heun_law(o.steps, o.t_end), 5, 0);
    // Heun's map carries the prior to within 1% of the ideal law (second order; the prior's missing Sigma too).
    const expected_law h = heun_law(o.steps, o.t_end);
    const Eigen::Matrix3d ideal = target_cov() + sigma_of(o.t_end) * sigma_of(o.t_end) * Eigen::Matrix3d::Identity();
    CHECK((h.cov - ideal).norm() < 0.01 * ideal.norm());
  }
}

TEST_CASE("diffusion VE score matching: the objective's minimiser is the exact score") {
  context<cpu> ctx;
  const diffusion::ve_sde sde{smin, smax};
  philox init(3);
  linear_net net(ctx, init, 3);
  const std::size_t batch = 256, batches = 64;
  diffusion::score_matching_options so;
  so.t_min = so.t_max = 0.5;  // one noise level, where a linear net holds the exact score
  diffusion::score_matching_objective<linear_net> objective(ctx, net, sde, batch, so);
  const auto data = gaussian_data(ctx, 16384, 5);
  objective.set_data(data.view());
  Eigen::Vector3d m;
  Eigen::Matrix3d c;
  moments(data, m, c);  // the objective samples the data set, so its moments define the minimiser
  c *= static_cast<double>(data.extent(0) - 1) / static_cast<double>(data.extent(0));
  const double s = sigma_of(0.5);
  Eigen::Matrix3d w_star;
  Eigen::Vector3d b_star;
  analytic_minimiser(m, c, s, w_star, b_star);

  // An independent least-squares fit of the target -z on [x_t, 1] over the objective's own draws.
  auto& g = objective.graph();
  Eigen::Matrix4d xtx = Eigen::Matrix4d::Zero();
  Eigen::Matrix<double, 4, 3> xty = Eigen::Matrix<double, 4, 3>::Zero();
  std::vector<std::int32_t> rows(batch);
  std::vector<std::uint32_t> words(batch);
  double max_kernel_error = 0;
  for (std::size_t k = 0; k < batches; ++k) {
    philox pick(100 + k), noise(200 + k);
    for (std::size_t i = 0; i < batch; ++i) {
      const philox_counter w = pick.block(i);
      rows[i] = static_cast<std::int32_t>(nn::detail::bounded(w.v[0], 16384));
      words[i] = w.v[1];
    }
    objective.load_batch({k, false, rows, words, &noise});
    const auto xt = g.value_of(objective.pass().input), target = g.value_of(objective.target());
    const auto time = g.value_of(objective.pass().time);
    for (std::size_t i = 0; i < batch; ++i) {
      CHECK(time[i] == 0.5);
      Eigen::Vector4d f(xt.at(i, 0), xt.at(i, 1), xt.at(i, 2), 1.0);
      Eigen::Vector3d y(target.at(i, 0), target.at(i, 1), target.at(i, 2));
      xtx += f * f.transpose();
      xty += f * y.transpose();
      // x_t = x0 + sigma z with the target -z.
      for (std::size_t d = 0; d < 3; ++d)
        max_kernel_error =
            std::max(max_kernel_error,
                     std::abs(xt.at(i, d) - data.at(static_cast<std::size_t>(rows[i]), d) + s * target.at(i, d)));
    }
  }
  CHECK(max_kernel_error < 1e-12);
  const Eigen::Matrix<double, 4, 3> beta = xtx.ldlt().solve(xty);  // rows 0..2: W^T, row 3: b
  // Standard errors of a regression: residual variance (the minimal loss per output, R_jj with R = I - s^2 (c +
  // s^2 I)^-1) times [(X^T X)^-1]_kk; 5 of them.
  const Eigen::Matrix3d resid =
      Eigen::Matrix3d::Identity() - s * s * (c + s * s * Eigen::Matrix3d::Identity()).inverse();
  const Eigen::Matrix4d inv = xtx.inverse();
  double worst = 0;
  for (Eigen::Index j = 0; j < 3; ++j) {
    for (Eigen::Index k = 0; k < 3; ++k) {
      const double se = std::sqrt(resid(j, j) * inv(k, k));
      CHECK(beta(k, j) == absolute(w_star(j, k), 5 * se));
      worst = std::max(worst, std::abs(beta(k, j) - w_star(j, k)) / se);
    }
    CHECK(beta(3, j) == absolute(b_star[j], 5 * std::sqrt(resid(j, j) * inv(3, 3))));
  }
  MESSAGE("least squares vs analytic minimiser: worst ", worst, " standard errors; W*(0,0) = ", w_star(0, 0));

  // With the minimiser's weights the loss is the minimal one, tr(R) / D, with standard error sqrt(2 tr(R^2) / N) / D.
  for (std::size_t j = 0; j < 3; ++j) {
    for (std::size_t k = 0; k < 3; ++k)
      net.layer.weight.value.at(j, k) = w_star(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(k));
    net.layer.bias.value[j] = b_star[static_cast<Eigen::Index>(j)];
  }
  double loss = 0;
  for (std::size_t k = 0; k < batches; ++k) {
    philox pick(300 + k), noise(400 + k);
    for (std::size_t i = 0; i < batch; ++i) {
      rows[i] = static_cast<std::int32_t>(nn::detail::bounded(pick.block(i).v[0], 16384));
      words[i] = 0;
    }
    objective.load_batch({k, false, rows, words, &noise});
    g.forward();
    loss += g.value_of(objective.loss())[0] / static_cast<double>(batches);
  }
  const double samples = static_cast<double>(batch * batches);
  CHECK(loss == absolute(resid.trace() / 3, 5 * std::sqrt(2 * (resid * resid).trace() / samples) / 3));
  MESSAGE("minimal loss ", loss, " expected ", resid.trace() / 3);

  // The network score at t = 0.5 is then the exact score of the (empirical) data perturbed by sigma(0.5).
  diffusion::network_score score(ctx, net, sde);
  tensor<double, cpu> x({5, 3}), out({5, 3});
  philox gx(9);
  fill_normal(ctx, gx, x, 0.0, 2.0);
  auto at_half = diffusion::score_at(score, 0.5);
  at_half(ctx, const_tensor_view<double, cpu>(x.view()), out.view());
  const Eigen::Matrix3d a = -(c + s * s * Eigen::Matrix3d::Identity()).inverse();
  for (std::size_t r = 0; r < 5; ++r) {
    const Eigen::Vector3d v = a * (Eigen::Vector3d(x.at(r, 0), x.at(r, 1), x.at(r, 2)) - m);
    for (std::size_t k = 0; k < 3; ++k) CHECK(out.at(r, k) == absolute(v[static_cast<Eigen::Index>(k)], 1e-12));
  }
}

TEST_CASE("diffusion VE score matching draws t ~ U(t_min, 1) per sample and x_t = x0 + sigma(t) z per row") {
  context<cpu> ctx;
  const diffusion::ve_sde sde{smin, smax};
  philox init(3);
  time_scaled_net net(ctx, init, 3);
  const std::size_t batch = 4096;
  diffusion::score_matching_objective<time_scaled_net> objective(ctx, net, sde, batch);
  CHECK(objective.options().t_min == 1e-5);
  const auto data = gaussian_data(ctx, batch, 6);
  objective.set_data(data.view());
  std::vector<std::int32_t> rows(batch);
  std::vector<std::uint32_t> words(batch);
  philox pick(10), noise(11);
  for (std::size_t i = 0; i < batch; ++i) {
    rows[i] = static_cast<std::int32_t>(batch - 1 - i);
    words[i] = pick.block(i).v[0];
  }
  objective.load_batch({0, false, rows, words, &noise});
  auto& g = objective.graph();
  const auto xt = g.value_of(objective.pass().input), target = g.value_of(objective.target());
  const auto time = g.value_of(objective.pass().time);
  double mean_t = 0, mean_z = 0, mean_z2 = 0, worst = 0;
  for (std::size_t i = 0; i < batch; ++i) {
    const double t = time[i];
    CHECK((t >= 1e-5 && t <= 1));
    mean_t += t / static_cast<double>(batch);
    for (std::size_t d = 0; d < 3; ++d) {
      const double z = -target.at(i, d);
      mean_z += z / (3.0 * batch);
      mean_z2 += z * z / (3.0 * batch);
      worst = std::max(
          worst, std::abs(xt.at(i, d) - data.at(batch - 1 - i, d) - sigma_of(t) * z) / (1 + sigma_of(t) * std::abs(z)));
    }
  }
  CHECK(worst < 1e-12);
  // U(1e-5, 1): mean ~0.5 with standard error sqrt(1 / 12 / n); z ~ N(0, 1): 5 standard errors each.
  CHECK(mean_t == absolute(0.5, 5 * std::sqrt(1.0 / 12 / batch)));
  CHECK(mean_z == absolute(0, 5 * std::sqrt(1.0 / (3.0 * batch))));
  CHECK(mean_z2 == absolute(1, 5 * std::sqrt(2.0 / (3.0 * batch))));
  // The loss is the mean over batch and pixels of (net + z)^2: here net = t (x W^T + b), computed by hand.
  g.forward();
  double loss = 0;
  for (std::size_t i = 0; i < batch; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      double y = net.layer.bias.value[j];
      for (std::size_t k = 0; k < 3; ++k) y += net.layer.weight.value.at(j, k) * xt.at(i, k);
      const double r = time[i] * y - target.at(i, j);
      loss += r * r / (3.0 * batch);
    }
  CHECK(g.value_of(objective.loss())[0] == relative(loss, 1e-12));
}

TEST_CASE("diffusion VE network_score passes the time and divides by sigma(t)") {
  context<cpu> ctx;
  philox init(4);
  time_scaled_net net(ctx, init, 3);
  for (std::size_t j = 0; j < 3; ++j) {
    for (std::size_t k = 0; k < 3; ++k) net.layer.weight.value.at(j, k) = j == k ? 1.0 : 0.0;
    net.layer.bias.value[j] = 0;
  }
  const diffusion::ve_sde sde{smin, smax};
  diffusion::network_score score(ctx, net, sde);
  for (std::size_t rows : {4u, 7u, 4u}) {  // a graph per chunk size, reused
    tensor<double, cpu> x({rows, 3}), out({rows, 3});
    philox gx(rows);
    fill_normal(ctx, gx, x, 0.0, 1.0);
    for (double t : {0.0, 0.3, 1.0}) {
      score(ctx, const_tensor_view<double, cpu>(x.view()), t, out.view());
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < 3; ++k) CHECK(out.at(r, k) == absolute(t * x.at(r, k) / sigma_of(t), 1e-12));
    }
  }
}

TEST_CASE("diffusion VE score matching trains through nn::fit: loss down, clipping and EMA, checkpoint checked") {
  context<cpu> ctx;
  const diffusion::ve_sde sde{smin, smax};
  philox init(7);
  linear_net net(ctx, init, 3);
  diffusion::score_matching_options so;
  so.t_min = so.t_max = 0.5;
  diffusion::score_matching_objective<linear_net> objective(ctx, net, sde, 128, so);
  const auto data = gaussian_data(ctx, 4096, 8), validation = gaussian_data(ctx, 1024, 9);
  objective.set_data(data.view(), validation.view());
  attractor_test::temp_path file;
  nn::fit_options o;
  o.batch = 128;
  o.steps = 1500;
  o.lr = 1e-2;
  o.decay = nn::lr_decay::cosine;
  o.warmup_steps = 50;
  o.clip_norm = 1.0;
  o.ema_decay = 0.99;
  o.validate_every = 500;
  o.validation_batches = 4;
  o.checkpoint = file.path;
  o.seed = 21;
  nn::fit<diffusion::score_matching_objective<linear_net>> run(ctx, objective, o);
  run.train();
  const auto& losses = run.losses();
  double first = 0, last = 0;
  for (std::size_t i = 0; i < 20; ++i) first += losses[i] / 20;
  for (std::size_t i = losses.size() - 200; i < losses.size(); ++i) last += losses[i] / 200;
  CHECK(last < 0.5 * first);
  CHECK(std::isfinite(run.last_gradient_norm()));  // clipping ran
  CHECK(std::isfinite(run.last_validation_loss()));
  // The validation loss (EMA weights) is the minimal one, tr(R) / D with R = I - s^2 (Sigma + s^2 I)^-1 (the
  // residual covariance of the best linear predictor of -z from x_t), within 5 standard errors of its 4 x 128
  // samples, sqrt(2 tr(R^2) / N) / D, plus 0.01 for the optimiser's excess. (The weights themselves are only
  // loosely determined: x_t's mean couples W and b, so the loss is flat along W + b compensations.)
  const double s = sigma_of(0.5);
  const Eigen::Matrix3d resid =
      Eigen::Matrix3d::Identity() - s * s * (target_cov() + s * s * Eigen::Matrix3d::Identity()).inverse();
  const double samples = 4.0 * 128;
  CHECK(run.last_validation_loss() ==
        absolute(resid.trace() / 3, 5 * std::sqrt(2 * (resid * resid).trace() / samples) / 3 + 0.01));
  // The checkpoint holds the EMA weights, which load_score_weights loads by default.
  philox other(99);
  linear_net loaded(ctx, other, 3);
  diffusion::load_score_weights(ctx, file.path, loaded, sde);
  const auto shadow = run.average().shadow();
  for (std::size_t j = 0; j < 3; ++j) {
    for (std::size_t k = 0; k < 3; ++k) CHECK(loaded.layer.weight.value.at(j, k) == shadow[0].at(j, k));
    CHECK(loaded.layer.bias.value[j] == shadow[1][j]);
  }
  MESSAGE("loss ", first, " -> ", last, "; validation ", run.last_validation_loss(), ", minimal ", resid.trace() / 3);
  // The checkpoint says its SDE; another SDE or architecture is refused.
  const diffusion::ve_sde read = diffusion::checkpoint_sde(file.path);
  CHECK(read.sigma_min == smin);
  CHECK(read.sigma_max == smax);
  CHECK_THROWS_WITH_AS(diffusion::load_score_weights(ctx, file.path, loaded, diffusion::ve_sde{0.01, 50.0}),
                       doctest::Contains("attractor.sde = ve sigma_min=0.01 sigma_max=50"), attractor::error);
  linear_net wrong(ctx, other, 2);
  CHECK_THROWS_WITH_AS(diffusion::load_score_weights(ctx, file.path, wrong, sde),
                       doctest::Contains("attractor.architecture = linear d=2"), attractor::error);
  diffusion::score_matching_objective<linear_net> elsewhere(ctx, net, diffusion::ve_sde{0.02, 14.0}, 128, so);
  elsewhere.set_data(data.view());
  nn::fit<diffusion::score_matching_objective<linear_net>> resumed(ctx, elsewhere, o);
  CHECK_THROWS_WITH_AS(resumed.load_checkpoint(file.path), doctest::Contains("attractor.sde"), attractor::error);
}

TEST_CASE("diffusion VE refuses bad input with a clear error") {
  context<cpu> ctx;
  gaussian_score score;
  const diffusion::ve_sde sde{smin, smax};
  diffusion::ve_sampler_options o;
  philox gen(1);
  tensor<double, cpu> x({8, 3});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(diffusion::sample_euler_maruyama(ctx, score, diffusion::ve_sde{14.0, 0.01}, x.view(), o, gen),
                       doctest::Contains("sample_euler_maruyama: expected a VE SDE with finite 0 < sigma_min < "
                                         "sigma_max, got sigma_min = 14, sigma_max = 0.01"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(diffusion::sample_probability_flow(ctx, score, diffusion::ve_sde{nan, 1.0}, x.view(), o, gen),
                       doctest::Contains("sigma_min = nan"), attractor::error);
  CHECK_THROWS_AS(diffusion::parse_sde("ve sigma_min=0.01 sigma_max=14x"), attractor::error);
  CHECK_THROWS_AS(diffusion::parse_sde("vp beta=1"), attractor::error);
  auto zero = o;
  zero.steps = 0;
  CHECK_THROWS_WITH_AS(diffusion::sample_euler_maruyama(ctx, score, sde, x.view(), zero, gen),
                       doctest::Contains("at least 2 steps, got 0"), attractor::error);
  CHECK_THROWS_WITH_AS(diffusion::sample_probability_flow(ctx, score, sde, x.view(), zero, gen),
                       doctest::Contains("at least 1 steps, got 0"), attractor::error);
  auto late = o;
  late.t_end = 1;
  CHECK_THROWS_WITH_AS(diffusion::sample_predictor_corrector(ctx, score, sde, x.view(), late, gen),
                       doctest::Contains("t_end in (0, 1)"), attractor::error);
  auto bad_snr = o;
  bad_snr.snr = 0;
  CHECK_THROWS_WITH_AS(diffusion::sample_predictor_corrector(ctx, score, sde, x.view(), bad_snr, gen),
                       doctest::Contains("snr > 0"), attractor::error);
  tensor<double, cpu> flat({24});
  CHECK_THROWS_WITH_AS(diffusion::sample_euler_maruyama(ctx, score, sde, flat.view(), o, gen),
                       doctest::Contains("an output of shape (n x D)"), attractor::error);
  gaussian_score poisoned;
  poisoned.poison_below = 0.5;
  o.steps = 10;
  CHECK_THROWS_WITH_AS(diffusion::sample_euler_maruyama(ctx, poisoned, sde, x.view(), o, gen),
                       doctest::Contains("finite values in the score model's output at t = 0.4"), attractor::error);
  CHECK_THROWS_WITH_AS(diffusion::sample_probability_flow(ctx, poisoned, sde, x.view(), o, gen),
                       doctest::Contains("sample_probability_flow: expected finite values in the score model's output"),
                       attractor::error);

  // The objective and the network score.
  philox init(2);
  linear_net net(ctx, init, 3);
  CHECK_THROWS_WITH_AS(diffusion::score_matching_objective<linear_net>(ctx, net, diffusion::ve_sde{1.0, 1.0}, 8),
                       doctest::Contains("score_matching_objective: expected a VE SDE"), attractor::error);
  CHECK_THROWS_WITH_AS(diffusion::score_matching_objective<linear_net>(ctx, net, sde, 0),
                       doctest::Contains("a batch of at least one sample"), attractor::error);
  diffusion::score_matching_options zero_t;
  zero_t.t_min = 0;
  CHECK_THROWS_WITH_AS(diffusion::score_matching_objective<linear_net>(ctx, net, sde, 8, zero_t),
                       doctest::Contains("0 < t_min <= t_max <= 1"), attractor::error);
  diffusion::score_matching_objective<linear_net> objective(ctx, net, sde, 8);
  tensor<double, cpu> wide({16, 4}), few({4, 3}), holed({16, 3});
  CHECK_THROWS_WITH_AS(objective.set_data(wide.view()), doctest::Contains("training data of shape (n x 3)"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(objective.set_data(few.view()), doctest::Contains("between one batch (8)"), attractor::error);
  holed.at(3, 1) = nan;
  CHECK_THROWS_WITH_AS(objective.set_data(holed.view()), doctest::Contains("finite values in training data"),
                       attractor::error);
  diffusion::network_score ns(ctx, net, sde);
  tensor<double, cpu> in({4, 3}), out4({4, 2});
  CHECK_THROWS_WITH_AS(ns(ctx, const_tensor_view<double, cpu>(wide.view()), 0.5, wide.view()),
                       doctest::Contains("states of shape (n x 3)"), attractor::error);
  CHECK_THROWS_WITH_AS(ns(ctx, const_tensor_view<double, cpu>(in.view()), 0.5, out4.view()),
                       doctest::Contains("an output of shape (4, 3)"), attractor::error);
  CHECK_THROWS_WITH_AS(ns(ctx, const_tensor_view<double, cpu>(in.view()), nan, in.view()),
                       doctest::Contains("a diffusion time t in [0, 1]"), attractor::error);
  CHECK_THROWS_AS(diffusion::score_at(ns, 1.5), attractor::error);
  attractor_test::temp_path missing;
  CHECK_THROWS_AS(diffusion::checkpoint_sde(missing.path), attractor::error);
}
