// nn::denoising_resnet: the Lorenz-63 paper's denoising network (spec §2, DenseResidualNetwork):
//   h = Linear(inputs -> hidden)(z)
//   blocks times: h <- h + gamma * fc2(relu(fc1(modulate(LN(h), scale, shift)))), [scale, shift] = FiLM(e(tau))
//   output = Linear(hidden -> inputs)(h)
// with LN a layer norm without affine parameters (eps 1e-5), FiLM a per-block Linear(embedding -> 2 hidden) of the
// sinusoidal embedding e(tau), and the layer scale gamma initialised to 1e-6. The defaults give 1,185,283
// parameters. `features` is h after the last block (hidden features), the paper's feature extractor.
//
// Time conditioning. FiLM depends only on the integer pseudo-time, which takes at most max_time + 1 values, so
// conditioning::per_tau computes it once per distinct tau of the batch, modulates each sample with its tau's row
// (never forming the per-sample FiLM output), and in the backward pass segment-sums the per-sample gradients by tau
// before the weight gradient. conditioning::per_sample computes it for every sample, then splits and modulates, as
// the reference code does; it is kept for comparison.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/kernels.hpp"
#include "attractor/autograd/ops/elementwise.hpp"
#include "attractor/autograd/ops/film.hpp"
#include "attractor/autograd/ops/norm.hpp"
#include "attractor/autograd/ops/shape.hpp"
#include "attractor/backend/segment_sum.hpp"
#include "attractor/nn/embedding.hpp"
#include "attractor/nn/init.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/random/philox.hpp"

namespace attractor::nn {

enum class conditioning { per_sample, per_tau };

struct denoising_resnet_options {
  std::size_t inputs = 3;       ///< state dimension (in and out)
  std::size_t hidden = 256;     ///< width of the residual stream
  std::size_t blocks = 3;       ///< residual blocks
  std::size_t embedding = 512;  ///< sinusoidal features of the pseudo-time
  std::size_t max_time = 1000;  ///< pseudo-times run over 0..max_time
  double gamma_init = 1e-6;     ///< initial layer scale
};

template <floating_scalar Scalar, class Backend>
class denoising_resnet {
public:
  using graph_type = autograd::graph<Scalar, Backend>;

  /// The pseudo-times of the current batch, on the host and as the graph's kernels need them.
  struct time_state {
    conditioning mode;
    std::size_t batch = 0;
    std::vector<std::int32_t> tau;        // host copy of the batch's pseudo-times
    std::vector<std::int32_t> slot_host;  // per_tau: the index of each sample's tau among the distinct ones
    std::vector<std::int32_t> distinct_host;
    autograd::index_value tau_index;       // per_sample: tau per sample, on the backend
    autograd::index_value distinct_index;  // per_tau: the distinct taus, on the backend
    // per_tau: the number of distinct pseudo-times in the batch, each sample's slot among them, and the samples
    // grouped by slot (a segment_sum_sorted plan), built once per batch on the host and read by every block's FiLM
    // (autograd::film_modulate_by_slot).
    autograd::slot_plan plan;
    std::vector<std::uint32_t> order_host;   // per_tau: the plan's order, uploaded as int32 bits
    std::vector<std::int32_t> offsets_host;  // per_tau: the plan's offsets
    bool uniform = false;  // per_tau: the last set_time had one pseudo-time, so the device holds its (fixed) plan
  };

  /// The handles of one built forward pass.
  struct pass {
    autograd::value input;     ///< (batch x inputs): the noised state z
    autograd::value output;    ///< (batch x inputs): the network's prediction
    autograd::value features;  ///< (batch x hidden): the residual stream after the last block
    std::shared_ptr<time_state> time;
  };

  denoising_resnet(context<Backend>& ctx, philox& gen, const denoising_resnet_options& options = {})
      : options_(options), inp_(ctx, gen, "inp", options.inputs, options.hidden) {
    require(options.blocks > 0, "nn::denoising_resnet", "at least one block", options.blocks);
    for (std::size_t i = 0; i < options.blocks; ++i) {
      const std::string prefix = "blocks." + std::to_string(i);
      blocks_.push_back(std::make_unique<block>(ctx, gen, prefix, options));
    }
    out_ = std::make_unique<linear<Scalar, Backend>>(ctx, gen, "out", options.hidden, options.inputs);
    table_ = sinusoidal_table<Scalar, Backend>(ctx, options.max_time, options.embedding);
  }

  [[nodiscard]] const denoising_resnet_options& options() const { return options_; }

