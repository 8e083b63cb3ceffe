// Tests of the diffusion layer: the schedules against the spec's alpha_bar table, the parameterisations' round
// trips, the step grid, both samplers driven by the exact denoiser of a Gaussian target (which must reproduce its
// mean and covariance), partial diffusion, the trainer (it learns, resumes bit for bit, stops on a NaN loss and
// keeps its last good checkpoint) and argument validation.
#include <doctest/doctest.h>

#include "attractor/core/eigen.hpp"  // first: see there

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "attractor/diffusion.hpp"
#include "file_helpers.hpp"
#include "gaussian_denoiser.hpp"
#include "tolerance.hpp"

namespace {

using attractor::context;
using attractor::cpu;
using attractor::philox;
using attractor::tensor;
using attractor::tensor_view;
using attractor_test::absolute;
using attractor_test::gaussian_denoiser;
using attractor_test::relative;
namespace diffusion = attractor::diffusion;

gaussian_denoiser test_target(diffusion::parameterisation head) {
  gaussian_denoiser g{Eigen::Vector3d(0.5, -1.0, 2.0), Eigen::Matrix3d(), diffusion::noise_schedule::cosine(), head};
  g.cov << 0.8, 0.3, 0.0, 0.3, 0.5, -0.1, 0.0, -0.1, 0.3;
  return g;
}

void check_moments(const tensor<float, cpu>& x, const gaussian_denoiser& target, double tolerance) {
  const std::size_t n = x.extent(0);
  Eigen::Vector3d mean = Eigen::Vector3d::Zero();
  for (std::size_t i = 0; i < n; ++i)
    for (int k = 0; k < 3; ++k) mean[k] += x[3 * i + static_cast<std::size_t>(k)];
  mean /= static_cast<double>(n);
  Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
  for (std::size_t i = 0; i < n; ++i) {
    Eigen::Vector3d d;
    for (int k = 0; k < 3; ++k) d[k] = x[3 * i + static_cast<std::size_t>(k)] - mean[k];
    cov += d * d.transpose();
  }
  cov /= static_cast<double>(n - 1);
  for (int k = 0; k < 3; ++k) CHECK(mean[k] == absolute(target.mu[k], tolerance));
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) CHECK(std::abs(cov(r, c) - target.cov(r, c)) < tolerance);
}

}  // namespace

TEST_CASE("diffusion: the cosine schedule matches the spec's alpha_bar table") {
  const auto s = diffusion::noise_schedule::cosine();
  CHECK(s.steps() == 1000);
  CHECK(s.alpha_bar(0) == 1.0);
  const std::vector<std::pair<std::size_t, double>> table{{1, 0.99996},   {10, 0.99937},  {50, 0.99201},
                                                          {100, 0.97209}, {130, 0.95461}, {200, 0.89871},
                                                          {400, 0.64748}, {500, 0.49384}, {600, 0.34081}};
  // The table's values have five decimals: half a unit of the last one.
  for (const auto& [t, value] : table) CHECK(s.alpha_bar(t) == absolute(value, 5e-6));
  // Three significant digits: half a unit of the last one, relative.
  CHECK(s.alpha_bar(999) == relative(2.43e-6, 2.5e-3));
  CHECK(s.alpha_bar(1000) == relative(2.43e-7, 2.5e-3));
  CHECK(s.beta(1000) == 0.9);  // the only clipped beta
  CHECK(s.alpha_bar(1000) == relative(0.1 * s.alpha_bar(999), 1e-12));
  CHECK(s.beta(999) < 0.9);
  // The spec's (spec §4) DDM sampler constants at t = 130, to their five decimals.
  CHECK(s.sqrt_alpha_bar(130) == absolute(0.97704, 5e-6));
  CHECK(s.sigma(130) == absolute(0.21305, 5e-6));
}

