#!/usr/bin/env bash
# qemu-check.sh - cross-builds rove-agent for aarch64 and runs it under qemu-aarch64 against a fake Jetson INA3221 tree, reporting to a hub on this machine.
# Not in CI yet: under Debian 12's qemu-user 7.2 the cross-built agent hangs in
# pthread_create (no syscall after it); see energy_agents/README.md.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BHOST=${1:?usage: qemu-check.sh HOST_BUILD_DIR [ARM_BUILD_DIR]}
BARM=${2:-/tmp/rove-arm64}
cmake -S "$SRC" -B "$BARM" -DROVE_AGENT_ONLY=ON -DROVE_TESTS=OFF \
  -DCMAKE_TOOLCHAIN_FILE="$SRC/deploy/toolchains/aarch64-linux-gnu.cmake" >/dev/null
cmake --build "$BARM" -j2 --target rove-agent >/dev/null
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT
head -c 32 /dev/urandom | base64 >"$T/tok"
"$BHOST/bin/rove" convert --builtin smallcnn --width 0.25 "$T/m.rove" >/dev/null
D="$T/sys/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
mkdir -p "$D" "$T/out"
echo POM_5V_IN >"$D/rail_name_0"; echo 4321 >"$D/in_power0_input"
"$BHOST/bin/rove" hub --token-file "$T/tok" --dir "$T/out" --board nano --quick \
  --timeout 110 --port-file "$T/port" "$T/m.rove" &
hub=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
OPENBLAS_NUM_THREADS=1 qemu-aarch64 -L /usr/aarch64-linux-gnu "$BARM/bin/rove-agent" \
  --hub 127.0.0.1:"$(cat "$T/port")" --token-file "$T/tok" --board nano \
  --sysfs-root "$T/sys" --quick &
wait $hub
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "energy_nano_power_w") c = i; next }
  { d = ($c - 4.321) / 4.321; if (d < 0) d = -d; print "power " $c " W, error " 100 * d " %"; exit d > 0.02 }' "$T/out/energy.csv"
