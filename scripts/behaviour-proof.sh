#!/usr/bin/env bash
# usage: scripts/behaviour-proof.sh BIN_DIR OUT_DIR
# The runs that show a refactor changed no result: a short flagship run, the four classical Table 5 rows at full
# size and a short DDM x 50 row on that checkpoint. Run it with the examples of two builds and compare the outputs
# with cmp (summary.csv differs only in wall_s). docs/design.md, "Record of the architecture change", has a use.
set -euo pipefail
bin=$1; out=$2; mkdir -p $out
export OMP_NUM_THREADS=2
$bin/lorenz63_generate --train-members 4 --test-members 4 --trajectory-steps 20000 --spin-up 1000 \
  --train-steps 2000 --hidden 64 --batch 512 --samples 20000 --surrogate-steps 300 --surrogate-batch 256 \
  --table2 --table2-samples 2000 --threads 2 --out $out/gen --overwrite --plot-script /nonexistent > $out/generate.txt 2>&1
for m in etkf enoi-diag enoi-full 3dvar; do
  $bin/lorenz63_assimilate --method $m --out $out/table5 --tag $m > $out/table5_$m.txt 2>&1
done
$bin/lorenz63_assimilate --method ddm --checkpoint $out/gen/model.safetensors --experiments 4 --burn-in 20 \
  --cycles 200 --out $out/table5 --tag ddm > $out/table5_ddm.txt 2>&1
echo finished
