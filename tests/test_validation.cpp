// What the library refuses that would otherwise corrupt memory, hang or mislead, and the twin runner's two error
// summaries and its lost-truth flag, each against values computed here: shape and count products that overflow,
// the twin runner's and the initial-state helpers' counts, an ensemble with NaN, a checkpoint trained for another
// head or schedule, and the parallel regions of small work.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attractor/backend/for_each.hpp"
#include "attractor/da.hpp"
#include "attractor/diffusion.hpp"
#include "attractor/systems/lorenz63.hpp"
#include "attractor/tensor/tensor.hpp"
#include "file_helpers.hpp"
#include "tolerance.hpp"

#if ATTRACTOR_HAS_OPENMP
#include <omp.h>
#endif

using namespace attractor;
using attractor_test::relative;

namespace {

constexpr std::size_t huge = std::size_t{1} << 40;

/// An experiment_method that ignores the observations and writes a known analysis: every member of experiment e at
/// cycle c becomes offset(c) in its first variable and 0 in the others, so that the analysis error against a truth
/// at the origin is known in closed form. Its name is the only thing the runner reports of it.
struct scripted_analysis {
  std::size_t cycle_count = 0;
  std::vector<std::size_t> cycles_seen;
  static double offset(std::size_t cycle) { return cycle % 2 == 0 ? 1.0 : 3.0; }
  [[nodiscard]] std::string_view name() const { return "scripted"; }
  [[nodiscard]] std::size_t members() const { return 2; }
  void prepare(context<cpu>&, const da::observation_model<double>&, std::size_t experiments) {
    cycles_seen.assign(experiments, 0);
  }
  void analyse_one(const da::observation_model<double>&, std::size_t e, double* state, const double*, philox&,
                   da::analysis_diagnostics<double>& diag) {
    const double x = offset(cycles_seen[e]++);
    for (std::size_t j = 0; j < 2; ++j) {
      state[0 * 2 + j] = x;
      state[1 * 2 + j] = 0;
      state[2 * 2 + j] = 0;
    }
    for (std::size_t i = 0; i < 3; ++i) diag.mean_of(e)[i] = diag.bg_var_of(e)[i] = diag.an_var_of(e)[i] = 0;
  }
};

/// A method that never assimilates: its members run free of the observations, as a filter that lost the truth.
struct free_run {
  [[nodiscard]] std::string_view name() const { return "free"; }
  [[nodiscard]] std::size_t members() const { return 2; }
  void prepare(context<cpu>&, const da::observation_model<double>&, std::size_t) {}
  void analyse_one(const da::observation_model<double>&, std::size_t e, double*, const double*, philox&,
                   da::analysis_diagnostics<double>& diag) {
    for (std::size_t i = 0; i < 3; ++i) diag.mean_of(e)[i] = diag.bg_var_of(e)[i] = diag.an_var_of(e)[i] = 0;
  }
};

}  // namespace

