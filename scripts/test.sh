#!/usr/bin/env bash
# The README's test command. Installs what is missing, then builds and runs the tests twice:
#   release   every test, with the CUDA tests compiled where nvcc is found (run where a GPU is), the header
#             self-containment check, the consumer projects and the format check. The examples and benchmarks are
#             not built here (scripts/run-example.sh builds the flagship; `cmake --build --preset release` all of
#             them), to keep the run within CI's 20 minutes on two cores;
#   sanitize  the test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
start=$(date +%s)

cmake --preset release -DATTRACTOR_BUILD_EXAMPLES=OFF -DATTRACTOR_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build --preset release
ctest --preset release

cmake --preset sanitize >/dev/null
cmake --build --preset sanitize
ctest --preset sanitize

echo "scripts/test.sh: release and sanitizer suites passed in $(( $(date +%s) - start )) s"
