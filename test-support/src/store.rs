//! The runner's SQLite store read for assertions: the rows of `records`, `stream_state`,
//! `sync_runs` and `run_logs` as structs, their JSON columns parsed. The tables are the
//! runner's (`store/src/sqlite/schema.sql`); this reads them as a
//! test would, opening the file read-only, so it can look while a runner writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};
use serde_json::Value;

/// One row of `records`: the latest version of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub connection: String,
    /// The record's `_type`.
    pub record_type: String,
    pub id: String,
    /// The record as the connector sent it.
    pub json: Value,
    pub extracted_at: String,
    pub stored_at: String,
    pub run_id: Option<i64>,
}

/// One row of `stream_state`: a stream's last checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamState {
    pub connection: String,
    pub stream_id: String,
    pub state: Value,
    pub updated_at: String,
    pub run_id: Option<i64>,
}

/// One row of `sync_runs`: one stream sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRun {
    pub id: i64,
    pub connection: String,
    pub connector: String,
    pub stream_id: String,
    pub cutoff: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `succeeded`, `failed` or `interrupted`.
    pub outcome: String,
    pub records: i64,
    /// `{"Incident": 120, ...}`.
    pub records_by_type: Value,
    pub rejected: i64,
    pub checkpoints: i64,
    pub error: Option<String>,
}

/// One row of `run_logs`: a connector's log line or a failed run's stderr tail.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLog {
    pub run_id: i64,
    pub at: String,
    pub level: String,
    pub message: String,
}

/// A runner's SQLite store, open for reading.
pub struct Store {
    path: PathBuf,
    db: Connection,
}

impl Store {
    /// Opens the store at `path` read-only.
    ///
    /// # Panics
    ///
    /// When it cannot be opened (it does not exist, say), naming it.
    pub fn open(path: impl AsRef<Path>) -> Store {
        let path = path.as_ref().to_owned();
        let db = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("store {}: cannot open it: {e}", path.display()));
        Store { path, db }
    }

    /// Every record, by connection, type and id.
    pub fn records(&self) -> Vec<Record> {
        let sql = "SELECT connection, type, id, json, extracted_at, stored_at, run_id FROM records \
                   ORDER BY connection, type, id";
        self.rows(sql, |row| {
            Ok(Record {
                connection: row.get(0)?,
                record_type: row.get(1)?,
                id: row.get(2)?,
                json: json(row, 3)?,
                extracted_at: row.get(4)?,
                stored_at: row.get(5)?,
                run_id: row.get(6)?,
            })
        })
    }

    /// The records of `record_type` (of any connection) as JSON, by id.
    pub fn records_of(&self, record_type: &str) -> BTreeMap<String, Value> {
        let records = self.records().into_iter().filter(|r| r.record_type == record_type);
        records.map(|r| (r.id, r.json)).collect()
    }

    /// Every stream's last checkpoint, by connection and stream.
    pub fn states(&self) -> Vec<StreamState> {
        let sql =
            "SELECT connection, stream_id, state, updated_at, run_id FROM stream_state ORDER BY connection, stream_id";
        self.rows(sql, |row| {
            Ok(StreamState {
                connection: row.get(0)?,
                stream_id: row.get(1)?,
                state: json(row, 2)?,
                updated_at: row.get(3)?,
                run_id: row.get(4)?,
            })
        })
    }

    /// The last checkpoint of `stream` of `connection`, if one is stored.
    pub fn state(&self, connection: &str, stream: &str) -> Option<Value> {
        let mut states = self.states().into_iter();
        states.find(|s| s.connection == connection && s.stream_id == stream).map(|s| s.state)
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Vec<SyncRun> {
        let sql = "SELECT id, connection, connector, stream_id, cutoff, started_at, finished_at, outcome, records, \
                   records_by_type, rejected, checkpoints, error FROM sync_runs ORDER BY id";
        self.rows(sql, |row| {
            Ok(SyncRun {
                id: row.get(0)?,
                connection: row.get(1)?,
                connector: row.get(2)?,
                stream_id: row.get(3)?,
                cutoff: row.get(4)?,
                started_at: row.get(5)?,
                finished_at: row.get(6)?,
                outcome: row.get(7)?,
                records: row.get(8)?,
                records_by_type: json(row, 9)?,
                rejected: row.get(10)?,
                checkpoints: row.get(11)?,
                error: row.get(12)?,
            })
        })
    }

    /// Every log line, in the order stored.
    pub fn logs(&self) -> Vec<RunLog> {
        let sql = "SELECT run_id, at, level, message FROM run_logs ORDER BY rowid";
        self.rows(sql, |row| {
            Ok(RunLog { run_id: row.get(0)?, at: row.get(1)?, level: row.get(2)?, message: row.get(3)? })
        })
    }

    /// Every row of every table the runner writes, one line each, for checks that a text
    /// (a secret) is stored nowhere.
    pub fn everything(&self) -> String {
        let mut text = String::new();
        for table in ["records", "rejected_records", "stream_state", "sync_runs", "run_logs"] {
            let cells = self.rows(&format!("SELECT * FROM {table}"), |row| {
                (0..row.as_ref().column_count()).map(|i| row.get_ref(i).map(cell_text)).collect::<Result<Vec<_>, _>>()
            });
            for row in cells {
                text.push_str(&row.join(" | "));
                text.push('\n');
            }
        }
        text
    }

    /// The rows of `sql`, each made by `make`.
    fn rows<T>(&self, sql: &str, make: impl FnMut(&Row) -> rusqlite::Result<T>) -> Vec<T> {
        let fail = |e: rusqlite::Error| -> ! { panic!("store {}: {sql}: {e}", self.path.display()) };
        let mut statement = self.db.prepare(sql).unwrap_or_else(|e| fail(e));
        let rows = statement.query_map([], make).unwrap_or_else(|e| fail(e));
        rows.map(|row| row.unwrap_or_else(|e| fail(e))).collect()
    }
}

