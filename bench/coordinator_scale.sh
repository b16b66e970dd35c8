#!/usr/bin/env bash
# coordinator_scale.sh - how far one sweep coordinator (rank 0) scales. Not
# a test: prints figures, asserts nothing about speed. Units cost almost
# nothing (the demo zoo's MLP, one example per shard, 2 PGD steps, one
# restart, --no-skip so every unit runs), so rank 0's own work dominates.
#   ROVE_BIN=build/bin bash bench/coordinator_scale.sh [ranks|units|all]
# ranks: 10^4 units at -np 8, 32 and 64 (oversubscribed): units/s, rank
#        0's CPU time per unit and share of a core.
# units: 10^4, 10^5 and 10^6 units at -np 3: rank 0's peak RSS, journal
#        bytes per unit, and the replay time of a --resume of the finished
#        sweep (which writes the summary again and runs nothing).
# Rank 0 runs pinned to CPU 0 and the workers share the others (a
# coordinator has its own core on a cluster), so its busy time per unit
# (receiving and recording a result, dispatching the next unit; not its
# idle polling) is its own cost, not time spent descheduled. The ceiling:
# one coordinator keeps R ranks busy with units of L seconds while
# R / L x (busy s per unit) < 1; see jobs/README.md, "Scale".
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rove=${ROVE_BIN:-$here/build/bin}/rove
what=${1:-all}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
w=$(mktemp -d /tmp/rove-scale.XXXXXX)
trap 'rm -rf "$w"' EXIT
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# job EXAMPLES N_EPS RESTARTS: writes $w/job.ini for EXAMPLES x N_EPS x
# RESTARTS units.
job() {
  local eps
  eps=$(awk -v k="$2" 'BEGIN { for (i = 1; i <= k; i++) printf "%s%.3f", (i > 1 ? ", " : ""), 0.01 * i }')
  cat >"$w/job.ini" <<JOB
[job]
name = scale
data = fashion-mnist:test[0:$1]
seed = 1
shard = 1

[model mlp]
path = $here/models/demo/mlp-256-128-fp32.rove

[profile tiny]
preset = naive
steps = 2
restarts = $3

[sweep]
eps = $eps
JOB
}

cat >"$w/pin.sh" <<'PIN'
#!/bin/sh
# rank 0 on CPU 0, the workers on the others
last=$(($(nproc) - 1))
if [ "$OMPI_COMM_WORLD_RANK" = 0 ] || [ "$last" = 0 ]; then exec taskset -c 0 "$@"; fi
exec taskset -c "1-$last" "$@"
PIN
chmod +x "$w/pin.sh"

# sweep NP OUT [ARGS]: runs it; prints "wall cpu rss loop busy_us" of rank
# 0 (wall: mpirun's whole run; loop: the coordinator's dispatch loop).
sweep() {
  local np=$1 out=$2 t0 t1
  shift 2
  t0=$(date +%s.%N)
  mpirun --oversubscribe --bind-to none -np "$np" "$w/pin.sh" "$rove" sweep "$w/job.ini" --out "$out" \
    --no-skip "$@" 2>"$out.log" >/dev/null || { tail "$out.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  local cpu rss loop
  cpu=$(sed -n 's/.*rank 0 used \([0-9.]*\) s CPU.*/\1/p' "$out.log")
  rss=$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$out.log")
  loop=$(sed -n 's/.*done in \([0-9.]*\) s;.*/\1/p' "$out.log")
  busy=$(sed -n 's/.*busy [0-9.]* s (\([0-9.]*\) us per unit).*/\1/p' "$out.log")
  echo "$(echo "$t1 - $t0" | bc) $cpu $rss $loop $busy"
}

if [ "$what" = ranks ] || [ "$what" = all ]; then
  job 2000 5 1
  echo
  echo "| ranks | mpirun wall s | dispatch loop s | units/s (loop) | rank 0 CPU s (incl. idle polling) | rank 0 busy µs/unit | ranks it could feed with 1-s units |"
  echo "|---|---|---|---|---|---|---|"
  for np in 8 32 64; do
    read -r wall cpu _ loop busy < <(sweep "$np" "$w/np$np")
    awk -v np="$np" -v n=12000 -v w="$wall" -v c="$cpu" -v l="$loop" -v b="$busy" 'BEGIN {
      printf "| %d | %.1f | %.1f | %.0f | %.2f | %.1f | %.0f |\n", np, w, l, n / l, c, b, 1e6 / b }'
    rm -rf "$w/np$np"
  done
fi

if [ "$what" = units ] || [ "$what" = all ]; then
  echo
  echo "| units | dispatch loop s | units/s | rank 0 busy µs/unit | rank 0 peak RSS MiB | journal bytes/unit | resume: replay s | resume: peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|"
  for spec in "2000 5 1" "10000 10 1" "10000 10 10"; do
    set -- $spec
    n=$(($1 * $2 * $3))
    job "$1" "$2" "$3"
    read -r wall cpu rss loop busy < <(sweep 3 "$w/u$n")
    jb=$(stat -c %s "$w/u$n/journal")
    read -r _ _ rss2 < <(sweep 3 "$w/u$n" --resume)
    rt=$(sed -n 's/.*resumed .* in \([0-9.]*\) s.*/\1/p' "$w/u$n.log")
    awk -v n="$n" -v w="$loop" -v b="$busy" -v r="$rss" -v jb="$jb" -v rt="$rt" -v r2="$rss2" 'BEGIN {
      printf "| %d | %.1f | %.0f | %.1f | %.1f | %.1f | %.2f | %.1f |\n", n, w, n / w, b, r, jb / n, rt, r2 }'
    rm -rf "$w/u$n"
  done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
