#!/usr/bin/env bash
# test_sweep_resume.sh - kill -9 a worker mid-sweep (Open MPI then ends the
# whole job), resume, and compare with an uninterrupted run: identical
# summary and verdicts, no unit lost or counted twice. Then the same for a
# SIGUSR1 drain, which must exit 75 and say how to resume. (MPI ranks: 3.)
source "$(dirname "$0")/sweep_lib.sh"

run_sweep 2 "$WORK/ref"
units=$(awk -F, 'NR > 1 { s += $12 } END { print s }' "$WORK/ref/summary.csv")

# wait_journal DIR BYTES PID: until DIR/journal holds BYTES or PID exits.
wait_journal() {
  for _ in $(seq 1 600); do
    local sz
    sz=$(stat -c %s "$1/journal" 2>/dev/null || echo 0)
    [ "$sz" -ge "$2" ] && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}


# 1. kill -9 a worker.
mpirun --oversubscribe --timeout 300 -np 3 "$ROVE" sweep "$JOB" \
  --out "$WORK/kill" --quiet >"$WORK/kill.log" 2>&1 &
mp=$!
wait_journal "$WORK/kill" 1500 "$mp" || fail "sweep ended before the kill"
victim=$(rank_pid "$mp" 1) || fail "no rank 1 process under mpirun $mp"
kill -9 "$victim"
rc=0
wait "$mp" || rc=$?
[ "$rc" -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
[ ! -e "$WORK/kill/summary.csv" ] || fail "the killed sweep wrote a summary"
run_sweep 3 "$WORK/kill" --resume 2>"$WORK/resume.log" ||
  fail "resume failed: $(cat "$WORK/resume.log")"
same_results "$WORK/ref" "$WORK/kill" || fail "resumed run differs"
got=$(awk -F, 'NR > 1 { s += $12 } END { print s }' "$WORK/kill/summary.csv")
[ "$got" = "$units" ] || fail "units $got after resume, $units uninterrupted"
echo "ok: kill -9 of a worker, then --resume: identical results"

# 2. SIGUSR1 drain.
mpirun --oversubscribe --timeout 300 -np 3 "$ROVE" sweep "$JOB" \
  --out "$WORK/usr1" >"$WORK/usr1.log" 2>&1 &
mp=$!
wait_journal "$WORK/usr1" 1500 "$mp" || fail "sweep ended before SIGUSR1"
kill -USR1 "$mp"
rc=0
wait "$mp" || rc=$?
[ "$rc" -eq 75 ] || fail "drain exited $rc, expected 75: $(cat "$WORK/usr1.log")"
grep -q -- "--resume" "$WORK/usr1.log" || fail "no resume hint in the log"
run_sweep 2 "$WORK/usr1" --resume 2>"$WORK/resume2.log" ||
  fail "resume after drain failed: $(cat "$WORK/resume2.log")"
same_results "$WORK/ref" "$WORK/usr1" || fail "drained+resumed run differs"
# Resuming a finished sweep runs nothing and changes nothing.
run_sweep 1 "$WORK/usr1" --resume 2>/dev/null
same_results "$WORK/ref" "$WORK/usr1" || fail "second resume changed results"
# Without --resume an existing journal is never overwritten.
if run_sweep 1 "$WORK/usr1" 2>"$WORK/refuse.log"; then
  fail "a second sweep into the same directory was not refused"
fi
grep -q "pass --resume" "$WORK/refuse.log" || fail "unclear refusal message"
echo "ok: SIGUSR1 drain exits 75 and resumes to identical results"

# 3. A journal holding a record twice: an identical duplicate is skipped
# and counted on --resume; a conflicting one (same unit, another result)
# is refused, naming the unit.
dup_last() { # JOURNAL [FLIP]: appends its last record again (FLIP: with a
  # payload byte changed and the CRC fixed, so only the content differs)
  perl -MCompress::Zlib -e '
    local $/; open(my $f, "<", $ARGV[0]) or die; binmode $f; my $d = <$f>; close $f;
    my ($pos, $last) = (0, 0);
    while ($pos + 8 <= length $d) { my $n = unpack("V", substr($d, $pos, 4));
      last if $pos + 8 + $n > length $d; $last = $pos; $pos += 8 + $n }
    my $n = unpack("V", substr($d, $last, 4)); my $p = substr($d, $last + 8, $n);
    if ($ARGV[1]) { substr($p, $n - 9, 1) = chr(ord(substr($p, $n - 9, 1)) ^ 1) }
    open($f, ">>", $ARGV[0]) or die; binmode $f;
    print $f pack("VV", $n, crc32($p)), $p; close $f' "$@"
}
cp -r "$WORK/ref" "$WORK/dup"
dup_last "$WORK/dup/journal"
run_sweep 2 "$WORK/dup" --resume 2>"$WORK/dup.log" || fail "resume with a duplicate record failed: $(cat "$WORK/dup.log")"
grep -q "1 duplicate record(s)" "$WORK/dup.log" || fail "the duplicate was not reported: $(cat "$WORK/dup.log")"
same_results "$WORK/ref" "$WORK/dup" || fail "results changed by a duplicate record"
cp -r "$WORK/ref" "$WORK/conflict"
dup_last "$WORK/conflict/journal" flip
rc=0
run_sweep 2 "$WORK/conflict" --resume 2>"$WORK/conflict.log" || rc=$?
[ "$rc" -ne 0 ] || fail "a conflicting duplicate record was accepted"
grep -q "appears twice with different results" "$WORK/conflict.log" ||
  fail "the conflict is not named: $(cat "$WORK/conflict.log")"
echo "ok: identical duplicate records skipped, conflicting ones refused"
