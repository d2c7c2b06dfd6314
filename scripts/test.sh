#!/usr/bin/env bash
# The whole test suite: set up, build (tests included, warnings as errors), run every test through
# ctest, then lint the C++ files the last commit changed (clang-tidy; `cmake --build build
# --target lint` lints the whole tree, about 15 minutes on 2 cores).
#
# Then the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer (clang-14,
# build-asan/, libtorch backend off: docs/reliability.md; the quick reproduction reuses the
# policies the Release suite just trained) and a short libFuzzer run of every input parser
# (scripts/fuzz.sh, BESTSERVE_FUZZ_SECONDS per target, default 60). BESTSERVE_SANITIZERS=0 skips
# that stage (a quick local run); CI runs it.
#
# Extra arguments go to both ctest runs (e.g. -R cli).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="$(nproc 2>/dev/null || echo 2)"
"$ROOT/scripts/setup.sh" "$ROOT/build" -DBESTSERVE_BUILD_TESTS=ON -DBESTSERVE_WERROR=ON
(cd "$ROOT/build" && ctest --output-on-failure -j "$JOBS" "$@")
if git -C "$ROOT" rev-parse -q --verify HEAD~1 >/dev/null; then
  "$ROOT/scripts/lint.sh" "$ROOT/build" --since HEAD~1
else
  echo "lint: no previous commit to compare with; skipped (run scripts/lint.sh build --all)"
fi
[[ "${BESTSERVE_SANITIZERS:-1}" == 1 ]] || exit 0

echo "== sanitizers: build-asan (clang-14, ASan + UBSan, libFuzzer targets)"
# As setup.sh does: ccache keyed on paths relative to the clone, so any clone hits it.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
cmake -S "$ROOT" -B "$ROOT/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER=clang++-14 -DBESTSERVE_FUZZ=ON -DBESTSERVE_WITH_TORCH=OFF \
  -DBESTSERVE_BUILD_TESTS=ON -DBESTSERVE_WERROR=ON \
  -DBESTSERVE_REPRODUCE_POLICY_CACHE="$ROOT/build/tests/reproduce/quick/cache" \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
cmake --build "$ROOT/build-asan" -j "$JOBS"
# Every finding fails its test; leaks included.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd "$ROOT/build-asan" && ctest --output-on-failure -j "$JOBS" "$@")

echo "== fuzzing: ${BESTSERVE_FUZZ_SECONDS:-60} s per target, two at a time"
"$ROOT/scripts/fuzz.sh" "$ROOT/build-asan" "${BESTSERVE_FUZZ_SECONDS:-60}" 2
