//! The history of a SQLite file, opened read-only. Times are read as seconds since the
//! epoch through `julianday`, which understands every RFC 3339 form the file may hold.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};

use crate::history::{
    drift_lines, instant, parse_by_type, parse_state, Cell, HistoryError, ReadHistory, Run, RunFilter, StreamStatus,
    TypeCount,
};
use crate::{DestinationError, SqlDialect};

/// How long a read waits for a writer's lock (WAL readers rarely wait at all).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite's expression for `column` (an RFC 3339 text, any form a store may hold) as
/// seconds since the epoch, NULL staying NULL, as a literal for `concat!`: what the
/// history readers and readers with their own queries (`ReadHistory::rows`) use.
#[macro_export]
macro_rules! sqlite_epoch {
    ($column:literal) => {
        concat!("((julianday(", $column, ") - 2440587.5) * 86400.0)")
    };
}

/// The columns [`run`] reads, in its order.
const RUN_COLUMNS: &str = concat!(
    "r.id, r.connection, r.connector, r.stream_id, ",
    crate::sqlite_epoch!("r.started_at"),
    ", ",
    crate::sqlite_epoch!("r.finished_at"),
    ", r.outcome, r.records, r.records_by_type, r.rejected, r.error, ",
    "(SELECT group_concat(l.message, char(10)) FROM run_logs l WHERE l.run_id = r.id AND l.level = 'drift')"
);

/// A history read from a SQLite file.
pub struct SqliteHistory {
    shown: String,
    conn: Connection,
}

impl SqliteHistory {
    /// Opens `path` read-only.
    ///
    /// # Errors
    /// The file is missing, is not a SQLite database, or has no `sync_runs` table.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        if !path.exists() {
            return Err(HistoryError::Missing { path: path.to_owned() });
        }
        let open_error =
            |err: rusqlite::Error| HistoryError::Open(DestinationError::open("SQLite database", path, err));
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let history = SqliteHistory { shown: path.display().to_string(), conn };
        let tables: i64 = history
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sync_runs'", [], |row| {
                row.get(0)
            })
            .map_err(open_error)?;
        if tables == 0 {
            return Err(HistoryError::NotRunnerDatabase { target: history.shown });
        }
        Ok(history)
    }

    fn read_error(&self) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
        move |err| HistoryError::Read { target: self.shown.clone(), source: Box::new(err) }
    }
}

impl ReadHistory for SqliteHistory {
    fn describe(&self) -> &str {
        &self.shown
    }

