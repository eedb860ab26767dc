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
//! Writing: records are buffered, then at a checkpoint (or when the buffer is full) sent
//! with one binary `COPY` into a session-local staging table and upserted with one
//! statement, de-duplicated by (`_type`, `id`) (last one wins: `ON CONFLICT` cannot touch a
//! row twice), in the same transaction as the state. A runner killed at any instant
//! leaves the database as of its last commit, and its open transaction rolls back.
//!
//! Each run remembers its database session (`pg_backend_pid()` and when the session
//! started). A later run, on any machine, marks `failed` the runs still `running` whose
//! session is gone: that works across hosts, unlike a process id.
//!
//! The destination is synchronous like the others: it owns a one-thread Tokio runtime
//! and its own connection, and blocks on each operation.

mod schema;
pub mod target;
mod tls;

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Transaction};

pub use schema::{MIGRATIONS, SCHEMA, SCHEMA_VERSION};
pub use target::{is_url, Target, TargetError, TlsMode};

use super::{Destination, DestinationError, RejectedRecord, RunStart, RunSummary, Tuning, ValidRecord};

/// A record waiting for the next transaction.
struct PendingRecord {
    record_type: String,
    id: String,
    json: String,
    extracted_at: String,
}

/// A rejected record waiting for the next transaction.
struct PendingRejected {
    record_type: Option<String>,
    id: Option<String>,
    json: String,
    errors: String,
    line: i64,
}

/// What begin_run learned, needed by every write.
struct ActiveRun {
    connection: String,
    stream_id: String,
    run_id: i64,
}

/// One run's connection to a PostgreSQL database.
pub struct PostgresDestination {
    target: Target,
    runtime: Runtime,
    client: Client,
    sql: Statements,
    tuning: Tuning,
    run: Option<ActiveRun>,
    records: Vec<PendingRecord>,
    rejected: Vec<PendingRejected>,
    pending_bytes: usize,
}

impl PostgresDestination {
    /// Connects, creates or upgrades the schema, and prepares the session.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the user, the database is missing, the
    /// user may not create the tables, or the schema is newer than this runner.
    pub fn open(target: &Target, tuning: &Tuning) -> Result<Self, DestinationError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            DestinationError::PostgresSetup { target: target.to_string(), reason: format!("no runtime: {e}") }
        })?;
        let mut client = runtime.block_on(connect(target))?;
        let sql = Statements::for_schema(target.schema());
        let fail = |doing| move |source| DestinationError::Postgres { doing, target: target.to_string(), source };
        runtime.block_on(schema::ensure(&mut client, target)).map_err(|e| match e {
            schema::EnsureError::Postgres(source) => fail("create the tables in")(source),
            schema::EnsureError::Newer(found) => DestinationError::SchemaVersion {
                what: "PostgreSQL database",
                target: target.to_string(),
                found: i64::from(found),
                supported: i64::from(SCHEMA_VERSION),
            },
        })?;
        runtime.block_on(client.batch_execute(STAGING)).map_err(fail("prepare a session in"))?;
        Ok(PostgresDestination {
            target: target.clone(),
            runtime,
            client,
            sql,
            tuning: tuning.clone(),
            run: None,
            records: Vec::new(),
            rejected: Vec::new(),
            pending_bytes: 0,
        })
    }

    fn error(&self, doing: &'static str) -> impl Fn(tokio_postgres::Error) -> DestinationError + '_ {
        move |source| DestinationError::Postgres { doing, target: self.target.to_string(), source }
    }

    fn active_run(&self, operation: &'static str) -> Result<&ActiveRun, DestinationError> {
        self.run.as_ref().ok_or(DestinationError::Misuse(operation))
    }

    fn buffered(&mut self, bytes: usize) -> Result<(), DestinationError> {
        self.pending_bytes += bytes;
        let full = self.records.len() + self.rejected.len() >= self.tuning.batch_records
            || self.pending_bytes >= self.tuning.batch_bytes;
        if full {
            self.commit(None, None)?;
        }
        Ok(())
    }

    /// Writes the buffered records, then `state` and `summary` if given, in one transaction.
    /// The buffer is emptied even on failure: the contract says nothing since the last
    /// checkpoint may be assumed stored then.
    fn commit(&mut self, state: Option<&Value>, summary: Option<&RunSummary>) -> Result<(), DestinationError> {
        let records = std::mem::take(&mut self.records);
        let rejected = std::mem::take(&mut self.rejected);
        self.pending_bytes = 0;
        if records.is_empty() && rejected.is_empty() && state.is_none() && summary.is_none() {
            return Ok(());
        }
        let run = self.run.as_ref().ok_or(DestinationError::Misuse("write before begin_run"))?;
        let write = Write { sql: &self.sql, run, records: &records, rejected: &rejected, state, summary };
        let result = self.runtime.block_on(write.commit(&mut self.client));
        result.map_err(self.error("write to"))
    }
}

