#!/usr/bin/env bash
# The gateway benchmark (issue 16's floors), on loopback, with the machine's own figures:
#   1. overhead: the same open-loop client and schedule (RATE req/s for DURATION s, max_tokens 1)
#      against the emulator directly, through `bestserve gateway` (static router, a built-in
#      router, an exported policy; static again with its backend connection pool off), and
#      through nginx as a plain reverse proxy; quantiles of
#      each and their differences; non-streamed latency and streamed time to first token;
#   2. STREAMS concurrent streams held through the gateway (and through nginx): errors, and the
#      RSS of the proxy idle vs with every stream open;
#   3. the highest sustained rate through the gateway, and directly, stepping the offered rate.
# Emulated servers use the synthetic profiles in bench/serve/data/ (no model time to speak of,
# or a 50 ms decode step for the held streams). Everything listens on 127.0.0.1, on ports the
# OS picks (--port 0 / --port-file) or, for nginx, a port the script finds free. Every load run
# is bounded in count and time (gateway_bench.cpp), every wait here too.
#
#   bench/serve/gateway_bench.sh BUILD_DIR [WORK_DIR]      (report: WORK_DIR/report.md)
#
# nginx: used if installed; else, as root, `apt-get install nginx-light` is tried (this script
# only; never tests or CI). Skipped with a note when neither works. NGINX=0 skips it.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "${1:?usage: gateway_bench.sh BUILD_DIR [WORK_DIR]}" && pwd)"
WORK="${2:-/tmp/gateway_bench}"
BIN="$BUILD/apps/bestserve/bestserve"
CLIENT="$BUILD/bench/serve/gateway_bench"
DATA="$SRC/bench/serve/data"
RATE="${RATE:-500}"
DURATION="${DURATION:-10}"
STREAMS="${STREAMS:-2000}"
STREAM_TOKENS="${STREAM_TOKENS:-100}"
STEP_RATES="${STEP_RATES:-500,1000,1500,2000,2500,3000,4000,5000,6000}"
STEP_S="${STEP_S:-4}"
P99_BOUND_MS="${P99_BOUND_MS:-50}"
NGINX="${NGINX:-1}"
POLICY="${POLICY:-1}"
PY=/usr/bin/python3
[[ -x "$BIN" && -x "$CLIENT" ]] || { echo "build bestserve and gateway_bench first (-DBESTSERVE_BUILD_BENCH=ON)" >&2; exit 2; }

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
RESULTS="$WORK/results.jsonl"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_for_file() {
  for _ in $(seq 1 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  fail "no $1 after 10 s"
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Each held stream takes a descriptor in the client, two in the proxy and one in the emulator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) >= 2 * STREAMS + 512 )) || fail "ulimit -n is $(ulimit -n); $STREAMS streams need $((2 * STREAMS + 512))"

