#!/usr/bin/env bash
# On a GPU machine: continue training all three built-in models side by side on one GPU (CUDA
# MPS lets the three processes share it), each from the shipped file in models/builtin/.
# The reward model and the judge are bound by making scenes on CPU threads, the diffusion model
# by the GPU, so they coexist well on a 16-core host (see the model cards).
#
#   scripts/train_builtin_gpu.sh BUILD_DIR OUT_DIR SECONDS REWARD_SEED JUDGE_SEED DIFFUSION_SEED [MODELS]
#
# MODELS is a space-separated subset of "reward judge diffusion" (default: all three). Each
# model's weights, and its log, land in OUT_DIR; the diffusion model also writes a sample grid.
set -euo pipefail
if [ $# -lt 6 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
build=$1 out=$2 seconds=$3 reward_seed=$4 judge_seed=$5 diffusion_seed=$6
models=${7:-"reward judge diffusion"}
bin="$build/dreamdpo"
[ -x "$bin" ] || { echo "no dreamdpo binary in $build" >&2; exit 1; }
mkdir -p "$out"
nvidia-cuda-mps-control -d 2>/dev/null || echo "MPS not started (already running, or not available): sharing the GPU without it"

# The CPU-bound trainers share the host's cores, leaving a few for the diffusion trainer.
cpu_bound=0
for model in $models; do case $model in reward|judge) cpu_bound=$((cpu_bound + 1)) ;; esac; done
render_threads=$(( ($(nproc) - 3) / (cpu_bound > 0 ? cpu_bound : 1) ))
[ "$render_threads" -ge 1 ] || render_threads=1

pids=()
for model in $models; do
  case $model in
    reward|judge)
      seed=$reward_seed
      if [ "$model" = judge ]; then seed=$judge_seed; fi
      "$bin" --threads 1 train-builtin "$model" --device cuda --init "models/builtin/$model.safetensors" \
        --relation-negatives-first --render-threads "$render_threads" --batch 128 --steps 1000000 --time-limit "$seconds" \
        --seed "$seed" --eval-scenes 300 -o "$out/$model.safetensors" >"$out/$model.log" 2>&1 &
      ;;
    diffusion)
      "$bin" --threads 2 train-builtin diffusion --device cuda --init models/builtin/diffusion.safetensors \
        --pool 4096 --batch 128 --steps 1000000 --time-limit "$seconds" --seed "$diffusion_seed" \
        -o "$out/diffusion.safetensors" --samples "$out/diffusion_samples.png" --colour-eval 64 \
        >"$out/diffusion.log" 2>&1 &
      ;;
    *)
      echo "unknown model '$model' (reward, judge or diffusion)" >&2
      exit 2
      ;;
  esac
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for model in $models; do echo "== $model"; tail -n 4 "$out/$model.log"; done
exit $status
