// transfer_learning::network_map: a trained network module (mlp_head, resnet_baseline, metrics::dense_surrogate, or
// any module with build(graph, batch) -> pass {input, output} and parameters()) as a row map, run through one
// inference graph built once for `chunk` rows. The module must outlive the map; its weights are read at every pass.
// trainable_parameters counts a module's parameters (Table 3's column).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <utility>

#include "attractor/autograd/graph.hpp"
#include "attractor/autograd/parameter.hpp"
#include "attractor/core/error.hpp"
#include "attractor/tensor/ops.hpp"
#include "attractor/transfer/row_map.hpp"

namespace attractor::transfer_learning {

/// The number of trainable values of a network module.
template <class Module>
requires requires(Module& m) { m.parameters(); }
std::size_t trainable_parameters(Module& module) { return autograd::parameter_count(module.parameters()); }

/// The number of trainable values of a map that reports its own (a ridge solution: (features + 1) x outputs; a
/// frozen feature map: 0).
template <class Map>
requires requires(const Map& m) { m.trainable_parameters(); }
std::size_t trainable_parameters(const Map& map) { return map.trainable_parameters(); }

template <floating_scalar Scalar, class Backend, class Module>
class network_map {
public:
  explicit network_map(context<Backend>& ctx, Module& module, std::size_t chunk = 4096)
      : graph_(std::make_unique<autograd::graph<Scalar, Backend>>(ctx, autograd::graph_mode::inference)),
        chunk_(chunk) {
    require(chunk > 0, "transfer_learning::network_map", "a chunk of at least one row", chunk);
    pass_ = module.build(*graph_, chunk);
    fill(ctx, graph_->value_of(pass_.input), Scalar(0));  // rows past a short last chunk stay finite
    inputs_ = graph_->shape_of(pass_.input)[1];
    outputs_ = graph_->shape_of(pass_.output)[1];
  }

  [[nodiscard]] std::size_t inputs() const { return inputs_; }
  [[nodiscard]] std::size_t outputs() const { return outputs_; }

  void apply(context<Backend>& ctx, const_tensor_view<Scalar, Backend> x, tensor_view<Scalar, Backend> out) {
    detail::require_row_shapes(x, out, inputs_, outputs_, "transfer_learning::network_map::apply");
    auto input = graph_->value_of(pass_.input);
    const const_tensor_view<Scalar, Backend> output = graph_->value_of(pass_.output);
    const std::size_t n = x.extent(0);
    for (std::size_t begin = 0; begin < n; begin += chunk_) {
      const std::size_t count = std::min(chunk_, n - begin);
      copy(ctx, x.rows(begin, begin + count), input.rows(0, count));
      graph_->forward();
      copy(ctx, output.rows(0, count), out.rows(begin, begin + count));
    }
  }

private:
  std::unique_ptr<autograd::graph<Scalar, Backend>> graph_;
  decltype(std::declval<Module&>().build(std::declval<autograd::graph<Scalar, Backend>&>(), std::size_t{})) pass_;
  std::size_t chunk_, inputs_ = 0, outputs_ = 0;
};

}  // namespace attractor::transfer_learning
