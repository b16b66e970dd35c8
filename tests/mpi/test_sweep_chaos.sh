#!/usr/bin/env bash
# test_sweep_chaos.sh - one sweep driven to completion through repeated
# crashes: CHAOS_KILLS times (default 10; tests/mpi/chaos_long.sh runs
# 100) kill -9 a random rank — the coordinator included — at a random
# moment (while ranks start, while the journal is replayed on --resume,
# while units are journaled), then resume. The final summary and
# per-example verdicts must equal an uninterrupted run's, with no unit lost
# or counted twice. The kill schedule comes from CHAOS_SEED (default 1),
# so a failure can be replayed. Then the same with energy measurements
# in flight (CHAOS_ENERGY_KILLS, default 6): the energy journal neither
# loses nor duplicates one. Then the directory lock: a second sweep on a
# directory in use is refused, naming the holder. (MPI ranks: 3.)
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

# chaos JOB DIR KILLS MAX_DELAY: drives the sweep of JOB in DIR to the end
# through KILLS kills (sets kills and attempt).
chaos() {
  local job=$1 D=$2 want=$3 maxd=$4 finished=0 mp victim victim_rank delay rc
  local args
  kills=0 attempt=0
  while [ $kills -lt "$want" ] && [ $attempt -lt $((want * 4)) ]; do
    attempt=$((attempt + 1))
    args=()
    [ -e "$D/journal" ] && args=(--resume)
    mpirun --oversubscribe --timeout 300 -np 3 "$ROVE" sweep "$job" \
      --out "$D" --quiet "${args[@]}" >"$D.$attempt.log" 2>&1 &
    mp=$!
    # A random moment: 0.05 s to MAX_DELAY after the victim rank has
    # started (early moments fall in MPI start-up and the journal's
    # replay).
    victim_rank=$((RANDOM % 3))
    victim=
    for _ in $(seq 1 100); do
      victim=$(rank_pid "$mp" $victim_rank || true)
      [ -n "$victim" ] && break
      kill -0 "$mp" 2>/dev/null || break
      sleep 0.02
    done
    delay=$(awk -v r=$RANDOM -v m="$maxd" 'BEGIN { printf "%.2f", 0.05 + (m - 0.05) * r / 32767 }')
    sleep "$delay"
    if [ -n "$victim" ] && kill -0 "$mp" 2>/dev/null; then
      kill -9 "$victim" 2>/dev/null && kills=$((kills + 1))
    fi
    rc=0
    wait "$mp" || rc=$?
    # The sweep got to the end before the kill, or the kill hit a rank
    # after the coordinator had written the complete summary (rc != 0).
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
    mpirun --oversubscribe --timeout 300 -np 3 "$ROVE" sweep "$job" \
      --out "$D" --quiet "${args[@]}" 2>"$WORK/chaos-final.log" ||
      fail "the final resume failed: $(tail -5 "$WORK/chaos-final.log")"
  fi
}

D=$WORK/chaos
chaos "$JOB" "$D" "$KILLS" 0.8
same_results "$WORK/ref" "$D" >&2 || fail "results after $kills kills differ from the uninterrupted run"
got=$(awk -F, 'NR > 1 { s += $12 } END { print s }' "$D/summary.csv")
[ "$got" = "$units" ] || fail "units $got after the kills, $units uninterrupted"
[ $kills -ge $((KILLS / 2)) ] || fail "only $kills kills landed (the sweep is too short for the schedule)"
echo "ok: $kills kills of random ranks (coordinator included), then resume: identical results"

# The energy journal under the same chaos: the same job with [energy], one
# rove-agent (a fake Jetson, quick protocol, reconnecting within 0.5 s)
# measuring its 2 models while coordinators are killed mid-measurement, on
# a journaled result before its ACK, and on resume. Every measurement must
# arrive exactly once: the energy journal holds 2 records (no duplicate, a
# re-delivery is only counted), both ok, and the robustness columns equal
# the uninterrupted run's.
EKILLS=${CHAOS_ENERGY_KILLS:-6}
head -c 32 /dev/urandom | base64 >"$WORK/tok"
port=$(free_port)
[ -n "$port" ] || fail "no free port"
cp "$JOB" "$WORK/energy.job"
printf '\n[energy]\nlisten = 127.0.0.1\nport = %s\ntoken = %s\nboards = nano\nwait = 120\n' \
  "$port" "$WORK/tok" >>"$WORK/energy.job"
SYS=$WORK/sys/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0
mkdir -p "$SYS"
echo POM_5V_IN >"$SYS/rail_name_0"
live_sensor "$SYS/in_power0_input" 4321
"$ROVE_BIN/rove-agent" --hub "127.0.0.1:$port" --token-file "$WORK/tok" --board nano \
  --sysfs-root "$WORK/sys" --quick --backoff-max 0.5 >"$WORK/agent.log" 2>&1 &
agent=$!
trap 'kill $agent 2>/dev/null || true; stop_live_sensors; cleanup' EXIT
E=$WORK/echaos
chaos "$WORK/energy.job" "$E" "$EKILLS" 2.0
[ $kills -ge $((EKILLS / 2)) ] || fail "only $kills kills landed in the energy sweep"
kill $agent 2>/dev/null || true

# Records in an energy journal: the 8-byte header, then [u32 length][u32
# CRC][payload] each; a file that does not end on a record is torn.
ej_records() {
  local f=$1 size off=8 n=0 len
  size=$(stat -c %s "$f")
  while [ $off -lt "$size" ]; do
    len=$(od -An -tu4 -j $off -N4 "$f" | tr -d ' ')
    off=$((off + 8 + len))
    n=$((n + 1))
  done
  [ $off -eq "$size" ] || { echo "torn at record $n"; return 0; }
  echo "$n"
}
nrec=$(ej_records "$E/energy.journal")
[ "$nrec" = 2 ] || fail "the energy journal holds $nrec records, expected 2 (one per model)"
col=$(head -1 "$E/summary.csv" | tr ',' '\n' | grep -nx energy_nano_status | cut -d: -f1)
st=$(awk -F, -v c="$col" 'NR > 1 { print $c }' "$E/summary.csv" | sort -u | tr '\n' ' ')
[ "$st" = "ok " ] || fail "energy status per row: '$st', expected ok"
wcol=$(head -1 "$E/summary.csv" | tr ',' '\n' | grep -nx wall_s | cut -d: -f1)
diff <(cut -d, -f1-$((wcol - 1)) "$WORK/ref/summary.csv") \
  <(cut -d, -f1-$((wcol - 1)) "$E/summary.csv") >&2 ||
  fail "robustness columns after the energy chaos differ from the plain run"
diff "$WORK/ref/per_example.csv" "$E/per_example.csv" >&2 ||
  fail "per-example verdicts after the energy chaos differ"
measured=$(grep -c "measured" "$WORK/agent.log" || true)
echo "ok: energy under $kills kills: 2 measurements journaled exactly once ($measured measured by the agent)"

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
