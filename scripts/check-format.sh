#!/usr/bin/env bash
# Fails if a tracked C++ or CUDA source does not follow .clang-format. Usage: check-format.sh [clang-format]
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=${1:-clang-format}
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.hpp' '*.cpp' '*.cuh' '*.cu')
else
  mapfile -t files < <(find include tests examples benchmarks -name '*.hpp' -o -name '*.cpp' -o -name '*.cuh' -o -name '*.cu')
fi
[ ${#files[@]} -eq 0 ] && { echo "check-format: no sources"; exit 0; }
"$clang_format" --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files follow .clang-format"
