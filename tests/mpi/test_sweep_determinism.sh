#!/usr/bin/env bash
# test_sweep_determinism.sh - per-example verdicts and every aggregate of a
# sweep are identical for -np 1, 2, 3 and 5 (MPI ranks: 1, 2, 3, 5).
source "$(dirname "$0")/sweep_lib.sh"

for np in 1 2 3 5; do
  run_sweep "$np" "$WORK/np$np"
  [ -s "$WORK/np$np/summary.csv" ] || fail "-np $np wrote no summary"
done
rows=$(($(wc -l <"$WORK/np1/summary.csv") - 1))
[ "$rows" -eq 8 ] || fail "expected 8 summary rows, got $rows"
# The sweep must have done real work: some examples broken, some robust.
grep -q ',broken,' "$WORK/np1/per_example.csv" || fail "nothing broken"
grep -q ',robust,' "$WORK/np1/per_example.csv" || fail "nothing robust"
for np in 2 3 5; do
  same_results "$WORK/np1" "$WORK/np$np" || fail "-np $np differs from -np 1"
done
# Nested balls: an example broken at the smaller eps is broken at the larger.
awk -F, 'NR > 1 { key = $1 "," $2 "," $4; if ($3 == "0.01") small[key] = $6;
                  else if (small[key] == "broken" && $6 != "broken") bad++ }
         END { exit bad > 0 }' "$WORK/np1/per_example.csv" ||
  fail "a verdict broken at eps 0.01 is not broken at 0.03"
echo "ok: identical results for -np 1, 2, 3, 5"
