//! The demo's view of its SQLite file: the example queries it suggests, a fresh start for
//! the demo's own connection, and the record counts for its summary.
//!
//! It reads the tables [`crate::engine::destination::sqlite`] creates (`records`, `sync_runs`,
//! `stream_state`, `run_logs`, `rejected_records`) and writes to them only to forget the
//! demo connection's rows from an earlier demo, never any other connection's.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

/// The connection name every demo sync uses, so the demo's rows never mix with a real
/// `pagerduty` connection in the same file.
pub const CONNECTION: &str = "pagerduty-demo";

/// A query the summary suggests trying with `sqlite3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExampleQuery {
    /// What it shows.
    pub title: &'static str,
    /// The SQL, on one line so it can be pasted into `sqlite3`.
    pub sql: &'static str,
}

/// The three queries of the summary; the integration test runs each against a demo
/// database, so the summary never suggests a broken one.
pub const QUERIES: [ExampleQuery; 3] = [
    ExampleQuery {
        title: "incidents by service",
        sql: "SELECT json_extract(json, '$.service.summary') AS service, count(*) AS incidents \
              FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              GROUP BY service ORDER BY incidents DESC;",
    },
    ExampleQuery {
        title: "mean time to resolve, in hours, by urgency",
        sql: "SELECT json_extract(json, '$.urgency') AS urgency, count(*) AS resolved, \
              round(avg(julianday(json_extract(json, '$.resolvedAt')) - julianday(json_extract(json, '$.createdAt'))) * 24, 1) AS mean_hours \
              FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              AND json_extract(json, '$.resolvedAt') IS NOT NULL GROUP BY urgency;",
    },
    ExampleQuery {
        title: "the timeline of the last incident resolved",
        sql: "SELECT json_extract(json, '$.createdAt') AS at, json_extract(json, '$.logType') AS entry, \
              json_extract(json, '$.summary') AS summary FROM records \
              WHERE connection = 'pagerduty-demo' AND type = 'IncidentLogEntry' AND json_extract(json, '$.incident.id') = \
              (SELECT id FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              AND json_extract(json, '$.resolvedAt') IS NOT NULL ORDER BY json_extract(json, '$.resolvedAt') DESC LIMIT 1) \
              ORDER BY at;",
    },
];

/// Tables with a `connection` column; `sync_runs` last, as `run_logs` rows refer to it.
const CONNECTION_TABLES: [&str; 4] = ["records", "rejected_records", "stream_state", "sync_runs"];

/// A SQLite failure, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct DatabaseError {
    /// What the demo was doing.
    action: &'static str,
    /// The file.
    path: PathBuf,
    /// The cause.
    #[source]
    source: rusqlite::Error,
}

/// Removes everything an earlier demo stored under [`CONNECTION`] in `path`, so the
/// demo's first sync is a full one. Other connections are untouched; a missing file or
/// a file without the runner's tables is left as it is. Returns the rows removed.
///
/// # Errors
/// [`DatabaseError`] when the file exists but cannot be opened or written.
pub fn forget_demo_connection(path: &Path) -> Result<usize, DatabaseError> {
    if !path.exists() {
        return Ok(0);
    }
    let fail = |action| move |source| DatabaseError { action, path: path.to_owned(), source };
    let mut conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(fail("open"))?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(fail("open"))?;
    let tx = conn.transaction().map_err(fail("clean the demo connection in"))?;
    let mut removed = 0;
    if has_table(&tx, "run_logs").map_err(fail("read"))? && has_table(&tx, "sync_runs").map_err(fail("read"))? {
        let sql = "DELETE FROM run_logs WHERE run_id IN (SELECT id FROM sync_runs WHERE connection = ?1)";
        tx.execute(sql, [CONNECTION]).map_err(fail("clean the demo connection in"))?;
    }
    for table in CONNECTION_TABLES {
        if has_table(&tx, table).map_err(fail("read"))? {
            let sql = format!("DELETE FROM {table} WHERE connection = ?1");
            removed += tx.execute(&sql, [CONNECTION]).map_err(fail("clean the demo connection in"))?;
        }
    }
    tx.commit().map_err(fail("clean the demo connection in"))?;
    Ok(removed)
}

fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// Stored records of the demo connection by `_type`, sorted by type.
///
/// # Errors
/// [`DatabaseError`] when the file cannot be read.
pub fn records_by_type(path: &Path) -> Result<Vec<(String, u64)>, DatabaseError> {
    let fail = |source| DatabaseError { action: "read", path: path.to_owned(), source };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    let mut statement = conn
        .prepare("SELECT type, count(*) FROM records WHERE connection = ?1 GROUP BY type ORDER BY type")
        .map_err(fail)?;
    let rows = statement.query_map([CONNECTION], |row| Ok((row.get(0)?, row.get::<_, i64>(1)?.unsigned_abs())));
    rows.and_then(Iterator::collect).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_names_the_demo_connection_and_fits_on_one_line() {
        for query in QUERIES {
            assert!(query.sql.contains(&format!("connection = '{CONNECTION}'")), "{}", query.title);
            assert!(!query.sql.contains('\n') && query.sql.ends_with(';'), "{}", query.title);
        }
    }

    #[test]
    fn forgetting_keeps_other_connections_and_tolerates_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(forget_demo_connection(&dir.path().join("missing.db")).unwrap(), 0);
        let path = dir.path().join("runner.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE records (connection TEXT, type TEXT, id TEXT, json TEXT);
             INSERT INTO records VALUES ('pagerduty-demo', 'Team', 'T1', '{}'), ('mine', 'Team', 'T1', '{}');",
        )
        .unwrap();
        assert_eq!(forget_demo_connection(&path).unwrap(), 1);
        let left: Vec<String> = conn
            .prepare("SELECT connection FROM records")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(left, ["mine"]);
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        std::fs::write(&path, "not a database, just text that is long enough to be read as a header").unwrap();
        let err = forget_demo_connection(&path).unwrap_err().to_string();
        assert!(err.contains("notes.db"), "{err}");
    }
}
