#!/usr/bin/env bash
# test_report_browser.sh - headless Chromium renders the report of the
# committed results fixture: the screenshot is not blank (decoded by a small
# zlib PNG reader, no Python) and the page's script ran without errors (it
# sets a marker element; the console shows no uncaught exception).
set -euo pipefail
R="${ROVE_BIN:?}/rove"
SRC="${ROVE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

. "$(dirname "$0")/lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || fail "chromium is not installed (deploy/install-deps.sh installs the Debian package 'chromium')"
CC=$(command -v cc || command -v gcc) || fail "no C compiler for the PNG checker"
"$CC" -O1 -std=c11 -o "$T/png_stat" "$SRC/tests/integration/report_png_stat.c" -lz ||
  fail "cannot build report_png_stat.c"

cp -r "$SRC/tests/fixtures/results" "$T/run"
"$R" report "$T/run" >"$T/out" 2>&1 || {
  cat "$T/out" >&2
  fail "rove report failed"
}
[ -s "$T/run/report.html" ] || fail "no report.html"

flags=(--headless --no-sandbox --disable-gpu --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --hide-scrollbars --user-data-dir="$T/profile")
url="file://$T/run/report.html"

# 1. Screenshot, with the console on stderr.
timeout 180 "$CHROME" "${flags[@]}" --enable-logging=stderr --v=0 \
  --screenshot="$T/shot.png" --window-size=1280,2400 "$url" \
  >"$T/chrome.out" 2>"$T/chrome.err" || {
  tail -20 "$T/chrome.err" >&2
  fail "chromium --screenshot failed"
}
[ -s "$T/shot.png" ] || fail "no screenshot written"
if grep -E "Uncaught|SyntaxError|ReferenceError|TypeError" "$T/chrome.err" >&2; then
  fail "the page raised a script error"
fi
read -r w h colours busy < <("$T/png_stat" "$T/shot.png") || fail "cannot decode the screenshot"
echo "screenshot: ${w}x${h}, $colours distinct colours, busy fraction $busy"
[ "$w" -eq 1280 ] && [ "$h" -eq 2400 ] || fail "screenshot is ${w}x${h}, expected 1280x2400"
# A blank page is one colour; the report has plots in several colours,
# text and tables: hundreds of colours and a good share of non-background.
[ "$colours" -ge 200 ] || fail "only $colours colours: the page looks blank"
awk -v b="$busy" 'BEGIN { exit !(b >= 0.10) }' || fail "only $busy of the pixels differ from the background"

# 2. The DOM after scripts ran: the marker set by the page's script, and
# the plots and tables are there.
timeout 180 "$CHROME" "${flags[@]}" --dump-dom "$url" >"$T/dom.html" 2>"$T/dom.err" || {
  tail -20 "$T/dom.err" >&2
  fail "chromium --dump-dom failed"
}
grep -q 'id="rove-js" data-ok="1"' "$T/dom.html" || fail "the page's script did not run to the end (marker not set)"
n_svg=$(grep -o '<svg class="plot"' "$T/dom.html" | wc -l)
[ "$n_svg" -ge 10 ] || fail "only $n_svg plots in the rendered DOM"
grep -q 'data-k="robust"' "$T/dom.html" || fail "no robust-accuracy table cells in the rendered DOM"
grep -q 'id="restarts"' "$T/dom.html" || fail "no robust-accuracy-vs-restarts plot"
# Numbers are for people: the visible text (scripts, styles and tags
# removed) holds no number of more than 6 significant digits and no
# e-notation (summary.csv keeps those).
perl -0777 -pe 's/<(script|style)\b.*?<\/\1>//gs; s/<[^>]*>/ /g' "$T/dom.html" >"$T/text.txt"
# (whole tokens only: hex hashes such as 7e77 are not numbers)
long=$(perl -ne 'while (/(?<![0-9A-Za-z.])([0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+|[0-9]*\.[0-9]+)(?![0-9A-Za-z])/g) { print "$1\n" }' "$T/text.txt" |
  awk '{ s = $0; if (s ~ /[eE]/) { print s; next }
         gsub(/\./, "", s); sub(/^0+/, "", s); if (length(s) > 6) print $0 }' | head -5)
[ -z "$long" ] || fail "raw numbers in the page's text: $(echo $long)"

# 3. A report with hostile names and no energy still renders with no error.
mkdir -p "$T/odd"
printf '%s\n' 'model,profile,eps,n,clean_acc,robust_acc' \
  '"<script>alert(1)</script>",naive,0.1,10,0.900000,0.500000' \
  '"<script>alert(1)</script>",precise,0.1,10,0.900000,0.300000' >"$T/odd/summary.csv"
"$R" report "$T/odd" >/dev/null 2>&1 || fail "rove report on the odd results failed"
timeout 180 "$CHROME" "${flags[@]}" --dump-dom "file://$T/odd/report.html" >"$T/odd.html" 2>/dev/null ||
  fail "chromium --dump-dom failed on the odd results"
grep -q 'id="rove-js" data-ok="1"' "$T/odd.html" || fail "script marker not set on the odd results"
if grep -q '<script>alert' "$T/odd.html"; then fail "a model name was not escaped"; fi
echo "ok"
