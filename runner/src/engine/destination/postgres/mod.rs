//! The PostgreSQL destination: the same model as the SQLite file (records upserted per
//! (connection, `_type`, `id`), rejected records, each stream's state, the history of
//! runs and their logs), in a database a team shares.
//!
//! - [`target`]: the URL, completed from the `PG*` variables and the password file, the
//!   schema, and how it prints (never the password). [`tls`]: `sslmode` with rustls.
//! - The tables ([`SCHEMA`], the file `schema.sql`) are created on first use, in the
//!   target's schema, under an advisory lock so that runners starting together do not
//!   race; a database of an older schema version is upgraded in place ([`MIGRATIONS`]), a
//!   newer one refused.
//!
//! Writing: records are buffered, then at a checkpoint (or when the buffer is full)
//! de-duplicated by (`_type`, `id`) (the last one wins: `ON CONFLICT` cannot touch a row
//! twice), sent with one binary `COPY` into a session-local staging table and upserted
//! with one `INSERT ... ON CONFLICT`, in the same transaction as the state. A runner
//! killed at any instant leaves the database as of its last commit, and its open
//! transaction rolls back.
//!
//! Each run remembers its database session (`pg_backend_pid()` and when the session
//! started). A later run, on any machine, marks `failed` the runs still `running` whose
//! session is gone: that works across hosts, unlike a process id.
//!
//! The destination owns its connection on a writer thread ([`writer`]): the store loop
//! hands each commit over and goes on reading and validating while the server works. A
//! commit's failure is reported by the next call, and nothing written after it can
//! advance the state. [`session`] says everything that is said over the connection.

mod schema;
mod session;
pub mod target;
mod tls;
mod writer;

use serde_json::Value;
use tokio_postgres::error::SqlState;

pub(crate) use schema::quote;
pub use schema::{MIGRATIONS, SCHEMA, SCHEMA_VERSION};
pub(crate) use session::{close_abandoned_runs, connect_for_reading};
pub use target::{is_url, Target, TargetError, TlsMode};

use super::batch::Batch;
use super::{Destination, DestinationError, RejectedRecord, RunStart, RunSummary, Tuning, ValidRecord};
use session::{ActiveRun, Commit};
pub use session::{Database, Fence};
use writer::Writer;

/// One run's connection to a PostgreSQL database.
pub struct PostgresDestination {
    target: String,
    writer: Writer,
    tuning: Tuning,
    run: Option<ActiveRun>,
    batch: Batch,
}

impl PostgresDestination {
    /// Connects, creates or upgrades the schema, and starts the writer thread.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the user, the database is missing, the
    /// user may not create the tables, or the schema is newer than this runner.
    pub fn open(target: &Target, tuning: &Tuning, fence: Option<Fence>) -> Result<Self, DestinationError> {
        let writer = Writer::start(target, fence)?;
        Ok(PostgresDestination {
            target: target.to_string(),
            writer,
            tuning: tuning.clone(),
            run: None,
            batch: Batch::default(),
        })
    }

    /// Removes everything stored under `connection` (records, rejected records, states,
    /// runs and their logs) in one transaction; other connections are untouched. Returns
    /// the rows removed (logs aside).
    ///
    /// # Errors
    /// The database cannot be used or written.
    pub fn forget_connection(&mut self, connection: &str) -> Result<u64, DestinationError> {
        let connection = connection.to_owned();
        self.writer.call(move |session| session.forget_connection(&connection))
    }

    /// The stored records of `connection` by `_type`, sorted by type.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn records_by_type(&mut self, connection: &str) -> Result<Vec<(String, u64)>, DestinationError> {
        let connection = connection.to_owned();
        self.writer.call(move |session| session.records_by_type(&connection))
    }

    fn active_run(&self, operation: &'static str) -> Result<&ActiveRun, DestinationError> {
        self.run.as_ref().ok_or(DestinationError::Misuse(operation))
    }

    /// Hands the buffered records over, with `state` and `summary` if given, as one
    /// transaction.
    fn commit(&mut self, state: Option<&Value>, summary: Option<&RunSummary>) -> Result<(), DestinationError> {
        let batch = self.batch.take();
        if batch.is_empty() && state.is_none() && summary.is_none() {
            return Ok(());
        }
        let run = self.active_run("write before begin_run")?.clone();
        self.writer.commit(Commit { run, batch, state: state.cloned(), summary: summary.cloned() })
    }

    fn commit_if_full(&mut self) -> Result<(), DestinationError> {
        if self.batch.is_full(&self.tuning) {
            self.commit(None, None)?;
        }
        Ok(())
    }
}

