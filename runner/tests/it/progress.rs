//! A connector's `progress` messages: the last one is in the `--json` summary of its
//! stream, a malformed one is a protocol error like any known message, and connectors that
//! never send one (or send types this runner does not know) keep working. The terminal
//! rendering (percentage, time left) is unit-tested in `console.rs`: it is drawn only on
//! a terminal.

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use crate::util::{fake, stderr_of, stdout_of, Sandbox};

/// A connector in sh whose sync sends three Team records, a `progress` after each (the
/// second with a message type of a later protocol beside it), a line of `extra` and a
/// checkpoint.
fn counting_connector(sandbox: &Sandbox, extra: &str) -> String {
    let script = format!(
        r#"#!/bin/sh
case "$1" in
spec) echo '{{"type":"spec","protocol":1,"name":"counting","version":"0.1.0","config_schema":{{"type":"object"}},"record_types":["Team"]}}' ;;
discover) cat >/dev/null; echo '{{"type":"stream","stream":{{"_type":"Stream","id":"s1","self":"https://x.test/s1","name":"S1"}}}}' ;;
sync) cat >/dev/null
  for i in 1 2 3; do
    echo '{{"type":"record","record":{{"_type":"Team","id":"T'$i'","self":"https://x.test/T'$i'","name":"Ops"}}}}'
    echo '{{"type":"progress","done":'$i',"total":3,"unit":"teams"}}'
    [ $i = 2 ] && echo '{{"type":"eta","seconds":1}}'
  done
  echo '{extra}'
  echo '{{"type":"state","state":{{"cursor":3}}}}' ;;
esac
"#
    );
    let path = sandbox.write("counting", &script);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `runner --json sync CONNECTOR c.json s1 2026-01-01` in the sandbox: exit code and the
/// summary of its one stream.
fn sync_json(sandbox: &Sandbox, connector: &str, config: &str) -> (Option<i32>, Value, String) {
    let config = sandbox.config(config);
    let output = sandbox.runner(&["--json", "sync", connector, &config, "s1", "2026-01-01"]).output().unwrap();
    let summary: Value = serde_json::from_str(&stdout_of(&output))
        .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}): {output:?}"));
    (output.status.code(), summary["connections"][0]["streams"][0].clone(), stderr_of(&output))
}

#[test]
fn the_last_progress_a_connector_sent_is_in_the_json_summary_and_unknown_types_stay_ignored() {
    let sandbox = Sandbox::new();
    let connector = counting_connector(&sandbox, r#"{"type":"log","level":"info","message":"done"}"#);
    let (code, stream, stderr) = sync_json(&sandbox, &connector, "{}");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stream["outcome"], "succeeded");
    assert_eq!(stream["records"], 3);
    assert_eq!(stream["progress"], json!({"done": 3, "total": 3, "unit": "teams"}));
    assert_eq!(sandbox.strings("SELECT state FROM stream_state"), [r#"{"cursor":3}"#], "progress is no checkpoint");
}

#[test]
fn a_connector_that_never_sends_progress_has_none_in_the_summary() {
    let sandbox = Sandbox::new();
    let (code, stream, stderr) = sync_json(&sandbox, &fake(), r#"{"mode":"ok","count":2}"#);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stream["records"], 2);
    assert_eq!(stream["progress"], Value::Null);
}

#[test]
fn a_malformed_progress_is_a_protocol_error_naming_its_line() {
    let sandbox = Sandbox::new();
    // Line 8: after three records with a progress each and the `eta` line.
    let connector = counting_connector(&sandbox, r#"{"type":"progress","done":"most"}"#);
    let (code, stream, stderr) = sync_json(&sandbox, &connector, "{}");
    assert_eq!(code, Some(1), "{stderr}");
    let error = stream["error"].as_str().unwrap_or_default();
    assert!(error.contains("line 8") && error.contains("invalid \"progress\" message"), "{error}");
    assert_eq!(stream["progress"], json!({"done": 3, "total": 3, "unit": "teams"}), "the last good one is kept");
}