impl PostgresDestination {
    /// Removes everything stored under `connection` (records, rejected records, states,
    /// runs and their logs) in one transaction; other connections are untouched. Returns
    /// the rows removed (logs aside).
    ///
    /// # Errors
    /// The database cannot be used or written.
    pub fn forget_connection(&mut self, connection: &str) -> Result<u64, DestinationError> {
        let s = schema::quote(self.target.schema());
        let statements = [
            format!("DELETE FROM {s}.run_logs WHERE run_id IN (SELECT id FROM {s}.sync_runs WHERE connection = $1)"),
            format!("DELETE FROM {s}.records WHERE connection = $1"),
            format!("DELETE FROM {s}.rejected_records WHERE connection = $1"),
            format!("DELETE FROM {s}.stream_state WHERE connection = $1"),
            format!("DELETE FROM {s}.sync_runs WHERE connection = $1"),
        ];
        let client = &mut self.client;
        let removed = self.runtime.block_on(async {
            let tx = client.transaction().await?;
            let mut removed = 0;
            for (index, sql) in statements.iter().enumerate() {
                let deleted = tx.execute(sql, &[&connection]).await?;
                // The first statement removes logs, which are not counted.
                removed += if index == 0 { 0 } else { deleted };
            }
            tx.commit().await.map(|()| removed)
        });
        removed.map_err(self.error("write to"))
    }

    /// The stored records of `connection` by `_type`, sorted by type.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn records_by_type(&mut self, connection: &str) -> Result<Vec<(String, u64)>, DestinationError> {
        let sql = format!(
            "SELECT type, count(*) FROM {}.records WHERE connection = $1 GROUP BY type ORDER BY type",
            schema::quote(self.target.schema())
        );
        let rows = self.runtime.block_on(self.client.query(&sql, &[&connection])).map_err(self.error("read"))?;
        Ok(rows.iter().map(|row| (row.get(0), row.get::<_, i64>(1).unsigned_abs())).collect())
    }
}

/// The session-local table the binary COPY fills; emptied by every commit.
const STAGING: &str = "CREATE TEMP TABLE runner_staging \
     (seq bigint, type text, id text, json text, extracted_at text) ON COMMIT DELETE ROWS";

/// Opens a connection and keeps it running on the destination's runtime.
async fn connect(target: &Target) -> Result<Client, DestinationError> {
    let tls = tls::connector(target)
        .map_err(|reason| DestinationError::PostgresSetup { target: target.to_string(), reason })?;
    let (client, connection) = target.config().connect(tls).await.map_err(|source| DestinationError::Postgres {
        doing: "connect to",
        target: target.to_string(),
        source,
    })?;
    // The connection's end (the server went away) surfaces as the next statement's error.
    tokio::spawn(connection);
    Ok(client)
}

/// Every statement, with the schema's name in it.
struct Statements {
    load_state: String,
    close_abandoned: String,
    insert_run: String,
    upsert_records: String,
    insert_rejected: String,
    upsert_state: String,
    finish_run: String,
    insert_logs: String,
}

