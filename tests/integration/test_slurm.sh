#!/usr/bin/env bash
# test_slurm.sh - starts a real single-node Slurm (Debian's slurm-wlm and
# munge: munged, slurmctld, slurmd on this machine, generated slurm.conf,
# private sockets, ports and state), submits the CI sweep (jobs/ci.job) with sbatch
# through deploy/slurm/rove.sbatch, waits for it, compares its summary with
# a direct mpirun run, and stops everything. Skips (exit 77, which ctest reports as skipped)
# only when slurm-wlm/munge are not installed.
set -euo pipefail
: "${ROVE_BIN:?set by ctest}" "${ROVE_SRC:?set by ctest}"
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"

for b in munged slurmctld slurmd sbatch squeue scontrol; do
  if ! command -v "$b" >/dev/null; then
    echo "SKIP: $b not installed (deploy/install-deps.sh installs slurm-wlm munge)"
    exit 77
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: starting slurmd needs root"
  exit 77
fi

W=$(mktemp -d /tmp/rove-slurm.XXXXXX)
chmod 755 "$W"
pids=()
cleanup() {
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -n "${jobid:-}" ]; then
    scancel "$jobid" 2>/dev/null
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  # Tasks slurmd started for the job are its children: gone with it.
  rm -rf "$W"
}
trap cleanup EXIT
FAIL_LOGS="$W/*.log $W/run/*.out"
. "$(dirname "$0")/lib.sh"

# A free TCP port (bind-test through bash's /dev/tcp: refused = free).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo 0
}

# munge with a private key and socket.
dd if=/dev/urandom of="$W/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge.key"
mkdir -p "$W/munge"
chmod 700 "$W/munge"
munged --force --key-file="$W/munge.key" --socket="$W/munge/munge.sock" \
  --pid-file="$W/munge/munged.pid" --log-file="$W/munged.log" \
  --seed-file="$W/munge/seed" 2>>"$W/munged.log" || fail "munged did not start"
for _ in $(seq 1 50); do [ -s "$W/munge/munged.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$W/munge/munged.pid")")

host=$(hostname -s)
ctl_port=$(free_port)
d_port=$(free_port)
mkdir -p "$W/state" "$W/spool" "$W/run"
cat >"$W/slurm.conf" <<CONF
ClusterName=rovetest
SlurmctldHost=$host
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/munge/munge.sock
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# The demo runs 3 ranks on this 2-core machine: declare 3 CPUs.
SlurmdParameters=config_overrides
NodeName=$host CPUs=3 State=UNKNOWN
PartitionName=rovetest Nodes=ALL Default=YES MaxTime=30 State=UP
CONF
export SLURM_CONF="$W/slurm.conf"
slurmctld -c -D -f "$SLURM_CONF" >>"$W/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$W/slurmd.log" 2>&1 &
pids+=($!)
ok=0
for _ in $(seq 1 150); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)'; then
    ok=1
    break
  fi
  sleep 0.2
done
[ "$ok" = 1 ] || fail "Slurm node did not come up: $(sinfo 2>&1 | tail -2)"

# Submit the CI sweep (mpirun inside the allocation: pmix may be absent).
cd "$W/run"
jobid=$(ROVE="$ROVE_BIN/rove" ROVE_LAUNCH=mpirun ROVE_MPIRUN_ARGS="--oversubscribe" \
  sbatch --parsable --ntasks=3 --time=10 --export=ALL \
  "$ROVE_SRC/deploy/slurm/rove.sbatch" "$ROVE_SRC/jobs/ci.job" "$W/slurm-out") ||
  fail "sbatch failed"
echo "submitted job $jobid"

# Meanwhile, the same sweep directly.
mpirun --oversubscribe --timeout 600 -np 2 "$ROVE_BIN/rove" sweep \
  "$ROVE_SRC/jobs/ci.job" --out "$W/direct" --quiet ||
  fail "direct mpirun sweep failed"

state=""
for _ in $(seq 1 1200); do
  state=$(scontrol show job "$jobid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
  sleep 0.5
done
[ "$state" = COMPLETED ] || fail "Slurm job $jobid ended $state"
[ -s "$W/slurm-out/summary.csv" ] || fail "the Slurm job wrote no summary"
diff <(sed 's/,[^,]*$//' "$W/direct/summary.csv") \
  <(sed 's/,[^,]*$//' "$W/slurm-out/summary.csv") ||
  fail "Slurm and direct summaries differ"
diff "$W/direct/per_example.csv" "$W/slurm-out/per_example.csv" ||
  fail "Slurm and direct verdicts differ"
echo "ok: sbatch demo sweep equals the direct mpirun run"
