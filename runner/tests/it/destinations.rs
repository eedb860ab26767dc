//! The destination conformance suite: the same behaviours, run by the real binary, against
//! every destination that stores things (SQLite, a JSON-lines directory, PostgreSQL).
//! Each test is written once against [`Store`], which reads back what a destination holds;
//! `conformance!` instantiates it for each kind. PostgreSQL runs on a throwaway cluster
//! (`throwaway-postgres`); where no server is installed those tests say so and skip
//! (never in CI).
//!
//! The connectors are small shell scripts written per test ([`connector`]), so each test
//! shows exactly what the connector sends.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tempfile::TempDir;
use throwaway_postgres::Cluster;

use crate::util::{runner, runner_bin, shell_connector as connector, wait_for};

/// A destination kind under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    JsonLines,
    Postgres,
}

/// A run as the history tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub connection: String,
    pub outcome: String,
    pub records: u64,
    pub error: Option<String>,
}

/// What the tests read of a `_rejected.jsonl` line (the record itself is skipped).
#[derive(Deserialize, Serialize)]
struct RejectedLine {
    #[serde(rename = "type")]
    record_type: Option<String>,
    id: Option<String>,
    errors: String,
}

/// One destination, fresh for one test, and how to read it back.
pub struct Store {
    pub kind: Kind,
    pub dir: TempDir,
    output: String,
    postgres: Option<(&'static Cluster, String)>,
}

impl Store {
    /// A fresh store of `kind` for `test`; `None` (said loudly) when PostgreSQL is not installed.
    pub fn new(kind: Kind, test: &str) -> Option<Store> {
        let dir = tempfile::tempdir().unwrap();
        let (output, postgres) = match kind {
            Kind::Sqlite => (dir.path().join("store.db").display().to_string(), None),
            Kind::JsonLines => (dir.path().join("out").display().to_string(), None),
            Kind::Postgres => {
                let cluster = throwaway_postgres::require(test)?;
                let database = format!("t_{}", test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
                cluster.create_database(&database).unwrap();
                (cluster.url(&database), Some((cluster, database)))
            }
        };
        Some(Store { kind, dir, output, postgres })
    }

    /// A fresh SQLite or JSON-lines store whose files live in their own directory,
    /// `dir/<place>/` (a test may mount a small disk there), the test's other files beside it.
    pub fn local_in(kind: Kind, place: &str) -> Store {
        let dir = tempfile::tempdir().unwrap();
        let place = dir.path().join(place);
        std::fs::create_dir_all(&place).unwrap();
        let output = match kind {
            Kind::Sqlite => place.join("store.db"),
            Kind::JsonLines => place.join("out"),
            Kind::Postgres => panic!("a PostgreSQL store has no local directory"),
        };
        Store { kind, dir, output: output.display().to_string(), postgres: None }
    }

    /// PostgreSQL: waits until no runner session is left in the database. The server
    /// notices a killed runner's closed session at once, but asynchronously, and may
    /// still be finishing the COMMIT the runner sent before it died: what the store
    /// holds is settled only once the session is gone.
    pub fn wait_for_sessions_to_end(&self) {
        if let Some((cluster, db)) = &self.postgres {
            let sessions =
                format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND application_name = 'runner'");
            wait_for("the killed runner's session to end", || {
                (cluster.psql(db, &sessions).unwrap() == "0").then_some(())
            });
        }
    }

    /// The `--output` value.
    pub fn output(&self) -> &str {
        &self.output
    }

    /// A SQL query's single value (SQLite or PostgreSQL).
    fn query(&self, sql: &str) -> String {
        self.try_query(sql).unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// A SQL query's single value, or why there is none (the tables may not exist yet).
    fn try_query(&self, sql: &str) -> Result<String, String> {
        match (&self.kind, &self.postgres) {
            (Kind::Postgres, Some((cluster, db))) => cluster.psql(db, sql).map_err(|e| e.to_string()),
            (Kind::Sqlite, _) => {
                let db = rusqlite::Connection::open(&self.output).map_err(|e| e.to_string())?;
                let value = db.query_row(sql, [], |row| row.get::<_, Option<String>>(0)).map_err(|e| e.to_string())?;
                Ok(value.unwrap_or_default())
            }
            _ => unreachable!("JSON lines are read as files"),
        }
    }

    /// Whether (connection, stream) has a stored state yet.
    pub fn has_state(&self, connection: &str, stream: &str) -> bool {
        match self.kind {
            Kind::JsonLines => self.state(connection, stream).is_some(),
            _ => self
                .try_query(&format!(
                    "SELECT CAST(count(*) AS text) FROM stream_state WHERE connection = '{connection}' AND stream_id = '{stream}'"
                ))
                .is_ok_and(|count| count == "1"),
        }
    }

    /// The whole lines of a JSON-lines file, each parsed (a line that does not parse fails
    /// the test). A torn last line (no newline: its writer died mid-line) is not a stored
    /// line: the next open cuts it ([`Store::torn_tails`] lists them).
    fn jsonl<T: DeserializeOwned>(&self, name: &str) -> Vec<T> {
        let text = std::fs::read_to_string(Path::new(&self.output).join(name)).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |end| &text[..=end]);
        let parse = |line: &str| serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
        whole.lines().map(parse).collect()
    }

    /// The JSON-lines files whose last line is torn (no newline), with its length.
    pub fn torn_tails(&self) -> Vec<(String, usize)> {
        let files = std::fs::read_dir(&self.output).into_iter().flatten().flatten().filter(|e| e.path().is_file());
        let torn = files.filter_map(|entry| {
            let bytes = std::fs::read(entry.path()).ok()?;
            let tail = bytes.len() - bytes.iter().rposition(|&b| b == b'\n').map_or(0, |end| end + 1);
            (tail > 0).then(|| (entry.file_name().to_string_lossy().into_owned(), tail))
        });
        let mut torn: Vec<_> = torn.filter(|(name, _)| name.ends_with(".jsonl")).collect();
        torn.sort();
        torn
    }

    /// Whether the runner has created the store's tables (or directory) yet.
    pub fn created(&self) -> bool {
        match self.kind {
            Kind::JsonLines => Path::new(&self.output).is_dir(),
            // Never opened here first: that would create the file before the runner does.
            // A store that exists but cannot be queried fails the test (`query`).
            Kind::Sqlite => {
                Path::new(&self.output).exists()
                    && self.query("SELECT CAST(count(*) AS text) FROM sqlite_master WHERE name = 'stream_state'") == "1"
            }
            Kind::Postgres => self.query("SELECT CAST(to_regclass('stream_state') IS NOT NULL AS text)") == "true",
        }
    }

    /// Checks that the store opens and is whole: SQLite's `integrity_check` says `ok`, a
    /// PostgreSQL query answers, every whole line of every JSON-lines file parses.
    pub fn assert_whole(&self) {
        match self.kind {
            Kind::Sqlite if Path::new(&self.output).exists() => {
                assert_eq!(self.query("PRAGMA integrity_check"), "ok", "{}", self.output);
            }
            Kind::Sqlite => {}
            Kind::Postgres => assert_eq!(self.query("SELECT 1"), "1"),
            Kind::JsonLines => {
                let files = std::fs::read_dir(&self.output).into_iter().flatten().flatten();
                for entry in files.filter(|e| e.path().is_file()) {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.ends_with(".jsonl") {
                        // Any depth: a rejected record is kept as the connector sent it.
                        self.jsonl::<IgnoredAny>(&name);
                    } else if name == "_state.json" {
                        let text = std::fs::read_to_string(entry.path()).unwrap();
                        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("_state.json: {e}: {text}"));
                    }
                }
            }
        }
    }

