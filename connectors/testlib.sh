# Helpers for POSIX sh connector test scripts (sourced, not run): the test.sh scripts in
# connectors/, and the test.sh of a shell project made by `runner new`, which gets a copy.
# They run a connector with some stdin, check conditions, count results. The caller sets nothing;
# it calls `finish` last, which prints "N passed, N failed, N skipped" and returns non-zero on
# failure.
#
# stdout and stderr are kept apart, as the runner keeps them: stdout is the protocol, every
# line of it a JSON message the runner parses; stderr is free text for humans, never parsed
# (PROTOCOL.md §4, §8). So has, lacks, lines, count, only_protocol, types and ends_with look
# at stdout alone; on_stderr looks at stderr; nowhere looks at both. A message that went to
# the wrong stream fails the check that looks for it.
#
# Message types are read from lines that start with {"type":"...", the order every connector
# here writes (and any compact serialiser keeps, given an object built with "type" first).

PASSED=0
FAILED=0
SKIPPED=0
TESTLIB_DIR=$(mktemp -d) || exit 1         # scratch space, removed on exit; test.sh may use it
OUT="$TESTLIB_DIR/stdout"                  # the last run's stdout
ERR="$TESTLIB_DIR/stderr"                  # the last run's stderr
: >"$OUT"
: >"$ERR"
trap 'rm -rf "$TESTLIB_DIR"' EXIT

# run STDIN COMMAND...: runs COMMAND with STDIN; stdout in $OUT, stderr in $ERR, status in $STATUS.
run() {
  input=$1
  shift
  printf '%s' "$input" | "$@" >"$OUT" 2>"$ERR"
  STATUS=$?
}

# check NAME CONDITION...: runs CONDITION (a command) and records the result under NAME; on
# failure, shows the last run's stdout and stderr.
check() {
  name=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    printf 'ok     %s\n' "$name"
  else
    FAILED=$((FAILED + 1))
    printf 'FAILED %s\n' "$name"
    show_stream stdout "$OUT"
    show_stream stderr "$ERR"
  fi
}

# skip NAME WHY: records a check that cannot run here, and says why; finish counts it.
skip() {
  SKIPPED=$((SKIPPED + 1))
  printf 'SKIP   %s: %s\n' "$1" "$2"
}

# show_stream LABEL FILE: FILE indented under LABEL, or "(empty)".
show_stream() {
  if [ -s "$2" ]; then
    printf '         %s:\n' "$1"
    sed 's/^/         | /' "$2"
  else
    printf '         %s: (empty)\n' "$1"
  fi
}

has() { grep -q -- "$1" "$OUT"; }                   # stdout contains the pattern
lacks() { ! grep -q -- "$1" "$OUT"; }               # stdout does not contain it
on_stderr() { grep -q -- "$1" "$ERR"; }             # stderr contains the pattern
nowhere() { ! grep -q -F -- "$1" "$OUT" "$ERR"; }   # this text (not a pattern) is on neither stream
exits() { [ "$STATUS" -eq "$1" ]; }                 # the connector exited with this status
count() { [ "$(grep -c -- "$1" "$OUT")" -eq "$2" ]; }  # this many stdout lines match the pattern

# only_protocol: every line of stdout is a protocol message, a JSON object with a "type"
# (blank lines aside, which the runner ignores); the runner fails a run on any other line.
only_protocol() { ! grep -v -q -e '^[[:space:]]*$' -e '^{.*"type":"[^"]*".*}$' "$OUT"; }

# lines N: stdout holds only protocol messages, N of them.
lines() { only_protocol && [ "$(grep -c '^{' "$OUT")" -eq "$1" ]; }

# types: the type of each protocol message on stdout, one per line, in order ("?" for a
# JSON line that does not start with its type).
types() { sed -n -e 's/^{"type":"\([^"]*\)".*/\1/p' -e t -e 's/^{.*/?/p' "$OUT"; }

# ends_with TYPE: the last protocol message on stdout, log messages aside, is a TYPE. (A log
# may come anywhere, after the last state too: it never changes the outcome.)
ends_with() { [ "$(types | grep -v '^log$' | tail -n 1)" = "$1" ]; }

finish() {
  printf '%s passed, %s failed, %s skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
  [ "$FAILED" -eq 0 ]
}
