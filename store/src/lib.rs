//! The store: where validated records, rejected records, checkpoints and the history of
//! sync runs are kept, and the connections table workers share. The bottom layer: it
//! knows nothing of connectors, validation or the command line.
//!
//! **Destinations are components.** What `--output` names is an [`OutputSpec`]: one
//! [`Output`] per kind of store, each in its own module and one line in [`KINDS`]
//! ([`output`] says how to add one):
//! - `-`: stdout ([`stdout`]);
//! - a `postgres://` or `postgresql://` URL: a PostgreSQL database ([`postgres`]);
//! - a path ending in `.db`, `.sqlite` or `.sqlite3`: a SQLite file ([`sqlite`]);
//! - anything else: a directory of `<Type>.jsonl` files ([`jsonl`]).
//!
//! The engine and the commands ask the spec what it can do (open a run, be prepared,
//! lock a connection, read its history, forget a connection, be shared by workers) and
//! never match on its kind.
//!
//! One [`Destination`] value serves one stream sync (one run) and is used from one thread.
//! Parallel syncs (`--jobs N`) call [`open`] once per run; every value it returns is safe
//! next to the others in the same process:
//! - SQLite ([`sqlite`]): one connection per run, on its own writer thread
//!   ([`writer`], as PostgreSQL's), WAL and a busy timeout. Records are
//!   buffered in memory and written in short `BEGIN IMMEDIATE` transactions (at a
//!   checkpoint, or every [`Tuning::batch_records`] records), so a slow connector
//!   never holds the database's write lock while other runs wait.
//! - JSON lines ([`jsonl`]): [`open`] finds the directory in a process-wide registry, so
//!   all runs into one directory share one buffered writer per file behind a mutex, and
//!   lines never interleave.
//! - stdout ([`stdout`]): each run buffers whole lines and writes them in one locked call.
//!
//! The sharing lives in [`open`]. Several *processes*
//! writing one JSON-lines directory or one `--state FILE` at once are not supported
//! (SQLite handles several processes).
//!
//! The durability contract, which the runner relies on for "a checkpoint is stored only
//! after every record before it is durably stored":
//! - [`Destination::write_record`] may buffer; nothing is durable yet.
//! - [`Destination::flush`] makes every record written so far durable.
//! - [`Destination::checkpoint`] makes every record written so far durable and stores the
//!   state for the run's (connection, stream), atomically with the records where the
//!   destination has transactions (SQLite) or strictly after them otherwise (JSON lines:
//!   records are flushed and fsynced before the state file is replaced).
//! - [`Destination::finish_run`] makes everything durable and records the run's outcome.
//!
//! Where state lives: with `--state FILE`, [`open`] wraps the destination so that
//! [`Destination::load_state`] reads the file and [`Destination::checkpoint`] first makes
//! the records durable (SQLite then commits with `synchronous=FULL`, so even a power loss
//! cannot leave the file ahead of the records) and then replaces the file. The runner
//! therefore never writes the state itself. Without a
//! state file: SQLite keeps it in `stream_state`, JSON lines in `<dir>/_state.json`, and
//! stdout keeps none (an incremental sync to `-` needs `--state FILE`).

pub mod atomic;
mod batch;
mod causes;
pub mod fleet;
pub mod guard;
pub mod history;
pub mod jsonl;
pub mod output;
pub mod postgres;
pub mod sqlite;
mod state_file;
pub mod stdout;
#[cfg(test)]
mod test_support;
pub mod typed;
mod writer;

pub use causes::with_causes;
pub use output::{Output, OutputError, OutputSpec, ParseOutput, SqlDialect, KINDS};
pub use state_file::StateFile;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Identifies one sync run of one stream of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The connection name (`--connection`, default: the connector's spec name).
    pub connection: String,
    /// How the connector was named on the command line (slug or path).
    pub connector: String,
    /// The stream's id.
    pub stream_id: String,
    /// The earliest-data cutoff asked for.
    pub cutoff: DateTime<Utc>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
}

