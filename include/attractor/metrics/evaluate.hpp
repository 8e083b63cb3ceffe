// metrics::evaluator: the paper's five scores of a generated set against a reference (test) set, with the Hellinger
// floor beside the Hellinger distance (spec §5, issue 4). Everything about the reference is computed once, when the
// evaluator is built (its histogram, POT thresholds, feature statistics and, on cpu, its k-d tree); each evaluate()
// then streams the generated set chunk by chunk, so memory stays bounded by the chunk size (plus, on cpu, a k-d
// tree of the generated set for d_test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "attractor/core/error.hpp"
#include "attractor/metrics/check.hpp"
#include "attractor/metrics/hellinger.hpp"
#include "attractor/metrics/histogram.hpp"
#include "attractor/metrics/nearest.hpp"
#include "attractor/metrics/pot.hpp"
#include "attractor/metrics/surrogate.hpp"
#include "attractor/random/philox.hpp"
#include "attractor/tensor/tensor.hpp"

namespace attractor::metrics {

struct evaluation_options {
  cube_grid cubes{};          ///< the Hellinger grid (the paper's 70^3 cubes over +-3.5 by default)
  double lower_level = 0.01;  ///< POT quantile levels
  double upper_level = 0.99;
  std::size_t chunk = std::size_t{1} << 16;  ///< states per chunk for histograms and draws
  std::size_t feature_chunk = 16384;         ///< states per forward pass of the feature network (its memory)
  std::uint64_t floor_seed = 0;              ///< the floor for n states draws from philox(floor_seed, n)
  /// Called by evaluate() as each of its evaluation_stages scores begins, with (its name, stages done, stages); may
  /// be empty.
  std::function<void(std::string_view, std::size_t, std::size_t)> progress;
};

/// The scores evaluate() computes one after another, for progress reports.
inline constexpr std::size_t evaluation_stages = 6;

/// The scores of one generated set.
struct evaluation {
  std::size_t samples = 0;         ///< states in the generated set
  double hellinger = 0;            ///< H(reference, generated)
  double hellinger_floor = 0;      ///< H(reference, as many i.i.d. true states)
  std::uint64_t out_of_range = 0;  ///< generated states outside the Hellinger grid (dropped from it)
  std::optional<double> frechet;   ///< FSD, where the evaluator has a feature network
  double nearest_generated = 0;    ///< d_gen: mean over generated states of the squared distance to the reference
  double nearest_reference = 0;    ///< d_test: mean over reference states of the squared distance to the generated
  double pot = 0;                  ///< fraction of entries beyond the reference's quantiles (0.02 when matched)
};

/// Scores generated sets against one reference set (n x d, on Backend). `floor_source` holds true states disjoint
/// from the reference (validation or train trajectories, any rank >= 2 with d values on its last axis) from which
/// the floor draws. `features`, when given, is the FSD network (nullptr: no FSD). The reference, the floor source
/// and the network must outlive the evaluator.
template <floating_scalar Scalar, class Backend>
class evaluator {
public:
  evaluator(context<Backend>& ctx, const_tensor_view<Scalar, Backend> reference,
            const_tensor_view<Scalar, Backend> floor_source, dense_surrogate<Scalar, Backend>* features = nullptr,
            const evaluation_options& options = {})
      : options_(options),
        reference_(reference),
        floor_source_(floor_source),
        histogram_(checked_dimension(reference), options.cubes) {
    constexpr const char* fn = "metrics::evaluator";
    const std::size_t d = reference.extent(1);
    require(floor_source.rank() >= 2 && floor_source.size() > 0 && floor_source.extent(floor_source.rank() - 1) == d,
            fn, attractor::detail::text("a non-empty floor source with ", d, " values on its last axis"),
            floor_source.shape());
    require(options.chunk > 0 && options.feature_chunk > 0, fn, "chunks of at least one state",
            attractor::detail::text(options.chunk, " and ", options.feature_chunk));
    require_finite(ctx, floor_source, fn, "the floor source");
    for (std::size_t begin = 0; begin < reference.extent(0); begin += options.chunk)
      histogram_.add(ctx, reference.rows(begin, std::min(reference.extent(0), begin + options.chunk)));
    thresholds_ = quantile_thresholds(ctx, reference, options.lower_level, options.upper_level);
    search_ = std::make_unique<nearest_search<Scalar, Backend>>(ctx, reference);
    if (features != nullptr) {
      require(features->options().inputs == d, fn, attractor::detail::text("a feature network of ", d, " inputs"),
              features->options().inputs);
      extractor_ = std::make_unique<feature_extractor<Scalar, Backend>>(ctx, *features, options.feature_chunk);
      reference_features_ = extractor_->statistics(ctx, reference);
    }
  }