TEST_CASE("diffusion: the linear schedule matches the spec's alpha_bar values") {
  const auto s = diffusion::noise_schedule::linear();
  CHECK(s.beta(1) == relative(1e-4, 1e-12));
  CHECK(s.beta(1000) == relative(0.03, 1e-12));
  // The spec's values to its three decimals, and two significant digits at t = 1000.
  CHECK(s.alpha_bar(100) == absolute(0.854, 5e-4));
  CHECK(s.alpha_bar(400) == absolute(0.087, 5e-4));
  CHECK(s.alpha_bar(1000) == relative(2.5e-7, 0.02));
}

TEST_CASE("diffusion: each parameterisation's target converts back to the clean state and the noise") {
  const auto schedule = diffusion::noise_schedule::cosine();
  for (auto head : {diffusion::parameterisation::noise, diffusion::parameterisation::state,
                    diffusion::parameterisation::velocity}) {
    for (std::size_t t : {1, 130, 500, 999}) {
      const double a = schedule.sqrt_alpha_bar(t), s = schedule.sigma(t);
      for (double x : {-1.3, 0.2, 2.5}) {
        for (double eps : {-0.7, 1.1}) {
          const double z = a * x + s * eps;
          const double pred = diffusion::target_of(head, x, eps, a, s);
          // Values of order 1; 1 / sqrt(alpha_bar) at t = 999 (about 640) amplifies the rounding of z to ~1e-13.
          CHECK(diffusion::x_hat_of(head, z, pred, a, s) == absolute(x, 1e-9));
          CHECK(diffusion::eps_hat_of(head, z, pred, a, s) == absolute(eps, 1e-9));
        }
      }
    }
  }
  CHECK(diffusion::parse_parameterisation("v") == diffusion::parameterisation::velocity);
  CHECK(diffusion::parse_schedule_kind("cos") == diffusion::schedule_kind::cosine);
  CHECK_THROWS_AS(diffusion::parse_parameterisation("score"), attractor::error);
}

TEST_CASE("diffusion: the step grid rounds i T / N as the reference does") {
  const auto g100 = diffusion::step_grid(1000, 100);
  CHECK(g100.size() == 101);
  CHECK(g100[100] == 1000);
  CHECK(g100[99] == 990);
  CHECK(g100[1] == 10);
  CHECK(g100[0] == 0);
  CHECK(g100[13] == 130);
  const auto g3 = diffusion::step_grid(1000, 3);
  CHECK(g3 == std::vector<std::size_t>{0, 333, 667, 1000});
  CHECK_THROWS_AS(diffusion::step_grid(1000, 0), attractor::error);
  CHECK_THROWS_AS(diffusion::step_grid(1000, 1001), attractor::error);
}

TEST_CASE("diffusion: DDPM and DDIM with the exact denoiser of a Gaussian reproduce its mean and covariance") {
  // With 1000 steps the samplers' discretisation error is far below the sampling error; with fewer steps the
  // plug-in x_hat shrinks the covariance (as Table 2's coarse grids show), so those are not checked here.
  context<cpu> ctx;
  const std::size_t n = 10000;
  struct run_case {
    diffusion::sampler_kind kind;
    double eta;
    diffusion::parameterisation head;
  };
  for (const run_case rc : {run_case{diffusion::sampler_kind::ddpm, 0, diffusion::parameterisation::velocity},
                            run_case{diffusion::sampler_kind::ddpm, 0, diffusion::parameterisation::noise},
                            run_case{diffusion::sampler_kind::ddim, 0, diffusion::parameterisation::velocity},
                            run_case{diffusion::sampler_kind::ddim, 0.5, diffusion::parameterisation::state},
                            run_case{diffusion::sampler_kind::ddim, 1, diffusion::parameterisation::noise}}) {
    CAPTURE(diffusion::to_string(rc.kind));
    CAPTURE(rc.eta);
    auto target = test_target(rc.head);
    diffusion::sampler<float, cpu, gaussian_denoiser> sampler(ctx, target, target.schedule, rc.head, 4096);
    tensor<float, cpu> x({n, 3});
    philox gen(11);
    sampler.sample(gen, x.view(), {rc.kind, 1000, rc.eta});
    // Standard errors: about 0.009 for the mean, 0.011 for the largest covariance entry.
    check_moments(x, target, 0.04);
  }
}

