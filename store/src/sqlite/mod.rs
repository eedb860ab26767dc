//! The SQLite destination: records upserted per (connection, `_type`, `id`), rejected
//! records, each stream's state per connection, and the history of sync runs.
//!
//! The schema (version [`SCHEMA_VERSION`] in `PRAGMA user_version`, created if missing):
//!
//! ```sql
#![doc = include_str!("schema.sql")]
//! ```
//!
//! Example queries (`sqlite3 runner.db`):
//!
//! ```sql
//! -- records per connection and type
//! SELECT connection, type, count(*) FROM records GROUP BY 1, 2;
//! -- open incidents
//! SELECT id, json_extract(json, '$.title') FROM records
//!  WHERE type = 'Incident' AND json_extract(json, '$.status') <> 'resolved';
//! -- the last runs and why they failed
//! SELECT id, connection, stream_id, outcome, records, error FROM sync_runs ORDER BY id DESC LIMIT 10;
//! -- the logs of run 7
//! SELECT at, level, message FROM run_logs WHERE run_id = 7;
//! ```
//!
//! Writing: the connection lives on the destination's writer thread
//! ([`super::writer`]), so the store loop goes on reading and validating while SQLite
//! writes; SQLite's WAL checkpoints (copying the log into the file) run on a third thread,
//! on a second connection ([`super::wal_checkpointer`]), while the writer appends the next
//! batches. Records are
//! buffered in memory and written in one short `BEGIN IMMEDIATE`
//! transaction with a cached prepared statement, at each checkpoint (together with the
//! state row, so both commit or neither does) or when the buffer reaches
//! [`Tuning::batch_records`] records or [`Tuning::batch_bytes`] bytes (those
//! commits never touch the state). Holding no transaction between writes lets parallel runs
//! share the file: each waits at most one batch for the write lock (busy timeout 60 s).
//! If the process dies, everything committed stays; records after the last checkpoint may
//! or may not be there (a replay upserts them again) and the state is never ahead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::Value;

mod history;
mod output;
mod typed;
mod wal_checkpointer;

pub use history::SqliteHistory;
pub(crate) use output::parse_output;
pub use output::SqliteOutput;

use crate::batch::Batch;
use crate::writer::{Batched, Commit, Store, Writer};
use crate::{host_name, process_exists};
use crate::{DestinationError, RunStart, RunSummary, Tuning};
use wal_checkpointer::{WalCheckpointer, WalLimits};

/// The schema version this runner creates and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// The whole schema, for a new file.
const SCHEMA: &str = include_str!("schema.sql");

/// What turns version N into N + 1, from version 1 on; `SCHEMA` already includes them all.
const MIGRATIONS: &[&str] = &[
    // 2: who runs a run, so that a later run can tell when its runner died.
    "ALTER TABLE sync_runs ADD COLUMN pid INTEGER; ALTER TABLE sync_runs ADD COLUMN host TEXT;",
];

/// Page size of new database files (SQLite's largest). Measured on 1M ~1.4 KB records:
/// 16 KiB pages made the file 27% smaller than 4 KiB ones (less space wasted around such
/// rows), and 64 KiB pages cut the writes' system time by a third again (four times fewer
/// writes to the log and the file): 1M records in 0.72 of the time of 16 KiB pages.
const PAGE_SIZE: i64 = 64 * 1024;
/// SQLite's page cache of each connection, in KiB. Set explicitly: with 64 KiB pages and
/// SQLite's default, the runner's peak RSS was 79 MB, against 51 MB with this.
const CACHE_KIB: i64 = 4096;
/// Bytes of log from which it is copied into the file in the background, and from which
/// the writer waits for a full copy (so the log stays near that size).
const WAL_COPY_FROM: i64 = 16 * 1024 * 1024;
const WAL_CATCH_UP_FROM: i64 = 64 * 1024 * 1024;

/// Prepared statements kept per connection: the runner's dozen and a typed table's
/// upsert for each of up to a hundred record types.
const STATEMENT_CACHE: usize = 128;

/// How long a run waits for another run's write transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

const UPSERT_RECORD: &str = "INSERT INTO records (connection, type, id, json, extracted_at, stored_at, run_id) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
     ON CONFLICT (connection, type, id) DO UPDATE SET json = excluded.json, \
     extracted_at = excluded.extracted_at, stored_at = excluded.stored_at, run_id = excluded.run_id";

