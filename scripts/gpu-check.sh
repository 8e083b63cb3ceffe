#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds the `cuda` preset, runs the whole test suite (the CUDA tests included)
# and then the CUDA and CPU kernel benchmarks. Where the machine cannot install packages, bundle the host
# dependencies first with shared/tools/device-deps.sh; their .devdeps/ folder is picked up here.
# Usage: gpu-check.sh [output folder for the benchmark JSON]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
out=${1:-build/cuda/results}
mkdir -p "$out"
extra=()
if [ -d .devdeps/usr ]; then
  extra=(-DCMAKE_PREFIX_PATH="$PWD/.devdeps/usr" -DCMAKE_INCLUDE_PATH="$PWD/.devdeps/usr/include")
  export LD_LIBRARY_PATH="$PWD/.devdeps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
cmake --preset cuda "${extra[@]}" >/dev/null
cmake --build --preset cuda -j "$(nproc)"
ctest --preset cuda
# The op table on cuda (tests/ops/op_table.hpp): every autograd operation's values and gradients against cpu's on the
# same inputs; then the whole CUDA suite, the table included.
./build/cuda/tests/attractor_cuda_tests --test-case='op table*' --success=false --duration=true
./build/cuda/tests/attractor_cuda_tests
./build/cuda/benchmarks/bench_kernels_cuda --benchmark_min_time=0.5 --benchmark_out="$out/bench_kernels_cuda.json" \
  --benchmark_out_format=json
./build/cuda/benchmarks/bench_training_cuda --benchmark_min_time=1 --benchmark_out="$out/bench_training_cuda.json" \
  --benchmark_out_format=json
# The periodic U-Net's training step (issue 16) beside PyTorch eager on the same GPU, FP32 and TF32, batch 128 and
# 1024 (the image's python3 has PyTorch).
python3 benchmarks/compare_pytorch_unet.py build/cuda/benchmarks/bench_unet_cuda --device cuda --reps 3 \
  --min-time 0.5 | tee "$out/unet_cuda.txt"