TEST_CASE("diffusion: DDIM with eta = 1 is DDPM, and DDIM with eta = 0 is deterministic") {
  // Eq. 15's noise at eta = 1 is DDPM's posterior standard deviation and its remaining coefficients then give
  // DDPM's mean: with the same generator both samplers draw the same numbers and must agree to rounding.
  context<cpu> ctx;
  auto target = test_target(diffusion::parameterisation::velocity);
  diffusion::sampler<float, cpu, gaussian_denoiser> sampler(ctx, target, target.schedule, target.head);
  tensor<float, cpu> a({500, 3}), b({500, 3}), c({500, 3});
  philox g1(3), g2(3);
  sampler.sample(g1, a.view(), {diffusion::sampler_kind::ddpm, 50, 0.0});
  sampler.sample(g2, b.view(), {diffusion::sampler_kind::ddim, 50, 1.0});
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == absolute(b[i], 1e-4));  // float samples of order 1
  // eta = 0: two runs from the same prior draw agree exactly even when the generator differs afterwards.
  philox g3(4), g4(4);
  sampler.sample(g3, b.view(), {diffusion::sampler_kind::ddim, 20, 0.0});
  sampler.sample(g4, c.view(), {diffusion::sampler_kind::ddim, 20, 0.0});
  for (std::size_t i = 0; i < b.size(); ++i) REQUIRE(b[i] == c[i]);
}

TEST_CASE("diffusion: DDIM's coefficients at eta = 0.5 are the spec's: eta times DDPM's posterior std") {
  // Spec §4: sigma = eta sqrt((1 - a_s) / (1 - a_t)) sqrt(1 - a_t / a_s), z_s = sqrt(a_s) x_hat
  // + sqrt(1 - a_s - sigma^2) eps_hat + sigma xi, computed here from the schedule's alpha_bar without the
  // reference's 1e-9 guards (they move sigma by less than 2e-6 relative at these steps). The mean-and-covariance
  // check cannot see eta (with an exact denoiser every eta gives the same marginals); this one tells 0.5 from 0.25.
  const auto schedule = diffusion::noise_schedule::cosine();
  const double eta = 0.5;
  for (const auto& [t, s] :
       std::vector<std::pair<std::size_t, std::size_t>>{{1000, 900}, {750, 500}, {500, 250}, {130, 120}, {20, 10}}) {
    CAPTURE(t);
    CAPTURE(s);
    const double at = schedule.alpha_bar(t), as = schedule.alpha_bar(s);
    const double ddpm_std = std::sqrt((1 - as) / (1 - at)) * std::sqrt(1 - at / as);
    const double sigma = eta * ddpm_std;
    const auto c = diffusion::step_coefficients_of(schedule, diffusion::sampler_kind::ddim, eta, t, s, false);
    CHECK(c.cn == relative(sigma, 1e-5));
    CHECK(c.ce == relative(std::sqrt(1 - as - sigma * sigma), 1e-5));
    CHECK(c.cx == relative(std::sqrt(as), 1e-12));
    CHECK(c.cz == 0.0);
    CHECK(c.a == relative(std::sqrt(at), 1e-12));
    CHECK(c.s == relative(std::sqrt(1 - at), 1e-12));
    // DDPM's posterior std (its own noise coefficient) is the eta = 1 value.
    const auto ddpm = diffusion::step_coefficients_of(schedule, diffusion::sampler_kind::ddpm, 0, t, s, false);
    CHECK(ddpm.cn == relative(ddpm_std, 1e-9));
    CHECK(c.cn == relative(eta * ddpm.cn, 1e-5));
  }
}

