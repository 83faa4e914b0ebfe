#!/usr/bin/env bash
# On a GPU machine: every check of the built-in models in one go (numbers for
# models/builtin/*.md and bench/eval_shapeworld.md).
#   1. reward model and judge: true caption above 8 hard negatives, 1000 held-out scenes;
#   2. diffusion model: 50-step DDIM samples judged correct (256 held-out scenes);
#   3. SDS vs DreamDPO end to end: prompts/shapeworld.txt x 3 seeds with `generate` defaults
#      (output.mesh=false), 12 processes sharing the GPU under MPS, then one scoring pass;
#   4. optionally (SWEEP=1) the τ sweep configs/sweeps/tau_builtin.yaml with one seed.
#
#   bench/eval_builtin_gpu.sh BUILD_DIR OUT_DIR
#
# OUT_DIR receives models.log, table.md, results.csv (and sweep_table.md, sweep_results.csv).
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
build=$1 out=$2
bin="$build/dreamdpo"
[ -x "$bin" ] || { echo "no dreamdpo binary in $build" >&2; exit 1; }
mkdir -p "$out"
nvidia-cuda-mps-control -d 2>/dev/null || echo "MPS not started (already running, or not available)"
start=$SECONDS

{
  "$bin" train-builtin reward --eval --device cuda --eval-scenes 1000 -o models/builtin/reward.safetensors
  "$bin" train-builtin judge --eval --device cuda --eval-scenes 1000 -o models/builtin/judge.safetensors
  "$bin" train-builtin diffusion --eval --device cuda --eval-scenes 256
} 2>&1 | tee "$out/models.log"
echo "model checks: $((SECONDS - start)) s"

work=$(mktemp -d)
grep -v -E '^\s*(#|$)' prompts/shapeworld.txt | split -n r/12 -d - "$work/p"
# Generate every run in 12 shards at once (one eval folder, a run folder each), then one pass
# over the whole set finds them finished and only scores: table.md and results.csv.
eval_set() {
  local folder=$1; shift
  for shard in "$work"/p*; do
    OMP_NUM_THREADS=1 "$bin" --threads 1 -q eval "$shard" -o "$folder" --device cuda --set output.mesh=false "$@" &
  done
  wait
  "$bin" --threads 8 eval prompts/shapeworld.txt -o "$folder" --device cuda --set output.mesh=false "$@"
}

eval_set "$work/eval" --seeds 3
cp "$work/eval/table.md" "$out/table.md"
cp "$work/eval/results.csv" "$out/results.csv"
echo "SDS vs DreamDPO: $((SECONDS - start)) s"

if [ "${SWEEP:-0}" = 1 ]; then
  eval_set "$work/sweep" --sweep configs/sweeps/tau_builtin.yaml --seeds 1
  cp "$work/sweep/table.md" "$out/sweep_table.md"
  cp "$work/sweep/results.csv" "$out/sweep_results.csv"
  echo "τ sweep: $((SECONDS - start)) s"
fi
