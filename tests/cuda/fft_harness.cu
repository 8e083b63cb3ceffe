// Host-callable wrapper around the cuFFT transforms (declared in harness.hpp), so the doctest suite can compare them
// with the FFTW ones on the same input.
#include <cstddef>
#include <vector>

#include "attractor/backend/cuda/context.cuh"
#include "attractor/backend/cuda/copy.cuh"
#include "attractor/backend/cuda/fft.cuh"
#include "attractor/backend/cuda/memory.cuh"
#include "harness.hpp"

namespace attractor_test {

template <class Scalar>
void cuda_fft_round_trip(std::size_t rank, const std::size_t* dims, std::size_t batch, const Scalar* real,
                         Scalar* spectrum_out, Scalar* inverse_out) {
  using attractor::cpu;
  using attractor::cuda;
  const attractor::fft_dims shape = rank == 1   ? attractor::fft_dims{dims[0]}
                                    : rank == 2 ? attractor::fft_dims{dims[0], dims[1]}
                                                : attractor::fft_dims{dims[0], dims[1], dims[2]};
  const std::size_t rs = batch * shape.real_size(), cs = 2 * batch * shape.complex_size();
  attractor::context<cuda> ctx;
  attractor::buffer<Scalar, cuda> x(rs), spectrum(cs), back(rs);
  attractor::transfer<cpu, cuda>::run(ctx, real, x.data(), rs);
  attractor::fft_forward(ctx, shape, batch, x.data(), spectrum.data());
  attractor::transfer<cuda, cpu>::run(ctx, spectrum.data(), spectrum_out, cs);
  attractor::fft_inverse(ctx, shape, batch, spectrum.data(), back.data());
  attractor::transfer<cuda, cpu>::run(ctx, back.data(), inverse_out, rs);
}

template void cuda_fft_round_trip<float>(std::size_t, const std::size_t*, std::size_t, const float*, float*, float*);
template void cuda_fft_round_trip<double>(std::size_t, const std::size_t*, std::size_t, const double*, double*,
                                          double*);

}  // namespace attractor_test
