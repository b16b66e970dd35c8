#!/usr/bin/env bash
# demo.sh - README command one: on a fresh Debian 12 machine (as root) it
# installs the dependencies, builds rove (release preset), trains the demo
# zoo (reused when already trained), starts a local rove-agent for the
# sweep's energy hub (the machine's own sensor, else the labelled estimate
# back-end), runs `mpirun -np 3 rove sweep jobs/demo.job` (naive, the three
# single compensations, precise), writes the report, prints the summary
# table and the report's path, and stops the agent. Any failed step stops
# the demo with a message naming it and exit status 1.
#   deploy/demo.sh [--skip-deps] [--np N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NP=3
SKIP_DEPS=0
OUT="$ROOT/runs/demo-$(date +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
  --skip-deps) SKIP_DEPS=1 ;;
  --np) NP=${2:?--np needs a number}; shift ;;
  --out) OUT=${2:?--out needs a directory}; shift ;;
  -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo.sh: unknown option '$1' (expected --skip-deps, --np N, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
case "$NP" in '' | *[!0-9]* | 0) echo "demo.sh: --np '$NP': expected a positive integer" >&2; exit 2 ;; esac
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac

T0=$SECONDS
step() { printf '\n== [%3ds] %s\n' $((SECONDS - T0)) "$*"; }
die() {
  echo "demo.sh: FAILED after $((SECONDS - T0)) s: $*" >&2
  exit 1
}

export OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

# Background processes this script started (trainers, the agent); they are
# stopped on any exit, so a failed step never leaves them running.
AGENT_PID=""
BG_PIDS=()
cleanup() {
  for p in "${BG_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    echo "demo.sh: stopped rove-agent (pid $AGENT_PID)"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "dependencies (deploy/install-deps.sh)"
if [ "$SKIP_DEPS" -eq 0 ]; then
  bash deploy/install-deps.sh || die "installing the dependencies failed (deploy/install-deps.sh)"
else
  echo "skipped (--skip-deps)"
fi

step "build (cmake --preset release: rove and rove-agent)"
cmake --preset release >/dev/null || die "cmake configure failed"
# Only the two programs the demo runs (the tests build with `ctest`).
cmake --build --preset release --target rove --target rove-agent ||
  die "the build failed"
BIN="$ROOT/build/bin"
for b in rove rove-agent; do
  [ -x "$BIN/$b" ] || die "build/bin/$b was not built"
done

JOB=jobs/demo.job
ZOO=jobs/zoo-demo.zoo
[ -f "$JOB" ] || die "$JOB is missing"
[ -f "$ZOO" ] || die "$ZOO is missing"

step "model zoo ($ZOO -> models/demo/; the committed models are checked against their logs and reused)"
# Two trainers on disjoint models use both cores. Every model's weights
# depend only on its own spec and seed (one BLAS thread, fixed reduction
# order), never on which process trained it or what it trained before, so
# the zoo is bit-identical to a one-process `rove train $ZOO`. The split puts
# the two costliest models (SmallCNN x1, PGD adversarial training) and the
# x0.25 CNN on one side (~half the CPU time), everything else on the other.
mkdir -p "$OUT"
heavy="smallcnn-w1-fp32,smallcnn-w0.5-pgd,smallcnn-w0.25-fp32"
rest=$(awk '/^[ \t]*\[model[ \t]/ { n = $0; sub(/^[ \t]*\[model[ \t]+/, "", n)
    sub(/[ \t]*\].*$/, "", n); print n }' "$ZOO" |
  grep -vxF -e smallcnn-w1-fp32 -e smallcnn-w0.5-pgd -e smallcnn-w0.25-fp32 |
  paste -sd, -)
train_log="$OUT/train"
"$BIN/rove" train "$ZOO" --quiet --only "$heavy" >"$train_log-1.log" 2>&1 &
BG_PIDS+=($!)
if [ -n "$rest" ]; then
  "$BIN/rove" train "$ZOO" --quiet --only "$rest" >"$train_log-2.log" 2>&1 &
  BG_PIDS+=($!)
fi
train_rc=0
for p in "${BG_PIDS[@]}"; do
  wait "$p" || train_rc=1
done
BG_PIDS=()
cat "$train_log-1.log" "$train_log-2.log" 2>/dev/null || true
[ "$train_rc" -eq 0 ] || die "rove train $ZOO failed (logs: $train_log-1.log, $train_log-2.log)"
# One pass over the whole zoo: it only checks the models just trained, and
# trains any the split above did not name (a model added to the zoo file).
"$BIN/rove" train "$ZOO" --quiet >"$train_log-3.log" ||
  die "rove train $ZOO failed (log: $train_log-3.log)"
grep -v ' up to date (' "$train_log-3.log" || true

