//! The read side of what a database destination stores: the history of sync runs and
//! the records stored per type. `runner runs`, `runner report`, the alerts' staleness
//! check and the workers all read through here, never with SQL of their own; a reader
//! with a question of its own (the report's incident figures) brings its SQL to
//! [`ReadHistory::rows`].
//!
//! One [`History`] value per command, opened by [`Output::history`](crate::Output::history)
//! of a store that keeps one: a SQLite file (`sqlite::SqliteHistory`, read-only: reading
//! never creates or changes a file) or a PostgreSQL database (`postgres::PostgresHistory`,
//! one connection; the tables are never created by a reader). Both answer the same
//! questions with the same types; times are UTC instants.
//!
//! What is read:
//! - [`ReadHistory::latest`]: the latest run of each (connection, stream), with the time
//!   of its last success and how many runs and failures it has had.
//! - [`ReadHistory::runs`]: runs newest first, at most N per (connection, stream),
//!   optionally only one connection's and only the failed ones.
//! - [`ReadHistory::records_by_type`]: stored records per connection and `_type`.
//! - [`ReadHistory::stored_records`]: the JSON text of every record stored or rejected;
//!   [`Output::each_stored_record`](crate::Output::each_stored_record) the same of any
//!   store, a JSON-lines directory too (what `runner schema diff --db` compares with the
//!   schemas).
//! - [`ReadHistory::rows`]: any read-only query, streamed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::{DestinationError, RunOutcome, SqlDialect};

/// How `sync_runs.outcome` says a run has not ended.
pub const RUNNING: &str = "running";

/// One row of `sync_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// `sync_runs.id`: later runs have larger ids.
    pub id: i64,
    /// The connection's name.
    pub connection: String,
    /// The connector as it was named (slug or path).
    pub connector: String,
    /// The stream's id.
    pub stream_id: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (`None` while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    /// How it ended; `None` while it runs (or its runner died and no later run has
    /// noticed yet).
    pub outcome: Option<RunOutcome>,
    /// Records stored.
    pub records: u64,
    /// Records stored by `_type`.
    pub records_by_type: BTreeMap<String, u64>,
    /// Records rejected (`--skip-invalid`).
    pub rejected: u64,
    /// Why it failed, secrets masked when it was stored.
    pub error: Option<String>,
    /// The format drift it found (values that break a format of a third party's schema,
    /// stored anyway): a line per type and field, its run's log lines of level
    /// [`DRIFT_LEVEL`].
    pub format_drift: Vec<String>,
}

/// The level of a run's log lines that say what format drift it found.
pub const DRIFT_LEVEL: &str = "drift";

/// The drift lines of a run as stored: its `drift` log lines joined by newlines, or none.
pub fn drift_lines(joined: Option<String>) -> Vec<String> {
    joined.map(|text| text.lines().map(str::to_owned).collect()).unwrap_or_default()
}

impl Run {
    /// `running`, `succeeded`, `failed` or `interrupted`, as stored and shown.
    pub fn state(&self) -> &'static str {
        self.outcome.map_or(RUNNING, RunOutcome::as_str)
    }

    /// How long it took (`None` while running).
    pub fn duration(&self) -> Option<std::time::Duration> {
        self.finished_at.and_then(|end| (end - self.started_at).to_std().ok())
    }

    /// The error's first non-empty line, if it has an error.
    pub fn headline(&self) -> Option<&str> {
        self.error.as_deref().map(|error| error.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(""))
    }
}

/// The latest run of one (connection, stream) and what came before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStatus {
    /// The latest run (the largest id).
    pub latest: Run,
    /// When its last succeeded run finished, if any ever did.
    pub last_success: Option<DateTime<Utc>>,
    /// Runs recorded, all outcomes.
    pub runs: u64,
    /// Of which failed.
    pub failures: u64,
}

/// Which runs [`ReadHistory::runs`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFilter {
    /// Only this connection's.
    pub connection: Option<String>,
    /// Only runs that failed.
    pub failed_only: bool,
    /// At most this many per (connection, stream), the newest.
    pub per_stream: u32,
}

