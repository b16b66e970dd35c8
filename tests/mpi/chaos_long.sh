#!/usr/bin/env bash
# chaos_long.sh [KILLS] [SEED] [ENERGY_KILLS] - the long chaos run (not in
# CI): the same test as test_sweep_chaos.sh with 100 kills by default, and
# 30 in the sweep with energy measurements in flight.
#   ROVE_BIN=build/bin ROVE_SRC=. bash tests/mpi/chaos_long.sh 100 7
CHAOS_KILLS=${1:-100} CHAOS_SEED=${2:-1} CHAOS_ENERGY_KILLS=${3:-30} exec bash "$(dirname "$0")/test_sweep_chaos.sh"
