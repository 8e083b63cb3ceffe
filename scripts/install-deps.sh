#!/usr/bin/env bash
# Installs the Debian packages attractor needs, only those missing; prints nothing when all are present.
# Thrust and cuBLAS come from the CUDA toolkit. Only the cuda backend uses Thrust, so libthrust-dev is added where an
# nvcc is installed whose toolkit lacks the Thrust headers (Debian's nvidia-cuda-toolkit ships without them).
set -euo pipefail

packages=(build-essential cmake ninja-build git pkg-config libeigen3-dev xtensor-dev doctest-dev libbenchmark-dev
          libcli11-dev libfftw3-dev clang-format)
nvcc=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)
if [ -n "$nvcc" ]; then
  toolkit=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
  if [ ! -e "$toolkit/include/thrust/version.h" ] && [ ! -e "$toolkit/include/cccl/thrust/version.h" ] &&
     [ ! -e /usr/include/thrust/version.h ]; then
    packages+=(libthrust-dev)
  fi
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
