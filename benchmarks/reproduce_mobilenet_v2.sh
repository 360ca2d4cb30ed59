#!/bin/bash
# Rerun zoo:mobilenet_v2's five training cycles as its card gives them, from scratch,
# each cycle from the previous one's model; cycle 5 distils from the zoo models of
# commit 8beef38 (the checksums the card pins). A finished cycle (run.json written)
# is skipped and an interrupted one resumes, so the script can simply be started again.
# Results: benchmarks/results/training/reproduce_mobilenet_v2_*.md
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_ENABLE_ONEDNN_OPTS=0
E=.venv/bin/emoedge
D="--data ../shared/datasets/ferplus"
for name in mini_xception:mini_xception_r2 mobilenet_v2:mobilenet_v2_r4; do
  teacher="runs/teacher_${name#*:}.keras"
  [ -f "$teacher" ] || git show "8beef38:models/zoo/${name%%:*}.keras" > "$teacher"
done
T="--teacher runs/teacher_mini_xception_r2.keras --teacher runs/teacher_mobilenet_v2_r4.keras"
cycle() { # out, args...
  local out=$1; shift
  [ -f "$out/run.json" ] && { echo "skip $out (finished)"; return; }
  local resume=""; [ -d "$out/backup" ] && resume="--resume"
  echo "=== $out $(date)"
  $E train --model mobilenet_v2 $D --out "$out" "$@" $resume
}
P=runs/repro_mobilenet_v2
cycle $P --epochs 20 --lr 0.002 --weight-decay 0.0001 --input-size 64 --patience 8 --seed 42 --threads 1 --alpha 0.5
cycle ${P}_r2 --input-size 64 --alpha 0.5 --epochs 20 --lr 1e-3 --weight-decay 1e-4 --patience 8 --seed 43 --init-from $P/model.keras
cycle ${P}_r3 --epochs 36 --weight-decay 0.0001 --input-size 64 --seed 44 --init-from ${P}_r2/model.keras --alpha 0.5
cycle ${P}_r4 --epochs 36 --weight-decay 0.0001 --input-size 64 --seed 45 --init-from ${P}_r3/model.keras --alpha 0.5
cycle ${P}_r5kd --epochs 30 --weight-decay 0.0001 --input-size 64 --seed 46 --init-from ${P}_r4/model.keras --threads 1 --alpha 0.5 $T
$E evaluate ${P}_r5kd/model.keras $D --split test --out runs/repro_eval_mn
echo "=== done $(date)"