impl Statements {
    fn for_schema(schema: &str) -> Self {
        let s = schema::quote(schema);
        Statements {
            load_state: format!("SELECT state::text FROM {s}.stream_state WHERE connection = $1 AND stream_id = $2"),
            close_abandoned: format!(
                "UPDATE {s}.sync_runs r SET outcome = 'failed', finished_at = now(), \
                 error = 'the runner (pid ' || coalesce(r.pid::text, '?') || ' on ' || coalesce(r.host, '?') || \
                 ') stopped without recording how this run ended: its database session is gone (it was killed, \
                 lost its connection, or its machine went down); checkpoints it stored are kept' \
                 WHERE r.outcome = 'running' AND r.backend_pid IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid \
                  AND (a.backend_start IS NULL OR a.backend_start = r.backend_start))"
            ),
            insert_run: format!(
                "INSERT INTO {s}.sync_runs (connection, connector, stream_id, cutoff, started_at, outcome, pid, host, \
                 backend_pid, backend_start) \
                 SELECT $1, $2, $3, $4::text::timestamptz, $5::text::timestamptz, 'running', $6, $7, \
                 pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) \
                 RETURNING id"
            ),
            upsert_records: format!(
                "INSERT INTO {s}.records (connection, type, id, json, extracted_at, stored_at, run_id) \
                 SELECT DISTINCT ON (type, id) $1, type, id, json::json, extracted_at, now(), $2 \
                 FROM pg_temp.runner_staging ORDER BY type, id, seq DESC \
                 ON CONFLICT (connection, type, id) DO UPDATE SET json = excluded.json, \
                 extracted_at = excluded.extracted_at, stored_at = excluded.stored_at, run_id = excluded.run_id"
            ),
            insert_rejected: format!(
                "INSERT INTO {s}.rejected_records (run_id, connection, type, id, line, json, errors, stored_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, now())"
            ),
            upsert_state: format!(
                "INSERT INTO {s}.stream_state (connection, stream_id, state, updated_at, run_id) \
                 VALUES ($1, $2, $3::text::json, now(), $4) \
                 ON CONFLICT (connection, stream_id) DO UPDATE SET state = excluded.state, \
                 updated_at = excluded.updated_at, run_id = excluded.run_id"
            ),
            finish_run: format!(
                "UPDATE {s}.sync_runs SET finished_at = $2::text::timestamptz, outcome = $3, records = $4, \
                 records_by_type = $5::text::json, rejected = $6, checkpoints = $7, error = $8 WHERE id = $1"
            ),
            insert_logs: format!(
                "INSERT INTO {s}.run_logs (run_id, at, level, message) \
                 SELECT $1, at::timestamptz, level, message FROM unnest($2::text[], $3::text[], $4::text[]) \
                 AS logs (at, level, message)"
            ),
        }
    }
}

/// One transaction's worth of writes.
struct Write<'a> {
    sql: &'a Statements,
    run: &'a ActiveRun,
    records: &'a [PendingRecord],
    rejected: &'a [PendingRejected],
    state: Option<&'a Value>,
    summary: Option<&'a RunSummary>,
}

impl Write<'_> {
    async fn commit(&self, client: &mut Client) -> Result<(), tokio_postgres::Error> {
        let tx = client.transaction().await?;
        if !self.records.is_empty() {
            copy_to_staging(&tx, self.records).await?;
            tx.execute(&self.sql.upsert_records, &[&self.run.connection, &self.run.run_id]).await?;
        }
        for r in self.rejected {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
                [&self.run.run_id, &self.run.connection, &r.record_type, &r.id, &r.line, &r.json, &r.errors];
            tx.execute(&self.sql.insert_rejected, &params).await?;
        }
        if let Some(state) = self.state {
            let state = state.to_string();
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&self.run.connection, &self.run.stream_id, &state, &self.run.run_id];
            tx.execute(&self.sql.upsert_state, &params).await?;
        }
        if let Some(summary) = self.summary {
            self.finish(&tx, summary).await?;
        }
        tx.commit().await
    }

    async fn finish(&self, tx: &Transaction<'_>, summary: &RunSummary) -> Result<(), tokio_postgres::Error> {
        let records = i64::try_from(summary.records_by_type.values().sum::<u64>()).unwrap_or(i64::MAX);
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let finished_at = summary.finished_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let by_type = by_type_json(&summary.records_by_type);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &self.run.run_id,
            &finished_at,
            &summary.outcome.as_str(),
            &records,
            &by_type,
            &count(summary.rejected),
            &count(summary.checkpoints),
            &summary.error,
        ];
        tx.execute(&self.sql.finish_run, &params).await?;
        if !summary.logs.is_empty() {
            let at: Vec<String> =
                summary.logs.iter().map(|l| l.at.to_rfc3339_opts(SecondsFormat::Millis, true)).collect();
            let level: Vec<&str> = summary.logs.iter().map(|l| l.level.as_str()).collect();
            let message: Vec<&str> = summary.logs.iter().map(|l| l.message.as_str()).collect();
            tx.execute(&self.sql.insert_logs, &[&self.run.run_id, &at, &level, &message]).await?;
        }
        Ok(())
    }
}

