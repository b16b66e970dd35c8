#!/usr/bin/env bash
# test_agent_aarch64.sh - rove-agent cross-built for aarch64 runs under qemu-aarch64 against a fake Jetson INA3221 whose power a background writer keeps at a 4.35/4.65 W square wave, and reports to a native hub: the power within 2 % of the 4.5 W truth.
#
# The arm64 programs run with `qemu-aarch64 -L /`, i.e. with the arm64
# multiarch glibc (libc6:arm64) that libuv1:arm64 and the other arm64
# libraries were built against. `-L /usr/aarch64-linux-gnu` would load the
# cross toolchain's ld.so (libc6-arm64-cross) with the multiarch libc.so.6;
# the two builds disagree on ld.so's private data and the first
# pthread_create loops forever (energy_agents/README.md, "aarch64 under qemu").
# Skips (exit 77, which ctest reports as skipped) when the cross toolchain or qemu is missing;
# deploy/install-deps.sh installs them.
set -euo pipefail
B=${ROVE_BIN:?}
SRC=${ROVE_SRC:?}
BUILD=${ROVE_BUILD:?}
for p in aarch64-linux-gnu-gcc qemu-aarch64; do
  if ! command -v $p >/dev/null; then
    echo "SKIP: $p not installed (deploy/install-deps.sh installs it)"
    exit 77
  fi
done
if [ ! -e /usr/lib/aarch64-linux-gnu/pkgconfig/libuv.pc ]; then
  echo "SKIP: arm64 libraries not installed (deploy/install-deps.sh installs them)"
  exit 77
fi
unset QEMU_LD_PREFIX
QEMU=(qemu-aarch64 -L /)

T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
FAIL_LOGS="$T/*.log"
. "$(dirname "$0")/lib.sh"

# The cross-build lives in the release build tree, so a second run (or the
# next CI run on a warm tree) only relinks what changed.
A="$BUILD/aarch64-agent"
timeout -k 5 60 cmake -S "$SRC" -B "$A" -DCMAKE_BUILD_TYPE=Release -DROVE_AGENT_ONLY=ON \
  -DROVE_TESTS=OFF -DCMAKE_TOOLCHAIN_FILE="$SRC/deploy/toolchains/aarch64-linux-gnu.cmake" \
  >"$T/cmake.log" 2>&1 || fail "cross configure"
timeout -k 5 600 cmake --build "$A" -j2 --target rove-agent >"$T/build.log" 2>&1 ||
  fail "cross build"
AG="$A/bin/rove-agent"
# ELF e_machine (offset 18, little-endian) 0xb7 is EM_AARCH64.
[ "$(od -An -tx1 -j18 -N2 "$AG" | tr -d ' \n')" = b700 ] || fail "$AG is not an aarch64 executable"

# A fake Jetson Nano: board total POM_5V_IN and a GPU rail that must not be
# added to it. The writer keeps the total at a square wave, 4350 mW and
# 4650 mW for 20 ms each, phased by the clock so its mean is 4.5 W over any
# long window. The amplitude is small because the writer's scheduling lag
# at each edge is noise in the truth (+-0.6 % seen on a loaded machine),
# yet a sampler stuck at one level is 3.3 % off. Pure bash (no fork per
# step), and it overwrites the 5 bytes in place: the two values differ only
# in the second digit, so a read racing a write still sees one of them.
D="$T/sys/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
mkdir -p "$D"
echo POM_5V_IN >"$D/rail_name_0"
echo 4350 >"$D/in_power0_input"
echo POM_5V_GPU >"$D/rail_name_1"
echo 1500 >"$D/in_power1_input"
mkfifo "$T/tick"
(
  exec 9<>"$T/tick" # never written: `read -t` on it is a fork-free sleep
  last=0
  while :; do
    us=${EPOCHREALTIME/./}
    v=$((((10#$us / 20000) % 2) ? 4650 : 4350))
    if [ $v -ne $last ]; then
      printf '%d\n' $v 1<>"$D/in_power0_input"
      last=$v
    fi
    read -r -t 0.002 -u 9 _ || true
  done
) &
pids+=($!)

# Discovery under qemu: the board total by name, never total + GPU.
timeout -k 5 30 "${QEMU[@]}" "$AG" sensors --sysfs-root "$T/sys" >"$T/sensors.log" 2>&1 ||
  fail "rove-agent sensors under qemu"
grep -q "sensor ina3221-iio:POM_5V_IN, scope board_input" "$T/sensors.log" ||
  fail "sensor discovery under qemu"
awk '/^reading:/ { ok = ($2 == 4.35 || $2 == 4.65) && $3 == "W" } END { exit !ok }' "$T/sensors.log" ||
  fail "sensor reading should be 4.35 or 4.65 W"

head -c 32 /dev/urandom | base64 >"$T/tok"
"$B/rove" convert --builtin smallcnn --width 0.25 "$T/m.rove" >/dev/null || fail "rove convert"
mkdir "$T/out"
timeout -k 5 100 "$B/rove" hub --token-file "$T/tok" --dir "$T/out" --board nano --quick \
  --timeout 90 --port-file "$T/port" "$T/m.rove" >"$T/hub.log" 2>&1 &
hub=$!
pids+=("$hub")
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "hub did not start"

# No OPENBLAS_NUM_THREADS: the agent must start with OpenBLAS's threads.
env -u OPENBLAS_NUM_THREADS timeout -k 5 100 "${QEMU[@]}" "$AG" --hub 127.0.0.1:"$(cat "$T/port")" \
  --token-file "$T/tok" --board nano --agent-id arm64-qemu --sysfs-root "$T/sys" --quick \
  >"$T/agent.log" 2>&1 &
pids+=($!)
# Under qemu the agent starts in about a second; 30 s without a handshake is
# a hang (pthread_create under a mismatched glibc blocks every signal, so
# only the KILL from `timeout -k` ends it).
for _ in $(seq 300); do grep -q "agent authenticated" "$T/hub.log" && break; sleep 0.1; done
grep -q "agent authenticated: arm64-qemu" "$T/hub.log" ||
  fail "the arm64 agent did not authenticate within 30 s"
wait $hub || fail "the hub did not receive the arm64 agent's result"
csv="$T/out/energy.csv"
grep -q pending "$csv" && fail "the measurement is still pending"
# Power: within 2 % of the square wave's 4.5 W mean (one level alone is
# 3.3 % off, so the sampler must have followed the wave). Energy per
# inference: joules, about power x latency (median latency against each
# trial's mean, so only a factor-of-2 band).
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { p = $col["energy_nano_power_w"]; e = $col["energy_nano_j"]
    l = $col["energy_nano_latency_s"]; s = $col["energy_nano_status"]
    sc = $col["energy_nano_scope"]
    d = (p - 4.5) / 4.5; if (d < 0) d = -d
    printf "arm64 agent under qemu: power %.4f W (truth 4.5 W, error %.2f %%), %.4g J/inference, latency %.4g s\n", p, 100 * d, e, l
    if (s != "ok" || sc != "board_input") { print "status " s ", scope " sc; bad = 1 }
    if (!(d <= 0.02)) { print "power off by more than 2 %"; bad = 1 }
    if (!(e > 0.5 * 4.5 * l && e < 2 * 4.5 * l)) { print "energy per inference not about power x latency"; bad = 1 } }
  END { exit bad }' "$csv" || fail "reported energy"