namespace {

/// A state-head Model whose prediction is a fixed x_hat, whatever z: it records the z of each call.
struct constant_denoiser {
  float x_hat[3] = {0.5f, -1.0f, 2.0f};
  std::vector<std::vector<float>> seen;
  [[nodiscard]] std::size_t dimension() const { return 3; }
  void predict(tensor_view<const float, cpu> z, std::size_t, tensor_view<float, cpu> pred) {
    seen.emplace_back(z.data(), z.data() + z.size());
    for (std::size_t i = 0; i < pred.size(); ++i) pred.data()[i] = x_hat[i % 3];
  }
};

}  // namespace

TEST_CASE("diffusion: one DDIM step at eta = 0.5 through a known prediction and noise is the spec's formula") {
  // Steps 2 and 1 of a 4-step grid (t = 500 -> 250 -> 0) from a fixed z: the model sees z_s after the first step,
  // which must be sqrt(a_s) x_hat + sqrt(1 - a_s - sigma^2) eps_hat + sigma xi with eps_hat = (z - sqrt(a_t) x_hat)
  // / sqrt(1 - a_t) and xi the step's draw (one normal per element, from the generator the sampler is given).
  context<cpu> ctx;
  const auto schedule = diffusion::noise_schedule::cosine();
  constant_denoiser model;
  diffusion::sampler<float, cpu, constant_denoiser> sampler(ctx, model, schedule, diffusion::parameterisation::state);
  const std::size_t n = 64;
  tensor<float, cpu> z({n, 3});
  philox prior(8);
  attractor::fill_normal(ctx, prior, z, 0.0f, 1.0f);
  tensor<float, cpu> z0({n, 3});
  attractor::copy(ctx, z, z0);
  philox gen(9), replay(9);
  tensor<float, cpu> xi({n, 3});
  attractor::fill_normal(ctx, replay, xi, 0.0f, 1.0f);
  diffusion::sampler_options o;
  o.kind = diffusion::sampler_kind::ddim;
  o.steps = 4;
  o.eta = 0.5;
  sampler.denoise(gen, z.view(), 2, o);
  REQUIRE(model.seen.size() == 2);
  const double at = schedule.alpha_bar(500), as = schedule.alpha_bar(250);
  const double sigma = o.eta * std::sqrt((1 - as) / (1 - at)) * std::sqrt(1 - at / as);
  double worst = 0;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double x = model.x_hat[i % 3];
    const double eps_hat = (double(z0[i]) - std::sqrt(at) * x) / std::sqrt(1 - at);
    const double expected = std::sqrt(as) * x + std::sqrt(1 - as - sigma * sigma) * eps_hat + sigma * double(xi[i]);
    worst = std::max(worst, std::abs(double(model.seen[1][i]) - expected));
  }
  // float arithmetic on values of order 1: a few ulps. eta^2 for eta would move it by about 0.09 xi.
  CHECK(worst < 2e-6);
  // The last step outputs x_hat.
  for (std::size_t i = 0; i < z.size(); ++i) CHECK(z[i] == model.x_hat[i % 3]);
}

TEST_CASE("diffusion: partial diffusion keeps a distribution that the exact denoiser knows, and k = 0 copies") {
  context<cpu> ctx;
  auto target = test_target(diffusion::parameterisation::velocity);
  diffusion::sampler<float, cpu, gaussian_denoiser> sampler(ctx, target, target.schedule, target.head, 5000);
  const std::size_t n = 10000;
  tensor<float, cpu> x({n, 3});
  philox gen(5);
  sampler.sample(gen, x.view(), {diffusion::sampler_kind::ddpm, 1000, 0.0});
  tensor<float, cpu> y({n, 3});
  sampler.partial(gen, x.view(), 130, y.view(), {diffusion::sampler_kind::ddpm, 1000, 0.0});
  check_moments(y, target, 0.04);
  // The draws moved: partial diffusion is a stochastic map, not the identity.
  double moved = 0;
  for (std::size_t i = 0; i < x.size(); ++i) moved += std::abs(x[i] - y[i]);
  CHECK(moved / static_cast<double>(x.size()) > 0.05);
  // In place and at k = 0 it is the identity.
  tensor<float, cpu> z({4, 3});
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<float>(i);
  sampler.partial(gen, z.view(), 0, z.view(), {diffusion::sampler_kind::ddpm, 100, 0.0});
  for (std::size_t i = 0; i < z.size(); ++i) CHECK(z[i] == static_cast<float>(i));
}