  /// Parameters in the reference module's state_dict order.
  [[nodiscard]] parameter_list<Scalar, Backend> parameters() {
    parameter_list<Scalar, Backend> list;
    inp_.append_parameters(list);
    for (auto& b : blocks_) b->append_parameters(list);
    out_->append_parameters(list);
    return list;
  }

  /// Adds the forward pass for `batch` samples to g and returns its handles. Before each g.forward(), write the
  /// noised states into g.value_of(pass.input) and the pseudo-times with set_time().
  pass build(graph_type& g, std::size_t batch, conditioning mode = conditioning::per_tau) {
    require(batch > 0, "denoising_resnet::build", "a batch of at least one sample", batch);
    return build_on(g, g.input({batch, options_.inputs}), mode);
  }

  /// build() on an input that is already a value of g (batch x inputs), e.g. the states gathered once per
  /// pseudo-time (transfer::backbone_features). With head = false the output layer is left out and pass.output is
  /// empty: only the residual stream (pass.features) is computed.
  pass build_on(graph_type& g, autograd::value input, conditioning mode = conditioning::per_tau, bool head = true) {
    const shape s = g.shape_of(input);
    require(s.rank() == 2 && s[0] > 0 && s[1] == options_.inputs, "denoising_resnet::build_on",
            attractor::detail::text("an input of shape (batch, ", options_.inputs, ")"), s);
    const std::size_t batch = s[0];
    auto time = std::make_shared<time_state>();
    time->mode = mode;
    time->batch = batch;
    time->tau.assign(batch, 0);
    pass p;
    p.time = time;
    p.input = input;
    autograd::value emb;  // per_sample: (batch x embedding); per_tau: (rows x embedding), the first `distinct` valid
    const std::size_t table_rows = options_.max_time + 1;
    const autograd::value table = g.input({table_rows, options_.embedding});
    copy(g.ctx(), table_, g.value_of(table));
    if (mode == conditioning::per_sample) {
      time->tau_index = g.index_input(batch);
      emb = autograd::gather_rows(g, table, time->tau_index);
    } else {
      const std::size_t rows = std::min(batch, table_rows);
      time->plan.slot = g.index_input(batch);
      time->distinct_index = g.index_input(rows);
      time->slot_host.assign(batch, 0);
      time->distinct_host.assign(rows, 0);
      time->plan.order = g.index_input(batch);
      time->plan.offsets = g.index_input(rows + 1);
      time->order_host.assign(batch, 0);
      time->offsets_host.assign(rows + 1, 0);
      // The embeddings of the distinct pseudo-times only: a gather of `distinct` rows of the table.
      auto handle = std::make_shared<autograd::value>();
      *handle = g.custom(
          {rows, options_.embedding}, {},
          [&g, time, table, handle, cols = options_.embedding] {
            for_each_row_col(g.ctx(), time->plan.distinct, cols,
                             autograd::kernels::gather_rows<Scalar>{g.data(*handle), g.data(table),
                                                                    g.index_of(time->distinct_index).data(), cols});
          },
          [] {});
      emb = *handle;
    }
    autograd::value h = inp_(g, p.input);
    for (auto& b : blocks_) h = b->build(g, h, emb, time);
    p.features = h;
    if (head) p.output = (*out_)(g, h);
    return p;
  }

