#!/usr/bin/env bash
# test_certify_sweep.sh - a job with a certify profile beside an attack:
# identical results for 2 and 3 ranks, certified_acc in the summary equal
# to the certify rows' robust_acc, no certified example broken by the
# attack (certified <= attacked, example by example), and the report draws
# the bracket.
set -euo pipefail
. "$(dirname "$0")/sweep_lib.sh"
T=$WORK
FAIL_LOGS="$T/*.log"
[ -e /usr/share/datasets/fashion-mnist ] || [ -n "${ROVE_DATA_DIR:-}" ] || {
  echo "skip: Fashion-MNIST is not installed"
  exit 77
}
cat >"$T/c.job" <<JOB
[job]
name = certify
data = fashion-mnist:test[0:16]
seed = 3
shard = 4

[model cnn]
path = $ROVE_SRC/tests/fixtures/fmnist_cnn.onnx

[profile precise]
preset = precise
steps = 10
queries = 50

[profile cert]
preset = certify
method = best

[sweep]
eps = 0.0002, 0.001
JOB
for np in 2 3; do
  mpirun --oversubscribe --timeout 300 -np $np "$ROVE" sweep "$T/c.job" \
    --out "$T/out$np" --quiet >"$T/sweep$np.log" 2>&1 || fail "sweep with $np ranks"
done
same_results "$T/out2" "$T/out3" >&2 || fail "2 and 3 ranks differ"
S=$T/out2/summary.csv
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  { if ($c["profile"] == "cert") cert[$c["eps"]] = $c["robust_acc"];
    ca[$c["eps"]] = $c["certified_acc"] }
  END { for (e in cert) if (cert[e] != ca[e] || cert[e] == "") bad = 1;
        exit bad }' "$S" || fail "certified_acc does not match the certify rows"
# At the smaller eps something is certified (a standard CNN at 0.05/255).
awk -F, 'NR > 1 && $3 == "cert" && $4 == "0.0002" && $7 > 0 { ok = 1 } END { exit !ok }' \
  "$S" || fail "nothing certified at eps 0.0002"
# Certified implies not broken by the attack.
awk -F, 'NR > 1 { v[$2 "," $3 "," $4] = $6 }
  END { for (k in v) { split(k, a, ","); if (a[1] == "cert" && v[k] == "robust" &&
        v["precise," a[2] "," a[3]] != "robust") bad = 1 } exit bad }' \
  "$T/out2/per_example.csv" || fail "a certified example was broken"
run 0 "$ROVE" report "$T/out2"
grep -q 'class="bracket"' "$T/out2/report.html" || fail "no bracket in the report"
echo "ok: certify profile deterministic across ranks, sound against the attack"
