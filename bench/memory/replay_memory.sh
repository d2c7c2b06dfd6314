#!/usr/bin/env bash
# Peak memory of a long replay (issue 19: <= 300 MB for ten million requests).
#
# Makes a request CSV of at least MILLIONS million requests (bestserve's own Poisson generator,
# 100 req/s for 10,000 s, about 1M requests, repeated end to end with shifted times and ids),
# then replays it through the paper's 4-GPU system with the greedy router (`simulate --out`:
# the CSV read lazily, records written and summarized as they finish, then dropped), at 1M and
# at the full length,
# and `evaluate` of two routers at 1M. The baseline, in the same run when BASELINE_BIN is
# given: the same commands with a build from before streaming (commit b0165b8 or earlier, which
# held the workload and every record), whose run folders must be the same bytes.
# Peak RSS from /usr/bin/time -v. Usage:
#   bench/memory/replay_memory.sh [BIN] [MILLIONS] [BASELINE_BIN] [WORK_DIR]
set -euo pipefail
BIN=$(realpath "${1:-build/apps/bestserve/bestserve}")
MILLIONS=${2:-10}
BASELINE=${3:+$(realpath "$3")}
WORK=${4:-$(mktemp -d /tmp/bestserve_replay_memory.XXXXXX)}
mkdir -p "$WORK"
cd "$WORK"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
     "$("$BIN" --version 2>&1 | head -1), commit $(git -C "$(dirname "$BIN")" rev-parse --short HEAD 2>/dev/null || echo unknown)"

cat > gen.yaml <<'YAML'
seed: 1
workload: {kind: poisson, rate_rps: 100, duration_s: 10000}
YAML
"$BIN" workload generate --config gen.yaml --out one.csv > /dev/null
N=$(($(wc -l < one.csv) - 1))
COPIES=$(((MILLIONS * 1000000 + N - 1) / N))  # at least MILLIONS million requests in all
# Copy k: ids + k*N, times + k*10000 s (every copy's arrivals are below 10000 s, so the file stays
# sorted); %.17g keeps every time exact.
awk -F, -v copies="$COPIES" -v n="$N" 'NR == 1 { header = $0; next } { rows[NR - 2] = $0 }
  END {
    print header
    for (k = 0; k < copies; ++k) for (i = 0; i < n; ++i) {
      split(rows[i], f, ",")
      printf "%d,%.17g,%s,%s,%s,%s,%s\n", f[1] + k * n, f[2] + k * 10000, f[3], f[4], f[5], f[6], f[7]
    }
  }' one.csv > many.csv
echo "request CSVs: one.csv $N requests, many.csv $((N * COPIES)) requests ($(du -h many.csv | cut -f1))"

peak() {  # LABEL, then the command: prints peak RSS (MB) and wall seconds
  local label=$1
  shift
  /usr/bin/time -v "$@" > /dev/null 2> time.log
  local rss wall
  rss=$(awk '/Maximum resident set size/ { printf "%.0f", $6 / 1024 }' time.log)
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' time.log)
  printf '%-58s peak RSS %6s MB, wall %s\n' "$label" "$rss" "$wall"
}

csv_set() { echo "workload={kind: csv, path: $WORK/$1}"; }
runs() {  # BIN TAG
  peak "$2: simulate --router greedy, $N requests" \
    "$1" simulate --set "$(csv_set one.csv)" --router greedy --out "$2_sim_one"
  peak "$2: evaluate --routers greedy,random, $N requests" \
    "$1" evaluate --set "$(csv_set one.csv)" --routers greedy,random --out "$2_eval_one"
  peak "$2: simulate --router greedy, $((N * COPIES)) requests" \
    "$1" simulate --set "$(csv_set many.csv)" --router greedy --out "$2_sim_many"
}
runs "$BIN" streamed
echo "requests.csv rows written: $(($(wc -l < streamed_sim_many/requests.csv) - 1))"
if [[ -n "$BASELINE" ]]; then
  runs "$BASELINE" baseline
  for d in sim_one eval_one/greedy eval_one/random sim_many; do
    for f in requests.csv windows.csv summary.json config.yaml; do cmp "streamed_$d/$f" "baseline_$d/$f"; done
  done
  echo "streamed and baseline run folders are the same bytes (requests.csv, windows.csv, summary.json, config.yaml)"
fi