/// Sends the records to the session's staging table with one binary `COPY`.
async fn copy_to_staging(tx: &Transaction<'_>, records: &[PendingRecord]) -> Result<(), tokio_postgres::Error> {
    let sink = tx
        .copy_in("COPY pg_temp.runner_staging (seq, type, id, json, extracted_at) FROM STDIN (FORMAT binary)")
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT]);
    let mut writer = std::pin::pin!(writer);
    for (seq, record) in (0_i64..).zip(records) {
        writer.as_mut().write(&[&seq, &record.record_type, &record.id, &record.json, &record.extracted_at]).await?;
    }
    writer.finish().await.map(drop)
}

fn by_type_json(records_by_type: &BTreeMap<String, u64>) -> String {
    // A map of strings to integers always serialises.
    serde_json::to_string(records_by_type).unwrap_or_else(|_| "{}".to_owned())
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

/// This host's name, or `""` if it has none.
fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is NUL-terminated when it fits.
    if unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

impl Destination for PostgresDestination {
    fn describe(&self) -> String {
        format!("PostgreSQL database {}", self.target)
    }

    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        let row = self
            .runtime
            .block_on(self.client.query_opt(&self.sql.load_state, &[&connection, &stream_id]))
            .map_err(self.error("read the state from"))?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.get(0);
        let state: Value = serde_json::from_str(&text)
            .map_err(|source| DestinationError::CorruptState { place: self.target.to_string(), source })?;
        Ok(Some(state).filter(|state| !state.is_null()))
    }

    fn begin_run(&mut self, run: &RunStart) -> Result<(), DestinationError> {
        if self.run.is_some() {
            return Err(DestinationError::Misuse("begin_run called twice"));
        }
        let cutoff = run.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
        let started_at = run.started_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        let host = host_name();
        let sql = &self.sql;
        let run_id = self
            .runtime
            .block_on(async {
                self.client.execute(&sql.close_abandoned, &[]).await?;
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
                    [&run.connection, &run.connector, &run.stream_id, &cutoff, &started_at, &pid, &host];
                let row = self.client.query_one(&sql.insert_run, &params).await?;
                Ok(row.get::<_, i64>(0))
            })
            .map_err(self.error("write to"))?;
        self.run = Some(ActiveRun { connection: run.connection.clone(), stream_id: run.stream_id.clone(), run_id });
        Ok(())
    }

    fn write_record(&mut self, record: &ValidRecord<'_>) -> Result<(), DestinationError> {
        self.active_run("write_record before begin_run")?;
        self.records.push(PendingRecord {
            record_type: record.record_type.to_owned(),
            id: record.id.to_owned(),
            json: record.json.to_owned(),
            extracted_at: record.extracted_at.to_owned(),
        });
        self.buffered(record.json.len())
    }

    fn write_rejected(&mut self, record: &RejectedRecord<'_>) -> Result<(), DestinationError> {
        self.active_run("write_rejected before begin_run")?;
        self.rejected.push(PendingRejected {
            record_type: record.record_type.map(str::to_owned),
            id: record.id.map(str::to_owned),
            json: record.json.to_owned(),
            errors: record.errors.to_owned(),
            line: i64::try_from(record.line).unwrap_or(i64::MAX),
        });
        self.buffered(record.json.len())
    }

    fn flush(&mut self) -> Result<(), DestinationError> {
        self.active_run("flush before begin_run")?;
        self.commit(None, None)
    }

    fn checkpoint(&mut self, state: &Value) -> Result<(), DestinationError> {
        self.active_run("checkpoint before begin_run")?;
        self.commit(Some(state), None)
    }

    fn finish_run(&mut self, summary: &RunSummary) -> Result<(), DestinationError> {
        self.active_run("finish_run before begin_run")?;
        self.commit(None, Some(summary))
    }
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
