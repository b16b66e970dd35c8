#!/usr/bin/env bash
# test_sweep_disk.sh - disk faults under a running sweep, on a real 1 MiB
# tmpfs: (1) the disk fills mid-sweep: a clear error naming the journal and
# ENOSPC, the journal whole records up to the last, and --resume once there
# is room gives the results of an uninterrupted run; (2) the output
# directory turns read-only mid-sweep (a read-only bind mount over it): the
# results cannot be written, the error says so and how to finish, and
# --resume once it is writable does; (3) --resume on a read-only directory
# is refused up front and changes nothing. Needs root (mount); skipped
# (77) where mounting is not permitted. (MPI ranks: 2.)
source "$(dirname "$0")/sweep_lib.sh"
M=$WORK/mnt
mkdir -p "$M"
if ! mount -t tmpfs -o size=1m rove-disk-test "$M" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)"
  exit 77
fi
unmount_all() {
  umount "$M/run" 2>/dev/null || true
  umount "$M" 2>/dev/null || true
  cleanup
}
trap unmount_all EXIT
FAIL_LOGS="$WORK/*.log"
T=$WORK

run_sweep 2 "$WORK/ref"

# (1) A full disk: leave 28 KiB free: a page each for job.ini, lock and
# run.json (and its temporary), about half the journal.
avail=$(df -k --output=avail "$M" | tail -1)
dd if=/dev/zero of="$M/filler" bs=1k count=$((avail - 28)) status=none
rc=0
run_sweep 2 "$M/run" 2>"$WORK/full.log" || rc=$?
[ $rc -ne 0 ] || fail "a sweep on a full disk succeeded"
grep -q "$M/run/journal: write failed: No space left on device" "$WORK/full.log" ||
  fail "the error does not name the journal and ENOSPC"
grep -q -- "--resume" "$WORK/full.log" || fail "the error does not say how to resume"
rm "$M/filler"
run_sweep 2 "$M/run" --resume 2>"$WORK/resume1.log" ||
  fail "resume after freeing space failed"
grep -q "journal.*torn\|reported twice\|record .* at byte" "$WORK/resume1.log" &&
  fail "the journal was not whole records: $(cat "$WORK/resume1.log")"
same_results "$WORK/ref" "$M/run" || fail "results after a full disk differ"

# (2) Read-only mid-sweep: once some units are journaled, a read-only bind
# mount covers the directory (the open journal keeps appending through the
# old mount; every new file fails).
rm -rf "$M/run"
run_sweep 2 "$M/run" 2>"$WORK/ro.log" &
sweep=$!
for _ in $(seq 1 200); do
  [ "$(stat -c %s "$M/run/journal" 2>/dev/null || echo 0)" -gt 2000 ] && break
  sleep 0.05
done
mount --bind "$M/run" "$M/run"
mount -o remount,bind,ro "$M/run"
rc=0
wait $sweep || rc=$?
[ $rc -ne 0 ] || fail "a sweep whose directory turned read-only succeeded"
grep -q "Read-only file system" "$WORK/ro.log" || fail "the error does not say read-only"
grep -q "could not be written there" "$WORK/ro.log" ||
  fail "the error does not say the units are journaled and how to finish"
[ -e "$M/run/summary.csv" ] && fail "a summary was written to a read-only directory"

# (3) --resume while read-only: refused at the lock, nothing changed.
before=$(cd "$M/run" && md5sum * | sort)
rc=0
run_sweep 2 "$M/run" --resume 2>"$WORK/ro2.log" || rc=$?
[ $rc -ne 0 ] || fail "--resume on a read-only directory succeeded"
grep -q "$M/run/lock: cannot open: Read-only file system" "$WORK/ro2.log" ||
  fail "the refusal does not name the lock file and the cause"
[ "$(cd "$M/run" && md5sum * | sort)" = "$before" ] ||
  fail "a refused resume changed the directory"

umount "$M/run"
run_sweep 2 "$M/run" --resume 2>"$WORK/resume2.log" ||
  fail "resume once writable failed"
same_results "$WORK/ref" "$M/run" || fail "results after a read-only spell differ"
echo "disk faults: full disk and read-only directory, journal intact, resumed"