# The hub's port, token and board come from the job's [energy] section.
ini_get() { # SECTION KEY
  awk -v s="[$1]" -v k="$2" '
    /^[ \t]*\[/ { cur = $0; gsub(/[ \t]/, "", cur); next }
    cur == s { line = $0; sub(/[;#].*/, "", line)
      if (split(line, kv, "=") >= 2) { key = kv[1]; gsub(/[ \t]/, "", key)
        if (key == k) { v = substr(line, index(line, "=") + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit } } }' "$JOB"
}
grep -q '^\[energy\]' "$JOB" || die "$JOB has no [energy] section (the sweep's energy hub)"
port=$(ini_get energy port)
port=${port:-7878}
token=$(ini_get energy token)
boards=$(ini_get energy boards)
board=${boards%%,*}
board=$(echo "${board:-local}" | tr -d ' ')
[ -n "$token" ] || die "$JOB: [energy] has no token file"
# Relative paths in a job file are relative to the job file's directory.
case "$token" in /*) ;; *) token="$(dirname "$JOB")/$token" ;; esac
if ! [ -s "$token" ]; then
  mkdir -p "$(dirname "$token")"
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token")
  echo "created the hub token $token"
fi

step "energy agent (rove-agent --sensor auto --quick)"
"$BIN/rove-agent" sensors 2>&1 | sed 's/^/  /' || true
if "$BIN/rove-agent" sensors 2>&1 | grep -q 'scope estimate'; then
  echo "  no readable power sensor here: energies are the agent's analytical"
  echo "  ESTIMATE (labelled 'estimate' in summary.csv and the report)"
fi
# --quick: 0.3 s idle, 0.1 s warm-up and 3 windows of 0.4 s per model
# instead of the full protocol's 10 s / 5 s / 5 x 10 s, which for nine models
# would take about eight minutes on a core the sweep needs. Quick results
# carry the `quick` flag; measure a real board without it.
"$BIN/rove-agent" --hub "127.0.0.1:$port" --token-file "$token" \
  --board "$board" --sensor auto --quick --backoff-max 2 >"$OUT/agent.log" 2>&1 &
AGENT_PID=$!
sleep 0.5
kill -0 "$AGENT_PID" 2>/dev/null || die "rove-agent exited at start: $(cat "$OUT/agent.log")"
echo "rove-agent (pid $AGENT_PID) board '$board' -> hub 127.0.0.1:$port; log $OUT/agent.log"

step "sweep: mpirun -np $NP rove sweep $JOB --out $OUT"
# Progress goes to the terminal; the sweep's own 135-row table goes to
# sweep.log (the pivot below shows the same numbers in 27 rows).
mpirun --timeout 1500 -np "$NP" "$BIN/rove" sweep "$JOB" --out "$OUT" >"$OUT/sweep.log" ||
  die "the sweep failed (output: $OUT/sweep.log; resume with: mpirun -np $NP $BIN/rove sweep $JOB --out $OUT --resume)"

S="$OUT/summary.csv"
[ -f "$S" ] || die "the sweep wrote no $S"
[ -f "$OUT/run.json" ] || die "the sweep wrote no $OUT/run.json"
col=$(head -1 "$S" | tr ',' '\n' | grep -nx "energy_${board}_status" | cut -d: -f1) ||
  die "$S has no energy_${board}_status column (the hub's join)"
pending=$(awk -F, -v c="$col" 'NR > 1 && $c != "ok" { print $1 ": " $c }' "$S" | sort -u)
[ -z "$pending" ] || die "energy not measured for: $(echo "$pending" | paste -sd';' -) (agent log: $OUT/agent.log)"

step "report (rove report $OUT)"
"$BIN/rove" report "$OUT" >/dev/null || die "rove report $OUT failed"
[ -s "$OUT/report.html" ] || die "rove report wrote no $OUT/report.html"

step "summary (robust accuracy % per profile; energy per inference)"
# Columns by name, so extra or reordered columns do not matter; one row per
# (model, eps), one column per profile in the job's order.
awk -F, -v b="$board" '
  # energy with an SI prefix and 3 significant digits, as the report
  function si(j) { if (j == "") return "-"; j += 0
    if (j >= 1) return sprintf("%.3g J", j); if (j >= 1e-3) return sprintf("%.3g mJ", j * 1e3)
    if (j >= 1e-6) return sprintf("%.3g uJ", j * 1e6); return sprintf("%.3g nJ", j * 1e9) }
  NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  { k = $c["model"] SUBSEP $c["eps"]
    if (!(k in seen)) { seen[k] = 1; rows[++nr] = k; mod[nr] = $c["model"]; eps[nr] = $c["eps"]
      clean[k] = $c["clean_acc"]; ej[k] = $c["energy_" b "_j"]; es[k] = $c["energy_" b "_scope"] }
    if (!($c["profile"] in pseen)) { pseen[$c["profile"]] = 1; prof[++np] = $c["profile"] }
    acc[k, $c["profile"]] = $c["robust_acc"] }
  END {
    printf "%-24s %5s %6s", "model", "eps", "clean"
    for (p = 1; p <= np; p++) printf " %8s", prof[p]
    printf "  %-10s %s\n", "energy", "scope"
    for (r = 1; r <= nr; r++) { k = rows[r]
      printf "%-24s %5s %6.1f", mod[r], eps[r], 100 * clean[k]
      for (p = 1; p <= np; p++) printf " %8.1f", 100 * acc[k, prof[p]]
      printf "  %-10s %s\n", si(ej[k]), es[k] } }' "$S"
echo
echo "summary: $S"
echo "report:  $OUT/report.html"
echo "demo wall time: $((SECONDS - T0)) s"