{
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "commit: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "build: $(grep -m1 CMAKE_BUILD_TYPE "$BUILD/CMakeCache.txt" | cut -d= -f2) ($BUILD)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee env.txt

echo "== emulators (synthetic profiles)"
"$BIN" emulate --config "$DATA/fast_box.yaml" --port 0 --backends-out fast_backends.yaml --port-file fast.port >emulate-fast.log 2>&1 &
EMU_FAST=$!
PIDS+=($EMU_FAST)
"$BIN" emulate --profile "$DATA/stream_profile.yaml" --model opt-125m --port 0 --port-file stream.port >emulate-stream.log 2>&1 &
PIDS+=($!)
wait_for_file fast.port
wait_for_file stream.port
DIRECT="http://127.0.0.1:$(cat fast.port)"  # the first instance of the box: opt-125m
STREAM_BACKEND="http://127.0.0.1:$(cat stream.port)"

# gateway NAME ROUTER_LINE BACKENDS: starts a gateway, sets URL_<NAME> and PID_<NAME>.
gateway() {
  local name="$1" router="$2" backends="$3"
  cat >"gateway-$name.yaml" <<YAML
listen: 127.0.0.1:0
$router
backends: $backends
YAML
  "$BIN" gateway --config "gateway-$name.yaml" --port-file "gateway-$name.port" >"gateway-$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_$name" '%s' "$!"
  wait_for_file "gateway-$name.port"
  printf -v "URL_$name" '%s' "http://127.0.0.1:$(cat "gateway-$name.port")"
}

echo "== gateways"
gateway static "router: static:opt-125m" fast_backends.yaml
gateway nopool $'router: static:opt-125m\npool: {max_idle_per_backend: 0}' fast_backends.yaml
gateway greedy "router: greedy" fast_backends.yaml
POLICY_NOTE="not run (POLICY=0)"
if [[ "$POLICY" == 1 ]]; then
  # The e2e test's tiny policy (tests/serve/serve_e2e.sh), trained and exported here: its
  # decisions are an MLP forward through the router library, what a deployment runs.
  cat > train.yaml <<'YAML'
name: tiny
seed: 7
training_workload: {kind: unpredictable2, num_requests: 200, min_rate_rps: 0.5, max_rate_rps: 40, segment_mean_requests: 50}
episode_requests: 200
learner: {iterations: 400, learning_starts: 100, batch_size: 16, hidden_sizes: [16], checkpoint_every_iterations: 200, eval_every_iterations: 200, progress_every_iterations: 200, curve_every_iterations: 100}
validation: {requests: 100, seeds: [11]}
YAML
  if timeout 300 "$BIN" train --config train.yaml --out policy-run >train.log 2>&1 &&
     timeout 60 "$BIN" export --policy policy-run/final.bsw --out router.bsp >export.log 2>&1; then
    gateway policy "policy: router.bsp" fast_backends.yaml
    POLICY_NOTE="exported policy (tiny MLP, hidden [16], trained by this script as in tests/serve/serve_e2e.sh)"
  else
    POLICY_NOTE="training or export failed (see train.log, export.log)"
  fi
fi

NGINX_NOTE="not run (NGINX=0)"
if [[ "$NGINX" == 1 ]]; then
  if ! command -v nginx >/dev/null && [[ $(id -u) -eq 0 ]]; then
    echo "== installing nginx-light (benchmark only)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get install -y -qq --no-install-recommends nginx-light >apt.log 2>&1 ||
      { timeout 300 apt-get update -qq >>apt.log 2>&1 && timeout 300 apt-get install -y -qq --no-install-recommends nginx-light >>apt.log 2>&1; } || true
  fi
  if command -v nginx >/dev/null; then
    NGINX_NEW=$(free_port)
    NGINX_KEEP=$(free_port)
    NGINX_STREAM=$(free_port)
    mkdir -p nginx/logs nginx/tmp
    # One worker (the gateway is one thread); HTTP/1.1 to the upstream; responses not buffered
    # (streams pass event by event). Port NEW: a new upstream connection per request (nginx's
    # default, Connection: close), as the gateway with its pool off does. Port KEEP: a pool of
    # kept-alive upstream connections (keepalive 64), nginx's recommended setup, as the gateway's
    # default pool does.
    cat > nginx.conf <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  proxy_http_version 1.1;
  proxy_buffering off;
  proxy_read_timeout 60s;
  keepalive_requests 100000;
  upstream emulator_keepalive { server 127.0.0.1:$(cat fast.port); keepalive 64; }
  server { listen 127.0.0.1:$NGINX_NEW; location / { proxy_pass $DIRECT; } }
  server { listen 127.0.0.1:$NGINX_KEEP; location / { proxy_pass http://emulator_keepalive; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:$NGINX_STREAM; location / { proxy_pass $STREAM_BACKEND; } }
}
CONF
    nginx -t -c "$WORK/nginx.conf" -p "$WORK/nginx/" >nginx-t.log 2>&1 || fail "nginx -t: $(cat nginx-t.log)"
    nginx -c "$WORK/nginx.conf" -p "$WORK/nginx/" >nginx.log 2>&1 &
    NGINX_MASTER=$!
    PIDS+=($NGINX_MASTER)
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$NGINX_NEW/health" && break; sleep 0.1; done
    NGINX_PIDS=($(pgrep -P "$NGINX_MASTER" || true) "$NGINX_MASTER")  # worker first: its fds are counted
    PIDS+=("${NGINX_PIDS[@]}")  # the worker too: killing the master with -9 leaves it running
    NGINX_NOTE="$(nginx -v 2>&1 | sed 's/^nginx version: //') (Debian), 1 worker, proxy_buffering off, HTTP/1.1 upstream"
  else
    NGINX="0"
    NGINX_NOTE="not installed and could not be installed (see apt.log)"
  fi
fi
echo "nginx: $NGINX_NOTE" | tee -a env.txt
echo "policy: $POLICY_NOTE" | tee -a env.txt

run_open() {  # LABEL URL MODEL [--stream]
  local label="$1" url="$2" model="$3"
  shift 3
  "$CLIENT" open --url "$url" --model "$model" --label "$label" --rate "$RATE" --duration "$DURATION" --warmup 1 \
    --max-tokens 1 --timeout 10 --json "$RESULTS" "$@" | grep -v '^gateway_bench:'
}

echo "== 1. overhead: $RATE req/s for $DURATION s, max_tokens 1, not streamed"
run_open direct "$DIRECT" opt-125m
run_open "gateway static:opt-125m" "$URL_static" opt
run_open "gateway static:opt-125m, pool off" "$URL_nopool" opt
run_open "gateway greedy" "$URL_greedy" opt
if [[ -n "${URL_policy:-}" ]]; then run_open "gateway policy" "$URL_policy" opt; fi
if [[ "$NGINX" == 1 ]]; then
  run_open "nginx (new upstream connection)" "http://127.0.0.1:$NGINX_NEW" opt-125m
  run_open "nginx (keepalive upstream)" "http://127.0.0.1:$NGINX_KEEP" opt-125m
fi
echo "== 1b. overhead, streamed (TTFT): $RATE req/s for $DURATION s, max_tokens 1"
run_open direct "$DIRECT" opt-125m --stream
run_open "gateway static:opt-125m" "$URL_static" opt --stream
run_open "gateway static:opt-125m, pool off" "$URL_nopool" opt --stream
if [[ "$NGINX" == 1 ]]; then
  run_open "nginx (new upstream connection)" "http://127.0.0.1:$NGINX_NEW" opt-125m --stream
  run_open "nginx (keepalive upstream)" "http://127.0.0.1:$NGINX_KEEP" opt-125m --stream
fi

echo "== 2. $STREAMS concurrent streams held (max_tokens $STREAM_TOKENS, 50 ms decode step)"
# A fresh gateway, so its idle RSS is its own; the emulator queues past max_num_seqs (256) and
# sends each stream's headers at once, so every stream is open before the first one ends.
gateway hold "router: static:opt-125m" "[{model: opt-125m, url: \"$STREAM_BACKEND\"}]"
HOLD_TIMEOUT=$(( STREAM_TOKENS * STREAMS / 256 / 20 + 60 ))
"$CLIENT" hold --url "$URL_hold" --model opt --label gateway --streams "$STREAMS" --open-rate 2000 \
  --max-tokens "$STREAM_TOKENS" --timeout "$HOLD_TIMEOUT" --pid "$PID_hold" --json "$RESULTS" | grep -v '^gateway_bench:'
if [[ "$NGINX" == 1 ]]; then
  "$CLIENT" hold --url "http://127.0.0.1:$NGINX_STREAM" --model opt-125m --label nginx --streams "$STREAMS" --open-rate 2000 \
    --max-tokens "$STREAM_TOKENS" --timeout "$HOLD_TIMEOUT" "${NGINX_PIDS[@]/#/--pid=}" --json "$RESULTS" | grep -v '^gateway_bench:'
fi

echo "== 3. highest sustained rate (steps $STEP_RATES, $STEP_S s each, p99 <= $P99_BOUND_MS ms)"
"$CLIENT" steps --url "$URL_static" --model opt --label "gateway static:opt-125m" --rates "$STEP_RATES" --step "$STEP_S" \
  --warmup 0.5 --p99-bound-ms "$P99_BOUND_MS" --max-total 90 --timeout 10 --json "$RESULTS" | grep -v '^gateway_bench:'
"$CLIENT" steps --url "$DIRECT" --model opt-125m --label direct --rates "$STEP_RATES" --step "$STEP_S" \
  --warmup 0.5 --p99-bound-ms "$P99_BOUND_MS" --max-total 90 --timeout 10 --json "$RESULTS" | grep -v '^gateway_bench:'
if [[ "$NGINX" == 1 ]]; then
  "$CLIENT" steps --url "http://127.0.0.1:$NGINX_KEEP" --model opt-125m --label "nginx (keepalive upstream)" --rates "$STEP_RATES" \
    --step "$STEP_S" --warmup 0.5 --p99-bound-ms "$P99_BOUND_MS" --max-total 90 --timeout 10 --json "$RESULTS" | grep -v '^gateway_bench:'
fi
curl -s "$URL_static/metrics" >gateway-static-metrics.txt || true
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a env.txt

"$PY" - "$RESULTS" "$WORK/env.txt" "$RATE" "$DURATION" "$STREAMS" "$STREAM_TOKENS" "$P99_BOUND_MS" "$STEP_S" >report.md <<'PYEOF'
import json, sys
results, env = [json.loads(l) for l in open(sys.argv[1])], open(sys.argv[2]).read().strip().splitlines()
rate, duration, streams, tokens, bound, step = sys.argv[3:9]
print("Environment:\n")
for line in env: print(f"- {line}")
def table(stream):
    rows = [r for r in results if r["mode"] == "open" and r["stream"] == stream]
    key = "ttft_ms" if stream else "latency_ms"
    direct = next((r for r in rows if r["label"] == "direct"), None)
    what = "time to first token (ms)" if stream else "latency (ms)"
    print(f"\n{'Streamed' if stream else 'Not streamed'}, {rate} req/s open-loop for {duration} s, max_tokens 1: {what}, "
          "from each request's scheduled time; overhead = quantile minus the direct quantile.\n")
    print("| target | ok | errors | p50 | p90 | p99 | max | overhead p50 | overhead p90 | overhead p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        q = r.get(key, {})
        cells = [f"{q.get(k, float('nan')):.3f}" for k in ("p50", "p90", "p99", "max")]
        if r is direct or direct is None or key not in direct:
            over = ["-", "-", "-"]
        else:
            over = [f"{q[k] - direct[key][k]:+.3f}" for k in ("p50", "p90", "p99")]
        print(f"| {r['label']} | {r['ok']}/{r['measured']} | {r['errors'] + r['not_sent']} | " + " | ".join(cells + over) + " |")
table(False)
table(True)
holds = [r for r in results if r["mode"] == "hold"]
if holds:
    print(f"\n{streams} concurrent streams (max_tokens {tokens}, 50 ms decode step; the emulator runs 256 at a time "
          "and queues the rest, each stream's headers sent at once), opened at 2000/s:\n")
    print("| proxy | completed | errors | s to open all | RSS idle (MiB) | RSS all open (MiB) | per open stream (KiB) | fds idle / all open | TTFT p50 / p99 (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in holds:
        print(f"| {r['label']} | {r['completed']} | {r['errors']} | {r.get('seconds_to_open_all', float('nan')):.2f} | "
              f"{r['rss_idle_kb']/1024:.1f} | {r.get('rss_all_open_kb', -1)/1024:.1f} | {r['kb_per_stream']:.1f} | "
              f"{r['fds_idle']} / {r.get('fds_all_open', -1)} | {r['ttft_ms']['p50']:.0f} / {r['ttft_ms']['p99']:.0f} |")
steps = [r for r in results if r["mode"] == "steps"]
if steps:
    print(f"\nHighest sustained rate (not streamed, max_tokens 1; {step} s per rate; sustained: achieved >= 98% of offered, "
          f"no errors, p99 <= {bound} ms; stepping stops at the first rate not sustained):\n")
    print("| target | highest sustained (req/s) | rates tried: achieved req/s, p99 ms, errors |")
    print("|---|---|---|")
    for r in steps:
        tried = "; ".join(f"{s['offered_rps']:.0f}: {s['achieved_rps']:.0f}, {s.get('latency_ms', {}).get('p99', float('nan')):.1f}, "
                          f"{s['errors'] + s['not_sent']}{'' if s['sustained'] else ' (not sustained)'}" for s in r["steps"])
        print(f"| {r['label']} | {r['highest_sustained_rps']:.0f} | {tried} |")
errors = [(r["label"], e) for r in results for e in r.get("first_errors", [])]
if errors:
    print("\nFirst errors:\n")
    for label, e in errors[:10]: print(f"- {label}: {e}")
PYEOF
echo
cat report.md
echo
echo "report: $WORK/report.md (raw: $RESULTS)"