const INSERT_REJECTED: &str =
    "INSERT INTO rejected_records (run_id, connection, type, id, line, json, errors, stored_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const UPSERT_STATE: &str = "INSERT INTO stream_state (connection, stream_id, state, updated_at, run_id) \
     VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (connection, stream_id) DO UPDATE SET state = excluded.state, \
     updated_at = excluded.updated_at, run_id = excluded.run_id";

const INSERT_RUN: &str =
    "INSERT INTO sync_runs (connection, connector, stream_id, cutoff, started_at, outcome, pid, host) \
     VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7)";

const RUNNING_HERE: &str = "SELECT id, pid FROM sync_runs WHERE outcome = 'running' AND host = ?1";

const CLOSE_ABANDONED_RUN: &str =
    "UPDATE sync_runs SET outcome = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1 AND outcome = 'running'";

const FINISH_RUN: &str = "UPDATE sync_runs SET finished_at = ?2, outcome = ?3, records = ?4, records_by_type = ?5, \
     rejected = ?6, checkpoints = ?7, error = ?8 WHERE id = ?1";

const INSERT_LOG: &str = "INSERT INTO run_logs (run_id, at, level, message) VALUES (?1, ?2, ?3, ?4)";

/// One run's connection to a SQLite file, on its writer thread.
pub type SqliteDestination = Batched<SqliteStore>;

/// The connection to a SQLite file, owned by its writer thread.
pub struct SqliteStore {
    path: PathBuf,
    /// Dropped before `conn`, which, closing last, copies what is left of the log.
    wal: WalCheckpointer,
    conn: Connection,
    /// The run's typed tables, written in each commit's transaction.
    typed: crate::typed::apply::Typed,
}

/// What begin_run learned, needed by every write.
#[derive(Debug, Clone)]
pub struct ActiveRun {
    connection: String,
    stream_id: String,
    run_id: i64,
}

impl SqliteDestination {
    /// Opens (creating if needed) the database and its schema, in WAL mode, on a new
    /// writer thread.
    ///
    /// # Errors
    /// The file cannot be opened or is not a SQLite database, or its schema is newer.
    pub fn open(path: &Path, tuning: &Tuning) -> Result<Self, DestinationError> {
        let (opened, synchronous_full) = (path.to_owned(), tuning.sqlite_synchronous_full);
        let writer = Writer::start("sqlite-writer", move || SqliteStore::open(&opened, synchronous_full))?;
        Ok(Batched::new(format!("SQLite database {}", path.display()), writer, tuning))
    }
}

impl SqliteStore {
    fn open(path: &Path, synchronous_full: bool) -> Result<Self, DestinationError> {
        let open_error = |err: rusqlite::Error| DestinationError::open("SQLite database", path, err);
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| DestinationError::open("directory", parent, err))?;
        }
        let synchronous = if synchronous_full { "FULL" } else { "NORMAL" };
        let mut conn = connect(path, synchronous).map_err(open_error)?;
        prepare_file(&mut conn, path)?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0)).map_err(open_error)?;
        let limits = WalLimits::in_pages(WAL_COPY_FROM, WAL_CATCH_UP_FROM, page_size);
        let copier = connect(path, synchronous).map_err(open_error)?;
        let wal = WalCheckpointer::start(&conn, copier, limits)?;
        // The runner's statements and one upsert per typed table stay prepared.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(SqliteStore { path: path.to_owned(), wal, conn, typed: Default::default() })
    }

    fn write_error(&self, err: rusqlite::Error) -> DestinationError {
        DestinationError::write(&self.path, explain(&self.conn, &err))
    }
}

/// A connection to `path` set up as both of a run's connections are: the busy timeout,
/// `synchronous`, the page size of a new file, and the page cache.
fn connect(path: &Path, synchronous: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    // Takes effect on new files only; an existing file keeps its page size.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    Ok(conn)
}

/// SQLite's error, with the operating system's reason when a read or write of `conn`
/// failed: SQLite itself only says "disk I/O error", not "File too large" or "No space
/// left on device", which tell the user what to do.
pub(super) fn explain(conn: &Connection, err: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::{DiskFull, SystemIoFailure};
    if !matches!(err.sqlite_error_code(), Some(SystemIoFailure | DiskFull)) {
        return err.to_string();
    }
    // SAFETY: the handle is this open connection's, used on this thread only, and
    // sqlite3_system_errno only reads the errno it kept from its last system call.
    let errno = unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) };
    match errno {
        0 => err.to_string(),
        errno => format!("{err}: {}", std::io::Error::from_raw_os_error(errno)),
    }
}

