#!/usr/bin/env bash
# demo.sh - README command one: on a fresh Debian 12 machine (as root) it
# installs the dependencies, builds rove (release preset), trains the demo
# zoo (reused when already trained), starts a local rove-agent for the
# sweep's energy hub (the machine's own sensor, else the labelled estimate
# back-end), runs `mpirun -np 3 rove sweep jobs/demo.job`, writes the
# report, prints the summary table and the report's path, and stops the
# agent on exit. Pieces not in the tree yet are named at the end (exit 1).
#   deploy/demo.sh [--skip-deps] [--np N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NP=3
SKIP_DEPS=0
while [ $# -gt 0 ]; do
  case "$1" in
  --skip-deps) SKIP_DEPS=1 ;;
  --np) NP=$2; shift ;;
  -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

T0=$SECONDS
missing=()
step() { printf '\n== [%3ds] %s\n' $((SECONDS - T0)) "$*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

export OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

step "dependencies (deploy/install-deps.sh)"
if [ "$SKIP_DEPS" -eq 0 ]; then
  bash deploy/install-deps.sh || die "installing dependencies failed"
fi

step "build (cmake --preset release)"
cmake --preset release >/dev/null || die "cmake configure failed"
# Only the two programs the demo runs (the tests build with `ctest`).
targets=(--target rove)
[ -f energy_agents/main.c ] && targets+=(--target rove-agent)
cmake --build --preset release "${targets[@]}" || die "build failed"
BIN="$ROOT/build/bin"
[ -x "$BIN/rove" ] || die "build/bin/rove was not built"

JOB=jobs/demo.job
[ -f "$JOB" ] || die "$JOB is missing"

step "model zoo"
if [ -f jobs/zoo-demo.zoo ]; then
  # rove train skips models whose log shows the same settings and hash.
  "$BIN/rove" train jobs/zoo-demo.zoo --quiet || die "rove train jobs/zoo-demo.zoo failed"
else
  missing+=("jobs/zoo-demo.zoo (the demo zoo: saturated-logit, low-bit quantized and initialization-sensitive models)")
  echo "jobs/zoo-demo.zoo is not in the tree yet: the sweep uses the models $JOB names"
fi

# The hub address and token come from the job's [energy] section.
ini_get() { # SECTION KEY
  awk -v s="[$1]" -v k="$2" '
    /^[ \t]*\[/ { cur = $0; gsub(/[ \t]/, "", cur); next }
    cur == s { line = $0; sub(/[;#].*/, "", line)
      if (split(line, kv, "=") >= 2) { key = kv[1]; gsub(/[ \t]/, "", key)
        if (key == k) { v = substr(line, index(line, "=") + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit } } }' "$JOB"
}

AGENT_PID=""
cleanup() {
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    echo "demo.sh: stopped rove-agent (pid $AGENT_PID)"
  fi
}
trap cleanup EXIT

step "energy agent"
if ! [ -x "$BIN/rove-agent" ]; then
  missing+=("rove-agent (energy_agents/main.c)")
elif ! grep -q '^\[energy\]' "$JOB"; then
  missing+=("an [energy] section in $JOB (the sweep's energy hub: listen, port, token, boards)")
  echo "$JOB has no [energy] section: energy will be reported as pending"
else
  port=$(ini_get energy port)
  port=${port:-7878}
  token=$(ini_get energy token)
  boards=$(ini_get energy boards)
  board=${boards%%,*}
  board=$(echo "${board:-local}" | tr -d ' ')
  [ -n "$token" ] || die "$JOB: [energy] has no token file"
  case "$token" in /*) ;; *) token="$(dirname "$JOB")/$token" ;; esac
  if ! [ -s "$token" ]; then
    mkdir -p "$(dirname "$token")"
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token")
    echo "created the hub token $token"
  fi
  "$BIN/rove-agent" sensors 2>&1 | sed 's/^/  /' || true
  mkdir -p runs
  "$BIN/rove-agent" --hub "127.0.0.1:$port" --token-file "$token" \
    --board "$board" --sensor auto >runs/demo-agent.log 2>&1 &
  AGENT_PID=$!
  echo "rove-agent (pid $AGENT_PID) board '$board' -> hub 127.0.0.1:$port; log runs/demo-agent.log"
fi

if ! grep -Eq '^[ \t]*preset[ \t]*=[ \t]*naive\+(scaled|bpda|odi)' "$JOB"; then
  missing+=("the ablation profiles (naive+scaled, naive+bpda, naive+odi) in $JOB")
fi

OUT="$ROOT/runs/demo-$(date +%Y%m%d-%H%M%S)"
step "sweep: mpirun -np $NP rove sweep $JOB (output $OUT)"
mpirun --timeout 1500 -np "$NP" "$BIN/rove" sweep "$JOB" --out "$OUT" ||
  die "the sweep failed (its journal is in $OUT; resume with: mpirun -np $NP $BIN/rove sweep $JOB --out $OUT --resume)"

[ -f "$OUT/run.json" ] || missing+=("run.json from the sweep (coordinator/sweep.c should call rove_run_write; see coordinator/REPORT.md)")
grep -q '^model.*,energy_' "$OUT/summary.csv" || missing+=("energy columns in summary.csv (the sweep's hub join)")

step "report"
"$BIN/rove" report "$OUT" >/dev/null || die "rove report failed"

step "summary"
# Columns by name, so extra or reordered columns do not matter.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i
    e = 0; for (i = 1; i <= NF; i++) if ($i ~ /^energy_.*_j$/ && !e) e = i
    printf "%-14s %-14s %8s %9s %10s %12s\n", "model", "profile", "eps", "clean_acc", "robust_acc", "energy_J"; next }
  { printf "%-14s %-14s %8s %9s %10s %12s\n", $c["model"], $c["profile"], $c["eps"], $c["clean_acc"], $c["robust_acc"], e ? ($e == "" ? "pending" : $e) : "pending" }' \
  "$OUT/summary.csv"
echo
echo "report: $OUT/report.html"
echo "demo wall time: $((SECONDS - T0)) s"

if [ ${#missing[@]} -gt 0 ]; then
  echo >&2
  echo "demo.sh: ran what exists; these pieces are missing from the tree:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