/// Records stored under one connection with one `_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeCount {
    /// The connection's name.
    pub connection: String,
    /// The `_type`.
    pub record_type: String,
    /// How many.
    pub count: u64,
}

/// One value of a row that [`ReadHistory::rows`] reads, as the database gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
}

impl Cell {
    /// The value as text (a number written out), `None` for NULL.
    pub fn text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Integer(n) => Some(n.to_string()),
            Cell::Real(x) => Some(x.to_string()),
            Cell::Text(text) => Some(text.clone()),
        }
    }

    /// The value as a number, `None` for NULL or text.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Integer(n) => Some(*n as f64),
            Cell::Real(x) => Some(*x),
            Cell::Null | Cell::Text(_) => None,
        }
    }
}

/// Why the history cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// `--db` names something that keeps no readable history.
    #[error(
        "{output} is not a database: the history is read from a SQLite file (.db, .sqlite, .sqlite3) or a \
         postgres:// URL"
    )]
    NotADatabase {
        /// The output as shown.
        output: String,
    },
    /// The SQLite file does not exist.
    #[error("no SQLite database at {}: nothing has been synced there yet\nhint: name the database with --db PATH|URL", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The database has no `sync_runs` table.
    #[error("{target} holds no runner history (no sync_runs table)\nhint: name the database the runner syncs into with --db PATH|URL")]
    NotRunnerDatabase {
        /// The file or the masked URL.
        target: String,
    },
    /// Opening or connecting failed.
    #[error(transparent)]
    Open(#[from] DestinationError),
    /// A query failed.
    #[error("cannot read the history in {target}: {source}")]
    Read {
        /// The file or the masked URL.
        target: String,
        /// The database's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored value cannot be understood.
    #[error("cannot read the history in {target}: run {run}: {what}")]
    Corrupt {
        /// The file or the masked URL.
        target: String,
        /// `sync_runs.id`.
        run: i64,
        /// What is wrong (the column and the value's problem).
        what: String,
    },
}

impl HistoryError {
    /// True when the input named the wrong thing (a path with no database, a directory).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, HistoryError::NotADatabase { .. } | HistoryError::Missing { .. })
    }
}

/// The read side of a store that keeps a history: one implementation per database
/// (`sqlite::SqliteHistory`, `postgres::PostgresHistory`), opened by
/// [`Output::history`](crate::Output::history). Both answer with the same types; times
/// are UTC instants.
pub trait ReadHistory: Send {
    /// The database as people see it (a path, or a URL without its password).
    fn describe(&self) -> &str;

    /// The SQL [`ReadHistory::rows`] takes.
    fn dialect(&self) -> SqlDialect;

    /// The latest run of each (connection, stream), sorted by connection then stream;
    /// only `connection`'s when given.
    ///
    /// # Errors
    /// The database cannot be read.
    fn latest(&mut self, connection: Option<&str>) -> Result<Vec<StreamStatus>, HistoryError>;

    /// Runs newest first within each (connection, stream), sorted by connection then
    /// stream.
    ///
    /// # Errors
    /// The database cannot be read.
    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<Run>, HistoryError>;

    /// Records stored per connection and `_type`, sorted.
    ///
    /// # Errors
    /// The database cannot be read.
    fn records_by_type(&mut self) -> Result<Vec<TypeCount>, HistoryError>;

    /// Calls `visit` with the JSON text of every stored record, then of every rejected
    /// one (`--skip-invalid`), in no particular order.
    ///
    /// # Errors
    /// The database cannot be read.
    fn stored_records(&mut self, visit: &mut dyn FnMut(&str)) -> Result<(), HistoryError>;

    /// Calls `visit` with each row of a read-only query in [`ReadHistory::dialect`],
    /// streamed so memory stays flat however many rows there are. The runner's tables are
    /// named without a schema (a PostgreSQL reader sets its `search_path`). For readers
    /// with questions of their own (the report's incident figures); the runner's own
    /// questions have the methods above.
    ///
    /// # Errors
    /// The query fails or the database cannot be read.
    fn rows(&mut self, sql: &str, visit: &mut dyn FnMut(&[Cell])) -> Result<(), HistoryError>;
}

