// lorenz63_generate's command line (CLI11), compiled by the host compiler for both the cpu and the cuda program, so
// that CLI11 stays out of nvcc. Every option is checked here, before any work: counts and numbers by range (refused
// with the option's name), the output folder by writing into it, and an existing model by --resume or --overwrite.
#include "cli.hpp"
#include "lorenz63_generate.hpp"

namespace lorenz63_generate {

options parse(int argc, char** argv) {
  using examples::count_in;
  using examples::number_in;
  options o;
  CLI::App app(
      "Trains a denoising diffusion model of the Lorenz-63 attractor (Finn et al.), samples it and scores the\n"
      "samples with the paper's five metrics, printed like Table 1 beside the paper's row. The defaults are sized for\n"
      "15 minutes on 2 quiet cpu cores; --full selects the paper's configuration (for a GPU); an option given\n"
      "explicitly overrides --full.",
      "lorenz63_generate");
  app.get_formatter()->column_width(30);
  const char* data = "data (the paper's: 16 train, 1 validation, 16 test trajectories of 1e6 + 1 states at dt 0.01)";
  examples::add_lorenz63_data_options(app, data, o.train_members, o.test_members, o.trajectory_steps, o.spin_up);
  const char* model = "model and training";
  app.add_option("--head", o.head, "velocity | noise | state (default velocity)")
      ->check(CLI::IsMember({"velocity", "noise", "state"}))
      ->group(model);
  app.add_option("--schedule", o.schedule, "cosine | linear (default cosine)")
      ->check(CLI::IsMember({"cosine", "linear"}))
      ->group(model);
  app.add_option("--hidden", o.network.hidden, "width of the residual stream (default 128; --full: 256, the paper's)")
      ->check(count_in(1, 16384))
      ->group(model);
  app.add_option("--blocks", o.network.blocks, "residual blocks (default 3)")->check(count_in(1, 256))->group(model);
  app.add_option("--embedding", o.network.embedding, "sinusoidal features of the pseudo-time, even (default 512)")
      ->check(count_in(4, 16384))
      ->group(model);
  app.add_option("--batch", o.batch, "training batch (default 2048; --full: 16384)")
      ->check(count_in(1, 10'000'000))
      ->group(model);
  app.add_option("--train-steps", o.train_steps, "optimiser steps (default 10000; --full: 97700)")
      ->check(count_in(0, 1'000'000'000))
      ->group(model);
  app.add_option("--lr", o.lr, "Adam learning rate (default 2e-3; --full: 3e-4)")
      ->check(number_in(1e-12, 10))
      ->group(model);
  app.add_option("--lr-decay", o.lr_decay,
                 "cosine | constant (default cosine, after a linear warm-up; --full: constant, the paper's)")
      ->check(CLI::IsMember({"cosine", "constant"}))
      ->group(model);
  app.add_option("--warmup", o.warmup, "warm-up steps (default 200; --full: 0)")
      ->check(count_in(0, 1'000'000'000))
      ->group(model);
  app.add_option("--final-lr", o.final_lr, "cosine: the last step's rate as a fraction of --lr (default 0.05)")
      ->check(number_in(0, 1))
      ->group(model);
  bool raw_weights = false;
  app.add_flag("--raw-weights", raw_weights, "sample with the raw weights instead of their EMA (decay 0.999)")
      ->group(model);
  const char* sampling = "sampling";
  app.add_option("--samples", o.samples, "generated states (default 100000; --full: 1048576)")
      ->check(count_in(1, 1'000'000'000))
      ->group(sampling);
  app.add_option("--sampler", o.sampler, "ddim | ddpm (default ddim; --full: ddpm)")
      ->check(CLI::IsMember({"ddim", "ddpm"}))
      ->group(sampling);
  app.add_option("--sampler-steps", o.sampler_steps, "steps from t = 1000 to 0 (default 100; --full: 1000)")
      ->check(count_in(1, 1000))
      ->group(sampling);
  app.add_option("--eta", o.eta, "DDIM noise in [0, 1] (default 0)")->check(number_in(0, 1))->group(sampling);
  app.add_flag("--table2", o.table2,
               "also score Table 2's grid: DDIM eta 0, 0.2, 0.5, 1 and DDPM at 10, 20, 50, 100, 1000 steps "
               "(Hellinger and its floor only)")
      ->group(sampling);
  app.add_option("--table2-samples", o.table2_samples, "samples per cell of the grid (default 20000; --full: 1048576)")
      ->check(count_in(1, 1'000'000'000))
      ->group(sampling);
  const char* fsd = "FSD feature network (the paper's dense_two surrogate of 0.1 time units)";
  app.add_option("--surrogate-steps", o.surrogate_steps, "Adam steps (default 3000; --full: 97700)")
      ->check(count_in(1, 1'000'000'000))
      ->group(fsd);
  app.add_option("--surrogate-batch", o.surrogate_batch, "pairs per step (default 1024; --full: 16384)")
      ->check(count_in(1, 10'000'000))
      ->group(fsd);
  app.add_option("--surrogate-lr", o.surrogate_lr, "learning rate (default 1e-3; --full: 5e-5)")
      ->check(number_in(1e-12, 10))
      ->group(fsd);
  const char* running = "running";
  app.add_flag("--full", o.full, "the paper's configuration (see above)")->group(running);
  app.add_option("--seed", o.seed, "seed of every random draw (default 0)")
      ->check(count_in(0, UINT64_MAX))
      ->group(running);
  app.add_option("--threads", o.threads, "cpu threads (default 0: all)")->check(count_in(0, 1024))->group(running);
  app.add_option("--out", o.out,
                 "output folder: checkpoint, samples .npy, metrics CSV, figure (default out/lorenz63); checked for "
                 "writing before any work")
      ->group(running);
  auto* resume =
      app.add_flag("--resume", o.resume, "continue training from DIR/model.safetensors if it exists")->group(running);
  app.add_flag("--overwrite", o.overwrite,
               "replace an existing DIR/model.safetensors (without --resume or --overwrite, an existing model is "
               "never replaced)")
      ->excludes(resume)
      ->group(running);
  app.add_option("--plot-script", o.plot_script,
                 "the matplotlib script drawing DIR/lorenz63.png (default: the source tree's "
                 "examples/plot_lorenz63.py); skipped with a message without python3-matplotlib")
      ->group(running);
  examples::parse_or_exit(app, argc, argv);

  o.use_ema = !raw_weights;
  if (o.full) {
    // The paper's configuration, for every option not given explicitly.
    const auto set = [&](const char* name, auto& field, auto value) {
      if (app.count(name) == 0) field = value;
    };
    set("--hidden", o.network.hidden, std::size_t{256});
    set("--batch", o.batch, std::size_t{16384});
    set("--train-steps", o.train_steps, std::size_t{97'700});
    set("--lr", o.lr, 3e-4);
    set("--lr-decay", o.lr_decay, std::string("constant"));
    set("--warmup", o.warmup, std::size_t{0});
    set("--samples", o.samples, std::size_t{1'048'576});
    set("--sampler", o.sampler, std::string("ddpm"));
    set("--sampler-steps", o.sampler_steps, std::size_t{1000});
    set("--table2-samples", o.table2_samples, std::size_t{1'048'576});
    set("--surrogate-steps", o.surrogate_steps, std::size_t{97'700});
    set("--surrogate-batch", o.surrogate_batch, std::size_t{16384});
    set("--surrogate-lr", o.surrogate_lr, 5e-5);
  }

  constexpr const char* fn = "lorenz63_generate";
  require(o.network.embedding % 2 == 0, fn, "an even --embedding", o.network.embedding);
  const std::size_t train_states = o.train_members * (o.trajectory_steps + 1);
  require(o.batch <= train_states, fn,
          detail::concat("a --batch of at most the ", train_states,
                         " train states (--train-members x "
                         "(--trajectory-steps + 1))"),
          o.batch);
  require(o.trajectory_steps > 10, fn, "--trajectory-steps above the FSD network's lead of 10 steps",
          o.trajectory_steps);
  examples::require_writable_folder(o.out, fn, "--out");
  const auto model_file = o.out / "model.safetensors";
  require(
      !std::filesystem::exists(model_file) || o.resume || o.overwrite, fn,
      detail::concat("--resume or --overwrite to use the existing ", model_file, " (it is never replaced otherwise)"),
      "neither");
  return o;
}

}  // namespace lorenz63_generate
