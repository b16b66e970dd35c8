#!/usr/bin/env bash
# bench_sweep.sh - sweep figures (not a test: prints numbers, asserts
# nothing about speed). Parallel efficiency of -np 3 (2 workers) against
# -np 2 (1 worker) on a job, rank 0's CPU share, and what skipping saves:
# gradient evaluations with and without skipping, with identical verdicts.
#   ROVE_BIN=build/bin bash tests/mpi/bench_sweep.sh [JOB]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rove=${ROVE_BIN:-$here/build/bin}/rove
job=${1:-$here/jobs/demo.job}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
w=$(mktemp -d /tmp/rove-bench.XXXXXX)
trap 'rm -rf "$w"' EXIT
echo "job: $job; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # NP OUT [ARGS]: prints wall seconds and rank 0's CPU share
  local np=$1 out=$2
  shift 2
  local t0 t1
  t0=$(date +%s.%N)
  mpirun --oversubscribe -np "$np" "$rove" sweep "$job" --out "$out" "$@" \
    2>"$out.log" >/dev/null
  t1=$(date +%s.%N)
  local cpu
  cpu=$(sed -n 's/.*rank 0 used \([0-9.]*\) s CPU (\([0-9.]*\)%.*/\1 s, \2%/p' "$out.log")
  echo "$(echo "$t1 - $t0" | bc)|$cpu"
}

r2=$(run 2 "$w/np2")
r3=$(run 3 "$w/np3")
t2=${r2%%|*}
t3=${r3%%|*}
echo "-np 2 (1 worker):  ${t2} s wall (mpirun included); rank 0 CPU ${r2#*|}"
echo "-np 3 (2 workers): ${t3} s wall; rank 0 CPU ${r3#*|}"
echo "parallel efficiency np3 vs np2: $(echo "scale=3; $t2 / (2 * $t3)" | bc)"

run 2 "$w/noskip" --no-skip >/dev/null
sum() { awk -F, 'NR > 1 { s += $14 } END { print s }' "$1/summary.csv"; }
g1=$(sum "$w/np2")
g0=$(sum "$w/noskip")
echo "gradient evaluations: skipping $g1, no skipping $g0, ratio $(echo "scale=3; $g1 / $g0" | bc)"
if diff <(cut -d, -f1-9 "$w/np2/per_example.csv") \
  <(cut -d, -f1-9 "$w/noskip/per_example.csv") >/dev/null; then
  echo "verdicts with and without skipping: identical"
else
  echo "verdicts with and without skipping: DIFFER"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
