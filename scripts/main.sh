#!/usr/bin/env bash
# The main job on built-in defaults: set up, build, and reproduce the paper's tables and figures
# at quick scale (`bestserve reproduce --quick`: 80k-iteration policies, 2 seeds; about a minute
# on 2 cores after the build). Results in results/main/ (REPORT.md first); trained policies are
# cached in results/policy-cache/. Extra arguments go to `bestserve reproduce`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" "$ROOT/build"
cd "$ROOT"
"$ROOT/build/apps/bestserve/bestserve" reproduce --quick --out "$ROOT/results/main" \
  --cache "$ROOT/results/policy-cache" "$@"
