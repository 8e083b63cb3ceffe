// transfer_learning::backbone_features: a frozen nn::denoising_resnet as a feature map (spec §6, pretrained.py). Its
// features are the residual stream after the last block (hidden = 256 wide), with every FiLM fixed at a chosen
// pseudo-time tau; for a list of n_tau pseudo-times each state gets n_tau * hidden features from one batched pass.
//
// Layout. The reference broadcasts the input (B, 1, 3) to (B, n_tau, hidden) through the blocks and flattens the
// result, so feature k * hidden + j of a state is unit j of the stream at taus[k]: tau-major within each state, the
// state's features contiguous. Here the states of a chunk are gathered n_tau times (graph row b * n_tau + k is state b
// at taus[k]), the network runs on those rows with per-tau FiLM (the FiLM layer on the n_tau distinct embeddings
// only), and the (chunk * n_tau x hidden) stream read as (chunk x n_tau * hidden) is exactly that flattening.
//
// tau = 0, never seen in training, is used as-is (its embedding is sin = 0, cos = 1). The network is read, never
// written: its weights enter an inference graph as constants, so they are frozen. An untrained backbone is a fresh
// network of the same architecture: nn::denoising_resnet<Scalar, Backend> fresh(ctx, gen, trained.options()).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/ops/shape.hpp"
#include "attractor/core/error.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/transfer/row_map.hpp"

namespace attractor::transfer_learning {

/// The pseudo-times of spec §6's runs.
inline std::vector<std::size_t> six_taus() { return {0, 50, 100, 200, 400, 600}; }

template <floating_scalar Scalar, class Backend>
class backbone_features {
public:
  using network_type = nn::denoising_resnet<Scalar, Backend>;

  /// Features of `net` (which must outlive the map) at `taus` (each in [0, max_time], at least one), `chunk`
  /// states per pass: the graph holds chunk * taus.size() rows. Throws on an empty list, a tau out of range, or a
  /// chunk of 0.
  backbone_features(context<Backend>& ctx, network_type& net, std::vector<std::size_t> taus, std::size_t chunk = 512)
      : taus_(std::move(taus)), chunk_(chunk), inputs_(net.options().inputs), hidden_(net.options().hidden) {
    constexpr const char* fn = "transfer_learning::backbone_features";
    require(!taus_.empty(), fn, "at least one pseudo-time", "an empty list");
    for (std::size_t k = 0; k < taus_.size(); ++k)
      require(taus_[k] <= net.options().max_time, fn,
              attractor::detail::text("pseudo-times in [0, ", net.options().max_time, "]"),
              attractor::detail::text(taus_[k], " at position ", k));
    require(chunk > 0, fn, "a chunk of at least one state", chunk);
    const std::size_t n_tau = taus_.size(), rows = checked_product(chunk, n_tau, fn, "chunk x taus");
    graph_ = std::make_unique<autograd::graph<Scalar, Backend>>(ctx, autograd::graph_mode::inference);
    auto& g = *graph_;
    input_ = g.input({chunk, inputs_});
    fill(ctx, g.value_of(input_), Scalar(0));  // rows past a short last chunk stay finite
    const autograd::index_value repeat = g.index_input(rows);
    pass_ = net.build_on(g, autograd::gather_rows(g, input_, repeat), nn::conditioning::per_tau, /*head=*/false);
    std::vector<std::int32_t> state(rows), tau(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      state[r] = static_cast<std::int32_t>(r / n_tau);
      tau[r] = static_cast<std::int32_t>(taus_[r % n_tau]);
    }
    g.set_indices(repeat, state.data());
    net.set_time(g, pass_, tau.data());  // fixed for every pass: the slot plan stays on the backend
  }

  backbone_features(const backbone_features&) = delete;
  backbone_features& operator=(const backbone_features&) = delete;
  backbone_features(backbone_features&&) noexcept = default;
  backbone_features& operator=(backbone_features&&) noexcept = default;

  [[nodiscard]] const std::vector<std::size_t>& taus() const { return taus_; }
  [[nodiscard]] std::size_t inputs() const { return inputs_; }
  [[nodiscard]] std::size_t hidden() const { return hidden_; }
  /// taus().size() * hidden().
  [[nodiscard]] std::size_t outputs() const { return taus_.size() * hidden_; }
  /// The backbone is frozen: nothing here trains.
  [[nodiscard]] static constexpr std::size_t trainable_parameters() { return 0; }

  /// out (n x outputs()) = the features of the states x (n x inputs()), both on Backend.
  void apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, tensor_view<Scalar, Backend> out) {
    detail::require_row_shapes(x, out, inputs_, outputs(), "transfer_learning::backbone_features::apply");
    auto input = graph_->value_of(input_);
    const auto stream = tensor_view<Scalar, Backend>(graph_->value_of(pass_.features)).reshape({chunk_, outputs()});
    const std::size_t n = x.extent(0);
    for (std::size_t begin = 0; begin < n; begin += chunk_) {
      const std::size_t count = std::min(chunk_, n - begin);
      copy(ctx, x.rows(begin, begin + count), input.rows(0, count));
      graph_->forward();
      copy(ctx, const_tensor_view<Scalar, Backend>(stream.rows(0, count)), out.rows(begin, begin + count));
    }
  }

  /// The features of x as a new (n x outputs()) tensor.
  tensor<Scalar, Backend> apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x) {
    tensor<Scalar, Backend> out(shape{x.rank() == 2 ? x.extent(0) : 0, outputs()});
    apply(ctx, x, out.view());
    return out;
  }

private:
  std::vector<std::size_t> taus_;
  std::size_t chunk_, inputs_, hidden_;
  std::unique_ptr<autograd::graph<Scalar, Backend>> graph_;
  autograd::value input_;
  typename network_type::pass pass_;
};

}  // namespace attractor::transfer_learning
