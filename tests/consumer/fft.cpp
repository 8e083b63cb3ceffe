// A consumer's program that uses the FFTs through attractor::fftw: the spectrum of [1, 2, 3, 4] is
// [10, -2 + 2i, -2] and the inverse brings back 4 times the signal.
#include <attractor/backend/fft.hpp>
#include <cstdio>

int main() {
  attractor::context<attractor::cpu> ctx;
  const attractor::fft_dims dims{4};
  double signal[4] = {1, 2, 3, 4}, spectrum[6] = {}, back[4] = {};
  attractor::fft_forward(ctx, dims, 1, signal, spectrum);
  const double expected[6] = {10, 0, -2, 2, -2, 0};
  int bad = 0;
  for (int i = 0; i < 6; ++i) bad += spectrum[i] != expected[i];
  attractor::fft_inverse(ctx, dims, 1, spectrum, back);
  for (int i = 0; i < 4; ++i) bad += back[i] != 4 * signal[i];
  std::printf("fft %s\n", bad ? "wrong" : "ok");
  return bad;
}
