//! `runner demo` end to end: the real runner, the real `pagerduty-mock` and
//! `connector-pagerduty` binaries (siblings in target/debug, built by
//! `cargo test --workspace` or `cargo build --workspace`), a real SQLite file.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use runner::demo::database::{CONNECTION, SQLITE_QUERIES as QUERIES};
use rusqlite::Connection;

use crate::util::workspace_bin;

/// Every record type the PagerDuty connector emits.
const RECORD_TYPES: [&str; 8] =
    ["Actor", "EscalationPolicy", "Incident", "IncidentLogEntry", "OnCall", "Priority", "Service", "Team"];

/// The runner binary, after checking its siblings exist (else the demo could only fail).
fn runner_bin() -> PathBuf {
    for sibling in ["pagerduty-mock", "connector-pagerduty"] {
        workspace_bin(sibling);
    }
    crate::util::runner_bin()
}

fn demo(dir: &Path, args: &[&str]) -> Output {
    Command::new(runner_bin()).current_dir(dir).env_remove("NO_COLOR").arg("demo").args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The number on the summary's line for a sync, e.g. `  full sync   134  2.5 s`.
fn requests(stdout: &str, sync: &str) -> u64 {
    let line = stdout.lines().map(str::trim).find(|l| l.starts_with(sync)).unwrap_or_else(|| panic!("{stdout}"));
    line[sync.len()..].split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

/// The text after `prefix` on the first line starting with it.
fn after<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no `{prefix}` in {stdout}"))
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [CONNECTION], |row| row.get(0)).unwrap()
}

#[test]
fn the_demo_syncs_twice_and_leaves_a_database_to_explore() {
    let dir = tempfile::tempdir().unwrap();
    let output = demo(dir.path(), &["--incidents", "1000", "--output", "demo.db"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The summary: every record type, the absolute path, the queries, no colour in a pipe.
    let db_path = dir.path().canonicalize().unwrap().join("demo.db");
    assert!(stdout.contains(&format!("Your data: {} (connection `{CONNECTION}`)", db_path.display())), "{stdout}");
    for record_type in RECORD_TYPES {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(&format!("{record_type} "))), "{record_type}");
    }
    assert!(QUERIES.iter().all(|q| stdout.contains(q.sql)), "{stdout}");
    assert!(!stdout.contains('\x1b') && !stderr.contains('\x1b'), "colour codes outside a terminal");
    assert!(!stderr.contains("debug") && !stderr.contains("stderr:"), "debug noise by default:\n{stderr}");

    // The data: all incidents plus the 5 churned ones, their log entries, two good runs.
    let db = Connection::open(&db_path).unwrap();
    let incidents = "SELECT count(*) FROM records WHERE connection = ?1 AND type = 'Incident'";
    assert_eq!(count(&db, incidents), 1005);
    let entries = "SELECT count(*) FROM records WHERE connection = ?1 AND type = 'IncidentLogEntry'";
    assert!(count(&db, entries) >= 2 * 1005, "each incident has at least two log entries");
    let runs = "SELECT count(*) FROM sync_runs WHERE connection = ?1 AND outcome = 'succeeded'";
    assert_eq!(count(&db, runs), 2);
    let second_run_incidents = "SELECT json_extract(records_by_type, '$.Incident') FROM sync_runs \
                                WHERE connection = ?1 ORDER BY id DESC LIMIT 1";
    let changed = count(&db, second_run_incidents);
    // The churned incidents, and possibly their neighbours: where listing a changed
    // incident's window again takes fewer requests than fetching each one, the connector
    // lists the window (issue #16), and the window's other incidents come along.
    assert!(
        (5..=1005 / 5).contains(&changed),
        "the incremental sync stored {changed} incidents, expected the churned ones, not a full sync"
    );

    // Resumption: the second sync fetched only what changed.
    let (full, incremental) = (requests(&stdout, "full sync"), requests(&stdout, "incremental sync"));
    assert!(full >= 1000 / 100 + 2 * 1000 / 100, "full sync made {full} requests");
    assert!(incremental * 3 < full, "incremental sync made {incremental} requests, the full one {full}");

    // Every suggested query works and returns rows.
    for query in QUERIES {
        let mut statement = db.prepare(query.sql).unwrap();
        let rows = statement.query_map([], |_| Ok(())).unwrap().count();
        assert!(rows > 0, "`{}` returned no rows", query.title);
    }
    let mean_hours: f64 = db.query_row(QUERIES[1].sql, [], |row| row.get(2)).unwrap();
    assert!(mean_hours > 0.0, "mean time to resolve is {mean_hours} h");

    // Nothing left behind: the simulator's port is closed, the config directory is gone.
    let url = after(&stdout, "listening on http://");
    assert!(TcpStream::connect(url).is_err(), "the simulator at {url} still accepts connections");
    let config = Path::new(after(&stdout, "$ runner verify pagerduty "));
    assert!(!config.parent().unwrap().exists(), "{} was not removed", config.display());
}

