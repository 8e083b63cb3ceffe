// The CUDA suite's main: exits 77 (skipped, for CTest) where no GPU is present.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "cuda/harness.hpp"

int main(int argc, char** argv) {
  const int devices = attractor_test::cuda_device_count();
  if (devices <= 0) {
    std::printf("no CUDA device: the CUDA tests are compiled and linked but skipped\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