    fn latest(&mut self, connection: Option<&str>) -> Result<Vec<StreamStatus>, HistoryError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS}, \
             (SELECT {last} FROM sync_runs s WHERE s.connection = r.connection AND s.stream_id = r.stream_id \
              AND s.outcome = 'succeeded'), \
             (SELECT count(*) FROM sync_runs s WHERE s.connection = r.connection AND s.stream_id = r.stream_id), \
             (SELECT count(*) FROM sync_runs s WHERE s.connection = r.connection AND s.stream_id = r.stream_id \
              AND s.outcome = 'failed') \
             FROM sync_runs r \
             WHERE r.id IN (SELECT max(id) FROM sync_runs GROUP BY connection, stream_id) \
             AND (?1 IS NULL OR r.connection = ?1) \
             ORDER BY r.connection, r.stream_id",
            last = crate::sqlite_epoch!("max(s.finished_at)"),
        );
        let mut statement = self.conn.prepare(&sql).map_err(self.read_error())?;
        let mut rows = statement.query([connection]).map_err(self.read_error())?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().map_err(self.read_error())? {
            let latest = run(row, &self.shown)?;
            let count = |i| row.get::<_, i64>(i).map(i64::unsigned_abs);
            found.push(StreamStatus {
                latest,
                last_success: instant(row.get(12).map_err(self.read_error())?),
                runs: count(13).map_err(self.read_error())?,
                failures: count(14).map_err(self.read_error())?,
            });
        }
        Ok(found)
    }

    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<Run>, HistoryError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM (SELECT *, row_number() OVER \
             (PARTITION BY connection, stream_id ORDER BY id DESC) AS n FROM sync_runs \
             WHERE (?1 IS NULL OR connection = ?1) AND (?2 = 0 OR outcome = 'failed')) r \
             WHERE r.n <= ?3 ORDER BY r.connection, r.stream_id, r.id DESC"
        );
        let mut statement = self.conn.prepare(&sql).map_err(self.read_error())?;
        let params = rusqlite::params![filter.connection, filter.failed_only, filter.per_stream];
        let mut rows = statement.query(params).map_err(self.read_error())?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().map_err(self.read_error())? {
            found.push(run(row, &self.shown)?);
        }
        Ok(found)
    }

    fn records_by_type(&mut self) -> Result<Vec<TypeCount>, HistoryError> {
        let mut statement = self
            .conn
            .prepare("SELECT connection, type, count(*) FROM records GROUP BY connection, type ORDER BY 1, 2")
            .map_err(self.read_error())?;
        let rows = statement
            .query_map([], |row| {
                Ok(TypeCount {
                    connection: row.get(0)?,
                    record_type: row.get(1)?,
                    count: row.get::<_, i64>(2)?.unsigned_abs(),
                })
            })
            .map_err(self.read_error())?;
        rows.collect::<Result<_, _>>().map_err(self.read_error())
    }

    fn stored_records(&mut self, visit: &mut dyn FnMut(&str)) -> Result<(), HistoryError> {
        for sql in ["SELECT json FROM records", "SELECT json FROM rejected_records"] {
            let mut statement = self.conn.prepare(sql).map_err(self.read_error())?;
            let mut rows = statement.query([]).map_err(self.read_error())?;
            while let Some(row) = rows.next().map_err(self.read_error())? {
                visit(row.get_ref(0).map_err(self.read_error())?.as_str().unwrap_or_default());
            }
        }
        Ok(())
    }

    fn dialect(&self) -> SqlDialect {
        SqlDialect::Sqlite
    }

    fn rows(&mut self, sql: &str, visit: &mut dyn FnMut(&[Cell])) -> Result<(), HistoryError> {
        let mut statement = self.conn.prepare(sql).map_err(self.read_error())?;
        let width = statement.column_count();
        let mut rows = statement.query([]).map_err(self.read_error())?;
        let mut cells = Vec::with_capacity(width);
        while let Some(row) = rows.next().map_err(self.read_error())? {
            cells.clear();
            for index in 0..width {
                cells.push(cell(row.get_ref(index).map_err(self.read_error())?));
            }
            visit(&cells);
        }
        Ok(())
    }
}

/// A SQLite value as a [`Cell`] (a blob, which the runner never stores, reads as NULL).
fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Integer(n) => Cell::Integer(n),
        ValueRef::Real(x) => Cell::Real(x),
        ValueRef::Text(text) => Cell::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Null | ValueRef::Blob(_) => Cell::Null,
    }
}