TEST_CASE("diffusion: samplers reject bad arguments") {
  context<cpu> ctx;
  auto target = test_target(diffusion::parameterisation::velocity);
  diffusion::sampler<float, cpu, gaussian_denoiser> sampler(ctx, target, target.schedule, target.head);
  tensor<float, cpu> x({8, 3});
  philox gen(1);
  CHECK_THROWS_WITH_AS(sampler.sample(gen, x.view(), {diffusion::sampler_kind::ddim, 0, 0.0}),
                       doctest::Contains("sampler steps"), attractor::error);
  CHECK_THROWS_WITH_AS(sampler.sample(gen, x.view(), {diffusion::sampler_kind::ddim, 10, 1.5}),
                       doctest::Contains("eta in [0, 1]"), attractor::error);
  CHECK_THROWS_AS(sampler.sample(gen, x.view(), {diffusion::sampler_kind::ddim, 10, -0.1}), attractor::error);
  tensor<float, cpu> wrong({8, 2});
  CHECK_THROWS_AS(sampler.sample(gen, wrong.view(), {}), attractor::error);
  x[5] = std::numeric_limits<float>::quiet_NaN();
  tensor<float, cpu> out({8, 3});
  CHECK_THROWS_WITH_AS(sampler.partial(gen, x.view(), 5, out.view(), {diffusion::sampler_kind::ddpm, 100, 0.0}),
                       doctest::Contains("finite values in states"), attractor::error);
  x[5] = 0;
  CHECK_THROWS_AS(sampler.partial(gen, x.view(), 101, out.view(), {diffusion::sampler_kind::ddpm, 100, 0.0}),
                  attractor::error);
}

namespace {

namespace nn = attractor::nn;

nn::denoising_resnet_options small_network() {
  nn::denoising_resnet_options o;
  o.hidden = 32;
  o.blocks = 2;
  o.embedding = 16;
  return o;
}

// States near a closed curve in 3-D, n x 3: a low-dimensional set, so that a denoiser can do far better than the
// unconditional mean (for standard normal data, by contrast, the velocity target is independent of z and no model
// beats a loss of 1).
tensor<float, cpu> curve_states(std::size_t n, std::uint64_t seed) {
  context<cpu> ctx;
  philox gen(seed);
  tensor<float, cpu> u({n}), x({n, 3});
  attractor::fill_uniform(ctx, gen, u);
  attractor::fill_normal(ctx, gen, x, 0.0f, 0.03f);
  for (std::size_t i = 0; i < n; ++i) {
    const float theta = 6.2831853f * u[i];
    x[3 * i] += 1.2f * std::cos(theta);
    x[3 * i + 1] += 1.2f * std::sin(theta);
    x[3 * i + 2] += 0.8f * std::cos(2 * theta);
  }
  return x;
}

diffusion::trainer_options small_training(std::size_t steps) {
  diffusion::trainer_options o;
  o.batch = 64;
  o.steps = steps;
  o.lr = 1e-3;
  o.validate_every = 0;
  o.seed = 9;
  return o;
}

}  // namespace

