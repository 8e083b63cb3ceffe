// nn::fit, the one training loop, on an objective of its own (a linear regression with a known answer), and the
// objectives the library trains through it: gradient clipping against a hand computation, convergence, bit-exact
// resume, a clean NaN stop, and bad options refused.
#include "attractor/core/eigen.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "attractor/autograd/ops/reduce.hpp"
#include "attractor/diffusion/ddpm_objective.hpp"
#include "attractor/metrics/surrogate.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/nn/linear.hpp"
#include "file_helpers.hpp"
#include "tolerance.hpp"

using namespace attractor;
using attractor_test::absolute;
using attractor_test::relative;

static_assert(nn::objective<diffusion::ddpm_objective<float, cpu>>);
static_assert(nn::objective<metrics::surrogate_objective<double, cpu>>);

namespace {

// y = A x + c for x in R^2, y in R^2, with A and c known: the regression's minimiser.
constexpr double true_a[2][2] = {{1.5, -0.5}, {0.25, 2.0}};
constexpr double true_c[2] = {0.3, -0.7};

/// A user's objective: a linear layer fitted to (x, y) pairs by MSE, rows chosen by fit.
struct regression {
  using scalar_type = double;
  using backend_type = cpu;

  regression(context<cpu>& ctx, philox& init, std::size_t batch, std::size_t n, double corrupt = 0)
      : layer(ctx, init, "layer", 2, 2), g(ctx), batch_(batch), x(shape{n, 2}), y(shape{n, 2}) {
    philox data(99);
    fill_uniform(ctx, data, x, -1.0, 1.0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < 2; ++k)
        y.at(i, k) = true_a[k][0] * x.at(i, 0) + true_a[k][1] * x.at(i, 1) + true_c[k] + corrupt;
    input = g.input({batch, 2});
    target = g.input({batch, 2});
    loss_ = autograd::mse(g, layer(g, input), target);
  }

  autograd::graph<double, cpu>& graph() { return g; }
  autograd::value loss() const { return loss_; }
  nn::parameter_list<double, cpu> parameters() {
    nn::parameter_list<double, cpu> list;
    layer.append_parameters(list);
    return list;
  }
  std::size_t batch() const { return batch_; }
  std::size_t training_samples() const { return x.extent(0); }
  std::size_t validation_samples() const { return x.extent(0); }
  nn::safetensors_metadata metadata() const { return {{"attractor.architecture", "regression 2 -> 2"}}; }
  void load_batch(const nn::batch_draw& b) {
    ++batches;
    for (std::size_t i = 0; i < batch_; ++i)
      for (std::size_t k = 0; k < 2; ++k) {
        g.value_of(input).at(i, k) = x.at(static_cast<std::size_t>(b.rows[i]), k);
        g.value_of(target).at(i, k) = y.at(static_cast<std::size_t>(b.rows[i]), k);
      }
  }

  nn::linear<double, cpu> layer;
  autograd::graph<double, cpu> g;
  std::size_t batch_;
  tensor<double, cpu> x, y;
  autograd::value input, target, loss_;
  std::size_t batches = 0;
};

std::vector<double> weights_of(regression& r) {
  std::vector<double> w;
  for (auto* p : r.parameters())
    for (std::size_t i = 0; i < p->size(); ++i) w.push_back(p->value.data()[i]);
  return w;
}

nn::fit_options regression_options(std::size_t steps) {
  nn::fit_options o;
  o.batch = 32;
  o.steps = steps;
  o.lr = 2e-2;
  o.validate_every = 0;
  o.seed = 3;
  return o;
}

}  // namespace

