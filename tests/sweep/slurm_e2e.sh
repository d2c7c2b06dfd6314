#!/usr/bin/env bash
# A real Slurm, end to end: installs slurm-wlm and munge (apt-get) when missing, starts a
# single-node cluster on loopback by hand (munged, slurmctld, slurmd; own config, ports, socket
# and state under /var/tmp), submits the shipped experiments/slurm scripts for a small grid as a
# 4-task array plus the dependent merge job, waits for them by polling squeue, and checks that
# the merged table equals a local unsharded run's, byte for byte.
#
#   tests/sweep/slurm_e2e.sh BESTSERVE_BINARY SOURCE_DIR      (ctest: sweep_slurm_e2e, label slurm)
#
# Needs root (apt-get; the daemons and jobs run as root). Where Slurm cannot be installed or
# started, the test FAILS with the reason; it never passes without having run the jobs. The
# daemons it started are stopped by PID on every exit (trap), and nothing outside its own
# temporary folder is written (besides the apt packages), so it can run beside other tests.
set -euo pipefail

BESTSERVE="${1:?usage: slurm_e2e.sh BESTSERVE_BINARY SOURCE_DIR}"
SOURCE_DIR="${2:?usage: slurm_e2e.sh BESTSERVE_BINARY SOURCE_DIR}"
NTASKS=4
TIMEOUT_S="${SLURM_E2E_TIMEOUT_S:-300}"
START_S=$SECONDS

WORK=""
PIDS=()
JOBS=""