/// A cell as its text, unescaped (a text searched for must be found as it was stored).
fn cell_text(cell: ValueRef) -> String {
    match cell {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Column `index` of `row`, a JSON text, parsed.
fn json(row: &Row, index: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A store with the runner's tables, as its schema file creates them.
    fn store(rows: &str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let db = Connection::open(&path).unwrap();
        let schema =
            std::fs::read_to_string(crate::sandbox::workspace_root().join("store/src/sqlite/schema.sql")).unwrap();
        db.execute_batch(&schema).unwrap();
        db.execute_batch(rows).unwrap();
        (dir, Store::open(path))
    }

    #[test]
    fn rows_come_back_typed_with_their_json_parsed() {
        let (_dir, store) = store(
            r#"INSERT INTO sync_runs (id, connection, connector, stream_id, cutoff, started_at, outcome, records, records_by_type)
                 VALUES (1, 'pd', 'pagerduty', 's1', '2026-01-01', 't0', 'succeeded', 1, '{"Team": 1}');
               INSERT INTO records VALUES ('pd', 'Team', 'T1', '{"id": "T1", "secret": "hunter2"}', 't1', 't2', 1);
               INSERT INTO stream_state VALUES ('pd', 's1', '{"cursor": 3}', 't3', 1);
               INSERT INTO run_logs VALUES (1, 't4', 'warn', 'slow');"#,
        );
        assert_eq!(
            store.records_of("Team"),
            BTreeMap::from([("T1".to_owned(), json!({"id": "T1", "secret": "hunter2"}))])
        );
        assert_eq!(store.records()[0].extracted_at, "t1");
        assert_eq!(store.state("pd", "s1"), Some(json!({"cursor": 3})));
        assert_eq!(store.state("pd", "s2"), None);
        let run = &store.runs()[0];
        assert_eq!(
            (run.outcome.as_str(), &run.records_by_type, run.finished_at.as_deref()),
            ("succeeded", &json!({"Team": 1}), None)
        );
        assert_eq!(store.logs(), [RunLog { run_id: 1, at: "t4".into(), level: "warn".into(), message: "slow".into() }]);
        assert!(store.everything().contains("hunter2"));
    }

    #[test]
    #[should_panic(expected = "cannot open it")]
    fn a_missing_store_is_named() {
        Store::open("/nonexistent/runner.db");
    }
}
