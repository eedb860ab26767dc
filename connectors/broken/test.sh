#!/bin/sh
# Tests of the broken fixtures themselves, without the runner: each one must break the
# one thing it is named for and do everything else right, or `runner test-connector`
# failing it would prove nothing. (Whether the kit names the right check is tested in
# runner/tests.) Prints "N passed, N failed, N skipped"; exits non-zero on failure. POSIX sh.
#
# hangs and ignores-sigterm: read their first record through a FIFO, then look at the
# process itself. How it dies after SIGTERM is checked everywhere: hangs must die of it
# (143), ignores-sigterm must outlive it for a second and die of the SIGKILL that follows
# (137). Its ignored-signal mask is read from /proc/PID/status on Linux, where a missing
# /proc fails the check; other systems have no such file, and the mask checks print SKIP
# and are counted in the summary line (and in connectors/test-all.sh's).

set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../testlib.sh"
SECRET=$(sed -n 's/.*"apiToken": *"\([^"]*\)".*/\1/p' "$HERE/config.json")
CONFIG="{\"type\":\"config\",\"protocol\":1,\"config\":{\"apiToken\":\"$SECRET\"}}"
SYNC='{"type":"sync","stream":{"_type":"Stream","id":"fixture","self":"https://broken.example/","name":"Fixture stream"},"earliest_data_cutoff":"2026-01-01T00:00:00Z","state":null}'
SYNC_INPUT="$CONFIG
$SYNC
"
FIXTURES='well-behaved garbage-output invalid-record crash-mid-sync verify-never-answers leaks-secret hangs ignores-sigterm'

one() { lines 1 && has "$1"; }              # one PATTERN: stdout is one protocol line, matching
sequence() { types | tr '\n' ' '; }         # the types of the messages on stdout, in order

# What every fixture must get right (verify-never-answers excepted for verify).
for fixture in $FIXTURES; do
  run '' "$HERE/$fixture" spec
  check "$fixture: spec is one spec line with a writeOnly apiToken" one "^{\"type\":\"spec\",\"protocol\":1,\"name\":\"$fixture\".*\"apiToken\":{[^}]*\"writeOnly\":true"
  run "$CONFIG
" "$HERE/$fixture" discover
  check "$fixture: discover emits one stream" one '^{"type":"stream","stream":{"_type":"Stream","id":"fixture"'
  [ "$fixture" = verify-never-answers ] && continue
  run "$CONFIG
" "$HERE/$fixture" verify
  check "$fixture: verify answers valid" one '^{"type":"verification","valid":true}$'
  run '{"type":"config","protocol":1,"config":{}}
' "$HERE/$fixture" verify
  check "$fixture: verify answers invalid for {}" one '"valid":false,"errors":\["apiToken must be present"\]'
done

run "$SYNC_INPUT" "$HERE/well-behaved" sync
check 'well-behaved: sync exits 0' exits 0
check 'well-behaved: sync emits two records then a state' test "$(sequence)" = 'record record state '
check 'well-behaved: every line is a message' only_protocol
check 'well-behaved: no secret anywhere' nowhere "$SECRET"
run '' "$HERE/well-behaved" sync
check 'well-behaved: closed stdin is a config error' has '^{"type":"error","message":"stdin closed before a config message arrived","kind":"config"}$'

run "$SYNC_INPUT" "$HERE/garbage-output" sync
check 'garbage-output: line 2 of stdout, between records, is not JSON' test "$(sequence)|$(sed -n 2p "$OUT")" = 'record record state |Fetched page 1 of 3...'
check 'garbage-output: otherwise exits 0' exits 0

run "$SYNC_INPUT" "$HERE/invalid-record" sync
check 'invalid-record: one record lacks title' count '"type":"record".*"_type":"Incident","id":"br-2","self":"[^"]*","status"' 1
check 'invalid-record: the other is complete' has '"id":"br-1","self":"[^"]*","title":'

