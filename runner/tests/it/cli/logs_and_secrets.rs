//! Rules 4 and 5: bounded stderr capture, connector logs by level, secrets masked
//! everywhere.

use crate::util::{stderr_of, stdout_of, Sandbox};

#[test]
fn a_stderr_flood_is_bounded_and_its_tail_shown_on_failure() {
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"flood","count":1}"#, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("---- stderr (last 2 KiB of 195313 KiB) ----"), "{}", &stderr[..stderr.len().min(3000)]);
    assert!(stderr.contains("the end of the flood"), "the tail is kept");
    assert!(stderr.len() < 10_000, "only the tail is printed: {} bytes", stderr.len());
    let stored = sandbox.strings("SELECT message FROM run_logs WHERE level = 'stderr'");
    assert!(stored[0].contains("bytes truncated ..."), "stored capture is bounded too");
    assert!(stored[0].len() < 100_000);
}

#[test]
fn logs_are_shown_by_level_and_kept_with_the_run() {
    let sandbox = Sandbox::new();
    let normal = stderr_of(&sandbox.sync(r#"{"mode":"ok","count":1}"#, &[]).output().unwrap());
    assert!(normal.contains("[fake] info: starting from state null"), "{normal}");
    assert!(!normal.contains("debug: done"), "{normal}");
    let verbose = stderr_of(&sandbox.sync(r#"{"mode":"ok","count":1}"#, &["-v"]).output().unwrap());
    assert!(verbose.contains("[fake] debug: done"), "{verbose}");
    let quiet = sandbox.sync(r#"{"mode":"ok","count":1}"#, &["-q"]).output().unwrap();
    assert_eq!(stderr_of(&quiet), "");
    assert_eq!(stdout_of(&quiet), "", "no summary with -q");
    let kept = sandbox.strings("SELECT level || ': ' || message FROM run_logs WHERE run_id = 1");
    assert_eq!(kept, ["info: starting from state null with cutoff 2026-01-01T00:00:00Z", "debug: done"]);
}

#[test]
fn secrets_never_appear_in_output_errors_or_storage() {
    let sandbox = Sandbox::new();
    let secret = "tok-very-secret-42";
    let config = format!(r#"{{"mode":"leak","token":"{secret}","count":1}}"#);
    let output = sandbox.sync(&config, &["-v", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let (stdout, stderr) = (stdout_of(&output), stderr_of(&output));
    assert!(stderr.contains("[fake] warn: using token ***"), "{stderr}");
    assert!(stderr.contains("Token token=***"), "{stderr}");
    assert!(!stderr.contains(secret) && !stdout.contains(secret), "{stdout}\n{stderr}");
    let db = std::fs::read(sandbox.path("runner.db")).unwrap();
    let wal = std::fs::read(sandbox.path("runner.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret stored in SQLite");
    }
    let stored = sandbox.strings("SELECT message FROM run_logs UNION ALL SELECT error FROM sync_runs");
    assert!(stored.iter().any(|m| m.contains("***")), "{stored:?}");
    // A secret inside the connector's data is stored masked, with a warning.
    let names = sandbox.strings("SELECT json_extract(json, '$.name') FROM records WHERE id = 'leaky'");
    assert_eq!(names, ["***"]);
    assert_eq!(sandbox.strings("SELECT state FROM stream_state"), [r#"{"cursor":"***"}"#]);
    assert!(stderr.contains("warning: record Team `leaky` (line 4) contained the value of a writeOnly"), "{stderr}");
}

/// A connector that learns its secrets from its configuration, as the adapters do: its
/// spec's `secretKeys` names keys (`secretKeyNames`), its Stream points at a value
/// (`configSecrets`); it echoes both in a log line, stderr, a record and its error. Only
/// the runner can mask them: the connector does not.
const LEARNT_SECRETS: &str = r#"#!/bin/sh
case "$1" in
spec) echo '{"type":"spec","protocol":1,"name":"learnt","version":"1","config_schema":{"type":"object","properties":{"secretKeys":{"type":"array","secretKeyNames":true},"inner":{"type":"object"},"other":{"type":"object"}}},"record_types":["Team"]}'; exit 0 ;;
discover) cat >/dev/null; echo '{"type":"stream","stream":{"_type":"Stream","id":"s1","self":"https://x.test/s1","name":"S1","configSecrets":["/other"]}}'; exit 0 ;;
esac
cat >/dev/null
both='named-secret-1 pointed-secret-2'
printf '{"type":"log","level":"info","message":"using %s"}\n' "$both"
printf 'stderr: %s\n' "$both" >&2
printf '{"type":"record","record":{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"%s"}}\n' "$both"
printf '{"type":"state","state":{"cursor":"%s"}}\n' "$both"
printf '{"type":"error","kind":"internal","message":"failed with %s"}\n' "$both"
exit 1
"#;

#[test]
fn secrets_a_connector_names_by_key_or_on_its_stream_are_masked_by_the_runner() {
    let sandbox = Sandbox::new();
    let connector = sandbox.script("connector-learnt", LEARNT_SECRETS);
    let config = sandbox.config(
        r#"{"secretKeys":["db_pass"],"inner":{"db_pass":"named-secret-1"},"other":{"deep":["pointed-secret-2"]}}"#,
    );
    let sync = sandbox.runner(&["sync", &connector, &config, "2026-01-01", "-v"]).output().unwrap();
    let json = sandbox.runner(&["sync", &connector, &config, "2026-01-01", "--json"]).output().unwrap();
    let runs = sandbox.runner(&["runs", "--db", "runner.db"]).output().unwrap();
    let runs_json = sandbox.runner(&["runs", "--db", "runner.db", "--json"]).output().unwrap();
    let stderr = stderr_of(&sync);
    assert!(stderr.contains("[learnt] info: using *** ***"), "{stderr}");
    assert!(stderr.contains("stderr: *** ***"), "{stderr}");
    assert!(stderr.contains("failed with *** ***"), "{stderr}");
    let db = std::fs::read(sandbox.path("runner.db")).unwrap();
    let wal = std::fs::read(sandbox.path("runner.db-wal")).unwrap_or_default();
    for secret in ["named-secret-1", "pointed-secret-2"] {
        for output in [&sync, &json, &runs, &runs_json] {
            let text = format!("{}{}", stdout_of(output), stderr_of(output));
            assert!(!text.contains(secret), "{secret} shown:\n{text}");
        }
        for bytes in [&db, &wal] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} stored in SQLite");
        }
    }
    assert_eq!(sandbox.strings("SELECT json_extract(json, '$.name') FROM records"), ["*** ***"]);
}