TEST_CASE("diffusion: the trainer learns: the loss of a velocity model falls well below its start") {
  context<cpu> ctx;
  philox init(1);
  nn::denoising_resnet<float, cpu> net(ctx, init, small_network());
  const auto data = curve_states(4096, 2), validation = curve_states(1024, 3);
  auto o = small_training(2000);
  o.lr = 3e-3;
  o.ema_decay = 0.95;
  o.validate_every = 1000;
  o.validation_batches = 4;
  std::size_t reports = 0;
  o.progress_every = 500;
  o.progress = [&](const diffusion::training_progress& p) {
    ++reports;
    CHECK(p.samples_per_second > 0);
    CHECK(std::isfinite(p.loss));
  };
  diffusion::trainer<float, cpu> trainer(ctx, net, diffusion::noise_schedule::cosine(),
                                         diffusion::parameterisation::velocity, o);
  trainer.train(data.view(), validation.view());
  CHECK(trainer.step() == 2000);
  CHECK(reports == 4);
  // The best model that ignores z predicts E[v | t] = -s E[x] and scores mean_t mean_d (a_t^2 + s_t^2 Var x_d):
  // a model that learnt to denoise must beat it clearly.
  const auto schedule = diffusion::noise_schedule::cosine();
  double variance[3] = {0, 0, 0}, mean[3] = {0, 0, 0};
  const std::size_t n = validation.extent(0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < 3; ++d) mean[d] += validation[3 * i + d] / static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < 3; ++d)
      variance[d] += std::pow(validation[3 * i + d] - mean[d], 2) / static_cast<double>(n - 1);
  double blind = 0;
  for (std::size_t t = 1; t <= 1000; ++t)
    for (double v : variance) blind += (schedule.alpha_bar(t) + (1 - schedule.alpha_bar(t)) * v) / 3000.0;
  CAPTURE(blind);
  CHECK(trainer.losses().front() > 0.95 * blind);  // the untrained net is no better than blind
  CHECK(std::isfinite(trainer.last_validation_loss()));
  CHECK(trainer.last_validation_loss() < 0.8 * blind);
}

TEST_CASE("diffusion: a run resumed from its checkpoint continues exactly as the uninterrupted run") {
  context<cpu> ctx;
  const auto data = curve_states(512, 4);
  attractor_test::temp_path file;
  auto weights_of = [&](nn::denoising_resnet<float, cpu>& net) {
    std::vector<float> out;
    for (auto* p : net.parameters())
      for (std::size_t i = 0; i < p->value.size(); ++i) out.push_back(p->value[i]);
    return out;
  };
  philox i1(5), i2(5), i3(6);  // the resumed net starts from other weights: the checkpoint must overwrite them
  nn::denoising_resnet<float, cpu> straight(ctx, i1, small_network()), first(ctx, i2, small_network()),
      resumed(ctx, i3, small_network());
  const auto schedule = diffusion::noise_schedule::cosine();
  const auto head = diffusion::parameterisation::velocity;
  // 10 steps of 64 over 512 samples: the run crosses an epoch boundary after step 8. The learning rate warms up and
  // decays, so the resumed run must also take up the schedule where it stopped.
  auto ten = small_training(10);
  ten.decay = diffusion::lr_decay::cosine;
  ten.warmup_steps = 3;
  ten.final_lr_fraction = 0.1;
  diffusion::trainer<float, cpu> a(ctx, straight, schedule, head, ten);
  a.train(data.view());
  // The same run, killed after its checkpoint at step 6.
  struct killed {};
  auto o = ten;
  o.checkpoint = file.path;
  o.checkpoint_every = 6;
  o.progress_every = 6;
  o.progress = [](const diffusion::training_progress&) { throw killed{}; };
  diffusion::trainer<float, cpu> b(ctx, first, schedule, head, o);
  CHECK_THROWS_AS(b.train(data.view()), killed);
  CHECK(b.step() == 6);
  CHECK(std::filesystem::exists(file.path));
  diffusion::trainer<float, cpu> c(ctx, resumed, schedule, head, ten);
  c.load_checkpoint(file.path);
  CHECK(c.step() == 6);
  c.train(data.view());
  CHECK(weights_of(resumed) == weights_of(straight));
  for (std::size_t i = 0; i < 4; ++i) CHECK(c.losses()[i] == a.losses()[6 + i]);
  const auto ema_a = a.average().shadow(), ema_c = c.average().shadow();
  for (std::size_t p = 0; p < ema_a.size(); ++p)
    for (std::size_t i = 0; i < ema_a[p].size(); ++i) REQUIRE(ema_a[p].data()[i] == ema_c[p].data()[i]);
}