/// Tables with a `connection` column; `sync_runs` last, as `run_logs` rows refer to it.
const CONNECTION_TABLES: [&str; 4] = ["records", "rejected_records", "stream_state", "sync_runs"];

/// Removes everything stored under `connection` in the file at `path` (records,
/// rejected records, states, runs and their logs); other connections are untouched. A
/// missing file, or one without the runner's tables, is left as it is. Returns the rows
/// removed (logs aside).
///
/// # Errors
/// The file exists but cannot be opened or written.
pub fn forget_connection(path: &Path, connection: &str) -> Result<u64, DestinationError> {
    if !path.exists() {
        return Ok(0);
    }
    let fail = |err| DestinationError::write(path, err);
    let mut conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|err| DestinationError::open("SQLite database", path, err))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
    let mut removed = 0;
    if has_table(&tx, "run_logs").map_err(fail)? && has_table(&tx, "sync_runs").map_err(fail)? {
        let sql = "DELETE FROM run_logs WHERE run_id IN (SELECT id FROM sync_runs WHERE connection = ?1)";
        tx.execute(sql, [connection]).map_err(fail)?;
    }
    for table in typed_tables(&tx).map_err(fail)? {
        tx.execute(&crate::typed::sql::delete_connection(&typed::Sqlite, &table), [connection]).map_err(fail)?;
    }
    for table in CONNECTION_TABLES {
        if has_table(&tx, table).map_err(fail)? {
            let deleted =
                tx.execute(&format!("DELETE FROM {table} WHERE connection = ?1"), [connection]).map_err(fail)?;
            removed += deleted as u64;
        }
    }
    tx.commit().map_err(fail)?;
    Ok(removed)
}

/// The typed tables' names (none before the first typed table).
fn typed_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    if !has_table(conn, "typed_tables")? {
        return Ok(Vec::new());
    }
    let mut statement = conn.prepare("SELECT table_name FROM typed_tables")?;
    let names = statement.query_map([], |row| row.get(0))?;
    names.collect()
}

fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// The stored records of `connection` by `_type`, sorted by type.
///
/// # Errors
/// The file cannot be opened or read.
pub fn records_by_type(path: &Path, connection: &str) -> Result<Vec<(String, u64)>, DestinationError> {
    let fail = |err| DestinationError::open("SQLite database", path, err);
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    let mut statement = conn
        .prepare("SELECT type, count(*) FROM records WHERE connection = ?1 GROUP BY type ORDER BY type")
        .map_err(fail)?;
    let rows = statement.query_map([connection], |row| Ok((row.get(0)?, row.get::<_, i64>(1)?.unsigned_abs())));
    rows.and_then(Iterator::collect).map_err(fail)
}

