#!/bin/sh
# Runs the tests of every connector in connectors/: Python (unittest), Node (node --test),
# the shell connector and the broken fixtures (POSIX sh). For CI. Checks that python3
# (>= 3.9) and node (>= 18) exist first and says clearly what is missing. Exits non-zero
# when anything is missing or any suite fails; prints a summary line per suite, with the
# number of tests it skipped, so that a skip is never silent.

set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
RESULTS=''
FAILED=0
LOGS=$(mktemp -d) || exit 1
trap 'rm -rf "$LOGS"' EXIT

# skipped LOG: how many tests LOG's summary lines say were skipped (unittest's
# "OK (skipped=N)", node's "# skipped N", testlib.sh's "N passed, N failed, N skipped").
skipped() {
  sed -n -e 's/.*[(, ]skipped=\([0-9][0-9]*\).*/\1/p' \
    -e 's/^# skipped \([0-9][0-9]*\)$/\1/p' -e 's/^ℹ skipped \([0-9][0-9]*\)$/\1/p' \
    -e 's/^[0-9][0-9]* passed, [0-9][0-9]* failed, \([0-9][0-9]*\) skipped$/\1/p' "$1" |
    awk '{ n += $1 } END { print n + 0 }'
}

# suite NAME DIR COMMAND...: runs COMMAND in DIR, showing its output as it comes, and
# records whether it passed and how many tests it skipped.
suite() {
  name=$1
  dir=$2
  shift 2
  printf '\n==== %s: %s\n' "$name" "$*"
  { (cd "$dir" && "$@") 2>&1; echo "$?" >"$LOGS/$name.status"; } | tee "$LOGS/$name.log"
  count=$(skipped "$LOGS/$name.log")
  note=''
  [ "$count" -eq 0 ] || note=" ($count skipped: see the SKIP/skipped lines above)"
  if [ "$(cat "$LOGS/$name.status")" -eq 0 ]; then
    RESULTS="$RESULTS
pass     $name$note"
  else
    RESULTS="$RESULTS
FAIL     $name$note"
    FAILED=1
  fi
}

# missing NAME WHY: records a suite that could not run.
missing() {
  printf '\n==== %s: cannot run: %s\n' "$1" "$2" >&2
  RESULTS="$RESULTS
MISSING  $1 ($2)"
  FAILED=1
}

if ! command -v python3 >/dev/null 2>&1; then
  missing python 'python3 is not on PATH (install Python 3.9 or newer)'
elif ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
  missing python "python3 is $(python3 --version 2>&1); 3.9 or newer is needed"
else
  printf 'using %s (%s)\n' "$(python3 --version 2>&1)" "$(command -v python3)"
  suite python "$HERE/python" python3 -m unittest -v
fi

if ! command -v node >/dev/null 2>&1; then
  missing node 'node is not on PATH (install Node.js 18 or newer)'
elif ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
  missing node "node is $(node --version); 18 or newer is needed"
else
  printf 'using node %s (%s)\n' "$(node --version)" "$(command -v node)"
  suite node "$HERE/node" sh -c 'node --test tests/*.test.js'
fi

suite shell "$HERE/shell" sh ./test.sh
suite broken "$HERE/broken" sh ./test.sh

printf '\n==== summary%s\n' "$RESULTS"
exit "$FAILED"
