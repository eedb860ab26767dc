//! Deep and large input: a record or a state nested 100,000 levels deep, configuration
//! files of a gigabyte, not UTF-8, or nested 100,000 levels, a connections file likewise.
//! Each is refused with a message that says what is wrong, and nothing overflows a stack:
//! a crash would end the runner with a signal, not exit code 1 or 2.

use std::path::Path;

use serde_json::json;

use crate::destinations::{Kind, Store};
use crate::util::{runner, shell_connector as connector, stderr_of};

const DEPTH: usize = 100_000;

/// `[[[...]]]`, `depth` levels.
fn nested(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

/// A connector that sends a good record, then the line in `deep.jsonl`, then a state.
fn deep_connector(store: &Store, line: &str) -> std::path::PathBuf {
    let file = store.dir.path().join("deep.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    connector(store.dir.path(), "deep", &format!("team 0 shallow; cat '{}'; state 1", file.display()))
}

fn deep_record() -> String {
    let record = json!({"_type": "Team", "id": "T1", "self": "https://x.test/T1", "name": "deep"}).to_string();
    let record = record.replace('}', &format!(",\"nested\":{}}}", nested(DEPTH)));
    format!(r#"{{"type":"record","record":{record}}}"#)
}

#[test]
fn a_record_nested_100000_levels_deep_fails_the_sync_clearly() {
    let Some(store) = Store::new(Kind::Sqlite, "deep_record") else { return };
    let output = store.sync(&deep_connector(&store, &deep_record()), &json!({}), &[]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "sent an invalid record on line 2: record Team `T1` cannot be read: it is nested more than 127 levels deep"
        ),
        "{stderr}"
    );
    assert_eq!(store.state("conn", "s1"), None);
}

/// With `--skip-invalid` the deep record is kept apart, like any invalid one, everywhere.
fn a_record_nested_100000_levels_deep_is_kept_apart(kind: Kind) {
    let Some(store) = Store::new(kind, &format!("deep_skip_{kind:?}")) else { return };
    let output = store.sync(&deep_connector(&store, &deep_record()), &json!({}), &["--skip-invalid"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let rejected = store.rejected();
    assert_eq!(rejected.len(), 1);
    assert_eq!((rejected[0].0.as_deref(), rejected[0].1.as_deref()), (Some("Team"), Some("T1")));
    assert!(rejected[0].2.contains("nested more than 127 levels deep"), "{rejected:?}");
    assert_eq!(store.records().len(), 1);
    assert_eq!(store.state("conn", "s1"), Some(json!(1)));
}

#[test]
fn a_record_nested_100000_levels_deep_is_kept_apart_in_sqlite() {
    a_record_nested_100000_levels_deep_is_kept_apart(Kind::Sqlite);
}

#[test]
fn a_record_nested_100000_levels_deep_is_kept_apart_in_json_lines() {
    a_record_nested_100000_levels_deep_is_kept_apart(Kind::JsonLines);
}

#[test]
fn a_record_nested_100000_levels_deep_is_kept_apart_in_postgres() {
    a_record_nested_100000_levels_deep_is_kept_apart(Kind::Postgres);
}

#[test]
fn a_state_nested_100000_levels_deep_is_a_protocol_error() {
    let Some(store) = Store::new(Kind::Sqlite, "deep_state") else { return };
    let line = format!(r#"{{"type":"state","state":{}}}"#, nested(DEPTH));
    let output = store.sync(&deep_connector(&store, &line), &json!({}), &[]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2 is not a valid protocol message: invalid \"state\" message"), "{stderr}");
    assert!(stderr.contains("recursion limit exceeded"), "{stderr}");
    assert_eq!(store.state("conn", "s1"), None);
}

/// `runner sync CONNECTOR CONFIG s1 2026-01-01` must exit 2 with `message` on stderr.
fn config_is_refused(dir: &Path, config: &Path, message: &str) {
    let ok = connector(dir, "ok", "team 1 a; state 1");
    let args = ["sync", ok.to_str().unwrap(), config.to_str().unwrap(), "s1", "2026-01-01", "--output", "out.db"];
    let output = runner(dir, &args).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(message), "{stderr}");
    assert!(!dir.join("out.db").exists(), "nothing was stored");
}

#[test]
fn a_config_of_a_gigabyte_is_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("huge.json");
    let limit = 16 * 1024 * 1024u64;
    // Sparse files: a gigabyte, and one byte over the limit, cost no disk.
    for size in [1 << 30, limit + 1] {
        std::fs::File::create(&config).unwrap().set_len(size).unwrap();
        config_is_refused(
            dir.path(),
            &config,
            &format!("config file {} is larger than the limit of {limit} bytes", config.display()),
        );
    }
}

#[test]
fn a_config_that_is_not_utf8_is_refused_naming_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("latin1.json");
    std::fs::write(&config, b"{\"greeting\": \"caf\xe9\"}").unwrap();
    let message = format!(
        "config file {} is not a JSON object: it is not UTF-8 text (the first bad byte is at offset 17)",
        config.display()
    );
    config_is_refused(dir.path(), &config, &message);
}

#[test]
fn a_config_nested_100000_levels_deep_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("deep.json");
    std::fs::write(&config, format!("{{\"a\":{}}}", nested(DEPTH))).unwrap();
    config_is_refused(dir.path(), &config, "invalid JSON (recursion limit exceeded");
}

#[test]
fn a_connections_file_nested_100000_levels_deep_or_too_large_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.toml");
    let entry = "[[connection]]\nname = \"a\"\nconnector = \"x\"\nconfig = {}\n";
    let limit = 16 * 1024 * 1024u64;
    for text in [
        format!("{entry}deep = {}\n", nested(DEPTH)),
        format!("{entry}deep = {}\n", "{a = ".repeat(DEPTH) + &"}".repeat(DEPTH)),
    ] {
        std::fs::write(&file, text).unwrap();
        let output = runner(dir.path(), &["sync-all", file.to_str().unwrap()]).output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let message = format!("connections file {} is invalid: TOML parse error at line 5, column ", file.display());
        assert!(stderr.contains(&message) && stderr.contains("recursion"), "{stderr}");
        assert!(stderr.len() < 1024, "the 200,000-character line is not quoted back: {} bytes", stderr.len());
    }
    std::fs::File::create(&file).unwrap().set_len(1 << 30).unwrap();
    let output = runner(dir.path(), &["sync-all", file.to_str().unwrap()]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("is invalid: it is larger than the limit of {limit} bytes")), "{stderr}");
}
