#!/usr/bin/env bash
# GPU machines reached through the device tool have CUDA, PyTorch, CMake and ninja but no
# Debian packages and no network. This downloads (here) the .deb files of our other build
# dependencies into .deps/debs, to carry along; scripts/device_build.sh unpacks and builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.deps/debs"
cd "$root/.deps/debs"
apt-get download libyaml-cpp-dev libyaml-cpp0.7 nlohmann-json3-dev libcli11-dev libstb-dev \
  libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian \
  libcpp-httplib-dev libcpp-httplib0.11 libssl-dev libbrotli-dev libbrotli1 zlib1g-dev 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
ls "$root/.deps/debs"
