#!/usr/bin/env bash
# run-all.sh - every check CI runs: formatting, the release build with all
# tests (unit, integration, mpi), the ASan+UBSan build with the unit
# tests, and the libFuzzer harnesses over their corpora (tests/fuzz/).
# Warnings are errors. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
start=$(date +%s)

echo "== formatting (clang-format 14)"
bash tests/check-format.sh

echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release
echo "== release tests"
ctest --preset release

echo "== asan build (AddressSanitizer + UBSan)"
cmake --preset asan >/dev/null
cmake --build --preset asan
echo "== asan unit tests"
ctest --preset asan

echo "== fuzzing (libFuzzer: committed corpora replayed, then 5 s per harness)"
bash tests/fuzz/run.sh 5

echo "== all checks passed in $(($(date +%s) - start)) s"
