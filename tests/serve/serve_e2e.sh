#!/usr/bin/env bash
# The serving path end to end, as a user runs it: a tiny policy trained and exported, the
# scenario's box emulated (`bestserve emulate`), the gateway routing through the exported policy
# (`bestserve gateway`), and a load run (`bestserve loadgen`) compared with `bestserve simulate`
# of the same workload, profile and policy. Then the faults a deployment meets: a bad config, a
# backend killed mid-stream, shutdown with a stream in flight. Loopback only; every wait bounded.
#
#   serve_e2e.sh BESTSERVE_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
BIN="$1"
SRC="$2"
WORK="$3"
PY=/usr/bin/python3
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_for_file() {  # a server writes its port file once it listens
  for _ in $(seq 1 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  fail "no $1 after 10 s"
}
SCENARIO="$SRC/tests/serve/data/tiny_box.yaml"

echo "== a tiny policy, trained and exported"
cat > train.yaml <<'YAML'
name: tiny
seed: 7
training_workload: {kind: unpredictable2, num_requests: 200, min_rate_rps: 0.5, max_rate_rps: 40, segment_mean_requests: 50}
episode_requests: 200
learner: {iterations: 400, learning_starts: 100, batch_size: 16, hidden_sizes: [16], checkpoint_every_iterations: 200, eval_every_iterations: 200, progress_every_iterations: 200, curve_every_iterations: 100}
validation: {requests: 100, seeds: [11]}
YAML
"$BIN" train --config train.yaml --out run >train.log
"$BIN" export --policy run/final.bsw --out router.bsp >/dev/null

echo "== the box emulated, the gateway in front"
"$BIN" emulate --config "$SCENARIO" --port 0 --backends-out backends.yaml --port-file emulate.port >emulate.log 2>&1 &
PIDS+=($!)
wait_for_file emulate.port
cat > gateway.yaml <<YAML
listen: 127.0.0.1:0
scenario: $SCENARIO
policy: router.bsp
backends: backends.yaml
YAML
"$BIN" gateway --config gateway.yaml --port-file gateway.port >gateway.log 2>&1 &
GATEWAY=$!
PIDS+=($GATEWAY)
wait_for_file gateway.port
URL="http://127.0.0.1:$(cat gateway.port)"

# parity NAME ROUTER_FLAG LOADGEN_ARGS...: loadgen through the gateway at URL, then simulate
# of the same workload and router, compared.
parity() {
  local name="$1" router="$2"
  shift 2
  echo "== parity ($name): loadgen through the gateway against simulate"
  "$BIN" loadgen --config "$SCENARIO" --url "$URL" --out "live-$name" --timeout 30 --max-duration 30 "$@" | tee "loadgen-$name.log"
  "$BIN" simulate --config "$SCENARIO" --router "$router" --out "sim-$name" "$@" >/dev/null
  # Tolerances: the live clock carries loopback and timer noise (about a millisecond per
  # request), which can flip a decision made at a threshold; shares and rewards agree closely.
  "$PY" - "live-$name/summary.json" "sim-$name/summary.json" <<'PYEOF'
import json, sys
live, sim = (json.load(open(p)) for p in sys.argv[1:3])
n = sim["num_requests"]
assert live["num_requests"] == n and live["completed"] == n, (live["num_requests"], live["completed"], n)
for name, b in sim["selection"].items():
    a = live["selection"][name]
    print(f"  {name}: live {a:.3f}, simulated {b:.3f}")
    assert abs(a - b) <= 0.10, f"{name} share differs by more than 10 points"
lr, sr = live["mean_reward_fraction"], sim["mean_reward_fraction"]
print(f"  mean reward fraction: live {lr:.4f}, simulated {sr:.4f}")
assert abs(lr - sr) <= 0.05, "mean reward differs by more than 0.05"
le, se = live["latency_s"]["mean"], sim["latency_s"]["mean"]
print(f"  mean E2E: live {le:.4f} s, simulated {se:.4f} s")
assert abs(le - se) <= 0.15 * se, "mean E2E differs by more than 15%"
PYEOF
}
parity policy policy:run/final.bsw
curl -sf "$URL/metrics" >metrics.txt
grep -q '^bestserve_gateway_requests_total{model="opt-[0-9.]*[mb]",status="200"}' metrics.txt || fail "no served requests on /metrics"
grep -q '^bestserve_gateway_ttft_seconds_bucket' metrics.txt || fail "no TTFT histogram on /metrics"
total=$(grep '^bestserve_gateway_decisions_total' metrics.txt | awk '{s += $2} END {print s}')
[[ "$total" == "$(grep -c '^[0-9]' live-policy/requests.csv)" ]] || fail "decisions on /metrics ($total) != requests sent"

# A built-in router that mixes the sizes under load (greedy at 20 req/s: about 27/72/1 percent).
sed -e 's|^policy: .*|router: greedy|' gateway.yaml >greedy.yaml
"$BIN" gateway --config greedy.yaml --port-file greedy.port >greedy.log 2>&1 &
PIDS+=($!)
wait_for_file greedy.port
URL_POLICY="$URL"
URL="http://127.0.0.1:$(cat greedy.port)"
parity greedy greedy --rate 20
URL="$URL_POLICY"

echo "== a bad gateway config: exit 3, file, line and key"
printf 'listen: 127.0.0.1:0\nbackends:\n  - {model: opt-125m, url: "localhost:1"}\n' > bad.yaml
set +e
"$BIN" gateway --config bad.yaml >bad.out 2>&1
code=$?
set -e
[[ $code == 3 ]] || fail "bad config exited $code, expected 3"
grep -q 'bad.yaml:3' bad.out && grep -q 'backends\[0\].url' bad.out || fail "bad config message: $(cat bad.out)"

echo "== shutdown drains the stream in flight"
curl -sN "$URL/v1/completions" -d '{"model":"opt","prompt":[1,2,3],"max_tokens":60,"stream":true}' >drain.out &
CURL=$!
sleep 0.3
kill -TERM "$GATEWAY"
wait "$CURL" || fail "the client's stream broke during the drain"
[[ "$(tail -c 200 drain.out)" == *'data: [DONE]'* ]] || fail "the drained stream did not end with [DONE]"
for _ in $(seq 1 100); do kill -0 "$GATEWAY" 2>/dev/null || break; sleep 0.05; done
kill -0 "$GATEWAY" 2>/dev/null && fail "the gateway did not exit after draining"
wait "$GATEWAY" || fail "the gateway exited non-zero after SIGTERM"
curl -s -m 1 "$URL/health" && fail "the gateway still answers after shutdown"

echo "== a backend killed mid-stream: a clean error, ejection, later requests elsewhere"
"$BIN" emulate --model opt-125m --port 0 --port-file a.port >a.log 2>&1 &
A=$!
PIDS+=($A)
"$BIN" emulate --model opt-125m --port 0 --port-file b.port >b.log 2>&1 &
PIDS+=($!)
wait_for_file a.port
wait_for_file b.port
cat > two.yaml <<YAML
listen: 127.0.0.1:0
router: static:opt-125m
backends:
  - {model: opt-125m, url: "http://127.0.0.1:$(cat a.port)"}
  - {model: opt-125m, url: "http://127.0.0.1:$(cat b.port)"}
ejection: {failures: 1, probe_interval_ms: 60000}
YAML
"$BIN" gateway --config two.yaml --port-file two.port >two.log 2>&1 &
PIDS+=($!)
wait_for_file two.port
URL2="http://127.0.0.1:$(cat two.port)"
# The first request goes to the first backend (fewest in flight, ties in listed order).
curl -sN -D killed.headers "$URL2/v1/completions" -d '{"model":"opt","prompt":[1],"max_tokens":1500,"stream":true}' >killed.out &
CURL=$!
sleep 0.5
grep -qi "x-bestserve-backend: http://127.0.0.1:$(cat a.port)" killed.headers || fail "first stream not on backend A"
kill -9 "$A"
wait "$CURL" || true
grep -q '"error"' killed.out || fail "the client got no error event after its backend died"
grep -q 'backend failed mid-stream' killed.out || fail "error event does not say what happened"
for _ in 1 2 3; do
  curl -sf -D next.headers "$URL2/v1/completions" -d '{"model":"opt","prompt":[1],"max_tokens":2}' >/dev/null ||
    fail "a request after the failure was not served"
  grep -qi "x-bestserve-backend: http://127.0.0.1:$(cat b.port)" next.headers || fail "a request went to the dead backend"
done
# (to a file first: `curl | grep -q` fails under pipefail when grep stops reading early)
curl -sf "$URL2/metrics" >two.metrics
grep -q "bestserve_gateway_backend_healthy{backend=\"http://127.0.0.1:$(cat a.port)\",model=\"opt-125m\"} 0" two.metrics ||
  fail "the dead backend is not marked ejected"
# The three requests to B went over one kept-alive connection.
B_LABELS="backend=\"http://127.0.0.1:$(cat b.port)\",model=\"opt-125m\""
grep -q "bestserve_gateway_backend_connections_opened_total{$B_LABELS} 1" two.metrics &&
  grep -q "bestserve_gateway_backend_connections_reused_total{$B_LABELS} 2" two.metrics ||
  fail "backend B's connections were not reused: $(grep connections_ two.metrics)"
echo "serve_e2e: all checks passed"
