#!/usr/bin/env bash
# The cells of time_varying_deadlines.yaml (the paper's 4-GPU box, hard deadlines, 40 s runs at
# 20 log-spaced rates from 0.25 to 48 req/s, seeds 1-3, four deadline schedules) for routers the
# plan does not hold, e.g. a policy file: the mean fraction of peak reward per schedule, averaged
# over rates and seeds as the experiment's table is. Run greedy too: its row must equal the
# table's in docs/open_questions.md, which checks that these are the experiment's cells.
#
#   experiments/open_questions/deadline_policy_check.sh BESTSERVE ROUTER...
#   e.g. ... build/apps/bestserve/bestserve greedy policy:runs/paper_hard_deadlines/best.bsw
set -euo pipefail
BESTSERVE="${1:?usage: deadline_policy_check.sh BESTSERVE ROUTER...}"
shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RATES=$(/usr/bin/python3 -c '
import math
print(" ".join(format(math.exp(math.log(0.25) + i / 19 * (math.log(48) - math.log(0.25))) if i < 19 else 48.0, ".4g") for i in range(20)))')
declare -A SCHEDULES=(
  ["40 ms throughout"]="[{start_s: 0, ms_per_token: 40}]"
  ["40 then 25 ms"]="[{start_s: 0, ms_per_token: 40}, {start_s: 20, ms_per_token: 25}]"
  ["40 then 80 ms"]="[{start_s: 0, ms_per_token: 40}, {start_s: 20, ms_per_token: 80}]"
  ["25 / 80 alternating 10 s"]="[{start_s: 0, ms_per_token: 25}, {start_s: 10, ms_per_token: 80}, {start_s: 20, ms_per_token: 25}, {start_s: 30, ms_per_token: 80}]"
)
printf '| variant |'; for router in "$@"; do printf ' %s |' "$router"; done; printf '\n|---|'
for _ in "$@"; do printf -- '---:|'; done; printf '\n'
for variant in "40 ms throughout" "40 then 25 ms" "40 then 80 ms" "25 / 80 alternating 10 s"; do
  printf '| %s |' "$variant"
  for router in "$@"; do
    sum=0
    n=0
    for rate in $RATES; do
      for seed in 1 2 3; do
        out="$WORK/run"
        "$BESTSERVE" simulate --config "$ROOT/experiments/scenarios/paper_4gpu.yaml" --seed "$seed" \
          --set deadline.reward=hard --set workload.duration_s=40 --set "deadline.schedule=${SCHEDULES[$variant]}" \
          --set "workload.rate_rps=$rate" --router "$router" --out "$out" >/dev/null
        value=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean_reward_fraction"])' "$out/summary.json")
        sum=$(/usr/bin/python3 -c "print($sum + $value)")
        n=$((n + 1))
        rm -rf "$out"
      done
    done
    printf ' %.3f |' "$(/usr/bin/python3 -c "print($sum / $n)")"
  done
  printf '\n'
done
