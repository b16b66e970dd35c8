#!/usr/bin/env bash
# test_attack_cli.sh - `rove attack` end to end on the Fashion-MNIST fixture: JSON fields, determinism, batch independence, --save-adv files, and the errors for bad eps, zero steps, unknown names and losses a model cannot support.
set -euo pipefail
B=${ROVE_BIN:?}
S=${ROVE_SRC:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
M="$S/tests/fixtures/fmnist_cnn.onnx"
[ -f "$M" ] || fail "fixture $M missing"
fast=(--steps 8 --queries 40 --targets 2 --restarts 1 --n 12)

"$B/rove" attack "$M" --eps 0.01,0.03 "${fast[@]}" --json >"$T/a.json"
"$B/rove" attack "$M" --eps 0.01,0.03 "${fast[@]}" --json --batch 1 >"$T/b.json"
# No Python in CI: the checks read the one-line JSON with grep and sed.
J=$(cat "$T/a.json")
for k in '"n": 12' '"clean_acc"' '"eps": 0.01' '"eps": 0.029999999999999999' \
  '"robust_acc"' '"zero_grad"' '"saturated"' '"incomplete"' '"transfer_fail"' \
  '"square_beat"' '"nonconverging"' '"prob_output"' '"randomized"'; do
  grep -qF "$k" <<<"$J" || fail "JSON lacks $k: $J"
done
# The headline results: robust accuracy cannot grow with eps (nested balls).
accs=$(sed 's/.*"results": \[//' <<<"$J" | grep -o '"robust_acc": [0-9.e-]*' | awk '{print $2}')
[ "$(wc -l <<<"$accs")" -eq 2 ] || fail "expected 2 results: $accs"
awk 'NR==1{a=$1} NR==2{exit !($1 <= a)}' <<<"$accs" || fail "robust accuracy grew with eps: $accs"
nosec() { sed 's/"seconds": [0-9.]*//g' "$1"; }
[ "$(nosec "$T/a.json")" = "$(nosec "$T/b.json")" ] || fail "batch 1 and batch 64 disagree"

# Same seed, same answer; the adversarial examples are saved atomically.
"$B/rove" attack "$M" --eps 0.03 "${fast[@]}" --profile naive --save-adv "$T/adv.idx" >"$T/h1.txt"
"$B/rove" attack "$M" --eps 0.03 "${fast[@]}" --profile naive >"$T/h2.txt"
cmp -s "$T/h1.txt" "$T/h2.txt" || fail "two runs with the same seed differ"
grep -q "robust" "$T/h1.txt" || fail "no table"
[ "$(stat -c %s "$T/adv.idx")" -eq $((4 + 4 * 5 + 12 * 784 * 4)) ] || fail "adv.idx size"
[ "$(wc -l <"$T/adv.idx.csv")" -eq 13 ] || fail "adv.idx.csv rows"
ls "$T" | grep -q tmp && fail "temporary file left behind"

expect_usage() {
  local want=$1
  shift
  set +e
  "$B/rove" attack "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "rove attack $* exited $rc, expected 2"
  grep -q -- "$want" "$T/err" || fail "rove attack $*: no '$want' in: $(cat "$T/err")"
}
expect_usage "'1.5' is not a number in \[0, 1\]" "$M" --eps 0.1,1.5
expect_usage "'-0.1' is not a number" "$M" --eps -0.1
expect_usage "steps" "$M" --eps 0.1 --steps 0
expect_usage "unknown attack 'fab'" "$M" --eps 0.1 --attack fab
expect_usage "unknown loss 'mse'" "$M" --eps 0.1 --loss mse
expect_usage "--profile" "$M" --eps 0.1 --profile strong
expect_usage "--eps is required" "$M"
expect_usage "L-inf" "$M" --eps 0.1 --attack square --norm l2

set +e
"$B/rove" attack "$B/../nonexistent.onnx" --eps 0.1 >/dev/null 2>"$T/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "missing model: exit $rc, expected 1"
echo "test_attack_cli: ok"