/// How a run ended: what a run writes to its history and what the history reads back
/// (a run not ended yet has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunOutcome {
    /// The connector exited 0 and everything was stored.
    Succeeded,
    /// The connector or the runner failed; what was checkpointed stays.
    Failed,
    /// Stopped by Ctrl-C or SIGTERM; what was checkpointed stays.
    Interrupted,
}

impl RunOutcome {
    /// `succeeded`, `failed` or `interrupted`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }

    /// The outcome [`RunOutcome::as_str`] wrote, if `text` is one.
    pub fn parse(text: &str) -> Option<RunOutcome> {
        [RunOutcome::Succeeded, RunOutcome::Failed, RunOutcome::Interrupted].into_iter().find(|o| o.as_str() == text)
    }
}

/// A connector log line kept with the run's history (already redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLog {
    /// When the runner received it.
    pub at: DateTime<Utc>,
    /// `error`, `warn`, `info`, `debug`, or `stderr` for captured stderr text.
    pub level: String,
    /// The text, secrets masked.
    pub message: String,
}

/// The end of a run, for the history.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// How it ended.
    pub outcome: RunOutcome,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Stored records by `_type`.
    pub records_by_type: BTreeMap<String, u64>,
    /// Records rejected (with `--skip-invalid`).
    pub rejected: u64,
    /// Checkpoints stored.
    pub checkpoints: u64,
    /// The error, one paragraph, secrets masked.
    pub error: Option<String>,
    /// Connector log lines (and the stderr tail on failure), secrets masked.
    pub logs: Vec<StoredLog>,
}

/// A record that passed validation, exactly as the connector sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidRecord<'a> {
    /// Its `_type`.
    pub record_type: &'a str,
    /// Its `id`.
    pub id: &'a str,
    /// The record object's JSON text, byte for byte as received.
    pub json: &'a str,
    /// The connector's `extracted_at`, or the time the runner received the line.
    pub extracted_at: &'a str,
}

/// A record that failed validation, kept with `--skip-invalid`.
#[derive(Debug, Clone, Copy)]
pub struct RejectedRecord<'a> {
    /// Its `_type`, if it had one.
    pub record_type: Option<&'a str>,
    /// Its `id`, if it had one.
    pub id: Option<&'a str>,
    /// The record object's JSON text, as received.
    pub json: &'a str,
    /// Why it was rejected (the validation error, one line).
    pub errors: &'a str,
    /// The connector stdout line it came from.
    pub line: u64,
}