impl Destination for PostgresDestination {
    fn describe(&self) -> String {
        format!("PostgreSQL database {}", self.target)
    }

    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        let (connection, stream_id) = (connection.to_owned(), stream_id.to_owned());
        self.writer.call(move |session| session.load_state(&connection, &stream_id))
    }

    fn begin_run(&mut self, run: &RunStart) -> Result<(), DestinationError> {
        if self.run.is_some() {
            return Err(DestinationError::Misuse("begin_run called twice"));
        }
        let start = run.clone();
        self.run = Some(self.writer.call(move |session| session.begin_run(&start))?);
        Ok(())
    }

    fn write_record(&mut self, record: &ValidRecord<'_>) -> Result<(), DestinationError> {
        self.active_run("write_record before begin_run")?;
        self.batch.push_record(record);
        self.commit_if_full()
    }

    fn write_rejected(&mut self, record: &RejectedRecord<'_>) -> Result<(), DestinationError> {
        self.active_run("write_rejected before begin_run")?;
        self.batch.push_rejected(record);
        self.commit_if_full()
    }

    fn flush(&mut self) -> Result<(), DestinationError> {
        self.active_run("flush before begin_run")?;
        self.commit(None, None)?;
        self.writer.wait()
    }

    /// Hands the checkpoint over: the records before it and the state are committed in
    /// one transaction on the writer thread, and a failure is reported by the next call.
    fn checkpoint(&mut self, state: &Value) -> Result<(), DestinationError> {
        self.active_run("checkpoint before begin_run")?;
        self.commit(Some(state), None)
    }

    fn finish_run(&mut self, summary: &RunSummary) -> Result<(), DestinationError> {
        self.active_run("finish_run before begin_run")?;
        self.commit(None, Some(summary))?;
        self.writer.wait()
    }
}

/// A PostgreSQL error for people: the server's message with its SQLSTATE, or the
/// client's (an unreachable server), and a hint when the cause is a common one.
pub fn describe(error: &tokio_postgres::Error, target: &str) -> String {
    let Some(db) = error.as_db_error() else {
        let mut text = with_causes(error);
        if text.contains("certificate") {
            text.push_str(
                "\nhint: with sslmode=verify-ca or verify-full the server's certificate must chain to sslrootcert \
                 (an authority's certificate; a self-signed server certificate is refused), or use sslmode=require",
            );
        } else if error.is_closed() || text.contains("error connecting") || text.contains("Connection refused") {
            text.push_str(&format!("\nhint: is the server running and accepting connections at {}?", address(target)));
        }
        return text;
    };
    let mut text = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
    if let Some(detail) = db.detail() {
        text.push_str(&format!("; {detail}"));
    }
    let hint = match *db.code() {
        SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            Some("check the user and password (in the URL, PGPASSWORD or ~/.pgpass)".to_owned())
        }
        SqlState::INVALID_CATALOG_NAME => {
            Some("create the database first (createdb NAME), or name another one in the URL".to_owned())
        }
        SqlState::INSUFFICIENT_PRIVILEGE => Some(
            "grant the user CREATE on the database or schema, or name a schema it owns \
             (?options=-csearch_path%3Dname)"
                .to_owned(),
        ),
        SqlState::QUERY_CANCELED => Some(
            "raise statement_timeout (?options=-cstatement_timeout%3D...), or look at the server's load".to_owned(),
        ),
        SqlState::ADMIN_SHUTDOWN | SqlState::CRASH_SHUTDOWN => {
            Some("the server ended the session; run the sync again: it resumes from the last checkpoint".to_owned())
        }
        _ => db.hint().map(str::to_owned),
    };
    if let Some(hint) = hint {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
}

/// An error's message followed by its causes: the client's own message ("error
/// connecting to server") says little without them ("Connection refused").
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let next_text = next.to_string();
        if !text.contains(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    text
}

/// `host:port` of a target as shown (`postgres://user:***@host:port/db`).
fn address(target: &str) -> &str {
    let after_at = target.rsplit_once('@').map_or(target, |(_, rest)| rest);
    after_at.split(['/', ' ']).next().unwrap_or(after_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_a_masked_url() {
        assert_eq!(address("postgres://u:***@db.example:6543/sales"), "db.example:6543");
        assert_eq!(address("postgres://u@h:5432/db (schema raw)"), "h:5432");
    }
}
