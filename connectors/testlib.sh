# Helpers for POSIX sh connector test scripts (sourced, not run): the test.sh scripts in
# connectors/, and the test.sh of a shell project made by `runner new`, which gets a copy.
# They run a connector with some stdin, check conditions, count results. The caller sets nothing;
# it calls `finish` last, which prints "N passed, N failed" and returns non-zero on failure.

PASSED=0
FAILED=0
OUT=$(mktemp) || exit 1
trap 'rm -f "$OUT"' EXIT

# run STDIN COMMAND...: runs COMMAND with STDIN; stdout and stderr in $OUT, status in $STATUS.
run() {
  input=$1
  shift
  printf '%s' "$input" | "$@" >"$OUT" 2>&1
  STATUS=$?
}

# check NAME CONDITION...: runs CONDITION (a command) and records the result under NAME.
check() {
  name=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    printf 'ok     %s\n' "$name"
  else
    FAILED=$((FAILED + 1))
    printf 'FAILED %s\n' "$name"
    sed 's/^/         | /' "$OUT"
  fi
}

has() { grep -q -- "$1" "$OUT"; }                   # the output contains the pattern
lacks() { ! grep -q -- "$1" "$OUT"; }               # the output does not contain it
exits() { [ "$STATUS" -eq "$1" ]; }                 # the connector exited with this status
lines() { [ "$(grep -c '^{' "$OUT")" -eq "$1" ]; }  # this many JSON lines
count() { [ "$(grep -c -- "$1" "$OUT")" -eq "$2" ]; }  # this many lines matching the pattern

finish() {
  printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
  [ "$FAILED" -eq 0 ]
}
