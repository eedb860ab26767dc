#!/usr/bin/env bash
# Makes docs/report.png, the README's picture of `runner report`, from the demo's data:
# the demo in a scratch directory, the report of its database, then a headless Chromium
# screenshot of the page. Needs the workspace built (cargo build --workspace --release)
# and Chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
runner="${RUNNER:-$PWD/target/release/runner}"
out="$PWD/docs/report.png"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
"$runner" demo -q
"$runner" report --db runner.db -o report.html
sandbox=()
[ "$(id -u)" = 0 ] && sandbox=(--no-sandbox)
chromium --headless "${sandbox[@]}" --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$scratch/profile" \
    --window-size=1100,2900 --screenshot="$out" "file://$scratch/report.html"
echo "wrote $out"
