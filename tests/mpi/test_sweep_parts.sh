#!/usr/bin/env bash
# test_sweep_parts.sh - a sweep split into job-array parts and joined with
# rove merge equals the whole sweep; a model that will not load is recorded
# as failed units while the rest of the sweep is unaffected. (MPI ranks: 2.)
source "$(dirname "$0")/sweep_lib.sh"

run_sweep 2 "$WORK/ref"

# 1. Parts and merge.
run_sweep 2 "$WORK/arr" --part 0/2
run_sweep 2 "$WORK/arr" --part 1/2
[ -s "$WORK/arr/part0/journal" ] && [ -s "$WORK/arr/part1/journal" ] ||
  fail "parts did not write part0/ and part1/"
n0=$(($(wc -l <"$WORK/arr/part0/per_example.csv") - 1))
n1=$(($(wc -l <"$WORK/arr/part1/per_example.csv") - 1))
nr=$(($(wc -l <"$WORK/ref/per_example.csv") - 1))
[ $((n0 + n1)) -eq "$nr" ] && [ "$n0" -gt 0 ] && [ "$n1" -gt 0 ] ||
  fail "parts hold $n0 + $n1 example rows, the whole sweep $nr"
# An incomplete merge (one part) is written but fails.
if "$ROVE" merge --out "$WORK/half" "$WORK/arr/part0" >/dev/null 2>&1; then
  fail "merging one of two parts succeeded"
fi
"$ROVE" merge --out "$WORK/merged" "$WORK/arr/part0" "$WORK/arr/part1" >/dev/null
# Merged wall time is not a sweep's; everything else must match.
same_results "$WORK/ref" "$WORK/merged" || fail "merged parts differ"
if "$ROVE" merge --out "$WORK/m2" "$WORK/arr/part0" "$WORK/arr/part0" >/dev/null 2>&1; then
  fail "merging the same part twice succeeded"
fi
if "$ROVE" merge --out "$WORK/m3" "$WORK/arr/part0" "$WORK/ref" >/dev/null 2>&1; then
  fail "merging parts of different sweeps succeeded"
fi
echo "ok: --part 0/2 + --part 1/2 merged equals the whole sweep"

# 2. A model that will not load.
mkdir -p "$WORK/badjob"
sed -e "s|\.\./tests/fixtures/|$ROVE_SRC/tests/fixtures/|" "$JOB" >"$WORK/badjob/bad.job"
printf '\n[model broken]\npath = %s/no-such-model.onnx\n' "$WORK" >>"$WORK/badjob/bad.job"
sed -i 's/^\[sweep\]$/[sweep]\nmodels = cnn, broken, q2/' "$WORK/badjob/bad.job"
rc=0
mpirun --oversubscribe --timeout 300 -np 2 "$ROVE" sweep "$WORK/badjob/bad.job" \
  --out "$WORK/bad" --quiet 2>"$WORK/bad.log" || rc=$?
[ "$rc" -eq 1 ] || fail "a sweep with failed units exited $rc, expected 1"
awk -F, '$1 == "broken" && ($12 != 0 || $13 == 0 || $11 != $5) { bad++ }
         END { exit bad > 0 }' "$WORK/bad/summary.csv" ||
  fail "the broken model's rows do not show failed units and errors"
grep -q '"error": ".*no-such-model.onnx' "$WORK/bad/summary.json" ||
  fail "summary.json does not list the failure with its error"
# The other models' verdicts are untouched by the failure.
diff <(grep -v '^broken,' "$WORK/bad/per_example.csv") "$WORK/ref/per_example.csv" ||
  fail "a failing model changed the other models' verdicts"
echo "ok: a model that will not load is recorded as failed; the rest is intact"
