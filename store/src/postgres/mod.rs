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
//! The destination owns its connection on a writer thread ([`super::writer`]): the store loop
//! hands each commit over and goes on reading and validating while the server works. A
//! commit's failure is reported by the next call, and nothing written after it can
//! advance the state. [`session`] says everything that is said over the connection.

mod history;
mod output;
mod schema;
mod session;
pub mod target;
mod tls;
mod typed;

use tokio_postgres::error::SqlState;

pub(crate) use schema::quote;
pub use schema::{MIGRATIONS, SCHEMA, SCHEMA_VERSION};
pub(crate) use session::{close_abandoned_runs, connect_for_reading, connect_listening};
pub use target::{is_url, Target, TargetError, TlsMode};

use super::writer::{Batched, Writer};
use super::{DestinationError, Tuning};
use crate::with_causes;
pub use history::PostgresHistory;
pub(crate) use output::parse_output;
pub use output::PostgresOutput;
use session::Session;
pub use session::{Database, Fence};

/// One run's connection to a PostgreSQL database: its session on a writer thread.
pub type PostgresDestination = Batched<Session>;

impl PostgresDestination {
    /// Connects, creates or upgrades the schema, and starts the writer thread.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the user, the database is missing, the
    /// user may not create the tables, or the schema is newer than this runner.
    pub fn open(target: &Target, tuning: &Tuning, fence: Option<Fence>) -> Result<Self, DestinationError> {
        let opened = target.clone();
        let writer = Writer::start("postgres-writer", move || Session::open(&opened, fence))?;
        Ok(Batched::new(format!("PostgreSQL database {target}"), writer, tuning))
    }

    /// Removes everything stored under `connection` (records, rejected records, states,
    /// runs and their logs) in one transaction; other connections are untouched. Returns
    /// the rows removed (logs aside).
    ///
    /// # Errors
    /// The database cannot be used or written.
    pub fn forget_connection(&mut self, connection: &str) -> Result<u64, DestinationError> {
        let connection = connection.to_owned();
        self.writer().call(move |session| session.forget_connection(&connection))
    }

    /// The typed tables ([`crate::typed`]), with their row counts.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn typed_tables(&mut self) -> Result<Vec<crate::typed::TableInfo>, DestinationError> {
        self.writer().call(Session::typed_tables)
    }

    /// Rebuilds typed tables of `types` (all when empty) from the stored JSON.
    ///
    /// # Errors
    /// A type without a table or schema, or the database cannot be written.
    pub fn rebuild_typed_tables(
        &mut self,
        schemas: std::sync::Arc<dyn crate::typed::RecordSchemas>,
        types: &[String],
    ) -> Result<Vec<String>, DestinationError> {
        let types = types.to_vec();
        self.writer().call(move |session| session.rebuild_typed_tables(schemas, &types))
    }

    /// The stored records of `connection` by `_type`, sorted by type.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn records_by_type(&mut self, connection: &str) -> Result<Vec<(String, u64)>, DestinationError> {
        let connection = connection.to_owned();
        self.writer().call(move |session| session.records_by_type(&connection))
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