TEST_CASE("diffusion: the learning-rate schedule: warm-up, cosine decay, and the rate Adam is given") {
  diffusion::trainer_options o;
  o.lr = 2e-3;
  o.steps = 104;
  CHECK(diffusion::learning_rate_at(o, 0) == 2e-3);  // the reference: constant
  CHECK(diffusion::learning_rate_at(o, 103) == 2e-3);
  o.decay = diffusion::lr_decay::cosine;
  o.warmup_steps = 4;
  o.final_lr_fraction = 0.25;
  CHECK(diffusion::learning_rate_at(o, 0) == relative(0.5e-3, 1e-14));
  CHECK(diffusion::learning_rate_at(o, 3) == relative(2e-3, 1e-14));
  // 100 decay steps: p = 0.5 at step 54 gives (0.25 + 0.75 / 2) lr; p = 0.99 at step 103 nearly 0.25 lr.
  CHECK(diffusion::learning_rate_at(o, 54) == relative(0.625 * 2e-3, 1e-14));
  CHECK(diffusion::learning_rate_at(o, 103) ==
        relative(2e-3 * (0.25 + 0.375 * (1 + std::cos(3.141592653589793 * 0.99))), 1e-14));
  o.final_lr_fraction = 1.5;
  context<cpu> ctx;
  philox init(3);
  nn::denoising_resnet<float, cpu> net(ctx, init, small_network());
  CHECK_THROWS_WITH_AS((diffusion::trainer<float, cpu>(ctx, net, diffusion::noise_schedule::cosine(),
                                                       diffusion::parameterisation::noise, o)),
                       doctest::Contains("final_lr_fraction in [0, 1]"), attractor::error);
  // Adam's first step moves a weight by lr g / (|g| + eps), i.e. by lr wherever |g| >> eps: with a warm-up of 4 the
  // largest move is lr / 4.
  auto t = small_training(1);
  t.lr = 1e-2;
  t.warmup_steps = 4;
  std::vector<float> before;
  for (auto* p : net.parameters())
    for (std::size_t i = 0; i < p->value.size(); ++i) before.push_back(p->value[i]);
  diffusion::trainer<float, cpu> trainer(ctx, net, diffusion::noise_schedule::cosine(),
                                         diffusion::parameterisation::noise, t);
  trainer.train(curve_states(512, 4).view());
  double largest = 0;
  std::size_t k = 0;
  for (auto* p : net.parameters())
    for (std::size_t i = 0; i < p->value.size(); ++i)
      largest = std::max(largest, std::abs(static_cast<double>(p->value[i]) - before[k++]));
  // Differences of float weights of order 0.1 to 1: their rounding is about 6e-8, 2.4e-5 of the move.
  CHECK(largest == relative(2.5e-3, 1e-4));
}

TEST_CASE("diffusion: a NaN or Inf loss stops training with an error and keeps the last good checkpoint") {
  context<cpu> ctx;
  const auto data = curve_states(512, 4);
  attractor_test::temp_path file;
  philox init(7);
  nn::denoising_resnet<float, cpu> net(ctx, init, small_network());
  auto o = small_training(50);
  o.lr = 1e30;  // Adam moves every weight by about lr: the second forward pass overflows
  o.checkpoint = file.path;
  o.checkpoint_every = 1;
  diffusion::trainer<float, cpu> t(ctx, net, diffusion::noise_schedule::cosine(), diffusion::parameterisation::noise,
                                   o);
  CHECK_THROWS_WITH_AS(t.train(data.view()), doctest::Contains("the last good checkpoint (step 1)"), attractor::error);
  // The checkpoint on disk is whole and loads.
  philox other(8);
  nn::denoising_resnet<float, cpu> again(ctx, other, small_network());
  diffusion::trainer<float, cpu> u(ctx, again, diffusion::noise_schedule::cosine(), diffusion::parameterisation::noise,
                                   small_training(50));
  u.load_checkpoint(file.path);
  CHECK(u.step() == 1);
}