/// Switches the file to WAL and creates or checks the schema.
///
/// Parallel stream syncs open the same new file at the same moment. Switching a database
/// to WAL needs an exclusive lock, and SQLite answers `SQLITE_BUSY` at once, without
/// calling the busy handler, when two connections race for it. So opens within this
/// process take turns (a mutex), and a busy answer caused by another process is retried
/// with a growing pause until [`BUSY_TIMEOUT`].
fn prepare_file(conn: &mut Connection, path: &Path) -> Result<(), DestinationError> {
    static OPENING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = OPENING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        let attempt = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0))
            .map_err(|err| DestinationError::open("SQLite database", path, err))
            .and_then(|_| init_schema(conn, path));
        match attempt {
            Err(DestinationError::Open { ref source, .. }) if is_busy(source.as_ref()) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

fn is_busy(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(
        error.downcast_ref::<rusqlite::Error>().and_then(rusqlite::Error::sqlite_error_code),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn init_schema(conn: &mut Connection, path: &Path) -> Result<(), DestinationError> {
    let open_error = |err: rusqlite::Error| DestinationError::open("SQLite database", path, err);
    // IMMEDIATE: two runs opening a new file at once must not both create the schema.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(open_error)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(open_error)?;
    if !(0..=SCHEMA_VERSION).contains(&found) {
        let target = path.display().to_string();
        return Err(DestinationError::SchemaVersion {
            what: "SQLite database",
            target,
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        if found == 0 {
            tx.execute_batch(SCHEMA).map_err(open_error)?;
        } else {
            // 1 <= found < SCHEMA_VERSION here.
            for migration in &MIGRATIONS[(found - 1) as usize..] {
                tx.execute_batch(migration).map_err(open_error)?;
            }
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(open_error)?;
    }
    tx.commit().map_err(open_error)
}

/// Marks as failed the runs on this host still `running` whose runner process is gone
/// (killed with SIGKILL, or the machine went down), so the history does not claim they
/// still run. A live process with the same pid keeps its run `running`: when in doubt,
/// nothing is changed.
fn close_abandoned_runs(conn: &Connection, host: &str) -> rusqlite::Result<()> {
    let running: Vec<(i64, Option<i64>)> = conn
        .prepare(RUNNING_HERE)?
        .query_map([host], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, pid) in running {
        let Some(pid) = pid.filter(|&pid| !process_exists(pid)) else { continue };
        let error = format!(
            "the runner (pid {pid} on {host}) stopped without recording how this run ended: it was killed or the \
             machine went down; checkpoints it stored are kept"
        );
        conn.execute(CLOSE_ABANDONED_RUN, params![id, timestamp(), error])?;
    }
    Ok(())
}

fn write_batch(tx: &Transaction<'_>, run: &ActiveRun, batch: &Batch, now: &str) -> rusqlite::Result<()> {
    let mut upsert = tx.prepare_cached(UPSERT_RECORD)?;
    for r in batch.records() {
        upsert.execute(params![run.connection, r.record_type, r.id, r.json, r.extracted_at, now, run.run_id])?;
    }
    let mut insert_rejected = tx.prepare_cached(INSERT_REJECTED)?;
    for r in &batch.rejected {
        insert_rejected.execute(params![
            run.run_id,
            run.connection,
            r.record_type,
            r.id,
            r.line,
            r.json,
            r.errors,
            now
        ])?;
    }
    Ok(())
}

fn write_state(tx: &Transaction<'_>, run: &ActiveRun, state: &Value, now: &str) -> rusqlite::Result<()> {
    let state = state.to_string();
    tx.prepare_cached(UPSERT_STATE)?.execute(params![run.connection, run.stream_id, state, now, run.run_id])?;
    Ok(())
}

/// The run's row and its logs, and `note` (the store's own word on the run) as a warning.
fn write_summary(
    tx: &Transaction<'_>,
    run: &ActiveRun,
    summary: &RunSummary,
    note: Option<String>,
) -> rusqlite::Result<()> {
    let records: u64 = summary.records_by_type.values().sum();
    tx.prepare_cached(FINISH_RUN)?.execute(params![
        run.run_id,
        summary.finished_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        summary.outcome.as_str(),
        records,
        by_type_json(&summary.records_by_type),
        summary.rejected,
        summary.checkpoints,
        summary.error,
    ])?;
    let mut insert_log = tx.prepare_cached(INSERT_LOG)?;
    for log in &summary.logs {
        let at = log.at.to_rfc3339_opts(SecondsFormat::Millis, true);
        insert_log.execute(params![run.run_id, at, log.level, log.message])?;
    }
    if let Some(note) = note {
        insert_log.execute(params![run.run_id, timestamp(), "warn", note])?;
    }
    Ok(())
}

fn by_type_json(records_by_type: &BTreeMap<String, u64>) -> String {
    // A map of strings to integers always serialises.
    serde_json::to_string(records_by_type).unwrap_or_else(|_| "{}".to_owned())
}

fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a commit failed: SQLite (explained once the transaction is gone), or a typed
/// table, whose error says which.
enum Failed {
    Sqlite(rusqlite::Error),
    Typed(DestinationError),
}

impl From<rusqlite::Error> for Failed {
    fn from(err: rusqlite::Error) -> Self {
        Failed::Sqlite(err)
    }
}

impl Store for SqliteStore {
    type Run = ActiveRun;

    fn use_schemas(&mut self, schemas: std::sync::Arc<dyn crate::typed::RecordSchemas>) {
        self.typed.use_schemas(schemas);
    }

    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        let stored: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM stream_state WHERE connection = ?1 AND stream_id = ?2",
                params![connection, stream_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|err| DestinationError::open("SQLite database", &self.path, err))?;
        let Some(stored) = stored else { return Ok(None) };
        let state: Value = serde_json::from_str(&stored)
            .map_err(|source| DestinationError::CorruptState { place: self.path.display().to_string(), source })?;
        Ok(Some(state).filter(|state| !state.is_null()))
    }

    fn begin_run(&mut self, run: &RunStart) -> Result<ActiveRun, DestinationError> {
        let cutoff = run.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
        let started_at = run.started_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let host = host_name();
        close_abandoned_runs(&self.conn, &host).map_err(|err| self.write_error(err))?;
        let pid = std::process::id();
        self.conn
            .execute(INSERT_RUN, params![run.connection, run.connector, run.stream_id, cutoff, started_at, pid, host])
            .map_err(|err| self.write_error(err))?;
        Ok(ActiveRun {
            connection: run.connection.clone(),
            stream_id: run.stream_id.clone(),
            run_id: self.conn.last_insert_rowid(),
        })
    }

    /// Writes the batch and its typed rows, then the state and the run's end if given, in
    /// one transaction (the prepared statements are cached on the connection, so each is
    /// prepared once).
    fn commit(&mut self, commit: &Commit<ActiveRun>, records_lost: bool) -> Result<(), DestinationError> {
        let Commit { run, batch, state, summary } = commit;
        let (path, typed) = (&self.path, &mut self.typed);
        let result = (|| {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = timestamp();
            if !records_lost {
                write_batch(&tx, run, batch, &now)?;
                let mut backend = typed::Backend { conn: &tx, path };
                typed.prepare(&mut backend, batch.records().map(|r| r.record_type)).map_err(Failed::Typed)?;
                typed::write_rows(&tx, typed, &run.connection, batch)?;
                if let Some(state) = state {
                    write_state(&tx, run, state, &now)?;
                }
            }
            if let Some(summary) = summary {
                write_summary(&tx, run, summary, typed.take_misfit_report())?;
            }
            tx.commit().map_err(Failed::Sqlite)
        })();
        result.map_err(|failed| match failed {
            Failed::Sqlite(err) => self.write_error(err),
            Failed::Typed(error) => error,
        })?;
        match self.wal.after_commit() {
            Ok(_) => Ok(()),
            Err(failure) => {
                Err(DestinationError::write(&self.path, format!("copying the WAL into the file: {failure}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{record, run_start, summary};
    use crate::{Destination, RejectedRecord, RunOutcome, StoredLog};
    use serde_json::json;

    #[test]
    fn forgetting_a_connection_keeps_the_others_and_tolerates_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(forget_connection(&dir.path().join("missing.db"), "demo").unwrap(), 0);
        let path = dir.path().join("runner.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE records (connection TEXT, type TEXT, id TEXT, json TEXT);
             INSERT INTO records VALUES ('demo', 'Team', 'T1', '{}'), ('mine', 'Team', 'T1', '{}');",
        )
        .unwrap();
        assert_eq!(forget_connection(&path, "demo").unwrap(), 1);
        assert_eq!(records_by_type(&path, "mine").unwrap(), [("Team".to_owned(), 1)]);
        assert_eq!(records_by_type(&path, "demo").unwrap(), []);
        let not_sqlite = dir.path().join("notes.db");
        std::fs::write(&not_sqlite, "not a database, just text that is long enough to be read as a header").unwrap();
        let err = forget_connection(&not_sqlite, "demo").unwrap_err().to_string();
        assert!(err.contains("notes.db"), "{err}");
    }

    fn small_batches() -> Tuning {
        Tuning { batch_records: 2, ..Tuning::default() }
    }

    fn query_i64(path: &Path, sql: &str) -> i64 {
        Connection::open(path).unwrap().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn query_string(path: &Path, sql: &str) -> String {
        Connection::open(path).unwrap().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    #[test]
    fn creates_the_schema_in_wal_mode_with_a_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/runner.db");
        SqliteDestination::open(&path, &Tuning::default()).unwrap();
        assert_eq!(query_i64(&path, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_eq!(query_string(&path, "PRAGMA journal_mode"), "wal");
        assert_eq!(query_i64(&path, "PRAGMA page_size"), PAGE_SIZE, "new files get large pages");
        let tables = query_i64(
            &path,
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN \
             ('records', 'rejected_records', 'stream_state', 'sync_runs', 'run_logs')",
        );
        assert_eq!(tables, 5);
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let err = SqliteDestination::open(&path, &Tuning::default()).err().unwrap();
        assert!(matches!(err, DestinationError::SchemaVersion { found: 99, .. }), "{err}");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", -1).unwrap();
        let err = SqliteDestination::open(&path, &Tuning::default()).err().unwrap();
        assert!(matches!(err, DestinationError::SchemaVersion { found: -1, .. }), "{err}");
        assert!(err.to_string().contains("hint:"));
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_an_open_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        std::fs::write(&path, "these are not the pages you are looking for, ".repeat(100)).unwrap();
        let err = SqliteDestination::open(&path, &Tuning::default()).err().unwrap();
        let message = err.to_string();
        assert!(message.contains("SQLite database") && message.contains("notes.db"), "{message}");
    }

    #[test]
    fn upsert_replaces_the_row_and_keeps_json_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let odd = "{ \"_type\":\"Incident\",  \"id\":\"P1\", \"title\":\"caf\\u00e9 \u{1F600}\" ,\"n\":1.50 }";
        for json in [r#"{"_type":"Incident","id":"P1","v":1}"#, odd] {
            let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
            dest.begin_run(&run_start("acme", "s")).unwrap();
            dest.write_record(&record("Incident", "P1", json)).unwrap();
            dest.finish_run(&summary(RunOutcome::Succeeded, &[("Incident", 1)])).unwrap();
        }
        assert_eq!(query_i64(&path, "SELECT count(*) FROM records"), 1);
        assert_eq!(query_string(&path, "SELECT json FROM records"), odd);
        assert_eq!(query_i64(&path, "SELECT run_id FROM records"), 2);
    }

    #[test]
    fn two_connections_keep_separate_rows_and_states() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        for connection in ["acme", "globex"] {
            let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
            dest.begin_run(&run_start(connection, "account")).unwrap();
            let json = format!(r#"{{"_type":"Incident","id":"P1","who":"{connection}"}}"#);
            dest.write_record(&record("Incident", "P1", &json)).unwrap();
            dest.checkpoint(&json!({ "cursor": connection })).unwrap();
            dest.finish_run(&summary(RunOutcome::Succeeded, &[("Incident", 1)])).unwrap();
        }
        assert_eq!(query_i64(&path, "SELECT count(*) FROM records"), 2);
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        assert_eq!(dest.load_state("acme", "account").unwrap(), Some(json!({"cursor": "acme"})));
        assert_eq!(dest.load_state("globex", "account").unwrap(), Some(json!({"cursor": "globex"})));
        assert_eq!(dest.load_state("initech", "account").unwrap(), None);
    }

    #[test]
    fn a_checkpoint_commits_records_and_state_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        dest.begin_run(&run_start("acme", "s")).unwrap();
        for i in 0..3 {
            dest.write_record(&record("Incident", &format!("P{i}"), r#"{"x":1}"#)).unwrap();
        }
        // Buffered, not committed: another connection sees neither records nor state.
        assert_eq!(query_i64(&path, "SELECT count(*) FROM records"), 0);
        dest.checkpoint(&json!({"page": 1})).unwrap();
        // The checkpoint is handed to the writer thread; flushing waits until it is done.
        dest.flush().unwrap();
        assert_eq!(query_i64(&path, "SELECT count(*) FROM records"), 3);
        assert_eq!(query_string(&path, "SELECT state FROM stream_state"), r#"{"page":1}"#);
        assert_eq!(query_i64(&path, "SELECT run_id FROM stream_state"), 1);
    }

    /// The writer thread commits in the background: a commit that fails (here a trigger
    /// refuses record T2) is reported by a later call, and the commits handed over after it
    /// store neither records nor a state, which would claim the lost batch.
    #[test]
    fn after_a_failed_commit_no_later_state_or_record_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        let refuse = "CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.id = 'T2' \
                      BEGIN SELECT RAISE(ABORT, 'T2 refused'); END";
        Connection::open(&path).unwrap().execute_batch(refuse).unwrap();
        dest.begin_run(&run_start("acme", "s")).unwrap();
        let mut reported = None;
        for (page, id) in ["T1", "T2", "T3"].into_iter().enumerate() {
            let written = dest.write_record(&record("Team", id, "{}")).and_then(|()| dest.checkpoint(&json!(page)));
            reported = reported.or(written.err());
        }
        let reported = reported.or(dest.flush().err()).expect("the failure is reported").to_string();
        assert!(reported.contains("T2 refused"), "{reported}");
        assert_eq!(query_string(&path, "SELECT state FROM stream_state"), "0");
        assert_eq!(query_string(&path, "SELECT group_concat(id) FROM records"), "T1");
    }

    #[test]
    fn a_crash_keeps_checkpointed_records_and_never_advances_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &small_batches()).unwrap();
        dest.begin_run(&run_start("acme", "s")).unwrap();
        for i in 0..500 {
            dest.write_record(&record("Incident", &format!("P{i}"), r#"{"x":1}"#)).unwrap();
        }
        dest.checkpoint(&json!({"after": 500})).unwrap();
        dest.flush().unwrap(); // the checkpoint's commit is done, not only handed over
                               // More records, some committed by the batch limit, then the process "dies":
                               // forget runs no destructor, as a kill would not.
        for i in 500..505 {
            dest.write_record(&record("Incident", &format!("P{i}"), r#"{"x":1}"#)).unwrap();
        }
        std::mem::forget(dest);

        let mut reopened = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        assert_eq!(reopened.load_state("acme", "s").unwrap(), Some(json!({"after": 500})));
        let stored = query_i64(&path, "SELECT count(*) FROM records");
        assert!((500..=505).contains(&stored), "{stored}");
        assert_eq!(query_i64(&path, "SELECT count(*) FROM records WHERE CAST(substr(id, 2) AS INTEGER) < 500"), 500);
        assert_eq!(query_string(&path, "SELECT outcome FROM sync_runs"), "running");
    }

    #[test]
    fn a_version_1_database_is_migrated_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        dest.begin_run(&run_start("acme", "s")).unwrap();
        dest.finish_run(&summary(RunOutcome::Succeeded, &[])).unwrap();
        drop(dest);
        // What a version 1 runner left: no pid or host columns.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("ALTER TABLE sync_runs DROP COLUMN pid; ALTER TABLE sync_runs DROP COLUMN host;").unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);

        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        dest.begin_run(&run_start("acme", "s")).unwrap();
        assert_eq!(query_i64(&path, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_eq!(query_i64(&path, "SELECT count(*) FROM sync_runs"), 2);
        assert_eq!(query_i64(&path, "SELECT pid FROM sync_runs WHERE id = 2"), i64::from(std::process::id()));
        assert_eq!(query_string(&path, "SELECT outcome FROM sync_runs WHERE id = 1"), "succeeded");
    }

    #[test]
    fn runs_whose_runner_died_are_marked_failed_by_the_next_run_on_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        dead.wait().unwrap();
        let mut alive = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let here = host_name();
        let conn = Connection::open(&path).unwrap();
        let insert = "INSERT INTO sync_runs (connection, connector, stream_id, cutoff, started_at, outcome, pid, host) \
                      VALUES ('acme', 'pagerduty', ?1, '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'running', ?2, ?3)";
        conn.execute(insert, params!["killed", dead.id(), here]).unwrap();
        conn.execute(insert, params!["still-running", alive.id(), here]).unwrap();
        conn.execute(insert, params!["elsewhere", dead.id(), "another-host"]).unwrap();

        dest.begin_run(&run_start("acme", "s")).unwrap();
        let outcome =
            |stream: &str| query_string(&path, &format!("SELECT outcome FROM sync_runs WHERE stream_id = '{stream}'"));
        assert_eq!(outcome("killed"), "failed");
        let error = query_string(&path, "SELECT error FROM sync_runs WHERE stream_id = 'killed'");
        assert!(error.contains(&format!("pid {}", dead.id())) && error.contains("killed"), "{error}");
        assert_eq!(outcome("still-running"), "running", "a live process keeps its run");
        assert_eq!(outcome("elsewhere"), "running", "another host's processes are not ours to judge");
        assert_eq!(outcome("s"), "running");
        alive.kill().unwrap();
        alive.wait().unwrap();
    }

    #[test]
    fn rejected_records_are_stored_with_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        dest.begin_run(&run_start("acme", "s")).unwrap();
        let rejected = RejectedRecord {
            record_type: Some("Incident"),
            id: None,
            json: r#"{"_type":"Incident"}"#,
            errors: "at /id: missing",
            line: 7,
        };
        dest.write_rejected(&rejected).unwrap();
        let mut done = summary(RunOutcome::Succeeded, &[]);
        done.rejected = 1;
        dest.finish_run(&done).unwrap();
        let conn = Connection::open(&path).unwrap();
        let row: (i64, String, String, Option<String>, i64, String, String) = conn
            .query_row("SELECT run_id, connection, type, id, line, json, errors FROM rejected_records", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .unwrap();
        let expected = (1, "acme".into(), "Incident".into(), None, 7, rejected.json.into(), "at /id: missing".into());
        assert_eq!(row, expected);
        assert_eq!(query_i64(&path, "SELECT rejected FROM sync_runs"), 1);
    }

    #[test]
    fn run_history_has_outcome_counts_error_and_logs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        dest.begin_run(&run_start("acme", "s")).unwrap();
        assert_eq!(query_string(&path, "SELECT outcome FROM sync_runs"), "running");
        let mut done = summary(RunOutcome::Failed, &[("Incident", 3), ("Team", 2)]);
        done.checkpoints = 4;
        done.error = Some("connector `pagerduty` exited with status 1".into());
        done.logs = vec![StoredLog { at: Utc::now(), level: "warn".into(), message: "slow down".into() }];
        dest.finish_run(&done).unwrap();
        let conn = Connection::open(&path).unwrap();
        let row: (String, i64, String, i64, String, String, bool) = conn
            .query_row(
                "SELECT outcome, records, records_by_type, checkpoints, error, connector, finished_at IS NOT NULL \
                 FROM sync_runs WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .unwrap();
        let by_type = r#"{"Incident":3,"Team":2}"#.to_owned();
        let error = "connector `pagerduty` exited with status 1".to_owned();
        assert_eq!(row, ("failed".into(), 5, by_type, 4, error, "pagerduty".into(), true));
        assert_eq!(
            query_string(&path, "SELECT level || ': ' || message FROM run_logs WHERE run_id = 1"),
            "warn: slow down"
        );
    }

    #[test]
    fn writing_before_begin_run_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut dest = SqliteDestination::open(&dir.path().join("runner.db"), &Tuning::default()).unwrap();
        let err = dest.write_record(&record("Incident", "P1", "{}")).unwrap_err();
        assert!(matches!(err, DestinationError::Misuse(_)));
    }

    #[test]
    fn corrupt_stored_state_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let mut dest = SqliteDestination::open(&path, &Tuning::default()).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO stream_state VALUES ('acme', 's', '{oops', '2026-01-01T00:00:00Z', NULL)", [])
            .unwrap();
        let err = dest.load_state("acme", "s").unwrap_err();
        assert!(err.to_string().contains("runner.db"), "{err}");
    }

    #[test]
    fn parallel_runs_share_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let tuning = Tuning { batch_records: 100, ..Tuning::default() };
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (path, tuning) = (&path, &tuning);
                scope.spawn(move || {
                    let mut dest = SqliteDestination::open(path, tuning).unwrap();
                    dest.begin_run(&run_start(&format!("c{t}"), "s")).unwrap();
                    for i in 0..2_000 {
                        dest.write_record(&record("Incident", &format!("P{i}"), r#"{"x":1}"#)).unwrap();
                        if i % 250 == 249 {
                            dest.checkpoint(&json!({ "i": i })).unwrap();
                        }
                    }
                    dest.finish_run(&summary(RunOutcome::Succeeded, &[("Incident", 2_000)])).unwrap();
                });
            }
        });
        assert_eq!(query_i64(&path, "SELECT count(*) FROM records"), 8_000);
        assert_eq!(query_i64(&path, "SELECT count(DISTINCT connection) FROM records"), 4);
        assert_eq!(query_i64(&path, "SELECT count(*) FROM stream_state WHERE state = '{\"i\":1999}'"), 4);
        assert_eq!(query_i64(&path, "SELECT count(*) FROM sync_runs WHERE outcome = 'succeeded'"), 4);
    }

    #[test]
    fn many_runs_opening_a_new_file_at_the_same_moment_all_succeed() {
        // Parallel streams open the same new file at once; switching it to WAL used to
        // answer "database is locked" to all but one of them.
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("race-{round}.db"));
            let start = std::sync::Barrier::new(8);
            std::thread::scope(|scope| {
                for _ in 0..8 {
                    scope.spawn(|| {
                        start.wait();
                        SqliteDestination::open(&path, &Tuning::default()).unwrap();
                    });
                }
            });
            assert_eq!(query_string(&path, "PRAGMA journal_mode"), "wal");
        }
    }
}