  /// Sets the batch's pseudo-times (host array of `batch` integers in [0, max_time]) for the next g.forward().
  void set_time(graph_type& g, const pass& p, const std::int32_t* tau) {
    time_state& t = *p.time;
    for (std::size_t i = 0; i < t.batch; ++i) {
      if (tau[i] < 0 || static_cast<std::size_t>(tau[i]) > options_.max_time)
        fail("denoising_resnet::set_time", attractor::detail::concat("pseudo-times in [0, ", options_.max_time, "]"),
             attractor::detail::concat(tau[i], " at sample ", i));
    }
    std::copy(tau, tau + t.batch, t.tau.begin());
    if (t.mode == conditioning::per_sample) {
      g.set_indices(t.tau_index, tau);
      return;
    }
    // One pseudo-time for the whole batch (every sampler step) after another such batch: the slots (all 0), the
    // plan's order (the identity) and its offsets ({0, batch}) on the device are already right; only the time
    // itself is uploaded: one integer instead of four arrays, two of them batch-sized.
    const bool uniform = std::all_of(tau, tau + t.batch, [first = tau[0]](std::int32_t v) { return v == first; });
    if (uniform && t.uniform) {
      t.plan.distinct = 1;
      t.distinct_host[0] = tau[0];
      transfer<cpu, Backend>::run(g.ctx(), t.distinct_host.data(), g.index_of(t.distinct_index).data(), 1);
      return;
    }
    t.uniform = false;  // until the whole plan below is on the device
    // Distinct pseudo-times in increasing order, and each sample's position among them: a counting pass over the
    // at most max_time + 1 values, on the host, where the batch's times are drawn.
    std::vector<std::int32_t>& position = position_;
    position.assign(options_.max_time + 1, -1);
    for (std::size_t i = 0; i < t.batch; ++i) position[static_cast<std::size_t>(tau[i])] = 0;
    t.plan.distinct = 0;
    for (std::size_t v = 0; v <= options_.max_time; ++v) {
      if (position[v] < 0) continue;
      position[v] = static_cast<std::int32_t>(t.plan.distinct);
      t.distinct_host[t.plan.distinct++] = static_cast<std::int32_t>(v);
    }
    for (std::size_t i = 0; i < t.batch; ++i) t.slot_host[i] = position[static_cast<std::size_t>(tau[i])];
    transfer<cpu, Backend>::run(g.ctx(), t.slot_host.data(), g.index_of(t.plan.slot).data(), t.batch);
    transfer<cpu, Backend>::run(g.ctx(), t.distinct_host.data(), g.index_of(t.distinct_index).data(), t.plan.distinct);
    make_segment_plan(t.slot_host.data(), t.batch, t.plan.distinct, t.order_host.data(), t.offsets_host.data());
    transfer<cpu, Backend>::run(g.ctx(), reinterpret_cast<const std::int32_t*>(t.order_host.data()),
                                g.index_of(t.plan.order).data(), t.batch);
    transfer<cpu, Backend>::run(g.ctx(), t.offsets_host.data(), g.index_of(t.plan.offsets).data(), t.plan.distinct + 1);
    t.uniform = uniform;
  }

private:
  struct block {
    block(context<Backend>& ctx, philox& gen, const std::string& prefix, const denoising_resnet_options& o)
        : film(ctx, gen, prefix + ".film", o.embedding, 2 * o.hidden),
          fc1(ctx, gen, prefix + ".fc1", o.hidden, o.hidden),
          fc2(ctx, gen, prefix + ".fc2", o.hidden, o.hidden),
          gamma(prefix + ".gamma", {o.hidden}) {
      constant(ctx, gamma.value, o.gamma_init);
    }

    void append_parameters(parameter_list<Scalar, Backend>& out) {
      film.append_parameters(out);
      fc1.append_parameters(out);
      fc2.append_parameters(out);
      out.push_back(&gamma);
    }

    autograd::value build(graph_type& g, autograd::value h, autograd::value emb,
                          const std::shared_ptr<time_state>& time) {
      const autograd::value normalised = autograd::layer_norm(g, h);
      autograd::value modulated;
      if (time->mode == conditioning::per_sample) {
        auto [scale, shift] = autograd::split(g, film(g, emb), gamma.value.size());
        modulated = autograd::modulate(g, normalised, scale, shift);
      } else {
        modulated = film_modulate_per_tau(g, normalised, emb, time);
      }
      const autograd::value branch = fc2(g, autograd::relu(g, fc1(g, modulated)));
      return autograd::add(g, h, autograd::mul(g, branch, g.parameter(gamma)));
    }

    /// x * (1 + scale) + shift with [scale, shift] = FiLM(emb) evaluated on the distinct embeddings only and read
    /// per sample through its slot.
    autograd::value film_modulate_per_tau(graph_type& g, autograd::value x, autograd::value emb,
                                          const std::shared_ptr<time_state>& time) {
      const autograd::value w = g.parameter(film.weight);
      const autograd::value b = g.parameter(film.bias);
      return autograd::film_modulate_by_slot(g, x, emb, w, b,
                                             std::shared_ptr<const autograd::slot_plan>(time, &time->plan));
    }

    linear<Scalar, Backend> film, fc1, fc2;
    parameter<Scalar, Backend> gamma;
  };

  denoising_resnet_options options_;
  linear<Scalar, Backend> inp_;
  std::vector<std::unique_ptr<block>> blocks_;
  std::unique_ptr<linear<Scalar, Backend>> out_;
  tensor<Scalar, Backend> table_;
  std::vector<std::int32_t> position_;
};

}  // namespace attractor::nn
