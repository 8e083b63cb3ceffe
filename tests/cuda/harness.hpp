// Host-callable wrappers around the cuda backend, compiled by nvcc (tests/cuda/*.cu) and called from the doctest
// suite compiled by g++, so doctest never meets nvcc. Every function takes and returns host arrays.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attractor_test {

/// Number of CUDA devices; 0 where there is none or no driver.
int cuda_device_count();

/// C = alpha op(A) op(B) + beta C on the GPU; C is read (for beta) and written on the host side.
template <class Scalar>
void cuda_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, Scalar alpha, const Scalar* a,
               const Scalar* b, Scalar beta, Scalar* c);
template <class Scalar>
void cuda_gemm_strided_batched(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, Scalar alpha,
                               const Scalar* a, const Scalar* b, Scalar beta, Scalar* c, std::size_t batch);

/// out = a * x + y (map with two inputs), out = x * y + z (three inputs), out = 2 x (one input).
template <class Scalar>
void cuda_maps(const Scalar* x, const Scalar* y, const Scalar* z, std::size_t n, Scalar a, Scalar* axpy_out,
               Scalar* fma_out, Scalar* scale_out);

/// Whole-array reductions {sum, max, sum of squares} and the same along rows of a rows x cols array.
template <class Scalar>
void cuda_reductions(const Scalar* x, std::size_t rows, std::size_t cols, Scalar* all3, Scalar* row_sum,
                     Scalar* row_max, Scalar* row_sumsq);

template <class Scalar>
void cuda_segment_sum(const std::int32_t* keys, const Scalar* x, std::size_t rows, std::size_t cols,
                      std::size_t segments, Scalar* out);

/// Runs `fn` and reports whether it threw attractor::error, copying the message into `message`.
bool cuda_segment_sum_rejects_bad_key(char* message, std::size_t capacity);

/// for_each_row_col over rows x cols on cuda, each (r, c) writing r and c at r * cols + c and counting its visits.
void cuda_row_col_visits(std::size_t rows, std::size_t cols, std::uint32_t* row_of, std::uint32_t* col_of,
                         std::uint32_t* visits);

// --- random (tests/cuda/random_harness.cu) ---------------------------------------------------------------------
// Each runs the generic fill on context<cuda> with the generator philox(seed, stream, offset) and copies the n values
// to host_out. The CPU fill with the same arguments gives bit-identical uniforms on (0, 1) and the same words;
// normals, and uniforms on (low, high), agree to a few ulps (log/sin/cos and FMA contraction differ on device).

/// The raw Philox4x32-10 words of `blocks` blocks, 4 per block: host_out[4 b + j] = philox(seed, stream,
/// offset).block(b).v[j]. Any counter/key is reachable: counter = (offset lo, hi, stream lo, hi), key = (seed lo, hi).
void cuda_philox_words(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::uint32_t* host_out,
                       std::size_t blocks);

template <class Scalar>
void cuda_fill_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, Scalar* host_out, std::size_t n,
                       Scalar low, Scalar high);
template <class Scalar>
void cuda_fill_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, Scalar* host_out, std::size_t n,
                      Scalar mean, Scalar stddev);

}  // namespace attractor_test

// --- nn: init and optimisers (tests/cuda/optim_harness.cu) ------------------------------------------------------
namespace attractor_test {

/// Runs `steps` steps of nn::adam<Scalar, cuda> (lr, beta1, beta2, eps) on one parameter of n elements: p (n) holds
/// the initial weights and receives the final ones; grads (steps x n) holds the gradient of each step, row by row;
/// exp_avg and exp_avg_sq (n) receive the final state. *allocations receives how many device allocations the steps
/// made (allocation_counter<cuda>), which should be 0.
template <class Scalar>
void cuda_adam_steps(Scalar* p, const Scalar* grads, std::size_t n, std::size_t steps, double lr, double beta1,
                     double beta2, double eps, Scalar* exp_avg, Scalar* exp_avg_sq, std::size_t* allocations);

/// nn::ema<Scalar, cuda> with `decay`, initialised from `initial` (n) as a copy or with zeros, then updated once per
/// row of weights (updates x n), the row written into the parameter before each update. shadow (n) receives the
/// averages, swapped_in (n) the parameter after swap() (the averages), swapped_back (n) after a second swap() (the
/// last row again). *allocations receives the device allocations made by the updates and swaps, which should be 0.
template <class Scalar>
void cuda_ema_updates(const Scalar* initial, const Scalar* weights, std::size_t n, std::size_t updates, double decay,
                      bool zeros, Scalar* shadow, Scalar* swapped_in, Scalar* swapped_back, std::size_t* allocations);

/// nn::linear_default_init on cuda: weight (out x in) and bias (out) from philox(seed).
template <class Scalar>
void cuda_linear_default_init(std::uint64_t seed, std::size_t out, std::size_t in, Scalar* weight, Scalar* bias);

}  // namespace attractor_test

namespace attractor_test {

/// The losses of `steps` training steps of denoising_resnet<float> on the GPU (training_fixture.hpp).
void cuda_training_losses(bool per_tau, std::size_t batch, int steps, float* losses);

/// sampled_states and diffusion_members of sampling_fixture.hpp on the GPU: out holds 2 samples x 3 floats, or
/// experiments x 3 x members doubles.
void cuda_sampled_states(std::size_t samples, float* out);
void cuda_diffusion_members(std::size_t experiments, std::size_t members, double* out);

}  // namespace attractor_test

// --- metrics (tests/cuda/metrics_harness.cu) --------------------------------------------------------------------
namespace attractor_test {

/// metrics::cube_histogram on cuda: the counts (bins^d) of the n states x (n x d) on a grid of `bins` bins over
/// [low, high], and the states dropped as out of range.
template <class Scalar>
void cuda_cube_counts(const Scalar* x, std::size_t n, std::size_t d, std::size_t bins, double low, double high,
                      std::uint64_t* counts, std::uint64_t* out_of_range);

/// metrics::nearest_search on cuda: out (m) = the squared distance from each query (m x d) to its nearest reference
/// state (n x d); *sum = sum_sq_distances over the same queries.
template <class Scalar>
void cuda_nearest_sq_distances(const Scalar* queries, std::size_t m, const Scalar* reference, std::size_t n,
                               std::size_t d, Scalar* out, double* sum);

/// metrics::evaluator<float, cuda> with a dense_surrogate(3, hidden, 2) from philox(seed), chunk `chunk`: scores of
/// generated (m x 3) against reference (n x 3), the floor drawn from source (s x 3). scores = {hellinger, floor,
/// out_of_range, frechet, d_gen, d_test, pot}.
void cuda_evaluate(const float* reference, std::size_t n, const float* source, std::size_t s, const float* generated,
                   std::size_t m, std::size_t hidden, std::uint64_t seed, std::size_t chunk, double* scores);

/// Whether a cuda histogram of a state with a NaN throws attractor::error (its message copied into `message`).
bool cuda_histogram_rejects_nan(char* message, std::size_t capacity);

// --- FFTs (tests/cuda/fft_harness.cu) ------------------------------------------------------------------------
/// fft_forward on context<cuda> of `batch` real arrays of shape dims[0..rank), then fft_inverse of that spectrum:
/// spectrum_out gets 2 x batch x complex_size() Scalars, inverse_out batch x real_size().
template <class Scalar>
void cuda_fft_round_trip(std::size_t rank, const std::size_t* dims, std::size_t batch, const Scalar* real,
                         Scalar* spectrum_out, Scalar* inverse_out);

}  // namespace attractor_test