/// A destination failure: the thing, the path, the cause.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// Opening or creating the destination failed.
    #[error("cannot open {what} {path}: {source}")]
    Open {
        /// "SQLite database", "directory", ...
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing failed.
    #[error("cannot write to {path}: {source}")]
    Write {
        /// The path (or `stdout`).
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stored state is not valid JSON.
    #[error(
        "the stored state in {place} is not valid JSON: {source}\n\
         hint: the runner replaces states atomically, so something else changed it; restore it from a backup, or \
         remove it to sync the stream from the start"
    )]
    CorruptState {
        /// Where it is (a path, or a database).
        place: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The database was made by a newer runner.
    #[error(
        "the {what} {target} has schema version {found}, this runner knows up to {supported}\n\
         hint: use a newer runner, or another --output"
    )]
    SchemaVersion {
        /// "SQLite database", "PostgreSQL database".
        what: &'static str,
        /// The file or the (masked) URL.
        target: String,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest version this runner writes.
        supported: i64,
    },
    /// PostgreSQL refused or failed.
    #[error("cannot {doing} PostgreSQL database {target}: {}", postgres::describe(source, target))]
    Postgres {
        /// What was being done: "connect to", "write to", ...
        doing: &'static str,
        /// The database, as a URL without its password.
        target: String,
        /// The client's error (a server error carries its SQLSTATE).
        #[source]
        source: tokio_postgres::Error,
    },
    /// A PostgreSQL connection could not be set up before talking to the server.
    #[error("cannot connect to PostgreSQL database {target}: {reason}")]
    PostgresSetup {
        /// The database, as a URL without its password.
        target: String,
        /// Why (a TLS roots file that cannot be read...).
        reason: String,
    },
    /// A worker's lease on the connection passed to another worker: nothing more of this
    /// run is written.
    #[error(
        "the lease on connection `{connection}` passed to another worker (this run's epoch {epoch}, the \
         connection's {}): nothing more of this run is written",
        .now.map_or_else(|| "gone".to_owned(), |now| now.to_string())
    )]
    LeaseLost {
        /// The connection.
        connection: String,
        /// The epoch this run held.
        epoch: i64,
        /// The connection's epoch now (`None`: the connection is gone).
        now: Option<i64>,
    },
    /// Another process syncs the same connection into the same store.
    #[error("connection `{connection}` is being synced by {holder}\nhint: wait for it to end, or pass --wait")]
    Busy {
        /// The connection.
        connection: String,
        /// Who, and since when.
        holder: String,
    },
    /// A record's `_type` cannot name a `<Type>.jsonl` file.
    #[error("record type {record_type:?} cannot be used as a file name in {dir}: {reason}")]
    BadTypeName {
        /// The `_type`.
        record_type: String,
        /// The JSON-lines directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Whoever reads stdout has gone away (for example `runner sync ... | head`). The
    /// runner should stop the sync quietly and exit 0.
    #[error("stdout was closed by the reader")]
    StdoutClosed,
    /// A typed table could not be changed or written; the transaction (records, state
    /// and typed rows) rolled back.
    #[error("cannot {doing} the typed table `{table}` of record type `{record_type}`: {source}")]
    TypedTable {
        /// The record type.
        record_type: String,
        /// Its table.
        table: String,
        /// What was being done: "change", "record"...
        doing: &'static str,
        /// The store's error.
        #[source]
        source: Box<DestinationError>,
    },
    /// `runner tables rebuild` named a type without a typed table (or without a schema).
    #[error(
        "record type `{record_type}` has no typed table here, or no schema to rebuild it from\n\
         hint: `runner tables` lists the typed tables"
    )]
    NoTypedTable {
        /// The type asked for.
        record_type: String,
    },
    /// The runner called the destination out of order (a bug in the runner).
    #[error("destination used out of order: {0}")]
    Misuse(&'static str),
}

impl DestinationError {
    /// True when stdout's reader went away: stop quietly, not an error for the user.
    pub fn is_stdout_closed(&self) -> bool {
        matches!(self, DestinationError::StdoutClosed)
    }

    fn write(path: impl Into<PathBuf>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DestinationError::Write { path: path.into(), source: source.into() }
    }

    fn open(
        what: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        DestinationError::Open { what, path: path.into(), source: source.into() }
    }
}

/// Knobs for throughput; [`Tuning::default`] is what the runner uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    /// SQLite, PostgreSQL and JSON lines: commit after this many buffered records even
    /// without a checkpoint (the state does not advance with these commits). Bounds memory
    /// and transaction size.
    pub batch_records: usize,
    /// The same, once the buffered record JSON reaches this many bytes. Two batches exist
    /// at once (one written, one filled), so this bounds the runner's memory: 8 MiB keeps
    /// a sync of 1.4 KB records under 64 MB of RSS, where 32 MiB took it to 68 MB.
    pub batch_bytes: usize,
    /// SQLite: `PRAGMA synchronous=FULL` instead of `NORMAL`. In WAL mode `NORMAL` loses
    /// nothing committed when the process is killed, and a power loss can only roll back
    /// whole recent transactions (records and their state together), so the state is
    /// never ahead of its records; `FULL` also keeps those last commits through a power
    /// loss. Forced on when a `--state FILE` is used, because then the state is outside
    /// the database and must not get ahead of it.
    pub sqlite_synchronous_full: bool,
    /// JSON lines and stdout: buffer size per file.
    pub buffer_bytes: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            batch_records: 10_000,
            batch_bytes: 8 * 1024 * 1024,
            sqlite_synchronous_full: false,
            buffer_bytes: 256 * 1024,
        }
    }
}

