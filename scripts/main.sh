#!/usr/bin/env bash
# The main job on built-in defaults: set up, build, and compare every router on the paper's
# 4-GPU system (a Table-2-style comparison). Results go to results/main/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" "$ROOT/build"
"$ROOT/build/apps/bestserve/bestserve" evaluate --config "$ROOT/experiments/scenarios/paper_unpredictable1.yaml" \
  --out "$ROOT/results/main" "$@"
