#!/usr/bin/env bash
# The whole test suite: set up, build (tests included, warnings as errors), run every test through
# ctest, then lint the C++ files the last commit changed (clang-tidy; `cmake --build build
# --target lint` lints the whole tree, about 15 minutes on 2 cores).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" "$ROOT/build" -DBESTSERVE_BUILD_TESTS=ON -DBESTSERVE_WERROR=ON
cd "$ROOT/build"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" "$@"
if git -C "$ROOT" rev-parse -q --verify HEAD~1 >/dev/null; then
  "$ROOT/scripts/lint.sh" "$ROOT/build" --since HEAD~1
else
  echo "lint: no previous commit to compare with; skipped (run scripts/lint.sh build --all)"
fi