TEST_CASE("nn::clip_gradient_norm scales every gradient by max / norm of the whole list, and only above max") {
  context<cpu> ctx;
  nn::parameter<double, cpu> a("a", {2}), b("b", {1});
  nn::parameter_list<double, cpu> list{&a, &b};
  a.grad.data()[0] = 3;
  a.grad.data()[1] = 4;
  b.grad.data()[0] = 12;  // |(3, 4, 12)| = 13
  CHECK(nn::clip_gradient_norm(ctx, list, 20.0) == relative(13.0, 1e-15));
  CHECK(b.grad.data()[0] == 12);  // below the bound: untouched
  CHECK(nn::clip_gradient_norm(ctx, list, 6.5) == relative(13.0, 1e-15));
  const double factor = 6.5 / (13 + 1e-6);  // torch.nn.utils.clip_grad_norm_'s
  CHECK(a.grad.data()[0] == relative(3 * factor, 1e-15));
  CHECK(a.grad.data()[1] == relative(4 * factor, 1e-15));
  CHECK(b.grad.data()[0] == relative(12 * factor, 1e-15));
  CHECK_THROWS_AS(nn::clip_gradient_norm(ctx, list, 0.0), attractor::error);
  CHECK_THROWS_AS(nn::clip_gradient_norm(ctx, list, std::numeric_limits<double>::quiet_NaN()), attractor::error);
}

TEST_CASE("nn::fit trains a user's objective to its known minimiser, with clipping, EMA and validation") {
  context<cpu> ctx;
  philox init(1);
  regression r(ctx, init, 32, 256);
  auto o = regression_options(1500);
  o.clip_norm = 1.0;
  o.validate_every = 500;
  o.decay = nn::lr_decay::cosine;
  o.warmup_steps = 50;
  std::vector<nn::fit_progress> reports;
  o.progress_every = 500;
  o.progress = [&](const nn::fit_progress& p) { reports.push_back(p); };
  nn::fit<regression> run(ctx, r, o);
  run.train();
  CHECK(run.step() == 1500);
  REQUIRE(reports.size() == 3);
  CHECK(reports.back().step == 1500);
  CHECK(reports.back().last_loss == run.losses().back());
  CHECK(std::isfinite(run.last_validation_loss()));
  CHECK(std::isfinite(run.last_gradient_norm()));
  // The raw weights are the regression's exact answer (noise-free data), to the optimiser's resolution.
  CHECK(r.layer.weight.value.at(0, 0) == absolute(true_a[0][0], 1e-3));
  CHECK(r.layer.weight.value.at(0, 1) == absolute(true_a[0][1], 1e-3));
  CHECK(r.layer.weight.value.at(1, 0) == absolute(true_a[1][0], 1e-3));
  CHECK(r.layer.weight.value.at(1, 1) == absolute(true_a[1][1], 1e-3));
  CHECK(r.layer.bias.value[0] == absolute(true_c[0], 1e-3));
  CHECK(r.layer.bias.value[1] == absolute(true_c[1], 1e-3));
  CHECK(run.losses().back() < 1e-6);
}

TEST_CASE("nn::fit resumed from its checkpoint continues exactly as the uninterrupted run") {
  context<cpu> ctx;
  attractor_test::temp_path file;
  philox i1(5), i2(5), i3(6);
  regression straight(ctx, i1, 32, 200), first(ctx, i2, 32, 200), resumed(ctx, i3, 32, 200);
  auto o = regression_options(40);  // 6 batches an epoch: the resume lands inside an epoch
  o.clip_norm = 0.5;
  nn::fit<regression> a(ctx, straight, o);
  a.train();
  auto half = o;
  half.steps = 17;
  half.checkpoint = file.path;
  nn::fit<regression> b(ctx, first, half);
  b.train();
  nn::fit<regression> c(ctx, resumed, o);
  c.load_checkpoint(file.path);
  CHECK(c.step() == 17);
  c.train();
  CHECK(weights_of(resumed) == weights_of(straight));
  // A checkpoint of another model is refused, naming what differs.
  struct other : regression {
    using regression::regression;
    nn::safetensors_metadata metadata() const { return {{"attractor.architecture", "something else"}}; }
  };
  philox i4(7);
  other o2(ctx, i4, 32, 200);
  nn::fit<other> d(ctx, o2, o);
  CHECK_THROWS_WITH_AS(d.load_checkpoint(file.path), doctest::Contains("attractor.architecture"), attractor::error);
}