TEST_SUITE("validation") {
  TEST_CASE("validation: shapes and buffers whose size overflows are refused, not wrapped") {
    CHECK_THROWS_WITH_AS((tensor<float, cpu>({huge, huge})), doctest::Contains("product fits"), attractor::error);
    CHECK_THROWS_WITH_AS((tensor<double, cpu>({huge, 1, huge, 1})), doctest::Contains("shape"), attractor::error);
    // Elements that fit but whose bytes do not.
    CHECK_THROWS_WITH_AS((buffer<double, cpu>(std::numeric_limits<std::size_t>::max() / 4)),
                         doctest::Contains("buffer"), attractor::error);
    CHECK(tensor<float, cpu>({huge, 0}).size() == 0);  // an empty tensor of a large extent is fine
    CHECK(checked_product(3, 4, "f", "counts") == 12);
    CHECK_THROWS_WITH_AS((void)checked_product(huge, huge, "f", "counts"), doctest::Contains("f: expected counts"),
                         attractor::error);
    CHECK_THROWS_AS((void)checked_sum(std::numeric_limits<std::size_t>::max(), 1, "f", "counts"), attractor::error);
  }

  TEST_CASE("validation: the twin runner refuses counts that overflow") {
    context<cpu> ctx(1);
    const systems::lorenz63<double> model{};
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
    tensor<double, cpu> truth({1, 3}), initial({1, 3, 3});
    fill(ctx, truth, 1.0);
    fill(ctx, initial, 1.0);
    da::etkf<double> method(3);
    philox gen(1);
    const auto run = [&](const da::twin_options& o) {
      return da::run_twin(ctx, model, 0.01, method, obs, truth.view(), initial.view(), gen, o);
    };
    da::twin_options o;
    o.burn_in = std::numeric_limits<std::size_t>::max();
    o.cycles = 2;
    CHECK_THROWS_WITH_AS(run(o), doctest::Contains("burn_in and cycles"), attractor::error);
    o.burn_in = 0;
    o.obs_every = std::numeric_limits<std::size_t>::max();
    CHECK_THROWS_WITH_AS(run(o), doctest::Contains("da::run_twin"), attractor::error);
    o.obs_every = huge;
    o.cycles = huge;
    CHECK_THROWS_WITH_AS(run(o), doctest::Contains("analyses and obs_every"), attractor::error);
    // Two experiments' series of 2^63 analyses each: the series' size wraps.
    tensor<double, cpu> truth2({2, 3}), initial2({2, 3, 3});
    fill(ctx, truth2, 1.0);
    fill(ctx, initial2, 1.0);
    o.obs_every = 1;
    o.cycles = std::size_t{1} << 63;
    o.record_series = true;
    CHECK_THROWS_WITH_AS(da::run_twin(ctx, model, 0.01, method, obs, truth2.view(), initial2.view(), gen, o),
                         doctest::Contains("record_series"), attractor::error);
  }

  TEST_CASE("validation: spun_up_states and draw_initial_states refuse bad counts and values") {
    context<cpu> ctx(1);
    const systems::lorenz63<double> model{};
    philox gen(1);
    using L63 = systems::lorenz63<double>;
    const std::vector<double> centre{0, 0, 25};
    CHECK_THROWS_WITH_AS((da::spun_up_states<L63, double>(ctx, model, 0.01, std::numeric_limits<std::size_t>::max(), 10,
                                                          gen, centre, 1.0)),
                         doctest::Contains("da::spun_up_states"), attractor::error);
    CHECK_THROWS_WITH_AS((da::spun_up_states<L63, double>(ctx, model, -0.01, 4, 10, gen, centre, 1.0)),
                         doctest::Contains("a finite dt > 0"), attractor::error);
    CHECK_THROWS_WITH_AS((da::spun_up_states<L63, double>(ctx, model, 0.01, 4, 10, gen, centre, -1.0)),
                         doctest::Contains("a finite spread >= 0"), attractor::error);
    CHECK_THROWS_WITH_AS((da::spun_up_states<L63, double>(ctx, model, 0.01, 4, 10, gen, {0, std::nan(""), 25}, 1.0)),
                         doctest::Contains("finite values in the centre"), attractor::error);
    const auto pool = da::spun_up_states<L63, double>(ctx, model, 0.01, 8, 10, gen, centre, 1.0);
    // experiments x members wraps to 0 in 64 bits: refused, not "enough states".
    CHECK_THROWS_WITH_AS(
        (da::draw_initial_states<double>(ctx, pool.view(), std::size_t{1} << 32, std::size_t{1} << 32, gen)),
        doctest::Contains("experiments and members"), attractor::error);
  }

  TEST_CASE("validation: etkf_analysis refuses an ensemble with NaN or Inf") {
    context<cpu> ctx(1);
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 1.0);
    tensor<double, cpu> E({1, 3, 4}), y({1, 3});
    for (std::size_t i = 0; i < E.size(); ++i) E[i] = double(i % 5);
    fill(ctx, y, 0.5);
    E[7] = std::nan("");
    CHECK_THROWS_WITH_AS(da::etkf_analysis<double>(ctx, E.view(), y.view(), obs),
                         doctest::Contains("finite values in the ensemble E"), attractor::error);
    E[7] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH_AS(da::etkf_analysis<double>(ctx, E.view(), y.view(), obs), doctest::Contains("the ensemble E"),
                         attractor::error);
  }

  TEST_CASE("validation: load_trained_weights refuses a checkpoint of another head or schedule") {
    context<cpu> ctx(1);
    philox init(3);
    nn::denoising_resnet_options arch;
    arch.hidden = 8;
    arch.blocks = 1;
    arch.embedding = 8;
    nn::denoising_resnet<float, cpu> net(ctx, init, arch);
    diffusion::trainer_options o;
    o.steps = 0;
    diffusion::trainer<float, cpu> trainer(ctx, net, diffusion::noise_schedule::cosine(),
                                           diffusion::parameterisation::noise, o);
    attractor_test::temp_path file;
    trainer.save_checkpoint(file.path);

    nn::denoising_resnet<float, cpu> other(ctx, init, arch);
    const float before = other.parameters()[0]->value[0];
    CHECK_THROWS_WITH_AS(diffusion::load_trained_weights(ctx, file.path, other, diffusion::noise_schedule::cosine(),
                                                         diffusion::parameterisation::velocity),
                         doctest::Contains("attractor.parameterisation = velocity, got noise"), attractor::error);
    CHECK_THROWS_WITH_AS(diffusion::load_trained_weights(ctx, file.path, other, diffusion::noise_schedule::linear(),
                                                         diffusion::parameterisation::noise),
                         doctest::Contains("attractor.schedule = linear T=1000, got cosine T=1000"), attractor::error);
    CHECK(other.parameters()[0]->value[0] == before);  // unchanged on error
    diffusion::load_trained_weights(ctx, file.path, other, diffusion::noise_schedule::cosine(),
                                    diffusion::parameterisation::noise);
    CHECK(other.parameters()[0]->value[0] == net.parameters()[0]->value[0]);
  }

  TEST_CASE("validation: the twin runner's time-mean RMSE (rmse.a) beside sqrt of the time-mean MSE") {
    // A truth at the fixed point 0 of Lorenz-63 and an analysis that alternates between x = (1, 0, 0) and (3, 0, 0):
    // the instantaneous analysis RMSE alternates between 1/sqrt(3) and 3/sqrt(3), so over an even number of scored
    // cycles rmse.a = 2/sqrt(3), while sqrt(time-mean MSE) = sqrt((1 + 9) / 2 / 3) is larger.
    context<cpu> ctx(1);
    const systems::lorenz63<double> model{};
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 1.0);
    const std::size_t burn_in = 2, cycles = 40, k = 5;
    tensor<double, cpu> truth({2, (burn_in + cycles) * k + 1, 3}), initial({2, 3, 2});
    fill(ctx, truth, 0.0);
    fill(ctx, initial, 0.0);
    scripted_analysis method;
    philox gen(1);
    da::twin_options o;
    o.obs_every = k;
    o.burn_in = burn_in;
    o.cycles = cycles;
    o.flag_lost = false;  // the truth does not vary, so any error would count as lost
    const auto r = da::run_twin(ctx, model, 0.01, method, obs, truth.view(), initial.view(), gen, o);
    REQUIRE(r.diverged() == 0);
    CHECK(r.analysis_rmse_time_mean().mean == relative(2.0 / std::sqrt(3.0), 1e-12));
    CHECK(r.analysis().mean == relative(std::sqrt(10.0 / 6.0), 1e-12));
    CHECK(r.analysis_rmse_time_mean().count == 2);
  }

  TEST_CASE("validation: a filter that lost the truth counts as diverged without a scale") {
    // Lorenz-63 run free of its observations from the wrong states: its errors stay bounded, so no blow_up in
    // absolute units catches it, but after 400 analyses 0.1 time units apart it is as far from the truth as a
    // random state. An ETKF on the same truth tracks it and is not flagged.
    context<cpu> ctx(1);
    const systems::lorenz63<double> model{};
    const da::observation_model<double> obs(da::obs_operator<double>::identity(3), 2.0);
    philox gen(7);
    using L63 = systems::lorenz63<double>;
    const auto truth = da::spun_up_states<L63, double>(ctx, model, 0.01, 2, 2000, gen, {0, 0, 25}, 5.0);
    const auto pool = da::spun_up_states<L63, double>(ctx, model, 0.01, 16, 2000, gen, {0, 0, 25}, 5.0);
    da::twin_options o;
    o.obs_every = 10;
    o.burn_in = 100;
    o.cycles = 400;
    {
      free_run method;
      const auto initial = da::draw_initial_states<double>(ctx, pool.view(), 2, 2, gen);
      philox g(1);
      const auto r = da::run_twin(ctx, model, 0.01, method, obs, truth.view(), initial.view(), g, o);
      CHECK(r.diverged() == 2);
      CHECK(r.lost[0]);
      CHECK(r.lost[1]);
      CHECK(r.diverged_at[0] == -1);  // it never blew up
      CHECK(std::isinf(r.nrmse[0]));
      o.flag_lost = false;
      philox g2(1);
      const auto unflagged = da::run_twin(ctx, model, 0.01, method, obs, truth.view(), initial.view(), g2, o);
      CHECK(unflagged.diverged() == 0);
      o.flag_lost = true;
    }
    {
      da::etkf<double> method(8, 1.05);
      const auto initial = da::draw_initial_states<double>(ctx, pool.view(), 2, 8, gen);
      philox g(1);
      const auto r = da::run_twin(ctx, model, 0.01, method, obs, truth.view(), initial.view(), g, o);
      CHECK(r.diverged() == 0);
      CHECK_FALSE(r.lost[0]);
    }
  }

  TEST_CASE("validation: for_each_index_coarse opens no parallel region around little work") {
    context<cpu> ctx(2);
    std::vector<int> in_parallel(8, -1);
    const auto probe = [&](std::size_t i) {
#if ATTRACTOR_HAS_OPENMP
      in_parallel[i] = omp_in_parallel();
#else
      in_parallel[i] = 0;
#endif
    };
    for_each_index_coarse(ctx, 8, probe, 100);  // 800 flops in all: on the calling thread
    for (int p : in_parallel) CHECK(p == 0);
#if ATTRACTOR_HAS_OPENMP
    if (ctx.threads() > 1) {
      for_each_index_coarse(ctx, 8, probe);  // heavy by default: in parallel
      for (int p : in_parallel) CHECK(p == 1);
    }
#endif
  }
}