log() { echo "slurm_e2e: $*"; }
dump_logs() {
  [[ -n "$WORK" && -d "$WORK" ]] || return 0
  for f in "$WORK"/log/*.log "$WORK"/out/logs/*.out; do
    [[ -f "$f" ]] || continue
    echo "----- $f (last 25 lines)"
    tail -n 25 "$f"
  done
}
fail() {
  echo "slurm_e2e: FAIL: $*" >&2
  dump_logs >&2
  exit 1
}

cleanup() {
  local rc=$?
  set +e
  if [[ -n "$JOBS" && -n "${SLURM_CONF:-}" ]]; then
    scancel ${JOBS//,/ } >/dev/null 2>&1
  fi
  # Stop what we started, by PID, newest first; TERM, then KILL after 10 s.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null
  done
  for ((t = 0; t < 100; t++)); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  done
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if ((rc == 0)) && [[ -z "${SLURM_E2E_KEEP:-}" ]]; then
      rm -rf "$WORK"
    else
      echo "slurm_e2e: kept $WORK for inspection" >&2
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ "$(id -u)" -eq 0 ]] || fail "needs root: it installs slurm-wlm and munge with apt-get and runs slurmctld and slurmd as root"
[[ -x "$BESTSERVE" ]] || fail "no bestserve executable at $BESTSERVE"
[[ -x "$SOURCE_DIR/experiments/slurm/submit.sh" ]] || fail "no $SOURCE_DIR/experiments/slurm/submit.sh"

# --- install -------------------------------------------------------------------------------
missing=()
for pkg in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || fail "slurm-wlm/munge missing and no apt-get to install them (not Debian?)"
  log "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 || fail "apt-get update failed (no network or mirror?)"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    fail "apt-get install ${missing[*]} failed"
fi
for tool in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
  command -v "$tool" >/dev/null || fail "'$tool' not found after installing slurm-wlm and munge"
done

# --- configure -----------------------------------------------------------------------------
WORK="$(mktemp -d /var/tmp/bestserve-slurm-e2e.XXXXXX)"
chmod 700 "$WORK"
mkdir -p "$WORK/munge" "$WORK/state" "$WORK/spool" "$WORK/log" "$WORK/out"
chmod 700 "$WORK/munge"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if port_free "$port" && [[ "$port" != "${1:-}" ]]; then
      echo "$port"
      return 0
    fi
  done
  return 1
}
CTLD_PORT="$(pick_port)" || fail "no free TCP port for slurmctld"
SLURMD_PORT="$(pick_port "$CTLD_PORT")" || fail "no free TCP port for slurmd"

HOST="$(hostname -s)"
NODE_LINE="$(slurmd -C 2>/dev/null | head -n 1)" || true
[[ "$NODE_LINE" == NodeName=* ]] || fail "'slurmd -C' did not describe this node (got: '$NODE_LINE')"
NODE_NAME="$(sed 's/^NodeName=\([^ ]*\).*/\1/' <<<"$NODE_LINE")"
[[ "$NODE_NAME" == "$HOST" ]] || NODE_LINE="${NODE_LINE/NodeName=$NODE_NAME/NodeName=$HOST}"

mungekey --create --keyfile="$WORK/munge/munge.key" >/dev/null 2>&1 ||
  dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$WORK/munge/munge.key"

export SLURM_CONF="$WORK/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# Single-node Slurm on loopback for tests/sweep/slurm_e2e.sh (throwaway).
ClusterName=bestserve-e2e
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$WORK/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=e2e Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

# --- start ---------------------------------------------------------------------------------
munged --foreground --force --socket="$WORK/munge/munge.sock" --key-file="$WORK/munge/munge.key" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/log/munged.log" --seed-file="$WORK/munge/munge.seed" \
  >>"$WORK/log/munged.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [[ -S "$WORK/munge/munge.sock" ]] && break; sleep 0.1; done
[[ -S "$WORK/munge/munge.sock" ]] || fail "munged did not start (no socket $WORK/munge/munge.sock)"

slurmctld -D -f "$SLURM_CONF" >>"$WORK/log/slurmctld.stdout.log" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >>"$WORK/log/slurmd.stdout.log" 2>&1 &
PIDS+=($!)
log "munged, slurmctld, slurmd started (pids ${PIDS[*]}; ports $CTLD_PORT, $SLURMD_PORT; $WORK)"

state=""
for _ in $(seq 1 300); do
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a Slurm daemon (pid $pid) exited during start-up"; done
  state="$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null || true)"
  [[ "$state" == idle* ]] && break
  sleep 0.2
done
[[ "$state" == idle* ]] || fail "the node did not become idle within 60 s (state: '${state:-no answer from slurmctld}')"
log "node $HOST idle after $((SECONDS - START_S)) s"

# --- the sweep -----------------------------------------------------------------------------
GRID="$WORK/grid.yaml"
cat >"$GRID" <<'EOF'
name: slurm_e2e
fixed:
  workload.duration_s: 10
axes:
  rate_rps: [1, 4, 12]
  router: [greedy, dedicated:opt-6.7b, threshold]
  seed: {count: 2}
EOF

log "local unsharded reference run"
"$BESTSERVE" sweep run "$GRID" --out "$WORK/local" -q >"$WORK/log/local.log" 2>&1 || fail "local run failed: $(cat "$WORK/log/local.log")"
"$BESTSERVE" sweep merge "$WORK/local" >>"$WORK/log/local.log" 2>&1 || fail "local merge failed: $(cat "$WORK/log/local.log")"

log "submitting $NTASKS array tasks + merge with experiments/slurm/submit.sh"
submitted="$(BESTSERVE="$BESTSERVE" "$SOURCE_DIR/experiments/slurm/submit.sh" "$GRID" "$WORK/out" "$NTASKS" \
  --cpus-per-task=1 2>&1)" || fail "submit.sh failed: $submitted"
echo "$submitted" | sed 's/^/  /'
ARRAY_JOB="$(sed -n 's/^array_job=\([0-9]*\)$/\1/p' <<<"$submitted")"
MERGE_JOB="$(sed -n 's/^merge_job=\([0-9]*\)$/\1/p' <<<"$submitted")"
[[ -n "$ARRAY_JOB" && -n "$MERGE_JOB" ]] || fail "submit.sh printed no job ids"
JOBS="$ARRAY_JOB,$MERGE_JOB"

deadline=$((SECONDS + TIMEOUT_S))
while :; do
  queued="$(squeue -h -j "$JOBS" -o '%i %T %r' 2>/dev/null)" || fail "squeue failed"
  [[ -z "$queued" ]] && break
  ((SECONDS < deadline)) || fail "jobs not done after ${TIMEOUT_S} s:"$'\n'"$queued"
  sleep 0.5
done
log "jobs left the queue after $((SECONDS - START_S)) s"

# Every array task and the merge must have completed (they stay known to slurmctld for
# MinJobAge seconds).
states="$(scontrol -o show job "$ARRAY_JOB" 2>/dev/null | sed -n 's/.*JobId=\([0-9]*\) .*ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*/task \2: \3/p')"
merge_state="$(scontrol -o show job "$MERGE_JOB" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\) .*/\1/p')"
echo "$states" | sed 's/^/  /'
echo "  merge: $merge_state"
[[ "$(grep -c ': COMPLETED$' <<<"$states")" -eq "$NTASKS" ]] || fail "not every array task completed:"$'\n'"$states"
[[ "$merge_state" == COMPLETED ]] || fail "the merge job ended $merge_state"

for k in $(seq 0 $((NTASKS - 1))); do
  grep -q "shard $k/$NTASKS (Slurm array task $k)" "$WORK"/out/logs/sweep-"${ARRAY_JOB}"_*.out ||
    fail "no array task ran shard $k/$NTASKS"
done
for f in merged.csv merged.json paired.csv; do
  [[ -f "$WORK/out/$f" ]] || fail "the merge job wrote no $f"
  cmp -s "$WORK/out/$f" "$WORK/local/$f" || fail "$f of the Slurm run differs from the local unsharded run's"
done
rows="$(($(wc -l <"$WORK/out/merged.csv") - 1))"
[[ "$rows" -eq 18 ]] || fail "expected 18 merged rows, got $rows"
log "PASS: $NTASKS-task array + merge on a real Slurm gave the local table ($rows rows, byte-identical) in $((SECONDS - START_S)) s"
