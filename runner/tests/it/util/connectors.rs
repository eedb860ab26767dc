//! Connectors for the tests: the fixture connector (`tests/fixtures/fake-connector.sh`,
//! modes by config) and shell connectors written by a test.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The fixture connector, made executable (git may lose the mode).
pub fn fake() -> String {
    fixture("fake-connector.sh")
}

/// A script of `tests/fixtures/`, made executable (git may lose the mode).
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    if mode & 0o111 != 0o111 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.to_str().unwrap().to_owned()
}

/// The lines every test connector starts with: its spec (a writeOnly `token`), one stream,
/// and for sync the sync message in `$sync`.
const PREAMBLE: &str = r#"#!/bin/sh
case "$1" in
spec) echo '{"type":"spec","protocol":1,"name":"store-test","version":"1","config_schema":{"type":"object","properties":{"token":{"type":"string","writeOnly":true}}},"record_types":["Team"]}'; exit 0 ;;
discover) cat >/dev/null; echo '{"type":"stream","stream":{"_type":"Stream","id":"s1","self":"https://x.test/s1","name":"S1"}}'; exit 0 ;;
esac
read -r config
read -r sync
team() { printf '{"type":"record","record":{"_type":"Team","id":"T%s","self":"https://x.test/T%s","name":"%s"}}\n' "$1" "$1" "$2"; }
state() { printf '{"type":"state","state":%s}\n' "$1"; }
"#;

/// A connector whose sync runs `body` (POSIX sh; `team ID NAME` and `state JSON` print
/// messages; `$sync` holds the sync message).
pub fn shell_connector(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{PREAMBLE}{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
