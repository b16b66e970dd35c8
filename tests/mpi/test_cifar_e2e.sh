#!/usr/bin/env bash
# test_cifar_e2e.sh - a CIFAR-shaped end to end run: a small RGB CNN with
# its normalization folded in (rove convert --builtin smallcnn --input
# 3x32x32 --mean --std), the same 3x32x32 examples as a CIFAR-10 binary
# batch and as .npy arrays, `rove attack --profile ablation` and a
# one-model `rove sweep` (2 ranks) on each: the verdicts must be identical
# whichever format the data came in.
set -euo pipefail
. "$(dirname "$0")/sweep_lib.sh"
T=$WORK
FAIL_LOGS="$T/*.log"
D=$T/data
mkdir -p "$D"
NORM=(--mean 0.4914,0.4822,0.4465 --std 0.247,0.2435,0.2616)
N=24

run 0 "$ROVE" convert --builtin smallcnn --input 3x32x32 --width 0.25 \
  --seed 3 "${NORM[@]}" "$T/m.rove"
run 0 "$ROVE" info "$T/m.rove"
has out "normalize_sub"
has out "input:  3x32x32"

# Labels: the model's own predictions, every fourth one shifted, so some
# examples start clean-wrong.
perl "$ROVE_SRC/tests/data/make_cifar_like.pl" "$D" $N
run 0 "$ROVE" eval "$T/m.rove" --data "npy:$D/x.npy,$D/y.npy" \
  --logits "$T/logits.csv"
labels=$(awk -F, 'NR > 1 { b = 3; for (k = 4; k <= NF; k++) if ($k > $b) b = k;
  y = b - 3; if ((NR - 2) % 4 == 3) y = (y + 1) % 10;
  printf "%s%d", (NR > 2 ? "," : ""), y }' "$T/logits.csv")
perl "$ROVE_SRC/tests/data/make_cifar_like.pl" "$D" $N "$labels"

# The folded model takes pixels in [0, 1]: no flags at evaluation time.
run 0 "$ROVE" eval "$T/m.rove" --data "cifar10:$D:test"
has out "clean accuracy: 0.7500 (18/24)"
run 0 "$ROVE" eval "$T/m.rove" --data "npy:$D/x.npy,$D/y.npy"
has out "clean accuracy: 0.7500 (18/24)"

# A wrong shape is refused before any work, with both shapes.
run 1 "$ROVE" eval "$ROVE_SRC/tests/fixtures/fmnist_cnn.onnx" \
  --data "cifar10:$D:test"
has err "1x28x28"
has err "3x32x32"

strip() { sed -e 's/"seconds": [0-9.e+-]*//g' -e 's/"data": "[^"]*"//' "$1"; }
for fmt in cifar npy; do
  spec="cifar10:$D:test"
  [ $fmt = npy ] && spec="npy:$D/x.npy,$D/y.npy"
  "$ROVE" attack "$T/m.rove" --data "$spec" --n $N --eps 0.002,0.01 \
    --profile ablation --json >"$T/attack_$fmt.json" 2>"$T/attack_$fmt.log" ||
    fail "rove attack on $fmt data"
done
diff <(strip "$T/attack_cifar.json") <(strip "$T/attack_npy.json") >&2 ||
  fail "rove attack verdicts differ between CIFAR binary and npy data"

for fmt in cifar npy; do
  spec="cifar10:$D:test"
  [ $fmt = npy ] && spec="npy:$D/x.npy,$D/y.npy"
  cat >"$T/$fmt.job" <<JOB
[job]
name = cifar-$fmt
data = $spec
seed = 5
shard = 6

[model rgb]
path = $T/m.rove

[profile naive]
preset = naive
steps = 10
restarts = 2

[profile precise]
preset = precise
steps = 10
queries = 50

[sweep]
eps = 0.002, 0.01
JOB
  mpirun --oversubscribe --timeout 300 -np 2 "$ROVE" sweep "$T/$fmt.job" \
    --out "$T/out_$fmt" --quiet >"$T/sweep_$fmt.log" 2>&1 ||
    fail "rove sweep on $fmt data"
done
same_results "$T/out_cifar" "$T/out_npy" >&2 ||
  fail "sweep results differ between CIFAR binary and npy data"
# The sweep measured something: examples broken, robust and clean-wrong.
for v in broken robust clean-wrong; do
  grep -q ",$v," "$T/out_cifar/per_example.csv" ||
    fail "no $v example in the sweep"
done
echo "ok: CIFAR binary and npy give identical attack and sweep verdicts"
