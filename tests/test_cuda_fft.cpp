// cuFFT against FFTW on the same input: the spectrum and the round trip of batched transforms of rank 1 to 3 agree to
// rounding, in float and double (the two libraries sum in different orders, so not bit for bit).
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include "attractor/backend/fft.hpp"
#include "attractor/random/philox.hpp"
#include "cuda/harness.hpp"

TEST_CASE_TEMPLATE("cuda FFTs match the cpu FFTs", Scalar, float, double) {
  const double tol = std::is_same_v<Scalar, float> ? 1e-5 : 1e-13;
  attractor::context<attractor::cpu> host(1);
  const std::vector<std::vector<std::size_t>> shapes = {{7}, {32, 32}, {6, 10}, {16, 32, 32}};
  for (const auto& dims : shapes) {
    const attractor::fft_dims shape = dims.size() == 1   ? attractor::fft_dims{dims[0]}
                                      : dims.size() == 2 ? attractor::fft_dims{dims[0], dims[1]}
                                                         : attractor::fft_dims{dims[0], dims[1], dims[2]};
    CAPTURE(shape.key());
    const std::size_t batch = 5, rs = batch * shape.real_size(), cs = 2 * batch * shape.complex_size();
    std::vector<Scalar> x(rs), cpu_spectrum(cs), cpu_back(rs), cuda_spectrum(cs), cuda_back(rs);
    attractor::philox gen(3);
    attractor::fill_normal(host, gen, x.data(), rs);
    attractor::fft_forward(host, shape, batch, x.data(), cpu_spectrum.data());
    std::vector<Scalar> spectrum_copy = cpu_spectrum;
    attractor::fft_inverse(host, shape, batch, spectrum_copy.data(), cpu_back.data());
    attractor_test::cuda_fft_round_trip(dims.size(), dims.data(), batch, x.data(), cuda_spectrum.data(),
                                        cuda_back.data());
    const double scale = std::sqrt(static_cast<double>(shape.real_size()));
    double worst = 0;
    for (std::size_t i = 0; i < cs; ++i)
      worst = std::max(worst, std::abs(static_cast<double>(cuda_spectrum[i]) - cpu_spectrum[i]) / scale);
    CHECK(worst <= tol);
    worst = 0;
    for (std::size_t i = 0; i < rs; ++i)
      worst = std::max(worst, std::abs(static_cast<double>(cuda_back[i]) - cpu_back[i]) / shape.real_size());
    CHECK(worst <= tol);
  }
}