run "$SYNC_INPUT" "$HERE/crash-mid-sync" sync
check 'crash-mid-sync: exits 3' exits 3
check 'crash-mid-sync: after a record, a state and a record' test "$(sequence)" = 'record state record '
check 'crash-mid-sync: without an error message' lacks '"type":"error"'

run "$CONFIG
" "$HERE/verify-never-answers" verify
check 'verify-never-answers: exits 0' exits 0
check 'verify-never-answers: prints nothing' lines 0

run "$SYNC_INPUT" "$HERE/leaks-secret" sync
check 'leaks-secret: the secret is in a log message' has "^{\"type\":\"log\".*$SECRET"
check 'leaks-secret: and on stderr' on_stderr "^debug: Authorization: Token token=$SECRET"
check 'leaks-secret: otherwise a clean sync' test "$STATUS|$(sequence)" = '0|log record record state '

# start_hanging FIXTURE: starts its sync in the background (pid in $PID) and reads its
# first line into $FIRST; by then it has set up its signal handling. $OUT then holds that
# line and $ERR the fixture's stderr, which is what a failed check shows.
start_hanging() {
  rm -f "$TESTLIB_DIR/fifo"
  mkfifo "$TESTLIB_DIR/fifo"
  printf '%s' "$SYNC_INPUT" | "$HERE/$1" sync >"$TESTLIB_DIR/fifo" 2>"$ERR" &
  PID=$!
  IFS= read -r FIRST <"$TESTLIB_DIR/fifo"
  printf '%s\n' "$FIRST" >"$OUT"
}

# check_term_ignored NAME yes|no: checks whether process $PID ignores SIGTERM, from bit 15
# of SigIgn in /proc/PID/status. On Linux the file must be readable (else the check
# fails); other systems have none, so the check is a SKIP there, printed and counted.
check_term_ignored() {
  if [ "$(uname -s)" != Linux ]; then
    skip "$1" "no /proc/PID/status on $(uname -s) to read the ignored-signal mask from"
    return
  fi
  mask=$(sed -n 's/^SigIgn:[[:space:]]*\([0-9a-fA-F]\{4,\}\)$/\1/p' "/proc/$PID/status" 2>/dev/null)
  ignored=unreadable
  if [ -n "$mask" ]; then
    ignored=no
    [ $((0x${mask#"${mask%????}"} & 0x4000)) -eq 0 ] || ignored=yes   # the last 4 digits hold bit 15
  fi
  if [ "$ignored" = "$2" ]; then
    check "$1" true
  else
    check "$1" false
    printf '         SIGTERM ignored: %s (SigIgn in /proc/%s/status: %s)\n' "$ignored" "$PID" "${mask:-cannot be read}"
  fi
}

# reap SECONDS: waits for process $PID, its exit status in $STATUS; SIGKILLs it if it is
# still running after SECONDS. So a fixture that should have died of SIGTERM fails its
# check (137, not 143) instead of hanging the suite, and one that must outlive SIGTERM
# has SECONDS to show it.
reap() {
  (
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$1" &
    sleeper=$!
    wait "$sleeper" && kill -KILL "$PID"
  ) >/dev/null 2>&1 &
  watchdog=$!
  wait "$PID"
  STATUS=$?
  kill -TERM "$watchdog" 2>/dev/null
  wait "$watchdog"
}

start_hanging hangs
check 'hangs: emits a record first' test "${FIRST#'{"type":"record"'}" != "$FIRST"
check_term_ignored 'hangs: does not ignore SIGTERM' no
kill -TERM "$PID"
reap 10
check 'hangs: dies of SIGTERM (status 143)' exits 143

start_hanging ignores-sigterm
check 'ignores-sigterm: emits a record first' test "${FIRST#'{"type":"record"'}" != "$FIRST"
check_term_ignored 'ignores-sigterm: ignores SIGTERM' yes
kill -TERM "$PID"
reap 1
check 'ignores-sigterm: outlives SIGTERM, only SIGKILL stops it (status 137)' exits 137

finish
