#!/usr/bin/env bash
# Submits a sweep to Slurm: an array job of NTASKS shards, then the merge as a job that runs
# once every array task has succeeded (afterok; it is cancelled if one fails).
#
#   experiments/slurm/submit.sh GRID DIR NTASKS [extra sbatch options...]
#
#   GRID    grid YAML (docs/sweeps.md)
#   DIR     output folder on a file system every node sees (cells/, grid.yaml, logs/, merged.*)
#   NTASKS  array tasks; each runs about cells/NTASKS cells on --cpus-per-task threads
#   extra   passed to both sbatch calls, e.g. --partition=short --time=01:00:00 --cpus-per-task=8
#
# The grid is validated here first, so a bad grid fails now rather than in NTASKS jobs.
# Resume: run the same command again; finished cells are skipped.
# Prints `array_job=<id>` and `merge_job=<id>`.
#
# Environment: BESTSERVE (the executable; default: `bestserve` on PATH, else this checkout's
# build/apps/bestserve/bestserve), exported to the jobs.
set -euo pipefail

if (($# < 3)); then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
GRID="$(realpath "$1")"
DIR="$(realpath -m "$2")"
NTASKS="$3"
shift 3
[[ "$NTASKS" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: NTASKS must be a positive integer, got '$NTASKS'" >&2; exit 2; }
if [[ -z "${BESTSERVE:-}" ]]; then
  BESTSERVE="$(command -v bestserve || echo "$REPO/build/apps/bestserve/bestserve")"
fi
[[ -x "$BESTSERVE" ]] || { echo "submit.sh: no bestserve executable at '$BESTSERVE' (set BESTSERVE)" >&2; exit 2; }
BESTSERVE="$(realpath "$BESTSERVE")"  # the jobs may start in another folder
export BESTSERVE

# Validate every cell now; the first line says how many cells there are.
listing="$("$BESTSERVE" sweep run "$GRID" --dry-run --shard 0/1)"
echo "submit.sh: ${listing%%$'\n'*}"

mkdir -p "$DIR/logs"
array_out="$(sbatch --parsable --array="0-$((NTASKS - 1))" --output="$DIR/logs/sweep-%A_%a.out" "$@" \
  "$HERE/sweep_array.sbatch" "$GRID" "$DIR")"
array_job="${array_out%%;*}"
merge_out="$(sbatch --parsable --dependency="afterok:$array_job" --kill-on-invalid-dep=yes \
  --output="$DIR/logs/merge-%j.out" "$@" "$HERE/merge.sbatch" "$DIR")"
merge_job="${merge_out%%;*}"

echo "array_job=$array_job"
echo "merge_job=$merge_job"
echo "submit.sh: $NTASKS array tasks -> $DIR/cells; merge after them -> $DIR/merged.csv; logs in $DIR/logs"
echo "submit.sh: watch with: squeue -j $array_job,$merge_job; progress: $BESTSERVE sweep status $DIR"
