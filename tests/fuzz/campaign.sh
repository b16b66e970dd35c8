#!/usr/bin/env bash
# campaign.sh [RUNS] [HARNESS...] - the long fuzzing campaign: runs each
# harness (default: all) for RUNS executions (default 10,000,000) from its
# committed corpus and dictionary, one after another, and prints per
# harness the executions, seconds, executions per second and the outcome.
# New corpus inputs and reproducers go to a scratch directory it names
# (kept); a crash, leak, timeout or sanitizer report does not stop the
# campaign but makes it fail at the end. Not part of CI (hours on 2 cores).
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10000000}
shift || true
cmake --preset fuzz >/dev/null && cmake --build --preset fuzz >/dev/null || exit 1
W=$(mktemp -d /tmp/rove-campaign.XXXXXX)
echo "scratch: $W"
if [ $# -gt 0 ]; then names=("$@"); else
  names=(); for h in build-fuzz/fuzz/fuzz_*; do names+=("$(basename "$h")"); done
fi
status=0
printf '%-22s %12s %8s %10s  %s\n' harness executions seconds exec/s outcome
for name in "${names[@]}"; do
  h=build-fuzz/fuzz/$name
  dict=()
  [ -f "tests/fuzz/dict/$name.dict" ] && dict=(-dict="tests/fuzz/dict/$name.dict")
  mkdir -p "$W/$name"
  t0=$(date +%s.%N)
  "$h" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$W/$name/crash-" "${dict[@]}" "$W/$name" \
    "tests/fuzz/corpus/$name" >"$W/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$W/$name.log" |
    grep -oE '[0-9]+$')
  out="no crash, leak or sanitizer report"
  if [ $rc -ne 0 ]; then out="FAILED (rc $rc; log $W/$name.log)"; status=1; fi
  awk -v n="$name" -v e="${execs:-0}" -v a="$t0" -v b="$t1" -v o="$out" \
    'BEGIN { s = b - a; printf "%-22s %12d %8.0f %10.0f  %s\n", n, e, s, e / s, o }'
done
exit $status
