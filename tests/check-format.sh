#!/usr/bin/env bash
# check-format.sh - fails if any tracked C source differs from .clang-format
# (clang-format 14). With --fix, rewrites the files instead.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format)
"$cf" --version | grep -q "version 14" || echo "check-format: warning: $("$cf" --version) is not clang-format 14" >&2
mapfile -t files < <(git ls-files -co --exclude-standard '*.c' '*.h' | grep -v '^tests/fixtures/')
if [ "${1:-}" = "--fix" ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
"$cf" --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
