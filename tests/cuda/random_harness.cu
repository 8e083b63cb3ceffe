// Host-callable wrappers around the random layer on the cuda backend (declared in harness.hpp). They run the same
// generic fill_uniform / fill_normal the CPU tests use, on context<cuda>, and copy the result to the host, so the
// doctest suite (compiled by g++) can compare CPU and CUDA draws element by element.
#include <cstddef>
#include <cstdint>

// Only the parts of the cuda backend the fills need (not all of cuda.cuh, which brings in Eigen and the GEMMs).
#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/copy.cuh"
#include "attractor/backend/cuda/for_each.cuh"
#include "attractor/backend/cuda/memory.cuh"
#include "attractor/random.hpp"
#include "harness.hpp"

namespace {

/// for_each_index functor writing the four raw words of block b: the block function alone, on the device.
struct philox_words_kernel {
  attractor::philox gen;
  std::uint32_t* out;
  ATTRACTOR_HOST_DEVICE void operator()(std::size_t b) const {
    const attractor::philox_counter w = gen.block(b);
    for (unsigned j = 0; j < 4; ++j) out[4 * b + j] = w.v[j];
  }
};

template <class Scalar, class Fill>
void fill_on_device(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, Scalar* host_out, std::size_t n,
                    Fill fill) {
  attractor::context<attractor::cuda> ctx;
  attractor::buffer<Scalar, attractor::cuda> device(n);
  attractor::philox gen(seed, stream, offset);
  fill(ctx, gen, device.data());
  ATTRACTOR_ASSERT(gen.offset() == offset + attractor::philox_blocks<Scalar>(n));
  attractor::transfer<attractor::cuda, attractor::cpu>::run(ctx, device.data(), host_out, n);  // waits for the stream
}

}  // namespace

namespace attractor_test {

void cuda_philox_words(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::uint32_t* host_out,
                       std::size_t blocks) {
  attractor::context<attractor::cuda> ctx;
  attractor::buffer<std::uint32_t, attractor::cuda> device(4 * blocks);
  attractor::for_each_index(ctx, blocks, philox_words_kernel{attractor::philox(seed, stream, offset), device.data()});
  attractor::transfer<attractor::cuda, attractor::cpu>::run(ctx, device.data(), host_out, 4 * blocks);
}

template <class Scalar>
void cuda_fill_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, Scalar* host_out, std::size_t n,
                       Scalar low, Scalar high) {
  fill_on_device(seed, stream, offset, host_out, n,
                 [&](auto& ctx, auto& gen, Scalar* out) { attractor::fill_uniform(ctx, gen, out, n, low, high); });
}

template <class Scalar>
void cuda_fill_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, Scalar* host_out, std::size_t n,
                      Scalar mean, Scalar stddev) {
  fill_on_device(seed, stream, offset, host_out, n,
                 [&](auto& ctx, auto& gen, Scalar* out) { attractor::fill_normal(ctx, gen, out, n, mean, stddev); });
}

template void cuda_fill_uniform<float>(std::uint64_t, std::uint64_t, std::uint64_t, float*, std::size_t, float, float);
template void cuda_fill_uniform<double>(std::uint64_t, std::uint64_t, std::uint64_t, double*, std::size_t, double,
                                        double);
template void cuda_fill_normal<float>(std::uint64_t, std::uint64_t, std::uint64_t, float*, std::size_t, float, float);
template void cuda_fill_normal<double>(std::uint64_t, std::uint64_t, std::uint64_t, double*, std::size_t, double,
                                       double);

}  // namespace attractor_test
