#!/bin/sh
# Runs the tests of every connector in connectors/: Python (unittest), Node (node --test),
# the shell connector and the broken fixtures (POSIX sh). For CI. Checks that python3
# (>= 3.9) and node (>= 18) exist first and says clearly what is missing. Exits non-zero
# when anything is missing or any suite fails; prints a summary line per suite.

set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
RESULTS=''
FAILED=0

# suite NAME DIR COMMAND...: runs COMMAND in DIR and records whether it passed.
suite() {
  name=$1
  dir=$2
  shift 2
  printf '\n==== %s: %s\n' "$name" "$*"
  if (cd "$dir" && "$@"); then
    RESULTS="$RESULTS
pass     $name"
  else
    RESULTS="$RESULTS
FAIL     $name"
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
