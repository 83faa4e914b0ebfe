#!/usr/bin/env bash
# Sets up, builds and runs the main job. Today that is the paper's 2D experiment on the exact
# prior (DreamDPO and the SDS baseline, same seed); output in out/demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
bin="${DREAMDPO_BUILD_DIR:-$root/build}/dreamdpo"
"$bin" toy2d "red" -o "$root/out/demo/dreamdpo" "$@"
"$bin" toy2d "red" --method sds -o "$root/out/demo/sds" "$@"
echo "demo: results in $root/out/demo/{dreamdpo,sds} (final.png, snapshots.png, metrics.csv, run.json)"
