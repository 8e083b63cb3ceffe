#!/usr/bin/env bash
# Installs the Debian packages attractor needs, only those missing; prints nothing when all are present.
# Thrust and cuBLAS come from the CUDA toolkit where it is installed; libthrust-dev stands in for Thrust otherwise.
set -euo pipefail

packages=(build-essential cmake ninja-build git pkg-config libeigen3-dev xtensor-dev doctest-dev libbenchmark-dev
          clang-format)
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  packages+=(libthrust-dev)
fi
packages+=("$@")  # extra packages a caller needs, e.g. python3-matplotlib for the example's figure

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
