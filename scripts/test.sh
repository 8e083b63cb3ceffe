#!/usr/bin/env bash
# The README's test command. Installs what is missing, then builds and runs the tests twice:
#   release   every test, with the CUDA tests and examples compiled and run where a GPU is found, the header
#             self-containment check, the consumer projects, the format check, and the examples fed bad input
#             (built for that; the benchmarks are not built here, to keep the run within CI's time on two cores).
#             On a CPU without AVX-512 the suite is also compiled for x86-64-v4 (compile only), since Eigen's
#             AVX-512 paths are other code; where the CPU has AVX-512, -march=native already compiles them;
#   sanitize  the test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
start=$(date +%s)

# Without a GPU the CUDA suite could only be skipped, so it is not built (nvcc still compiles every CUDA header in the
# self-containment check); scripts/gpu-check.sh builds and runs it on a GPU machine.
cuda_tests=OFF
nvidia-smi -L >/dev/null 2>&1 && cuda_tests=ON
check_march=x86-64-v4
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  check_march=""
  echo "scripts/test.sh: this CPU has AVX-512, so the native build compiles Eigen's AVX-512 paths"
fi
cmake --preset release -DATTRACTOR_BUILD_EXAMPLES=ON -DATTRACTOR_BUILD_BENCHMARKS=OFF \
  -DATTRACTOR_BUILD_CUDA_TESTS=$cuda_tests -DATTRACTOR_BUILD_CUDA_EXAMPLES=$cuda_tests \
  -DATTRACTOR_CHECK_MARCH="$check_march" >/dev/null
cmake --build --preset release
ctest --preset release

cmake --preset sanitize >/dev/null
cmake --build --preset sanitize
ctest --preset sanitize

echo "scripts/test.sh: release and sanitizer suites passed in $(( $(date +%s) - start )) s"
