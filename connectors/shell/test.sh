#!/bin/sh
# Tests of hello-shell: runs each command as the runner would (messages on stdin) and
# checks its output with grep, stdout (the protocol) and stderr (free text) apart. Prints
# one line per check, then "N passed, N failed, N skipped";
# exits non-zero when any check failed. POSIX sh; run from anywhere. The helpers (run,
# check, has, ...) are in ../testlib.sh.

set -u
CONNECTOR="$(cd "$(dirname "$0")" && pwd)/hello-shell"
CONFIG='{"type":"config","protocol":1,"config":{"greeting":"Hello"}}'
STREAM='{"_type":"Stream","id":"hello","self":"https://example.com/hello","name":"Hello stream"}'
. "$(dirname "$0")/../testlib.sh"

sync_message() { printf '{"type":"sync","stream":%s,"earliest_data_cutoff":"%s","state":null}' "$STREAM" "$1"; }

run '' "$CONNECTOR" spec
check 'spec exits 0' exits 0
check 'spec prints one spec line' lines 1
check 'spec speaks protocol 1' has '^{"type":"spec","protocol":1,"name":"hello-shell"'
check 'spec marks greeting as required' has '"required":\["greeting"\]'

run "$CONFIG
" "$CONNECTOR" verify
check 'verify of a good config exits 0' exits 0
check 'verify of a good config is valid' has '^{"type":"verification","valid":true}$'
check 'verify prints only protocol lines' lines 1

run '{"type":"config","protocol":1,"config":{}}
' "$CONNECTOR" verify
check 'verify of a bad config still exits 0' exits 0
check 'verify of a bad config says why' has '"valid":false,"errors":\["greeting must be present"\]'

run "$CONFIG
" "$CONNECTOR" discover
check 'discover exits 0' exits 0
check 'discover emits the hello stream' has '^{"type":"stream","stream":{"_type":"Stream","id":"hello"'
check 'discover prints only protocol lines' lines 1

run "$CONFIG
$(sync_message 2026-01-01T00:00:00Z)
" "$CONNECTOR" sync
check 'sync exits 0' exits 0
check 'sync emits two records' count '"type":"record"' 2
check 'sync puts the greeting in titles' has '"title":"Hello from incident hs-1"'
check 'sync emits newest first' test "$(grep -o '"id":"hs-[12]"' "$OUT" | tr -d '\n')" = '"id":"hs-2""id":"hs-1"'
check 'sync prints only protocol lines' only_protocol
check 'sync ends with a checkpoint (only a log may follow it)' ends_with state
check 'sync checkpoints the time it synced' has '^{"type":"state","state":{"syncedAt":"[0-9T:Z-]*"}}$'

run "$CONFIG
$(sync_message 2026-02-02T00:00:00Z)
" "$CONNECTOR" sync
check 'sync respects the cutoff' count '"type":"record"' 1
check 'sync keeps the newer record' has '"id":"hs-2"'

run '' "$CONNECTOR" sync
check 'closed stdin exits 1' exits 1
check 'closed stdin gives a config error' has '^{"type":"error","message":"stdin closed before a config message arrived","kind":"config"}$'

run "$CONFIG
" "$CONNECTOR" sync
check 'sync without a sync message exits 1' exits 1
check 'sync without a sync message names it' has 'before a sync message'

run '{"type":"config","protocol":2,"config":{"greeting":"Hello"}}
' "$CONNECTOR" discover
check 'protocol 2 is refused' has '"message":"this connector speaks protocol 1 only","kind":"config"'

run '' "$CONNECTOR" frobnicate
check 'an unknown command exits 2' exits 2
check 'an unknown command prints usage on stderr' on_stderr '^usage:'
check 'an unknown command prints nothing on stdout' lines 0

finish
