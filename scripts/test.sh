#!/usr/bin/env bash
# Sets up, builds and runs the default test suite (everything not labelled slow or gpu).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
# Optional web checks (the glTF validator); their tests skip when this could not install them.
if command -v npm >/dev/null 2>&1; then "$root/scripts/setup_web_checks.sh" || true; fi
"$root/scripts/build.sh"
cd "${DREAMDPO_BUILD_DIR:-$root/build}"
ctest --output-on-failure --label-exclude 'slow|gpu' --parallel "$(nproc)" "$@"
