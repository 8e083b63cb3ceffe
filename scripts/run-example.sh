#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the flagship example in release and runs it.
# Arguments are passed to the example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
cmake --preset release >/dev/null
cmake --build --preset release --target quickstart
./build/release/examples/quickstart "$@"
