#!/usr/bin/env bash
# Sets up, builds and runs the main job: `dreamdpo generate` with the built-in models, DreamDPO
# and the SDS baseline on the same seed. Output in out/demo/{dreamdpo,sds}/ (an earlier demo
# there is replaced). Extra arguments go to both runs, e.g. --steps 200.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
bin="${DREAMDPO_BUILD_DIR:-$root/build}/dreamdpo"
prompt="${DREAMDPO_DEMO_PROMPT:-a red sphere}"
rm -rf "$root/out/demo"
"$bin" generate "$prompt" -o "$root/out/demo/dreamdpo" "$@"
"$bin" generate "$prompt" --method sds -o "$root/out/demo/sds" "$@"
echo "demo: '$prompt' in $root/out/demo/{dreamdpo,sds}: report.html, views.png, model.ply, mesh.glb, metrics.csv, run.json"