  /// All five scores of `generated` (m x d), with the floor for m states. Throws on a wrong shape, fewer than two
  /// states, NaN or Inf, or a generated set with no state inside the Hellinger grid.
  evaluation evaluate(context<Backend>& ctx, const_tensor_view<Scalar, Backend> generated) {
    constexpr const char* fn = "metrics::evaluator::evaluate";
    detail::require_state_set(generated, dimension(), fn, "generated set");
    require(generated.extent(0) >= 2, fn, "at least two generated states", generated.extent(0));
    require_finite(ctx, generated, fn, "the generated set");
    const std::size_t m = generated.extent(0);
    std::size_t stage = 0;
    const auto begin_stage = [&](std::string_view name) {
      if (options_.progress) options_.progress(name, stage++, evaluation_stages);
    };
    evaluation e;
    e.samples = m;
    begin_stage("Hellinger distance");
    cube_histogram drawn(dimension(), options_.cubes);
    for (std::size_t begin = 0; begin < m; begin += options_.chunk)
      drawn.add(ctx, generated.rows(begin, std::min(m, begin + options_.chunk)));
    e.hellinger = hellinger_distance(histogram_, drawn);
    e.out_of_range = drawn.out_of_range();
    begin_stage("Hellinger floor");
    e.hellinger_floor = hellinger_floor(ctx, m);
    begin_stage("Frechet distance");
    if (extractor_) e.frechet = frechet_distance(*reference_features_, extractor_->statistics(ctx, generated));
    begin_stage("nearest reference state");
    e.nearest_generated = search_->sum_sq_distances(ctx, generated) / static_cast<double>(m);
    begin_stage("nearest generated state");
    const nearest_search<Scalar, Backend> reverse(ctx, generated);
    e.nearest_reference = reverse.sum_sq_distances(ctx, reference_) / static_cast<double>(reference_.extent(0));
    begin_stage("peak over threshold");
    e.pot = peak_over_threshold(ctx, generated, thresholds_);
    if (options_.progress) options_.progress("done", evaluation_stages, evaluation_stages);
    return e;
  }

  /// The Hellinger floor for n states: n states drawn from the floor source with philox(floor_seed, n), scored
  /// against the reference. Computed once per n.
  double hellinger_floor(context<Backend>& ctx, std::size_t n) {
    if (auto it = floors_.find(n); it != floors_.end()) return it->second;
    philox gen(options_.floor_seed, n);
    const double h = metrics::hellinger_floor(ctx, histogram_, floor_source_, n, gen, options_.chunk);
    floors_.emplace(n, h);
    return h;
  }

  [[nodiscard]] std::size_t dimension() const { return reference_.extent(1); }
  [[nodiscard]] const cube_histogram& reference_histogram() const { return histogram_; }
  [[nodiscard]] const pot_thresholds& thresholds() const { return thresholds_; }
  /// The reference's feature statistics, where there is a feature network.
  [[nodiscard]] const std::optional<gaussian_statistics>& reference_features() const { return reference_features_; }

private:
  static std::size_t checked_dimension(const_tensor_view<Scalar, Backend> reference) {
    detail::require_state_set(reference, 0, "metrics::evaluator", "reference set");
    return reference.extent(1);
  }

  evaluation_options options_;
  const_tensor_view<Scalar, Backend> reference_, floor_source_;
  cube_histogram histogram_;
  pot_thresholds thresholds_;
  std::unique_ptr<nearest_search<Scalar, Backend>> search_;
  std::unique_ptr<feature_extractor<Scalar, Backend>> extractor_;
  std::optional<gaussian_statistics> reference_features_;
  std::map<std::size_t, double> floors_;
};

}  // namespace attractor::metrics
