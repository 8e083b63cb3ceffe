#!/usr/bin/env bash
# The README's first command: installs what is missing (with matplotlib for the figure), builds the flagship example
# in release and runs it. Arguments are passed to the example (see --help); output goes to out/lorenz63/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh python3-matplotlib python3-numpy
source scripts/env.sh
cmake --preset release -DATTRACTOR_BUILD_EXAMPLES=ON >/dev/null
cmake --build --preset release --target lorenz63_generate
./build/release/examples/lorenz63_generate "$@"
