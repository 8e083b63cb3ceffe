// Host-callable wrappers around the transfer-learning layer on the cuda backend (tests/cuda/transfer_harness.cu),
// called from tests/test_cuda_transfer.cpp: the same generic code the cpu tests run, on context<cuda>, with inputs
// and results in host arrays. Weights come from Philox uniforms, which are bit-identical on cpu and cuda.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attractor_test {

/// The features (n x taus * 256) of n states x at `taus` of a default-size denoising_resnet initialised from
/// philox(seed).
void cuda_backbone_features(const float* x, std::size_t n, std::uint64_t seed, const std::size_t* taus,
                            std::size_t n_tau, float* out);

/// Random Fourier features (n x d) of n states, W drawn from philox(seed).
void cuda_random_fourier(const float* x, std::size_t n, std::uint64_t seed, std::size_t d, float* out);

/// The ridge regression of y (n x o) on x (n x f), accumulated in chunks of `chunk` rows: weights (f x o,
/// row-major) and bias (o), in double.
void cuda_ridge(const float* x, const float* y, std::size_t n, std::size_t f, std::size_t o, std::size_t chunk,
                double lambda, double* weights, double* bias);

/// The losses of `steps` nn::fit steps (batch 32, lr 1e-3, seed 0) of an MLP head on 64 random Fourier features
/// (philox(seed) draws W, then the head) over pairs (x, y), n x 3 each.
void cuda_train_rff_head(const float* x, const float* y, std::size_t n, std::uint64_t seed, std::size_t steps,
                         double* losses);

/// score_rollouts of a Dense x 2 baseline initialised from philox(seed) (scaled by 0.01 so it drifts slowly) along
/// trajectories (members x steps x 3): iterations + 1 nRMSE values, then the Hellinger distance, in scores.
void cuda_rollout_scores(const float* trajectories, std::size_t members, std::size_t steps, std::uint64_t seed,
                         std::size_t iterations, std::size_t lead, std::size_t stride, double* scores);

}  // namespace attractor_test