#[test]
fn a_rerun_starts_fresh_and_leaves_other_connections_alone() {
    let dir = tempfile::tempdir().unwrap();
    assert!(demo(dir.path(), &["--incidents", "50"]).status.success());
    let db = Connection::open(dir.path().join("runner.db")).unwrap();
    db.execute(
        "INSERT INTO records (connection, type, id, json, extracted_at, stored_at) \
         VALUES ('mine', 'Team', 'T1', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        [],
    )
    .unwrap();

    let output = demo(dir.path(), &["--incidents", "50"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("rows an earlier demo left in"), "{stdout}");
    assert!(requests(&stdout, "full sync") > requests(&stdout, "incremental sync"), "the first sync was not full");
    let incidents = "SELECT count(*) FROM records WHERE connection = ?1 AND type = 'Incident'";
    assert_eq!(count(&db, incidents), 55);
    assert_eq!(count(&db, "SELECT count(*) FROM sync_runs WHERE connection = ?1"), 2);
    assert_eq!(count(&db, "SELECT count(*) FROM records WHERE connection <> ?1"), 1);
}

#[test]
fn bad_input_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let output = demo(dir.path(), &["--output", "out-dir"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: the demo writes a database: --output `out-dir` must end in .db, .sqlite or .sqlite3, or be a \
         postgres:// URL\n"
    );
    let output = Command::new(runner_bin()).current_dir(dir.path()).args(["demo", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("the demo has no --json output"));
    assert!(output.stdout.is_empty() && !dir.path().join("runner.db").exists());
}

#[test]
fn a_runner_without_its_siblings_says_how_to_build_them() {
    let dir = tempfile::tempdir().unwrap();
    let lonely = dir.path().join("runner");
    // current_exe() resolves symlinks, so the runner needs a real file of its own here.
    if std::fs::hard_link(runner_bin(), &lonely).is_err() {
        std::fs::copy(runner_bin(), &lonely).unwrap();
    }
    let output = Command::new(&lonely).current_dir(dir.path()).arg("demo").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let expected = format!(
        "error: the demo needs pagerduty-mock beside the runner (looked in {}): build everything with \
         `cargo build --workspace --release`\n",
        dir.path().canonicalize().unwrap().display()
    );
    assert_eq!(text(&output.stderr), expected);
}

#[test]
fn the_help_explains_the_demo() {
    let output = Command::new(runner_bin()).args(["demo", "--help"]).output().unwrap();
    let help = text(&output.stdout);
    assert!(output.status.success());
    assert!(help.starts_with("Try everything offline: sync a simulated PagerDuty account into SQLite"), "{help}");
    assert!(help.contains("--incidents <N>") && help.contains("[default: 2000]"), "{help}");
    assert!(help.contains("Examples:\n  runner demo\n"), "{help}");
}
