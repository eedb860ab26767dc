#!/bin/sh
# Tests of connector-{{slug}}: runs each command the way the runner does (messages on stdin)
# and checks its output with grep, stdout (the protocol) and stderr (free text) apart.
# Prints one line per check, then "N passed, N failed, N skipped";
# exits non-zero when any check failed. POSIX sh; run from anywhere: `sh test.sh`. The
# helpers (run, check, has, ...) are in testlib.sh, copied from the toolkit.

set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
CONNECTOR="$HERE/connector-{{slug}}"
TOKEN='t0k3n-for-tests'
CONFIG="{\"type\":\"config\",\"protocol\":1,\"config\":{\"apiToken\":\"$TOKEN\"}}"
STREAM='{"_type":"Stream","id":"example-account","self":"https://api.example.com","name":"x"}'
. "$HERE/testlib.sh"

# sync_stdin [STATE] [CUTOFF]: the config and sync messages of a sync.
sync_stdin() {
  printf '%s\n{"type":"sync","stream":%s,"earliest_data_cutoff":"%s","state":%s}\n' \
    "$CONFIG" "$STREAM" "${2:-2026-01-01T00:00:00Z}" "${1:-null}"
}
ids() { grep -o '"_type":"Incident","id":"[^"]*"' "$OUT" | sed 's/.*"id":"//; s/"$//' | tr '\n' ' '; }
state() { sed -n 's/^{"type":"state","state":\(.*\)}$/\1/p' "$OUT" | sed -n "$1p"; }   # state N: the Nth state

run '' "$CONNECTOR" spec
check 'spec exits 0' exits 0
check 'spec prints one line' lines 1
check 'spec names the connector' has '^{"type":"spec","protocol":1,"name":"{{slug}}"'
check 'spec marks the token secret' has '"apiToken":{[^}]*"writeOnly":true'

run "$CONFIG" "$CONNECTOR" verify
check 'verify of a good config exits 0' exits 0
check 'verify of a good config is valid' has '^{"type":"verification","valid":true}$'

run '{"type":"config","protocol":1,"config":{}}' "$CONNECTOR" verify
check 'verify of an empty config still exits 0' exits 0
check 'verify of an empty config says why' has '"valid":false,"errors":\["apiToken must be present"\]'

run '{"type":"config","protocol":1,"config":{"apiToken":"t0k3n with a space","apiBaseUrl":12345}}' "$CONNECTOR" verify
check 'verify names a mistyped value' has '"apiBaseUrl: must be string"'
check 'verify refuses a token with a space' has 'the source refused apiToken'
check 'verify never quotes the token' nowhere 'with a space'

run "$CONFIG" "$CONNECTOR" discover
check 'discover exits 0' exits 0
check 'discover emits the account stream' has '^{"type":"stream","stream":{"_type":"Stream","id":"example-account"'

run "$(sync_stdin)" "$CONNECTOR" sync
check 'sync exits 0' exits 0
check 'sync emits every incident, newest first' test "$(ids)" = 'EX-5 EX-4 EX-3 EX-2 EX-1 '
check 'sync checkpoints after each page' count '^{"type":"state"' 3
check 'sync never prints the token' nowhere "$TOKEN"
FIRST=$(state 1)
LAST=$(state 3)
check 'the last checkpoint covers the whole pass' test "$LAST" = '{"version":1,"syncedThrough":"2026-03-14T09:26:53Z","unfinished":null}'

run "$(sync_stdin "$LAST")" "$CONNECTOR" sync
check 'a sync from the last checkpoint exits 0' exits 0
check 'a sync from the last checkpoint emits nothing new' test "$(ids)" = ''

run "$(sync_stdin "$FIRST")" "$CONNECTOR" sync
check 'an unfinished pass resumes at its next page' test "$(ids)" = 'EX-3 EX-2 EX-1 '

run "$(sync_stdin null 2026-02-15T00:00:00Z)" "$CONNECTOR" sync
check 'nothing older than the cutoff is emitted' test "$(ids)" = 'EX-5 EX-4 EX-3 '

run '' "$CONNECTOR" sync
check 'closed stdin exits 1' exits 1
check 'closed stdin is a config error' has '^{"type":"error","message":"stdin closed before a config message arrived","kind":"config"}$'

run '{"type":"config","protocol":2,"config":{}}' "$CONNECTOR" discover
check 'protocol 2 is refused' has '"message":"this connector speaks protocol 1 only","kind":"config"'

run '' "$CONNECTOR" frobnicate
check 'an unknown command exits 2' exits 2
check 'an unknown command prints usage on stderr' on_stderr '^usage:'

finish
