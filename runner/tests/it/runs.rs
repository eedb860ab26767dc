//! `runner runs` on a database holding four connections made by real syncs of the fixture
//! connector: `good` (succeeded), `broken` (succeeded, then failed), `stopped` (interrupted
//! by Ctrl-C, never succeeded) and `old` (succeeded three days ago: its times are moved
//! back with SQL, the one thing a test cannot wait for). The same checks on SQLite and on
//! PostgreSQL (a throwaway cluster; skipped loudly where no server is installed, never in CI).

use serde_json::Value;

use crate::util::{finish, signal, stdout_of, Sandbox};

/// Where the syncs go and how to move the `old` connection back in time.
enum Db {
    Sqlite,
    Postgres { cluster: &'static throwaway_postgres::Cluster, name: String, url: String },
}

impl Db {
    fn arg(&self, sandbox: &Sandbox) -> String {
        match self {
            Db::Sqlite => sandbox.path("runner.db").display().to_string(),
            Db::Postgres { url, .. } => url.clone(),
        }
    }

    fn age_three_days(&self, sandbox: &Sandbox, connection: &str) {
        match self {
            Db::Sqlite => {
                let sql = "UPDATE sync_runs SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days', '-5 seconds'), \
                           finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days') WHERE connection = ?1";
                sandbox.db().execute(sql, [connection]).unwrap();
            }
            Db::Postgres { cluster, name, .. } => {
                let sql = format!(
                    "UPDATE sync_runs SET started_at = now() - interval '3 days 5 seconds', \
                     finished_at = now() - interval '3 days' WHERE connection = '{connection}'"
                );
                cluster.psql(name, &sql).unwrap();
            }
        }
    }
}

/// The four connections, synced into `db`.
fn populate(sandbox: &Sandbox, db: &Db) {
    let output = db.arg(sandbox);
    let sync = |connection: &str, mode: &str, code: i32| {
        let config = format!(r#"{{"mode":"{mode}","token":"tok-secret-1"}}"#);
        let assert = sandbox.sync(&config, &["--connection", connection, "--output", &output, "-q"]).assert();
        assert.code(code);
    };
    sync("good", "ok", 0);
    sync("broken", "ok", 0);
    sync("broken", "error", 1);
    sync("old", "ok", 0);
    db.age_three_days(sandbox, "old");
    // Interrupted: Ctrl-C once the connector has stored its checkpoint and hangs.
    let _ = std::fs::remove_file(sandbox.path("connector.pid"));
    let runner = sandbox.spawn_sync(r#"{"mode":"hang"}"#, &["--connection", "stopped", "--output", &output]);
    let group = sandbox.wait_for_connector_pid();
    let _guard = crate::util::GroupGuard(group);
    signal(runner.id(), libc::SIGINT);
    assert_eq!(finish(runner).status.code(), Some(130));
    crate::util::wait_until_group_gone(group);
}

fn runs(sandbox: &Sandbox, db: &Db, extra: &[&str]) -> String {
    let output = sandbox.runner(&[&["runs", "--db", &db.arg(sandbox)], extra].concat()).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    stdout_of(&output)
}

/// The table's row for `connection` (its first run), split on runs of two spaces.
fn row<'a>(table: &'a str, connection: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(&format!("{connection} ")))
        .unwrap_or_else(|| panic!("no {connection} in\n{table}"))
}

fn every_kind_of_connection_is_told_apart(db: &Db) {
    let sandbox = Sandbox::new();
    populate(&sandbox, db);

    // The overview: the latest run of each stream.
    let table = runs(&sandbox, db, &[]);
    assert!(table.starts_with("connection  stream  run"), "{table}");
    assert!(table.contains("last success"), "{table}");
    let good = row(&table, "good");
    assert!(good.contains(" succeeded ") && good.contains(" 3 ") && !good.contains("STALE"), "{good}");
    assert!(good.contains(" s ago") && good.trim_end().ends_with('-'), "fresh, no error: {good}");
    let broken = row(&table, "broken");
    assert!(broken.contains(" failed ") && !broken.contains("STALE"), "a recent success: {broken}");
    assert!(
        broken.contains("connector `") && broken.contains("(sync) failed (auth error): "),
        "the error's headline: {broken}"
    );
    assert!(!table.contains("tok-secret-1"), "the secret: {table}");
    let stopped = row(&table, "stopped");
    assert!(stopped.contains(" interrupted ") && stopped.contains("never STALE"), "{stopped}");
    assert!(stopped.contains("was interrupted by SIGINT"), "{stopped}");
    let old = row(&table, "old");
    assert!(old.contains(" succeeded ") && old.contains("3 d ago STALE"), "{old}");
    assert_eq!(table.lines().filter(|l| l.contains(" s1 ")).count(), 4, "one row per stream:\n{table}");
    assert!(
        table.ends_with(
            "4 streams of 4 connections: 1 failing, 1 interrupted, 0 running, 2 stale (no success in the last 24 h)\n"
        ),
        "{table}"
    );

    // A longer threshold: `old` is fresh enough.
    let table = runs(&sandbox, db, &["--stale-after", "4d"]);
    assert!(!row(&table, "old").contains("STALE"), "{table}");

    // --failed: only failed runs; --connection: one connection's runs, newest first.
    let failed = runs(&sandbox, db, &["--failed"]);
    assert_eq!(failed.lines().filter(|l| l.contains(" s1 ")).count(), 1, "{failed}");
    assert!(row(&failed, "broken").contains(" failed "), "{failed}");
    let broken_runs = runs(&sandbox, db, &["--connection", "broken"]);
    let outcomes: Vec<&str> = broken_runs
        .lines()
        .filter(|l| l.starts_with("broken "))
        .map(|l| if l.contains(" failed ") { "failed" } else { "succeeded" })
        .collect();
    assert_eq!(outcomes, ["failed", "succeeded"], "{broken_runs}");

    // --json: every stream with its flags and runs.
    let json: Value = serde_json::from_str(&runs(&sandbox, db, &["--json"])).unwrap();
    let streams = json["streams"].as_array().unwrap();
    let flags: Vec<(&str, &str, bool)> = streams
        .iter()
        .map(|s| (s["connection"].as_str().unwrap(), s["outcome"].as_str().unwrap(), s["stale"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        flags,
        [
            ("broken", "failed", false),
            ("good", "succeeded", false),
            ("old", "succeeded", true),
            ("stopped", "interrupted", true)
        ]
    );
    let broken = &streams[0];
    assert_eq!((broken["runs_recorded"].as_u64(), broken["failures_recorded"].as_u64()), (Some(2), Some(1)));
    assert_eq!(broken["runs"][0]["records"], 3);
    assert!(broken["runs"][0]["error"].as_str().unwrap().contains("GET /teams: 401"), "{broken}");
    assert!(streams[3]["last_success"].is_null());
    assert_eq!(json["stale_after_s"], 86_400);
}

#[test]
fn runs_tells_succeeded_failed_interrupted_and_stale_connections_apart_in_sqlite() {
    every_kind_of_connection_is_told_apart(&Db::Sqlite);
}

#[test]
fn runs_tells_succeeded_failed_interrupted_and_stale_connections_apart_in_postgres() {
    let Some(cluster) = throwaway_postgres::require("runs_in_postgres") else { return };
    let name = "runs_kinds".to_owned();
    cluster.create_database(&name).unwrap();
    let url = cluster.url(&name);
    every_kind_of_connection_is_told_apart(&Db::Postgres { cluster, name, url });
}

#[test]
fn a_database_that_is_not_there_is_bad_input_and_is_not_created() {
    let sandbox = Sandbox::new();
    let output = sandbox.runner(&["runs"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = crate::util::stderr_of(&output);
    assert!(
        stderr.starts_with("error: no SQLite database at runner.db: nothing has been synced there yet"),
        "{stderr}"
    );
    assert!(!sandbox.path("runner.db").exists());
    let output = sandbox.runner(&["runs", "--db", "out-dir"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let output = sandbox.runner(&["runs", "--stale-after", "soon"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
