# sweep_lib.sh - helpers shared by the sweep's MPI tests (sourced).
set -euo pipefail
: "${ROVE_BIN:?set by ctest}" "${ROVE_SRC:?set by ctest}"
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# LeakSanitizer reports Open MPI's own allocations (common/NUMERICS.md).
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
ROVE="$ROVE_BIN/rove"
JOB="$ROVE_SRC/jobs/ci.job"
WORK=$(mktemp -d /tmp/rove-mpi-test.XXXXXX)
cleanup() { [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

# run_sweep NP OUT [ARGS...]: a sweep that cannot hang the test suite.
run_sweep() {
  local np=$1 out=$2
  shift 2
  mpirun --oversubscribe --timeout 300 -np "$np" "$ROVE" sweep "$JOB" \
    --out "$out" --quiet "$@"
}

# strip_timing FILE: summary.csv without its timing column (wall_s, last).
strip_timing() { sed 's/,[^,]*$//' "$1"; }

# same_results A B: identical verdicts and aggregates, timing aside.
same_results() {
  diff <(strip_timing "$1/summary.csv") <(strip_timing "$2/summary.csv")
  diff "$1/per_example.csv" "$2/per_example.csv"
}

# rank_pid MPIRUN_PID RANK: the pid of that rank among mpirun's children.
rank_pid() {
  for p in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
      grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
