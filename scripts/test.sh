#!/usr/bin/env bash
# The README's test command. Installs what is missing, then builds and runs the tests twice:
#   release   every test, with the CUDA programs compiled where nvcc is found (run where a GPU is), the header
#             self-containment check, the consumer projects and the format check;
#   sanitize  the test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
start=$(date +%s)

cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release

cmake --preset sanitize >/dev/null
cmake --build --preset sanitize
ctest --preset sanitize

echo "scripts/test.sh: release and sanitizer suites passed in $(( $(date +%s) - start )) s"