TEST_CASE("diffusion: the trainer rejects bad data and checkpoints of another model") {
  context<cpu> ctx;
  attractor_test::temp_path file;
  philox init(7);
  nn::denoising_resnet<float, cpu> net(ctx, init, small_network());
  auto data = curve_states(256, 1);
  auto o = small_training(2);
  o.checkpoint = file.path;
  diffusion::trainer<float, cpu> t(ctx, net, diffusion::noise_schedule::cosine(), diffusion::parameterisation::velocity,
                                   o);
  tensor<float, cpu> wrong({256, 2});
  CHECK_THROWS_AS(t.train(wrong.view()), attractor::error);
  tensor<float, cpu> few({10, 3});
  CHECK_THROWS_WITH_AS(t.train(few.view()), doctest::Contains("one batch"), attractor::error);
  data[100] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(t.train(data.view()), doctest::Contains("finite values in training data"), attractor::error);
  data[100] = 0;
  t.train(data.view());
  // Another architecture, another parameterisation, another schedule: each refused, naming what differs.
  auto wider = small_network();
  wider.hidden = 48;
  nn::denoising_resnet<float, cpu> net2(ctx, init, wider);
  diffusion::trainer<float, cpu> t2(ctx, net2, diffusion::noise_schedule::cosine(),
                                    diffusion::parameterisation::velocity, small_training(2));
  CHECK_THROWS_WITH_AS(t2.load_checkpoint(file.path), doctest::Contains("attractor.architecture"), attractor::error);
  diffusion::trainer<float, cpu> t3(ctx, net, diffusion::noise_schedule::cosine(), diffusion::parameterisation::noise,
                                    small_training(2));
  CHECK_THROWS_WITH_AS(t3.load_checkpoint(file.path), doctest::Contains("attractor.parameterisation"),
                       attractor::error);
  diffusion::trainer<float, cpu> t4(ctx, net, diffusion::noise_schedule::linear(),
                                    diffusion::parameterisation::velocity, small_training(2));
  CHECK_THROWS_WITH_AS(t4.load_checkpoint(file.path), doctest::Contains("attractor.schedule"), attractor::error);
  // The architecture a checkpoint records reads back as the options the network was built with.
  const auto recorded = diffusion::checkpoint_architecture(file.path);
  const auto built = small_network();
  CHECK(recorded.inputs == built.inputs);
  CHECK(recorded.hidden == built.hidden);
  CHECK(recorded.blocks == built.blocks);
  CHECK(recorded.embedding == built.embedding);
  CHECK(recorded.max_time == built.max_time);
  attractor_test::temp_path odd;
  const tensor<float, cpu> one({1});
  for (const char* text : {"denoising_resnet inputs=3 hidden=x blocks=1 embedding=8 max_time=1000",
                           "denoising_resnet inputs=3 hidden=8 blocks=1 embedding=8", "resnet inputs=3",
                           "denoising_resnet inputs=3 hidden=8 blocks=1 embedding=8 max_time=1000 extra=1",
                           "denoising_resnet inputs=3 hidden=99999999999 blocks=1 embedding=8 max_time=1000"}) {
    nn::save_safetensors<float>(odd.path, {{"w", one.view()}}, {{"attractor.architecture", text}});
    CHECK_THROWS_WITH_AS(diffusion::checkpoint_architecture(odd.path), doctest::Contains("an architecture"),
                         attractor::error);
  }
  nn::save_safetensors<float>(odd.path, {{"w", one.view()}});
  CHECK_THROWS_WITH_AS(diffusion::checkpoint_architecture(odd.path), doctest::Contains("attractor.architecture"),
                       attractor::error);
  // A truncated checkpoint: a clear error, and the trainer unchanged.
  const auto size = std::filesystem::file_size(file.path);
  std::filesystem::resize_file(file.path, size / 2);
  CHECK_THROWS_AS(t.load_checkpoint(file.path), attractor::error);
  CHECK(t.step() == 2);
}