TEST_CASE("nn::fit stops on a NaN loss naming the last good checkpoint, and refuses bad options") {
  context<cpu> ctx;
  attractor_test::temp_path file;
  philox init(2);
  regression r(ctx, init, 32, 256, std::numeric_limits<double>::quiet_NaN());
  auto o = regression_options(10);
  nn::fit<regression> run(ctx, r, o);
  CHECK_THROWS_WITH_AS(run.train(), doctest::Contains("the loss became nan at step 1; no checkpoint was written"),
                       attractor::error);

  philox init2(2);
  regression fine(ctx, init2, 32, 256);
  auto wrong_batch = regression_options(10);
  wrong_batch.batch = 16;
  CHECK_THROWS_WITH_AS(nn::fit<regression>(ctx, fine, wrong_batch), doctest::Contains("objective's 32 rows"),
                       attractor::error);
  auto clip = regression_options(10);
  clip.clip_norm = -1;
  CHECK_THROWS_WITH_AS(nn::fit<regression>(ctx, fine, clip), doctest::Contains("clip_norm"), attractor::error);
  auto fraction = regression_options(10);
  fraction.final_lr_fraction = 2;
  CHECK_THROWS_WITH_AS(nn::fit<regression>(ctx, fine, fraction), doctest::Contains("final_lr_fraction"),
                       attractor::error);
  philox init3(2);
  regression few(ctx, init3, 32, 20);  // fewer rows than a batch
  CHECK_THROWS_WITH_AS(nn::fit<regression>(ctx, few, regression_options(10)), doctest::Contains("one batch"),
                       attractor::error);
  auto no_average = regression_options(10);
  no_average.average = false;
  nn::fit<regression> plain(ctx, fine, no_average);
  CHECK_THROWS_AS((void)plain.average(), attractor::error);
}

TEST_CASE("the library's objectives refuse bad data with a clear error") {
  context<cpu> ctx;
  philox init(4);
  metrics::dense_surrogate<double, cpu> net(ctx, init, {3, 8, 2});
  tensor<double, cpu> traj(shape{2, 30, 3});
  fill(ctx, traj, 0.5);
  using objective = metrics::surrogate_objective<double, cpu>;
  tensor<double, cpu> wrong(shape{2, 30, 2});
  CHECK_THROWS_WITH_AS(objective(ctx, net, wrong.view(), 10, 16, 0), doctest::Contains("trajectories of shape"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(objective(ctx, net, traj.view(), 30, 16, 0), doctest::Contains("more than lead = 30"),
                       attractor::error);
  CHECK_THROWS_WITH_AS(objective(ctx, net, traj.view(), 10, 0, 0), doctest::Contains("at least one pair"),
                       attractor::error);
  traj.at(1, 7, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(objective(ctx, net, traj.view(), 10, 16, 0), doctest::Contains("finite"), attractor::error);

  nn::denoising_resnet_options small;
  small.hidden = 16;
  small.blocks = 1;
  small.embedding = 8;
  small.max_time = 100;
  nn::denoising_resnet<float, cpu> resnet(ctx, init, small);
  using ddpm_type = diffusion::ddpm_objective<float, cpu>;
  const auto noise = diffusion::parameterisation::noise;
  CHECK_THROWS_WITH_AS(ddpm_type(ctx, resnet, diffusion::noise_schedule::cosine(), noise, 32),
                       doctest::Contains("max_time"), attractor::error);
  CHECK_THROWS_WITH_AS(ddpm_type(ctx, resnet, diffusion::noise_schedule::cosine(100), noise, 0),
                       doctest::Contains("at least one sample"), attractor::error);
  diffusion::ddpm_objective<float, cpu> ddpm(ctx, resnet, diffusion::noise_schedule::cosine(100),
                                             diffusion::parameterisation::noise, 32);
  tensor<float, cpu> data(shape{64, 3}), few(shape{16, 3});
  fill(ctx, data, 0.25f);
  CHECK_THROWS_WITH_AS(ddpm.set_data(few.view(), {}), doctest::Contains("one batch"), attractor::error);
  CHECK_THROWS_WITH_AS(ddpm.set_data(data.view(), few.view()), doctest::Contains("validation data"), attractor::error);
  std::vector<std::int32_t> rows(32, 0);
  std::vector<std::uint32_t> words(32, 0);
  philox gen(1);
  CHECK_THROWS_AS(ddpm.load_batch({0, false, rows, words, &gen}), attractor::error);  // no data set yet
  ddpm.set_data(data.view(), {});
  ddpm.load_batch({0, false, rows, words, &gen});
  data[5] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(ddpm.set_data(data.view(), {}), doctest::Contains("finite"), attractor::error);
}
