# lib.sh - helpers the shell tests source (not a test: not named test_*).
# Expects T (a scratch directory) to be set by the caller.

# fail MSG: prints MSG, then the tail of every file matching the globs in
# FAIL_LOGS (set by the caller, e.g. FAIL_LOGS="$T/*.log"; unset: none),
# and exits 1.
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in ${FAIL_LOGS:-}; do
    [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; } >&2
  done
  exit 1
}

# run EXPECTED_RC CMD... : runs CMD with stdout to $T/out and stderr to
# $T/err, and fails (showing both) unless it exits with EXPECTED_RC.
run() {
  local want=$1 rc=0
  shift
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" -eq "$want" ] || {
    cat "$T/out" "$T/err" >&2
    fail "'$*' exited $rc, expected $want"
  }
}

# has FILE TEXT : $T/FILE must contain TEXT.
has() {
  grep -qF -- "$2" "$T/$1" || {
    cat "$T/$1" >&2
    fail "expected '$2' in $1"
  }
}

# live_sensor FILE VALUE : a fake sensor file that keeps moving, as a real
# one does (a reading that never changes is flagged `stuck`): VALUE - 1 and
# VALUE + 1 in turn every 10 ms, mean VALUE, written in place (same length).
# The writer's pid goes to LIVE_SENSORS; stop_live_sensors kills them.
LIVE_SENSORS=()
live_sensor() {
  local f=$1 v=$2
  printf '%d\n' "$v" >"$f"
  (while :; do
    printf '%d\n' $((v - 1)) 1<>"$f"
    sleep 0.01
    printf '%d\n' $((v + 1)) 1<>"$f"
    sleep 0.01
  done) &
  LIVE_SENSORS+=($!)
}
stop_live_sensors() {
  local p
  for p in "${LIVE_SENSORS[@]}"; do kill "$p" 2>/dev/null || true; done
}

# free_port : prints a TCP port on 127.0.0.1 that nothing listens on (a
# random one of 20000-39999; fails after 50 tries).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  fail "no free port"
}
