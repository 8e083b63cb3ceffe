#!/usr/bin/env bash
# The README's test command. Installs what is missing, then builds and runs the tests twice:
#   release   every test, with the CUDA tests compiled and run where a GPU is found, the header
#             self-containment check, the consumer projects and the format check. The examples and benchmarks are
#             not built here (scripts/run-example.sh builds the flagship; `cmake --build --preset release` all of
#             them), to keep the run within CI's 20 minutes on two cores;
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
cmake --preset release -DATTRACTOR_BUILD_EXAMPLES=OFF -DATTRACTOR_BUILD_BENCHMARKS=OFF \
  -DATTRACTOR_BUILD_CUDA_TESTS=$cuda_tests >/dev/null
cmake --build --preset release
ctest --preset release

cmake --preset sanitize >/dev/null
cmake --build --preset sanitize
ctest --preset sanitize

echo "scripts/test.sh: release and sanitizer suites passed in $(( $(date +%s) - start )) s"