/// An open history.
pub type History = Box<dyn ReadHistory>;

/// Whether a stream whose last success ended at `last_success` is stale at `now`: it
/// never succeeded, or its last success is older than `stale_after`. A last success
/// "in the future" (another machine's clock ahead) is not stale.
pub fn is_stale(last_success: Option<DateTime<Utc>>, now: DateTime<Utc>, stale_after: std::time::Duration) -> bool {
    last_success.is_none_or(|at| (now - at).to_std().is_ok_and(|age| age > stale_after))
}

/// Seconds since the epoch (as both databases compute them) as an instant.
pub fn instant(seconds: Option<f64>) -> Option<DateTime<Utc>> {
    let seconds = seconds.filter(|s| s.is_finite())?;
    let millis = (seconds * 1000.0).round();
    // Outside chrono's range (about ±262,000 years) is no time at all.
    if millis.abs() > 8.0e15 {
        return None;
    }
    DateTime::from_timestamp_millis(millis as i64)
}

/// A stored `records_by_type` JSON object; anything else reads as empty.
pub(crate) fn parse_by_type(text: &str) -> BTreeMap<String, u64> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A stored outcome, or why it cannot be read.
pub(crate) fn parse_state(text: &str, target: &str, run: i64) -> Result<Option<RunOutcome>, HistoryError> {
    if text == RUNNING {
        return Ok(None);
    }
    RunOutcome::parse(text).map(Some).ok_or_else(|| HistoryError::Corrupt {
        target: target.to_owned(),
        run,
        what: format!("outcome {text:?} is none of running, succeeded, failed, interrupted"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_is_the_first_line_with_text() {
        let mut run = Run {
            id: 1,
            connection: "c".into(),
            connector: "x".into(),
            stream_id: "s".into(),
            started_at: DateTime::from_timestamp(0, 0).unwrap(),
            finished_at: DateTime::from_timestamp(90, 0),
            outcome: Some(RunOutcome::Failed),
            records: 0,
            records_by_type: BTreeMap::new(),
            rejected: 0,
            error: Some("\n  connector `x` failed\n---- stderr ----\nboom".into()),
            format_drift: Vec::new(),
        };
        assert_eq!(run.headline(), Some("connector `x` failed"));
        assert_eq!(run.duration(), Some(std::time::Duration::from_secs(90)));
        run.error = None;
        run.finished_at = None;
        assert_eq!((run.headline(), run.duration()), (None, None));
    }

    #[test]
    fn staleness_is_no_success_within_the_window() {
        let now = DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z").unwrap().to_utc();
        let day = std::time::Duration::from_secs(86_400);
        assert!(is_stale(None, now, day), "never succeeded");
        assert!(!is_stale(Some(now - chrono::Duration::hours(23)), now, day));
        assert!(is_stale(Some(now - chrono::Duration::hours(25)), now, day));
        assert!(!is_stale(Some(now + chrono::Duration::hours(1)), now, day), "a clock ahead is not stale");
    }

    #[test]
    fn instants_outside_any_calendar_are_none() {
        assert_eq!(instant(Some(1.5)), DateTime::from_timestamp_millis(1500));
        assert_eq!(instant(Some(f64::NAN)), None);
        assert_eq!(instant(Some(1e300)), None);
        assert_eq!(instant(None), None);
    }

    #[test]
    fn every_state_reads_back_as_written() {
        for outcome in [RunOutcome::Succeeded, RunOutcome::Failed, RunOutcome::Interrupted] {
            assert_eq!(parse_state(outcome.as_str(), "db", 1).unwrap(), Some(outcome));
        }
        assert_eq!(parse_state(RUNNING, "db", 1).unwrap(), None);
        assert!(parse_state("exploded", "db", 7).unwrap_err().to_string().contains("run 7: outcome \"exploded\""));
    }
}
