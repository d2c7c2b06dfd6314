#!/usr/bin/env bash
# Installs whatever bestserve needs that is missing (Debian 12 packages), then configures and
# builds it in Release. Idempotent: a second run installs nothing and rebuilds incrementally.
#
#   scripts/setup.sh [BUILD_DIR] [extra cmake args...]
#
# Why libopenblas0-openmp: Debian's libtorch links whatever libblas.so.3 points to, and with
# nothing else installed that is the reference BLAS, 13-30x slower for training.
# python3-matplotlib draws plots; python3-torch runs the latency profiler's CPU tests
# (profiles/tools/); both under Debian's /usr/bin/python3. slurm-wlm and munge: the sweep
# test runs a real single-node Slurm (tests/sweep/slurm_e2e.sh). clang-tidy: the lint step of
# scripts/test.sh. libboost-dev (Asio and Beast, header-only) and nlohmann-json3-dev: the serving
# path (serve/: gateway, emulator, load generator); curl: its end-to-end test talks to it as a user would.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-$ROOT/build}"
shift || true

PACKAGES=(
  cmake ninja-build g++ pkg-config
  libfmt-dev libyaml-cpp-dev libcli11-dev catch2 libeigen3-dev zlib1g-dev
  libtorch-dev libopenblas0-openmp
  python3 python3-matplotlib python3-torch
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  pybind11-dev python3-pybind11 python3-pytest python3-numpy python3-pandas
  slurm-wlm munge
  clang-tidy git
  libboost-dev nlohmann-json3-dev curl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

JOBS="$(nproc 2>/dev/null || echo 2)"
# ccache, where installed (it is not required): rebuilds of a fresh clone on the same machine
# reuse earlier compilations. Paths are hashed relative to the clone, so clones in other folders
# hit the same entries.
LAUNCHER=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${LAUNCHER[@]}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