/// A run from the first columns of `row` ([`RUN_COLUMNS`]).
fn run(row: &Row<'_>, target: &str) -> Result<Run, HistoryError> {
    let read = |err| HistoryError::Read { target: target.to_owned(), source: Box::new(err) };
    let id: i64 = row.get(0).map_err(read)?;
    let corrupt = |what: &str| HistoryError::Corrupt { target: target.to_owned(), run: id, what: what.to_owned() };
    let started_at = instant(row.get(4).map_err(read)?).ok_or_else(|| corrupt("started_at is not a time"))?;
    let outcome: String = row.get(6).map_err(read)?;
    let by_type: Option<String> = row.get(8).map_err(read)?;
    Ok(Run {
        id,
        connection: row.get(1).map_err(read)?,
        connector: row.get(2).map_err(read)?,
        stream_id: row.get(3).map_err(read)?,
        started_at,
        finished_at: instant(row.get(5).map_err(read)?),
        outcome: parse_state(&outcome, target, id)?,
        records: row.get::<_, i64>(7).map_err(read)?.unsigned_abs(),
        records_by_type: parse_by_type(by_type.as_deref().unwrap_or("{}")),
        rejected: row.get::<_, i64>(9).map_err(read)?.unsigned_abs(),
        error: row.get(10).map_err(read)?,
        format_drift: drift_lines(row.get(11).map_err(read)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OutputSpec, RunOutcome};

    /// A database made with the runner's own schema, and runs written by hand.
    fn database(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("h.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("schema.sql")).unwrap();
        let runs = [
            ("pd", "acme", "2026-03-01T10:00:00.000Z", Some("2026-03-01T10:00:02.500Z"), "succeeded", None),
            ("pd", "acme", "2026-03-02T10:00:00.000Z", Some("2026-03-02T10:00:01.000Z"), "failed", Some("boom\nmore")),
            ("gh", "repo", "2026-03-02T11:00:00Z", Some("2026-03-02T11:00:00+01:00"), "interrupted", None),
            ("gh", "repo", "2026-03-03T11:00:00Z", None, "running", None),
        ];
        for (connection, stream, started, finished, outcome, error) in runs {
            conn.execute(
                "INSERT INTO sync_runs (connection, connector, stream_id, cutoff, started_at, finished_at, outcome, \
                 records, records_by_type, error) VALUES (?1, 'x', ?2, '2026-01-01', ?3, ?4, ?5, 3, \
                 '{\"Incident\": 2, \"Team\": 1}', ?6)",
                rusqlite::params![connection, stream, started, finished, outcome, error],
            )
            .unwrap();
        }
        path
    }

    #[test]
    fn the_latest_run_of_each_stream_comes_with_its_last_success() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = OutputSpec::sqlite(database(dir.path())).history().unwrap();
        let latest = history.latest(None).unwrap();
        let summary: Vec<_> =
            latest.iter().map(|s| (s.latest.connection.as_str(), s.latest.outcome, s.runs, s.failures)).collect();
        assert_eq!(summary, [("gh", None, 2, 0), ("pd", Some(RunOutcome::Failed), 2, 1)]);
        assert_eq!(latest[0].last_success, None);
        assert_eq!(latest[1].last_success.unwrap().to_rfc3339(), "2026-03-01T10:00:02.500+00:00");
        assert_eq!(latest[1].latest.headline(), Some("boom"));
        assert_eq!(latest[1].latest.records_by_type.get("Incident"), Some(&2));
        assert_eq!(history.latest(Some("pd")).unwrap().len(), 1);
    }

    #[test]
    fn runs_are_newest_first_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = OutputSpec::sqlite(database(dir.path())).history().unwrap();
        let all = RunFilter { connection: None, failed_only: false, per_stream: 10 };
        let ids: Vec<i64> = history.runs(&all).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, [4, 3, 2, 1]);
        let one = RunFilter { per_stream: 1, ..all.clone() };
        assert_eq!(history.runs(&one).unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [4, 2]);
        let failed = RunFilter { failed_only: true, connection: Some("pd".into()), ..all };
        let runs = history.runs(&failed).unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [2]);
        // An offset in a stored time is honoured: 11:00+01:00 is 10:00Z, before the start.
        let gh = history.runs(&RunFilter { connection: Some("gh".into()), failed_only: false, per_stream: 5 });
        let interrupted = gh.unwrap().into_iter().find(|r| r.outcome == Some(RunOutcome::Interrupted)).unwrap();
        assert_eq!(interrupted.finished_at.unwrap().to_rfc3339(), "2026-03-02T10:00:00+00:00");
        assert_eq!(interrupted.duration(), None, "an end before the start is no duration");
    }

    #[test]
    fn a_missing_file_or_a_foreign_database_is_said_so_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.db");
        let error = OutputSpec::sqlite(missing.clone()).history().err().unwrap();
        assert!(error.is_bad_input() && error.to_string().starts_with("no SQLite database at "), "{error}");
        assert!(!missing.exists());
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE t (a)").unwrap();
        let error = OutputSpec::sqlite(foreign).history().err().unwrap().to_string();
        assert!(error.contains("holds no runner history (no sync_runs table)"), "{error}");
        let error = OutputSpec::json_lines("out").history().err().unwrap();
        assert!(error.is_bad_input() && error.to_string().starts_with("out is not a database"), "{error}");
    }
}
