#!/usr/bin/env bash
# test_train_cli.sh - rove train and rove export end to end: a tiny zoo
# trains, logs, skips on re-run, retrains what changed; zoo file errors
# name the line; exported ONNX evaluates exactly like the .rove model.
set -euo pipefail
R="${ROVE_BIN:?}/rove"
ROVE_SRC=${ROVE_SRC:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

. "$(dirname "$0")/lib.sh"
json_num() { sed -n "s/.*\"$1\": \\([-0-9.e]*\\).*/\\1/p" "$2" | tail -1; }

run 0 "$R" train --help
has out "usage: rove train"
run 0 "$R" export --help
has out "usage: rove export"
run 2 "$R" train
run 2 "$R" export only-one-arg

# --- a tiny zoo ------------------------------------------------------------
cat >"$T/tiny.zoo" <<'Z'
[zoo]
output = out
n_train = 800
n_test = 200
epochs = 2
batch = 50
optimizer = adam
lr = 0.003

[model std]
arch = smallcnn
width = 0.25

[model q4]
arch = smallcnn
width = 0.25
variant = qat
weight_bits = 4
act_bits = 4
Z
run 0 "$R" train "$T/tiny.zoo" --out "$T/zoo" --quiet
for m in std q4; do
  [ -s "$T/zoo/$m.rove" ] || fail "no $m.rove"
  [ -s "$T/zoo/$m.json" ] || fail "no $m.json"
  for k in '"arch": "smallcnn"' '"seed": 1' '"hash": "' '"test_acc": ' \
    '"seconds": ' '"train_acc": ' '"epochs": 2'; do
    grep -qF -- "$k" "$T/zoo/$m.json" || fail "$m.json lacks $k"
  done
done
grep -qF '"variant": "qat"' "$T/zoo/q4.json" || fail "q4 variant"
grep -qF '"act_bits": 4' "$T/zoo/q4.json" || fail "q4 bits"
acc=$(json_num test_acc "$T/zoo/std.json")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.5) }' || fail "std test_acc $acc < 0.5"
# The logged hash is the model's.
h=$(sed -n 's/.*"hash": "\([0-9a-f]*\)".*/\1/p' "$T/zoo/std.json")
run 0 "$R" info "$T/zoo/std.rove"
has out "${h:0:16}"

# --- re-running skips; a changed setting retrains only that model ---------
cp "$T/zoo/std.rove" "$T/std.before"
run 0 "$R" train "$T/tiny.zoo" --out "$T/zoo"
has out "std                      up to date"
has out "q4                       up to date"
cmp -s "$T/zoo/std.rove" "$T/std.before" || fail "skipped model rewritten"
sed -i 's/^act_bits = 4/act_bits = 2/' "$T/tiny.zoo"
run 0 "$R" train "$T/tiny.zoo" --out "$T/zoo" --quiet
has out "std                      up to date"
has out "q4                       test acc"
grep -qF '"act_bits": 2' "$T/zoo/q4.json" || fail "q4 not retrained"
# A damaged model file is retrained, not trusted.
printf 'junk' >"$T/zoo/std.rove"
run 0 "$R" train "$T/tiny.zoo" --out "$T/zoo" --only std --quiet
has out "std                      test acc"
cmp -s "$T/zoo/std.rove" "$T/std.before" || fail "retraining not deterministic"

# --- one model from flags ----------------------------------------------------
run 0 "$R" train --name flagged --width 0.25 --epochs 1 --n-train 200 \
  --n-test 100 --variant pgd --eps 0.1 --pgd-steps 2 --out "$T/zoo" --quiet
grep -qF '"pgd": {"eps": 0.10000000000000001, "steps": 2' "$T/zoo/flagged.json" ||
  fail "flagged.json pgd settings"
run 2 "$R" train --name bad --bits 4 --out "$T/zoo"
has err "only meaningful with variant = qat"

# --- zoo file errors name the line and key ---------------------------------
printf '[model a]\narch = smallcnn\n[model b]\narch = vgg16\n' >"$T/e1.zoo"
run 2 "$R" train "$T/e1.zoo" --out "$T/e"
has err "e1.zoo:4: [model b] key 'arch': unknown value 'vgg16'"
printf '[model a]\nvariant = qat\n\nbits = 3\n' >"$T/e2.zoo"
run 2 "$R" train "$T/e2.zoo" --out "$T/e"
has err "e2.zoo:4: [model a] key 'bits': bit width 3 is not supported"
printf '[model a]\nvariant = pgd\neps = -0.1\n' >"$T/e3.zoo"
run 2 "$R" train "$T/e3.zoo" --out "$T/e"
has err "e3.zoo:3: [model a] key 'eps'"
run 1 "$R" train "$T/tiny.zoo" --out "$T/zoo" --only nosuch
has err "--only 'nosuch' names no model"
[ ! -e "$T/e" ] || [ -z "$(ls "$T/e")" ] || fail "a failed zoo wrote files"

# --- export: the ONNX model evaluates exactly like the .rove model ----------
for m in std q4; do
  run 0 "$R" export "$T/zoo/$m.rove" "$T/$m.onnx" --data 'fashion-mnist:test[0:100]'
  has out "logits bit-identical on 164 inputs"
  run 0 "$R" eval "$T/zoo/$m.rove" --data 'fashion-mnist:test[0:300]' --logits "$T/a.csv"
  run 0 "$R" eval "$T/$m.onnx" --data 'fashion-mnist:test[0:300]' --logits "$T/b.csv"
  cmp -s "$T/a.csv" "$T/b.csv" || fail "$m: ONNX logits differ from .rove"
done
# The quantized model keeps its quantizers (case 2) and int8 weights.
run 0 "$R" info "$T/q4.onnx"
has out "fakequant"
[ "$(stat -c %s "$T/q4.onnx")" -lt "$(stat -c %s "$T/std.onnx")" ] ||
  fail "int8 weights should make q4.onnx smaller"
run 1 "$R" export "$T/nosuch.rove" "$T/x.onnx"
[ ! -e "$T/x.onnx" ] || fail "export of a missing model wrote a file"

# --- the training-step benchmark prints its figures ---------------------------
run 0 "$R" train --bench --width 0.25 --batch 16 --steps 2 --json
has out '"examples_per_s": '
has out '"openblas_core": '
has out '"optimizer": "sgd"'
# ... of a model file too (a small ResNet-18 fixture), with Adam
run 0 "$R" train --bench --model "$ROVE_SRC/tests/fixtures/bench_resnet18.onnx" \
  --batch 4 --steps 2 --optimizer adam --json
has out '"arch": "'"$ROVE_SRC"'/tests/fixtures/bench_resnet18.onnx"'
has out '"optimizer": "adam"'
run 1 "$R" train --bench --model "$T/nosuch.onnx" --steps 1
has err "nosuch.onnx"
echo "test_train_cli: ok"
