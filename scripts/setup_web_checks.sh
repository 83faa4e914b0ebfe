#!/usr/bin/env bash
# Installs the Khronos glTF validator (npm) under .deps/npm so that the .glb export test can
# run it. Idempotent. Never fails: without npm (or a network) the test skips and says why.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix="$root/.deps/npm"
if [ -d "$prefix/node_modules/gltf-validator" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup_web_checks: npm not found; the glTF validator test will be skipped (install nodejs and npm to run it)"
  exit 0
fi
mkdir -p "$prefix"
echo "setup_web_checks: installing gltf-validator into $prefix"
if ! npm install --no-save --no-audit --no-fund --prefix "$prefix" gltf-validator; then
  echo "setup_web_checks: npm install failed; the glTF validator test will be skipped" >&2
fi
exit 0
