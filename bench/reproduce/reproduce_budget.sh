#!/usr/bin/env bash
# The reproduction's time budgets (issue: full <= 45 min, --quick <= 3 min on the 2-core dev
# machine, training included). Runs both from an empty policy cache and prints each wall time
# as a fraction of its budget, with the machine and commit. Not a test: the full run takes about
# a quarter of an hour. Usage: bench/reproduce/reproduce_budget.sh [BUILD_DIR] [SCRATCH_DIR]
#   QUICK_ONLY=1 skips the full run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
SCRATCH="${2:-$(mktemp -d /tmp/bestserve-budget.XXXXXX)}"
B="$BUILD/apps/bestserve/bestserve"
[[ -x "$B" ]] || { echo "error: $B not found; build first (scripts/setup.sh $BUILD)" >&2; exit 3; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"

run() {  # name budget_seconds args...
  local name="$1" budget="$2"
  shift 2
  rm -rf "$SCRATCH/$name"
  mkdir -p "$SCRATCH"
  local start end
  start=$(date +%s.%N)
  (cd "$ROOT" && "$B" reproduce "$@" --out "$SCRATCH/$name/out" --cache "$SCRATCH/$name/cache" 2> "$SCRATCH/$name.log")
  end=$(date +%s.%N)
  awk -v n="$name" -v s="$start" -v e="$end" -v b="$budget" \
    'BEGIN { t = e - s; printf "%-6s %7.1f s  budget %5d s  = %.2f of budget\n", n, t, b, t / b }'
}
run quick 180 --quick
[[ "${QUICK_ONLY:-0}" == 1 ]] || run full 2700
echo "outputs and logs: $SCRATCH"
