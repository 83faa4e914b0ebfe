#!/usr/bin/env bash
# On a GPU machine: unpack the carried .debs (scripts/device_deps.sh) into .deps/root and build
# against the LibTorch that ships inside PyTorch, with CUDA kernels when available.
# Extra arguments go to cmake's configure step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps/root"
if [ ! -d "$deps/usr" ]; then
  for deb in "$root"/.deps/debs/*.deb; do dpkg-deb -x "$deb" "$deps"; done
fi
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
cmake -S "$root" -B "${DREAMDPO_BUILD_DIR:-$root/build-cuda}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr;$deps/usr/lib/x86_64-linux-gnu/cmake;$deps/usr/share/cmake" \
  -DSTB_INCLUDE_DIR="$deps/usr/include" "$@"
cmake --build "${DREAMDPO_BUILD_DIR:-$root/build-cuda}" --parallel "$(nproc)"
