#!/bin/sh
# Builds the binaries the benchmarks run (release), then runs runner-bench with the given
# arguments: `pipeline` when there are none. See benchmarks/README.md.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --locked -p runner -p benchmarks -p connector-pagerduty -p connector-adapters
if [ "$#" -eq 0 ]; then
    set -- pipeline
fi
exec "${CARGO_TARGET_DIR:-target}/release/runner-bench" "$@"
