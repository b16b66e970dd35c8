#!/usr/bin/env bash
# qemu-check.sh - cross-builds rove-agent for aarch64 and runs it under qemu-aarch64 against a fake Jetson INA3221 tree, reporting to a hub on this machine (the CI test tests/integration/test_agent_aarch64.sh, run by hand).
#   deploy/agent/qemu-check.sh HOST_BUILD_DIR
# HOST_BUILD_DIR is a native build with bin/rove; the arm64 build is cached
# in HOST_BUILD_DIR/aarch64-agent. Run arm64 programs yourself with
#   qemu-aarch64 -L / HOST_BUILD_DIR/aarch64-agent/bin/rove-agent ...
# and never with -L /usr/aarch64-linux-gnu (see energy_agents/README.md).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BHOST=$(cd "${1:?usage: qemu-check.sh HOST_BUILD_DIR}" && pwd)
export ROVE_SRC="$SRC" ROVE_BUILD="$BHOST" ROVE_BIN="$BHOST/bin"
export OPENBLAS_NUM_THREADS=1
exec bash "$SRC/tests/integration/test_agent_aarch64.sh"
