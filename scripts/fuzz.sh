#!/usr/bin/env bash
# Fuzzes every input parser with libFuzzer (tests/fuzz/, docs/reliability.md).
#
#   scripts/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET] [PARALLEL] [TARGET...]
#
# BUILD_DIR is configured with clang and -DBESTSERVE_FUZZ=ON (scripts/test.sh's build-asan is).
# Builds the fuzz targets, seeds each corpus (BUILD_DIR/fuzz/<target>/corpus) from the
# repository's own files and tests/fuzz/seeds/, then runs each target for SECONDS_PER_TARGET
# (default 60), PARALLEL at a time (default 2). The corpora persist between runs, so each run
# starts where the last one stopped. Prints each target's executions; exits non-zero when a
# target crashed, leaving the reproducer (crash-*, leak-*, timeout-*) in BUILD_DIR/fuzz/<target>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$(cd "${1:?usage: scripts/fuzz.sh BUILD_DIR [SECONDS] [PARALLEL] [TARGET...]}" && pwd)"
SECONDS_PER_TARGET="${2:-60}"
PARALLEL="${3:-2}"
shift $(($# < 3 ? $# : 3))
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  TARGETS=(config_fuzz request_csv_fuzz trace_fuzz policy_fuzz sweep_cell_fuzz openai_request_fuzz checkpoint_fuzz)
fi

cmake --build "$BUILD_DIR" -j "$PARALLEL" --target "${TARGETS[@]}" >/dev/null

seed() {  # seed TARGET FILES...: copies the files into the target's corpus
  local corpus="$BUILD_DIR/fuzz/$1/corpus"
  shift
  mkdir -p "$corpus"
  local file
  for file in "$@"; do
    [[ -f "$file" ]] && cp "$file" "$corpus/seed_$(basename "$(dirname "$file")")_$(basename "$file")"
  done
  return 0
}
shopt -s nullglob globstar
seed config_fuzz "$ROOT"/experiments/**/*.yaml "$ROOT"/profiles/**/*.yaml "$ROOT"/workloads/fits/*.yaml
seed request_csv_fuzz "$ROOT"/tests/fuzz/seeds/request_csv/*
seed trace_fuzz "$ROOT"/tests/fuzz/seeds/trace/*
seed policy_fuzz "$ROOT"/tests/fuzz/seeds/policy/*
seed sweep_cell_fuzz "$ROOT"/tests/fuzz/seeds/sweep_cell/*
seed openai_request_fuzz "$ROOT"/tests/fuzz/seeds/openai_request/*
seed checkpoint_fuzz "$ROOT"/tests/fuzz/seeds/checkpoint/*

run_one() {  # run_one TARGET: fuzzes it for SECONDS_PER_TARGET, prints one summary line
  local target="$1" dir="$BUILD_DIR/fuzz/$1"
  local log="$dir/last_run.log"
  local status=0
  (cd "$dir" && nice "$BUILD_DIR/tests/fuzz/$target" corpus -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=20 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1) >"$log" 2>&1 ||
    status=$?
  local execs
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)"
  echo "$target: ${execs:-0} executions in ${SECONDS_PER_TARGET} s, exit $status"
  if ((status != 0)); then
    echo "$target: FAILED; the finding and its reproducer ($dir/crash-* etc.):"
    grep -m 20 -A 20 'ERROR:\|==ERROR\|runtime error\|deadly signal\|uncaught' "$log" | head -60
    return 1
  fi
}
export -f run_one
export BUILD_DIR SECONDS_PER_TARGET
printf '%s\n' "${TARGETS[@]}" | xargs -P "$PARALLEL" -I{} bash -c 'run_one "$@"' _ {}