    /// Every record, by (type, id): the last one written wins (JSON lines append).
    pub fn records(&self) -> BTreeMap<(String, String), Value> {
        let rows: Vec<Value> = match self.kind {
            Kind::JsonLines => {
                let mut rows = Vec::new();
                for entry in std::fs::read_dir(&self.output).into_iter().flatten().flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !name.starts_with('_') && name.ends_with(".jsonl") {
                        rows.extend(self.jsonl::<Value>(&name).into_iter().map(|r| json!([r["_type"], r["id"], r])));
                    }
                }
                rows
            }
            Kind::Sqlite => {
                let text = self.query("SELECT json_group_array(json_array(type, id, json(json))) FROM records");
                serde_json::from_str(&text).unwrap()
            }
            Kind::Postgres => {
                let text = self.query("SELECT coalesce(json_agg(json_build_array(type, id, json)), '[]') FROM records");
                serde_json::from_str(&text).unwrap()
            }
        };
        rows.into_iter()
            .map(|row| ((row[0].as_str().unwrap().to_owned(), row[1].as_str().unwrap().to_owned()), row[2].clone()))
            .collect()
    }

    /// The stored state of (connection, stream).
    pub fn state(&self, connection: &str, stream: &str) -> Option<Value> {
        let text = match self.kind {
            Kind::JsonLines => {
                let text = std::fs::read_to_string(Path::new(&self.output).join("_state.json")).ok()?;
                let all: Value = serde_json::from_str(&text).unwrap();
                return all.get(connection).and_then(|streams| streams.get(stream)).cloned();
            }
            // A scalar subquery: one row, NULL when there is no state yet.
            _ => self.query(&format!(
                "SELECT (SELECT state FROM stream_state WHERE connection = '{connection}' AND stream_id = '{stream}')"
            )),
        };
        (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
    }

    /// The finished runs, oldest first (a JSON-lines directory records only finished runs).
    pub fn runs(&self) -> Vec<Run> {
        let rows: Vec<Value> = match self.kind {
            Kind::JsonLines => self.jsonl("_runs.jsonl"),
            Kind::Sqlite => serde_json::from_str(&self.query(
                "SELECT json_group_array(json_object('connection', connection, 'outcome', outcome, \
                 'records', records, 'error', error)) FROM (SELECT * FROM sync_runs ORDER BY id)",
            ))
            .unwrap(),
            Kind::Postgres => serde_json::from_str(&self.query(
                "SELECT coalesce(json_agg(json_build_object('connection', connection, 'outcome', outcome, \
                 'records', records, 'error', error) ORDER BY id), '[]') FROM sync_runs",
            ))
            .unwrap(),
        };
        rows.iter()
            .map(|row| Run {
                connection: row["connection"].as_str().unwrap().to_owned(),
                outcome: row["outcome"].as_str().unwrap().to_owned(),
                records: row["records"].as_u64().unwrap(),
                error: row["error"].as_str().map(str::to_owned),
            })
            .collect()
    }

    /// The rejected records: (type, id, errors).
    pub fn rejected(&self) -> Vec<(Option<String>, Option<String>, String)> {
        let rows: Vec<Value> = match self.kind {
            // Read shallowly: the record kept beside the errors may be nested too deep for a Value.
            Kind::JsonLines => self.jsonl::<RejectedLine>("_rejected.jsonl").into_iter().map(|r| json!(r)).collect(),
            Kind::Sqlite => serde_json::from_str(&self.query(
                "SELECT json_group_array(json_object('type', type, 'id', id, 'errors', errors)) FROM rejected_records",
            ))
            .unwrap(),
            Kind::Postgres => serde_json::from_str(&self.query(
                "SELECT coalesce(json_agg(json_build_object('type', type, 'id', id, 'errors', errors)), '[]') \
                 FROM rejected_records",
            ))
            .unwrap(),
        };
        let text = |v: &Value| v.as_str().map(str::to_owned);
        rows.iter().map(|r| (text(&r["type"]), text(&r["id"]), text(&r["errors"]).unwrap())).collect()
    }

    /// Everything the store holds, as text: records, states, runs, logs, rejected records.
    pub fn everything(&self) -> String {
        match self.kind {
            Kind::JsonLines => {
                let mut all = String::new();
                // Files only: the directory also holds the runner's `_locks` directory.
                for entry in std::fs::read_dir(&self.output).unwrap().flatten().filter(|e| e.path().is_file()) {
                    all.push_str(&std::fs::read_to_string(entry.path()).unwrap());
                }
                all
            }
            Kind::Sqlite => test_support::store::Store::open(&self.output).everything(),
            Kind::Postgres => {
                let tables = ["records", "stream_state", "sync_runs", "run_logs", "rejected_records"];
                tables
                    .iter()
                    .map(|t| self.query(&format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {t} t")))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }

    /// `runner sync CONNECTOR c.json s1 2026-01-01 --output STORE -q ARGS` in the store's directory.
    pub fn sync(&self, connector: &Path, config: &Value, extra: &[&str]) -> std::process::Output {
        let mut quiet = vec!["-q"];
        quiet.extend_from_slice(extra);
        self.sync_command(connector, config, &quiet).output().unwrap()
    }

    /// The command of [`Store::sync`], without `-q`.
    pub fn sync_command(&self, connector: &Path, config: &Value, extra: &[&str]) -> Command {
        let config_file = self.dir.path().join("c.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let mut args = vec!["sync", connector.to_str().unwrap(), config_file.to_str().unwrap(), "s1", "2026-01-01"];
        args.extend(["--output", self.output.as_str(), "--connection", "conn"]);
        args.extend_from_slice(extra);
        runner(self.dir.path(), &args)
    }
}

/// Instantiates a conformance test for every destination kind.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $test() { super::$test(super::Kind::Sqlite) } )*
        }
        mod json_lines {
            $( #[test] fn $test() { super::$test(super::Kind::JsonLines) } )*
        }
        mod postgres {
            $( #[test] fn $test() { super::$test(super::Kind::Postgres) } )*
        }
    };
}

conformance!(
    a_later_sync_replaces_each_record_by_type_and_id,
    a_checkpoint_stores_every_record_before_it_and_a_resume_starts_there,
    a_runner_killed_mid_sync_loses_nothing_checkpointed_and_the_rerun_resumes,
    invalid_records_are_kept_apart_with_their_errors,
    the_history_has_each_run_with_its_outcome_and_counts,
    secrets_never_reach_the_store,
    a_store_written_by_a_newer_runner_is_refused,
    a_second_sync_of_a_connection_is_refused_or_waits_its_turn,
    declared_records_are_stored_like_any_other,
);

fn store(kind: Kind, test: &str) -> Option<Store> {
    Store::new(kind, &format!("{test}_{kind:?}"))
}

fn ids(store: &Store) -> Vec<String> {
    store.records().into_keys().map(|(_, id)| id).collect()
}

fn a_later_sync_replaces_each_record_by_type_and_id(kind: Kind) {
    let Some(store) = store(kind, "upsert") else { return };
    let first =
        connector(store.dir.path(), "first", "team 1 old; team 2 old; team 1 older-in-batch; team 1 newest; state 1");
    assert!(store.sync(&first, &json!({}), &[]).status.success());
    let second = connector(store.dir.path(), "second", "team 2 changed; team 3 new; state 2");
    assert!(store.sync(&second, &json!({}), &[]).status.success());
    let records = store.records();
    let names: Vec<(&str, &str)> =
        records.iter().map(|((_, id), r)| (id.as_str(), r["name"].as_str().unwrap())).collect();
    assert_eq!(names, [("T1", "newest"), ("T2", "changed"), ("T3", "new")]);
    assert_eq!(store.state("conn", "s1"), Some(json!(2)));
    if kind != Kind::JsonLines {
        // A database keeps one row per (connection, type, id), byte for byte as sent.
        let raw = r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"newest"}"#;
        let stored = match kind {
            Kind::Sqlite => store.query("SELECT json FROM records WHERE id = 'T1'"),
            _ => store.query("SELECT json::text FROM records WHERE id = 'T1'"),
        };
        assert_eq!(stored, raw);
    }
}

fn a_checkpoint_stores_every_record_before_it_and_a_resume_starts_there(kind: Kind) {
    let Some(store) = store(kind, "checkpoint") else { return };
    let body = r#"case "$sync" in
*'"state":{"page":1}'*) team 3 c; team 4 d; state '{"page":2}' ;;
*) team 1 a; team 2 b; state '{"page":1}'; team 3 c-unchecked; echo 'lost the source' >&2; exit 3 ;;
esac"#;
    let connector = connector(store.dir.path(), "pages", body);
    let output = store.sync(&connector, &json!({}), &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(store.state("conn", "s1"), Some(json!({"page": 1})), "the state of the first checkpoint");
    let after_crash = ids(&store);
    assert!(after_crash.starts_with(&["T1".to_owned(), "T2".to_owned()]), "{after_crash:?}");
    assert_eq!(store.runs().last().map(|r| r.outcome.as_str()), Some("failed"));

    let output = store.sync(&connector, &json!({}), &[]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(ids(&store), ["T1", "T2", "T3", "T4"]);
    assert_eq!(store.records()[&("Team".into(), "T3".into())]["name"], "c", "the resumed sync's version");
    assert_eq!(store.state("conn", "s1"), Some(json!({"page": 2})));
}

fn a_runner_killed_mid_sync_loses_nothing_checkpointed_and_the_rerun_resumes(kind: Kind) {
    let Some(store) = store(kind, "killed") else { return };
    let marker = store.dir.path().join("connector.pid");
    let body = format!(
        r#"case "$sync" in
*'"state":{{"page":1}}'*) team 3 c; state '{{"page":2}}' ;;
*) team 1 a; team 2 b; state '{{"page":1}}'; team 9 unchecked; echo $$ > '{}'; exec sleep 600 ;;
esac"#,
        marker.display()
    );
    let connector = connector(store.dir.path(), "pages", &body);
    let config = store.dir.path().join("c.json");
    std::fs::write(&config, "{}").unwrap();
    let mut child = Command::new(runner_bin())
        .current_dir(store.dir.path())
        .args(["sync", connector.to_str().unwrap(), config.to_str().unwrap(), "s1", "2026-01-01"])
        .args(["--output", store.output(), "--connection", "conn", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first checkpoint to be stored", || store.has_state("conn", "s1").then_some(()));
    child.kill().unwrap(); // SIGKILL: no chance to record anything
    child.wait().unwrap();
    store.wait_for_sessions_to_end();
    let sleeping: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    // SAFETY: kill(2) on the test connector's process, left behind by the killed runner.
    unsafe { libc::kill(sleeping, libc::SIGKILL) };

    assert_eq!(store.state("conn", "s1"), Some(json!({"page": 1})));
    assert!(ids(&store).starts_with(&["T1".to_owned(), "T2".to_owned()]));
    let output = store.sync(&connector, &json!({}), &[]);
    assert!(output.status.success(), "{output:?}");
    let kept: Vec<String> = ids(&store).into_iter().filter(|id| id != "T9").collect();
    assert_eq!(kept, ["T1", "T2", "T3"], "one clean run's content, the unchecked record aside");
    assert_eq!(store.state("conn", "s1"), Some(json!({"page": 2})));
    let runs = store.runs();
    match kind {
        // A directory can only record runs that finish.
        Kind::JsonLines => assert_eq!(runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(), ["succeeded"]),
        _ => {
            let outcomes: Vec<&str> = runs.iter().map(|r| r.outcome.as_str()).collect();
            assert_eq!(outcomes, ["failed", "succeeded"], "the killed run is marked failed by the next one");
            assert!(runs[0].error.as_deref().unwrap_or_default().contains("stopped without recording"), "{runs:?}");
        }
    }
}

fn invalid_records_are_kept_apart_with_their_errors(kind: Kind) {
    let Some(store) = store(kind, "rejected") else { return };
    let body = r#"team 1 a
echo '{"type":"record","record":{"_type":"Team","id":"bad","self":"not a url","name":"b"}}'
team 2 c; state 1"#;
    let connector = connector(store.dir.path(), "invalid", body);
    let output = store.sync(&connector, &json!({}), &["--skip-invalid"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(ids(&store), ["T1", "T2"]);
    let rejected = store.rejected();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!((rejected[0].0.as_deref(), rejected[0].1.as_deref()), (Some("Team"), Some("bad")));
    assert!(rejected[0].2.contains("/self"), "{rejected:?}");
}

fn declared_records_are_stored_like_any_other(kind: Kind) {
    let Some(store) = store(kind, "declared") else { return };
    let connector = std::path::PathBuf::from(crate::declared::widget_connector());
    let output = store.sync(&connector, &json!({"widgets": 2}), &[]);
    assert!(output.status.success(), "{output:?}");
    let records = store.records();
    let keys: Vec<(&str, &str)> = records.keys().map(|(t, id)| (t.as_str(), id.as_str())).collect();
    assert_eq!(keys, [("AcmeWidget", "w1"), ("AcmeWidget", "w2"), ("Team", "T1")]);
    assert_eq!(records[&("AcmeWidget".to_owned(), "w2".to_owned())]["sprockets"], 2);
}

fn the_history_has_each_run_with_its_outcome_and_counts(kind: Kind) {
    let Some(store) = store(kind, "history") else { return };
    let ok = connector(store.dir.path(), "ok", "team 1 a; team 2 b; state 1");
    assert!(store.sync(&ok, &json!({}), &[]).status.success());
    let failing = connector(store.dir.path(), "failing", "team 3 c; state 2; exit 4");
    assert_eq!(store.sync(&failing, &json!({}), &[]).status.code(), Some(1));
    let runs = store.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((runs[0].connection.as_str(), runs[0].outcome.as_str(), runs[0].records), ("conn", "succeeded", 2));
    assert_eq!((runs[1].outcome.as_str(), runs[1].records), ("failed", 1));
    assert!(runs[1].error.as_deref().unwrap_or_default().contains("exited with status 4"), "{runs:?}");
}

fn secrets_never_reach_the_store(kind: Kind) {
    let Some(store) = store(kind, "secrets") else { return };
    let body = r#"secret=s3cr3t-t0ken-value
team 1 "$secret"
printf '{"type":"log","level":"warn","message":"using %s"}\n' "$secret"
state "{\"token\":\"$secret\"}"
echo "debug: token=$secret" >&2
exit 1"#;
    let connector = connector(store.dir.path(), "leaky", body);
    let output = store.sync(&connector, &json!({"token": "s3cr3t-t0ken-value"}), &[]);
    assert_eq!(output.status.code(), Some(1));
    let stored = store.everything();
    assert!(!stored.contains("s3cr3t-t0ken-value"), "{stored}");
    assert!(stored.contains("***"), "the leaks are there, masked: {stored}");
    assert_eq!(store.state("conn", "s1"), Some(json!({"token": "***"})));
}

fn a_store_written_by_a_newer_runner_is_refused(kind: Kind) {
    let Some(store) = store(kind, "newer") else { return };
    let ok = connector(store.dir.path(), "ok", "team 1 a; state 1");
    assert!(store.sync(&ok, &json!({}), &[]).status.success());
    match (&kind, &store.postgres) {
        (Kind::Sqlite, _) => {
            rusqlite::Connection::open(store.output()).unwrap().pragma_update(None, "user_version", 99).unwrap();
        }
        (Kind::Postgres, Some((cluster, db))) => {
            cluster.psql(db, "UPDATE runner_schema SET version = 99").unwrap();
        }
        // A directory of JSON lines has no schema to version.
        _ => return,
    }
    let output = store.sync(&ok, &json!({}), &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has schema version 99, this runner knows up to"), "{stderr}");
    assert!(stderr.contains("hint: use a newer runner"), "{stderr}");
}

fn a_second_sync_of_a_connection_is_refused_or_waits_its_turn(kind: Kind) {
    let Some(store) = store(kind, "guard") else { return };
    let (started, release) = (store.dir.path().join("started"), store.dir.path().join("release"));
    let fifo = std::ffi::CString::new(release.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
    // The first sync stores one record, then blocks until the test writes to the FIFO.
    let body = format!("team 1 a; : > '{}'; read _ < '{}'; team 2 b; state 1", started.display(), release.display());
    let slow = connector(store.dir.path(), "slow", &body);
    let quick = connector(store.dir.path(), "quick", "team 9 quick; state 9");
    let mut first = store.sync_command(&slow, &json!({}), &["-q"]).stdout(Stdio::null()).spawn().unwrap();
    wait_for("the first sync's connector to start", || started.exists().then_some(()));

    let refused = store.sync(&quick, &json!({}), &[]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("connection `conn` is being synced by"), "{stderr}");
    assert!(stderr.contains(&format!("pid {} ", first.id())), "names the first runner: {stderr}");
    assert!(stderr.contains("hint: wait for it to end, or pass --wait"), "{stderr}");

    // Waiting syncs say so, then wait; Ctrl-C gives up on waiting.
    let waiting_line = |child: &mut std::process::Child| {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
        let line = lines.next().expect("a line before exiting").unwrap();
        assert!(line.starts_with("waiting: connection `conn` is being synced by"), "{line}");
        lines
    };
    let spawn_waiting = || {
        store
            .sync_command(&quick, &json!({}), &["--wait"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut given_up = spawn_waiting();
    let rest = waiting_line(&mut given_up);
    crate::util::signal(given_up.id(), libc::SIGINT);
    assert_eq!(given_up.wait().unwrap().code(), Some(130));
    let rest: Vec<String> = rest.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("interrupted by SIGINT while waiting for connection `conn`")), "{rest:?}");

    let mut waiting = spawn_waiting();
    let rest = waiting_line(&mut waiting);
    assert!(!ids(&store).contains(&"T9".to_owned()), "the waiting sync has not started");
    std::io::Write::write_all(&mut std::fs::OpenOptions::new().write(true).open(&release).unwrap(), b"go\n").unwrap();
    assert!(first.wait().unwrap().success());
    assert!(waiting.wait().unwrap().success(), "{:?}", rest.map_while(Result::ok).collect::<Vec<_>>());
    assert_eq!(ids(&store), ["T1", "T2", "T9"]);
    assert_eq!(store.state("conn", "s1"), Some(json!(9)), "the waiting sync ran after the first");
    let succeeded: Vec<u64> = store.runs().iter().filter(|r| r.outcome == "succeeded").map(|r| r.records).collect();
    assert_eq!(succeeded, [2, 1], "one after the other");
}