/// Opens the destination for one run, with default [`Tuning`]. See [`open_tuned`].
///
/// # Errors
/// The database or directory cannot be opened or created, or the SQLite schema is newer
/// than this runner.
pub fn open(spec: &OutputSpec, state_file: Option<&Path>) -> Result<Box<dyn Destination>, DestinationError> {
    open_tuned(spec, state_file, &Tuning::default())
}

/// Opens the destination for one run. Call once per stream sync, also in parallel; see
/// the module docs for what is shared. With `state_file`, states are read from and
/// written to that file instead of the destination, whatever its kind.
///
/// # Errors
/// The database or directory cannot be opened or created, or the SQLite schema is newer
/// than this runner.
pub fn open_tuned(
    spec: &OutputSpec,
    state_file: Option<&Path>,
    tuning: &Tuning,
) -> Result<Box<dyn Destination>, DestinationError> {
    let mut tuning = tuning.clone();
    if state_file.is_some() {
        tuning.sqlite_synchronous_full = true;
    }
    let inner = spec.open(&tuning)?;
    Ok(match state_file {
        Some(path) => Box::new(state_file::WithStateFile::new(inner, StateFile::new(path))),
        None => inner,
    })
}

/// This host's name (for a run's history, a worker's name), or `""` if it has none.
pub fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is NUL-terminated when it fits.
    if unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Whether a process with this pid exists (on this host).
pub(crate) fn process_exists(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Stores one run's records, checkpoints and history. See the module docs for the
/// durability contract.
pub trait Destination: Send {
    /// For messages: "SQLite database ./runner.db", "directory out/", "stdout".
    fn describe(&self) -> String;

    /// The last stored state of (connection, stream), if any.
    ///
    /// # Errors
    /// Reading failed or the stored state is corrupt.
    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError>;

    /// Starts the run's history entry.
    ///
    /// # Errors
    /// Writing failed.
    fn begin_run(&mut self, run: &RunStart) -> Result<(), DestinationError>;

    /// Stores (or buffers) a valid record; SQLite upserts by (connection, `_type`, `id`).
    ///
    /// # Errors
    /// Writing failed.
    fn write_record(&mut self, record: &ValidRecord<'_>) -> Result<(), DestinationError>;

    /// Stores (or buffers) a rejected record with its errors.
    ///
    /// # Errors
    /// Writing failed.
    fn write_rejected(&mut self, record: &RejectedRecord<'_>) -> Result<(), DestinationError>;

    /// Makes everything written so far durable, without touching the state.
    ///
    /// # Errors
    /// Writing failed; then the records since the last checkpoint may not be stored.
    fn flush(&mut self) -> Result<(), DestinationError>;

    /// Makes everything written so far durable, then stores `state` as the run's stream
    /// state, atomically with the records where the destination has transactions, strictly
    /// after them otherwise. With `--state FILE`, [`open`] routes the state to the file
    /// (see the module docs).
    ///
    /// # Errors
    /// Writing failed; then neither the records since the last checkpoint nor the state
    /// may be assumed stored.
    fn checkpoint(&mut self, state: &Value) -> Result<(), DestinationError>;

    /// Makes everything durable and records the run's outcome in the history.
    ///
    /// Records after the last checkpoint are kept (they are valid, and upserts make a
    /// replay harmless); only the state is never advanced past the last checkpoint.
    ///
    /// # Errors
    /// Writing failed.
    fn finish_run(&mut self, summary: &RunSummary) -> Result<(), DestinationError>;

    /// Hands over the schemas of the run's record types, before [`Destination::begin_run`]:
    /// a store with typed tables ([`typed`]) keeps one per type. Others ignore them.
    fn use_schemas(&mut self, _schemas: std::sync::Arc<dyn typed::RecordSchemas>) {}
}
