#!/usr/bin/env bash
# run.sh [SECONDS] - the fuzz check CI runs: builds the libFuzzer harnesses
# (the `fuzz` preset: clang, ASan, UBSan), replays every committed corpus
# input (tests/fuzz/corpus/NAME/: seeds and every input that ever crashed),
# then fuzzes each harness for SECONDS (default 5) from that corpus, with
# its dictionary when there is one. New inputs go to a scratch directory,
# never into the repository. Any crash, leak, timeout or sanitizer report
# fails with the harness's log and the reproducer's path. For a long
# campaign: tests/fuzz/run.sh 3600 (the figures it prints: #execs per
# harness).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz >/dev/null
W=$(mktemp -d /tmp/rove-fuzz.XXXXXX)
trap 'rm -rf "$W"' EXIT
status=0
for h in build-fuzz/fuzz/fuzz_*; do
  name=$(basename "$h")
  seeds=tests/fuzz/corpus/$name
  [ -d "$seeds" ] || { echo "FAIL: $name has no corpus $seeds" >&2; status=1; continue; }
  dict=()
  [ -f "tests/fuzz/dict/$name.dict" ] && dict=(-dict="tests/fuzz/dict/$name.dict")
  mkdir -p "$W/$name"
  log="$W/$name.log"
  if ! "$h" -runs=0 -rss_limit_mb=2048 "$seeds" >"$log" 2>&1; then
    echo "FAIL: $name crashes on its committed corpus" >&2
    tail -40 "$log" >&2
    status=1
    continue
  fi
  if ! "$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$W/$name/crash-" "${dict[@]}" "$W/$name" "$seeds" >"$log" 2>&1; then
    echo "FAIL: $name: a crash, leak or sanitizer report (reproducer in $W/$name; copy it into $seeds)" >&2
    tail -60 "$log" >&2
    trap - EXIT
    status=1
    continue
  fi
  execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  printf '%-22s %10s executions in %s s, no crash\n' "$name" "${execs:-?}" "$secs"
done
exit $status
