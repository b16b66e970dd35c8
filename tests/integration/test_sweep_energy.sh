#!/usr/bin/env bash
# test_sweep_energy.sh - a sweep whose job has [energy]: the coordinator's
# hub serves a rove-agent (fake Jetson Nano sysfs) while the sweep runs, and
# the measurement is joined into summary.csv by model hash; the robustness
# columns are the same as without [energy].
set -euo pipefail
: "${ROVE_BIN:?set by ctest}" "${ROVE_SRC:?set by ctest}"
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
T=$(mktemp -d)
agent=
cleanup() {
  stop_live_sensors
  [ -n "$agent" ] && kill "$agent" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
FAIL_LOGS="$T/*.log"
. "$(dirname "$0")/lib.sh"
[ -x "$ROVE_BIN/rove-agent" ] || fail "rove-agent was not built"

head -c 32 /dev/urandom | base64 >"$T/tok"
D="$T/sys/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
mkdir -p "$D"
echo POM_5V_IN >"$D/rail_name_0"
live_sensor "$D/in_power0_input" 4321
port=$(free_port)
[ -n "$port" ] || fail "no free port"

# The CI job, one shard (part 0 of 6), with models from the source tree.
sed -e "s|\.\./tests/fixtures/|$ROVE_SRC/tests/fixtures/|" "$ROVE_SRC/jobs/ci.job" >"$T/plain.job"
cp "$T/plain.job" "$T/energy.job"
printf '\n[energy]\nlisten = 127.0.0.1\nport = %s\ntoken = %s\nboards = nano\nwait = 120\n' \
  "$port" "$T/tok" >>"$T/energy.job"

"$ROVE_BIN/rove" sweep "$T/energy.job" --out "$T/e" --part 0/6 --quiet 2>"$T/sweep.log" &
sweep=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
"$ROVE_BIN/rove-agent" --hub "127.0.0.1:$port" --token-file "$T/tok" --board nano \
  --sysfs-root "$T/sys" --quick >"$T/agent.log" 2>&1 &
agent=$!
wait "$sweep" || fail "the sweep with [energy] failed"
"$ROVE_BIN/rove" sweep "$T/plain.job" --out "$T/p" --part 0/6 --quiet 2>"$T/plain.log" ||
  fail "the plain sweep failed"

csv="$T/e/part0/summary.csv"
head -1 "$csv" | grep -q ',wall_s,energy_nano_status,' ||
  fail "no energy columns after wall_s: $(head -1 "$csv")"
col=$(head -1 "$csv" | tr ',' '\n' | grep -nx energy_nano_status | cut -d: -f1)
st=$(awk -F, -v c="$col" 'NR > 1 { print $c }' "$csv" | sort -u | tr '\n' ' ')
[ "$st" = "ok " ] || fail "energy status per row: '$st', expected ok"
pw=$(head -1 "$csv" | tr ',' '\n' | grep -nx energy_nano_power_w | cut -d: -f1)
awk -F, -v c="$pw" 'NR > 1 { d = ($c - 4.321) / 4.321; if (d < -0.02 || d > 0.02) bad = 1 }
  END { exit bad }' "$csv" || fail "joined power is not the board's 4.321 W"
wcol=$(head -1 "$csv" | tr ',' '\n' | grep -nx wall_s | cut -d: -f1)
diff <(cut -d, -f1-$((wcol - 1)) "$csv") <(cut -d, -f1-$((wcol - 1)) "$T/p/part0/summary.csv") ||
  fail "robustness columns differ with [energy]"
grep -q '"energy": {"nano"' "$T/e/part0/summary.json" || fail "no energy in summary.json"
echo "ok: sweep with [energy] joins the agent's measurement into the summary"

# A first sweep with no token file and no agent: the hub creates the token
# (0600, never overwritten) and the sweep does not sit out its whole wait.
sed -e "s|^token = .*|token = $T/new/dir/demo.token|" -e "s|^wait = .*|wait = 300|" \
  -e "s|^port = .*|port = $port|" "$T/energy.job" >"$T/noagent.job"
kill "$agent" 2>/dev/null || true
wait "$agent" 2>/dev/null || true
agent=
t0=$SECONDS
"$ROVE_BIN/rove" sweep "$T/noagent.job" --out "$T/n" --part 0/6 2>"$T/noagent.log" ||
  fail "the sweep without an agent failed"
[ -f "$T/new/dir/demo.token" ] || fail "no token file created"
[ "$(stat -c %a "$T/new/dir/demo.token")" = 600 ] || fail "the token file is not mode 0600"
grep -q "created the token file" "$T/noagent.log" || fail "the sweep did not say it created the token"
grep -q "no rove-agent has connected" "$T/noagent.log" || fail "no message about the missing agent"
[ $((SECONDS - t0)) -lt 120 ] || fail "the sweep waited $((SECONDS - t0)) s with no agent"
grep -q ",pending," "$T/n/part0/summary.csv" || fail "energy is not reported pending"
tok=$(cat "$T/new/dir/demo.token")
"$ROVE_BIN/rove" sweep "$T/noagent.job" --out "$T/n2" --part 0/6 --quiet 2>/dev/null ||
  fail "the second sweep failed"
[ "$(cat "$T/new/dir/demo.token")" = "$tok" ] || fail "the token file was overwritten"
echo "ok: token created once, no long wait without an agent"

# A port held by another hub: the sweep says which process holds it.
mkdir -p "$T/otherhub"
"$ROVE_BIN/rove" hub --token-file "$T/tok" --dir "$T/otherhub" --board nano \
  --listen "127.0.0.1:$port" --timeout 60 "$ROVE_SRC/tests/fixtures/mlp.onnx" \
  >"$T/otherhub.log" 2>&1 &
other=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
rc=0
"$ROVE_BIN/rove" sweep "$T/noagent.job" --out "$T/n3" --part 0/6 --quiet 2>"$T/busy.log" || rc=$?
kill "$other" 2>/dev/null || true
wait "$other" 2>/dev/null || true
[ "$rc" -ne 0 ] || fail "a sweep started on a port in use"
grep -q "the port is in use by pid $other" "$T/busy.log" ||
  fail "the holder of the port is not named: $(cat "$T/busy.log")"
echo "ok: a busy hub port names the process holding it"
