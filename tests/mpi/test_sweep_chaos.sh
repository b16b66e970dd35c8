#!/usr/bin/env bash
# test_sweep_chaos.sh - one sweep driven to completion through repeated
# crashes: CHAOS_KILLS times (default 10; tests/mpi/chaos_long.sh runs
# 100) kill -9 a random rank — the coordinator included — at a random
# moment (while ranks start, while the journal is replayed on --resume,
# while units are journaled), then resume. The final summary and
# per-example verdicts must equal an uninterrupted run's, with no unit lost
# or counted twice. The kill schedule comes from CHAOS_SEED (default 1),
# so a failure can be replayed. Then the directory lock: a second sweep on
# a directory in use is refused, naming the holder. (MPI ranks: 3.)
source "$(dirname "$0")/sweep_lib.sh"
KILLS=${CHAOS_KILLS:-10}
RANDOM=${CHAOS_SEED:-1}
# The CI job on four times the examples: enough work for the kills to land.
sed -e "s|\.\./tests/fixtures/|$ROVE_SRC/tests/fixtures/|" \
  -e 's|^data = fashion-mnist:test\[100:130\]|data = fashion-mnist:test[100:220]|' \
  "$ROVE_SRC/jobs/ci.job" >"$WORK/chaos.job"
JOB=$WORK/chaos.job

run_sweep 2 "$WORK/ref"
units=$(awk -F, 'NR > 1 { s += $12 } END { print s }' "$WORK/ref/summary.csv")

rank_pid() { # MPIRUN_PID RANK
  for p in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
      grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

D=$WORK/chaos
kills=0 finished=0 attempt=0
while [ $kills -lt "$KILLS" ] && [ $attempt -lt $((KILLS * 4)) ]; do
  attempt=$((attempt + 1))
  args=()
  [ -e "$D/journal" ] && args=(--resume)
  mpirun --oversubscribe --timeout 300 -np 3 "$ROVE" sweep "$JOB" \
    --out "$D" --quiet "${args[@]}" >"$WORK/chaos-$attempt.log" 2>&1 &
  mp=$!
  # A random moment: 0.05 to 0.8 s after the victim rank has started
  # (early moments fall in MPI start-up and the journal's replay).
  victim_rank=$((RANDOM % 3))
  victim=
  for _ in $(seq 1 100); do
    victim=$(rank_pid "$mp" $victim_rank || true)
    [ -n "$victim" ] && break
    kill -0 "$mp" 2>/dev/null || break
    sleep 0.02
  done
  delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.05 + 0.75 * r / 32767 }')
  sleep "$delay"
  if [ -n "$victim" ] && kill -0 "$mp" 2>/dev/null; then
    kill -9 "$victim" 2>/dev/null && kills=$((kills + 1))
  fi
  rc=0
  wait "$mp" || rc=$?
  # The sweep got to the end before the kill, or the kill hit a rank after
  # the coordinator had written the complete summary (rc != 0 then).
  if [ "$rc" -eq 0 ] || grep -q '"complete": true' "$D/summary.json" 2>/dev/null; then
    finished=1
    break
  fi
  [ ! -e "$D/summary.csv" ] || fail "a killed sweep wrote an incomplete summary (attempt $attempt)"
done
echo "chaos: $kills kills in $attempt attempts (seed ${CHAOS_SEED:-1})"
if [ $finished -eq 0 ]; then
  args=()
  [ -e "$D/journal" ] && args=(--resume)
  run_sweep 3 "$D" "${args[@]}" 2>"$WORK/chaos-final.log" ||
    fail "the final resume failed: $(tail -5 "$WORK/chaos-final.log")"
fi
same_results "$WORK/ref" "$D" >&2 || fail "results after $kills kills differ from the uninterrupted run"
got=$(awk -F, 'NR > 1 { s += $12 } END { print s }' "$D/summary.csv")
[ "$got" = "$units" ] || fail "units $got after the kills, $units uninterrupted"
[ $kills -ge $((KILLS / 2)) ] || fail "only $kills kills landed (the sweep is too short for the schedule)"
echo "ok: $kills kills of random ranks (coordinator included), then resume: identical results"

# Two sweeps on one directory: the second is refused, naming the first,
# and the first's results are untouched.
mpirun --oversubscribe --timeout 300 -np 2 "$ROVE" sweep "$JOB" \
  --out "$WORK/lock" --quiet >"$WORK/lock1.log" 2>&1 &
mp=$!
for _ in $(seq 1 200); do
  [ -s "$WORK/lock/lock" ] && break
  sleep 0.05
done
rc=0
mpirun --oversubscribe --timeout 300 -np 2 "$ROVE" sweep "$JOB" \
  --out "$WORK/lock" --quiet --resume >"$WORK/lock2.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a second sweep on a directory in use was not refused"
grep -q "is in use by another sweep (pid" "$WORK/lock2.log" ||
  fail "the refusal does not name the holder: $(cat "$WORK/lock2.log")"
wait "$mp" || fail "the first sweep failed after the refused second one"
grep -q '"complete": true' "$WORK/lock/summary.json" || fail "the first sweep did not complete"
echo "ok: a second sweep on a directory in use is refused"
