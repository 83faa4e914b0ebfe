#!/usr/bin/env bash
# The DreamDPO step at MVDream scale on one GPU, ours and the reference Python stack, on the same
# random full-size weights (results: bench/prior_step_gpu.md).
#
#   bench/prior_step_gpu.sh MVDREAM_CHECKOUT OPEN_CLIP_CHECKOUT OUT_DIR [BUILD_DIR] [STEPS]
#
# 1. bench/prior_step_reference.py builds MVDream sd-v2.1-base-4view + OpenCLIP ViT-H-14 with
#    random weights, writes them as mvdream_random.pt / hpsv2_random.pt and times DreamDPO's
#    guidance step in PyTorch (OUT_DIR/reference.json).
# 2. `dreamdpo models check` on both files (the loaders at full size).
# 3. `dreamdpo generate --preset mvdream` on those files at 256 px from the first step, fp16 and
#    bf16; the median of metrics.csv's step_ms over the steps after the first five, and the
#    allocator's peak from run.json (OUT_DIR/ours_*.json).
set -euo pipefail
mvdream=$1 open_clip=$2 out=$3 build=${4:-build-cuda} steps=${5:-40}
mkdir -p "$out"
weights=$(mktemp -d /tmp/prior_step.XXXXXX)
bpe="$open_clip/src/open_clip/bpe_simple_vocab_16e6.txt.gz"
prompt="a red cube on top of a blue sphere"

python3 bench/prior_step_reference.py --mvdream "$mvdream" --open-clip "$open_clip" --weights "$weights" \
  --steps 20 --json "$out/reference.json" 2>&1 | grep -v -E "^(Setting up|making attention|building Memory|Working with z)"
ls -la "$weights"

for file in mvdream_random.pt hpsv2_random.pt; do
  /usr/bin/time -f "models check $file: %e s, %M KiB peak RSS" "$build/dreamdpo" models check "$weights/$file" 2>&1 |
    cut -c1-400
done

for dtype in fp16 bf16; do
  run="$weights/run_$dtype"
  /usr/bin/time -f "generate $dtype: %e s wall, %M KiB peak RSS" "$build/dreamdpo" generate "$prompt" --preset mvdream \
    --steps "$steps" --seed 0 -o "$run" \
    --set prior.checkpoint="$weights/mvdream_random.pt" --set prior.tokenizer="$bpe" --set prior.dtype=$dtype \
    --set ranker.hpsv2.checkpoint="$weights/hpsv2_random.pt" --set ranker.hpsv2.tokenizer="$bpe" \
    --set render.sizes=[256] --set render.milestones=[] --set output.mesh=false --set output.checkpoint_every=0 \
    --set output.validate_every=0 --set output.turntable_frames=4 2>&1 | grep -v "^\s*$" | tail -8
  python3 - "$run" "$out/ours_$dtype.json" <<'EOF'
import csv, json, statistics, sys
run, dest = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{run}/metrics.csv")))
ms = sorted(float(r["step_ms"]) for r in rows[5:])
info = json.load(open(f"{run}/run.json"))
result = {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * len(ms) + 0.999) - 1], "steps_timed": len(ms),
          "timings": info["final"]["timings"], "gaussians": info["final"]["gaussians"],
          "last_row": rows[-1]}
json.dump(result, open(dest, "w"), indent=1)
print(json.dumps(result, indent=1))
EOF
done
rm -rf "$weights"
