#!/usr/bin/env bash
# Sets up, builds and runs the default test suite (everything not labelled slow or gpu).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
cd "${DREAMDPO_BUILD_DIR:-$root/build}"
ctest --output-on-failure --label-exclude 'slow|gpu' --parallel "$(nproc)" "$@"
