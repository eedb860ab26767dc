//! One connection to the database and everything said over it: the statements (with the
//! schema's name in them), reading the state, starting a run, and the transaction of a
//! commit. A session lives on its destination's writer thread ([`crate::writer`]).

use bytes::BytesMut;
use chrono::SecondsFormat;
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, Transaction};

use super::schema::{self, SCHEMA_VERSION};
use super::target::Target;
use super::tls;
use crate::batch::Batch;
use crate::typed::apply::Typed;
use crate::typed::{RecordSchemas, TableInfo};
use crate::writer::{self, Store};
use crate::{host_name, DestinationError, RunStart, RunSummary, StoredLog, ValidRecord};

/// The run a session writes for: what every commit names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRun {
    /// The connection's name.
    pub connection: String,
    /// The stream's id.
    pub stream_id: String,
    /// `sync_runs.id`.
    pub run_id: i64,
}

/// One transaction of a PostgreSQL run.
pub type Commit = writer::Commit<ActiveRun>;

/// A connection to the runner's database with its schema ready, and the one-thread
/// runtime it runs on: what the destination's session and the workers' fleet share.
pub struct Database {
    /// The database, as a URL without its password.
    pub target: String,
    /// Runs the client's futures.
    pub runtime: Runtime,
    /// The client.
    pub client: Client,
    /// The schema's name, quoted.
    pub schema: String,
}

impl Database {
    /// Connects and creates or upgrades the schema.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the user, the database is missing, the
    /// user may not create the tables, or the schema is newer than this runner.
    pub fn open(target: &Target) -> Result<Database, DestinationError> {
        let shown = target.to_string();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            DestinationError::PostgresSetup { target: shown.clone(), reason: format!("no runtime: {e}") }
        })?;
        let mut client = runtime.block_on(connect(target))?;
        runtime.block_on(schema::ensure(&mut client, target)).map_err(|e| match e {
            schema::EnsureError::Postgres(source) => {
                DestinationError::Postgres { doing: "create the tables in", target: shown.clone(), source }
            }
            schema::EnsureError::Newer(found) => DestinationError::SchemaVersion {
                what: "PostgreSQL database",
                target: shown.clone(),
                found: i64::from(found),
                supported: i64::from(SCHEMA_VERSION),
            },
        })?;
        Ok(Database { target: shown, runtime, client, schema: schema::quote(target.schema()) })
    }

    /// Maps a client error to the destination's, saying what was being done.
    pub fn error(&self, doing: &'static str) -> impl Fn(tokio_postgres::Error) -> DestinationError + '_ {
        move |source| DestinationError::Postgres { doing, target: self.target.clone(), source }
    }
}

/// What fences a worker's writes: the lease it holds on its connection. Every commit
/// re-checks the epoch under the connection row's lock and writes nothing once another
/// worker has claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The connection leased.
    pub connection: String,
    /// The epoch of the claim.
    pub epoch: i64,
    /// Who holds it.
    pub worker: String,
    /// The lease's length: a transaction left idle longer (a paused worker) is ended by
    /// the server, releasing the row lock it holds.
    pub ttl: std::time::Duration,
}

/// A destination's connection and its statements.
pub struct Session {
    database: Database,
    sql: Statements,
    fence: Option<Fence>,
    /// The run's typed tables, written in each commit's transaction.
    typed: Typed,
    dialect: super::typed::Postgres,
}

/// The destination's writer thread says everything through the session.
impl Store for Session {
    type Run = ActiveRun;

    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        Session::load_state(self, connection, stream_id)
    }

    fn begin_run(&mut self, run: &RunStart) -> Result<ActiveRun, DestinationError> {
        Session::begin_run(self, run)
    }

    fn commit(&mut self, commit: &Commit, records_lost: bool) -> Result<(), DestinationError> {
        Session::commit(self, commit, records_lost)
    }

    fn use_schemas(&mut self, schemas: std::sync::Arc<dyn crate::typed::RecordSchemas>) {
        self.typed.use_schemas(schemas);
    }
}

impl Session {
    /// Connects, creates or upgrades the schema, and prepares the session.
    ///
    /// # Errors
    /// As [`Database::open`], and the session cannot be prepared.
    pub fn open(target: &Target, fence: Option<Fence>) -> Result<Session, DestinationError> {
        let database = Database::open(target)?;
        let mut setup = STAGING.to_owned();
        if let Some(fence) = &fence {
            setup.push_str(&format!("; SET idle_in_transaction_session_timeout = {}", fence.ttl.as_millis().max(1)));
        }
        database
            .runtime
            .block_on(database.client.batch_execute(&setup))
            .map_err(database.error("prepare a session in"))?;
        let dialect = super::typed::Postgres { schema: schema::quote(target.schema()) };
        Ok(Session { sql: Statements::for_schema(target.schema()), database, fence, typed: Typed::default(), dialect })
    }

    fn error(&self, doing: &'static str) -> impl Fn(tokio_postgres::Error) -> DestinationError + '_ {
        self.database.error(doing)
    }

    /// The stored state of (connection, stream).
    ///
    /// # Errors
    /// The database cannot be read, or the state is not JSON.
    pub fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        let row = self
            .database
            .runtime
            .block_on(self.database.client.query_opt(&self.sql.load_state, &[&connection, &stream_id]))
            .map_err(self.error("read the state from"))?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.get(0);
        let state: Value = serde_json::from_str(&text)
            .map_err(|source| DestinationError::CorruptState { place: self.database.target.clone(), source })?;
        Ok(Some(state).filter(|state| !state.is_null()))
    }

    /// Marks failed the runs whose session is gone, then starts this one's history row.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn begin_run(&mut self, run: &RunStart) -> Result<ActiveRun, DestinationError> {
        let cutoff = run.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
        let started_at = run.started_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        let host = host_name();
        let (client, sql) = (&self.database.client, &self.sql);
        let run_id = self
            .database
            .runtime
            .block_on(async {
                client.execute(&sql.close_abandoned, &[]).await?;
                let params: [&(dyn ToSql + Sync); 7] =
                    [&run.connection, &run.connector, &run.stream_id, &cutoff, &started_at, &pid, &host];
                let row = client.query_one(&sql.insert_run, &params).await?;
                Ok(row.get::<_, i64>(0))
            })
            .map_err(self.error("write to"))?;
        Ok(ActiveRun { connection: run.connection.clone(), stream_id: run.stream_id.clone(), run_id })
    }

    /// Writes one commit in one transaction. With `records_lost` (an earlier commit of
    /// this run failed), only the run's end is written: records and a state after a lost
    /// batch could claim more than was stored.
    ///
    /// # Errors
    /// The transaction failed; nothing of it is stored.
    ///
    /// With a [`Fence`], records and a state are written only while the worker's epoch is
    /// still the connection's, checked under the connection row's lock held until the
    /// commit; each state also leaves a line in `checkpoint_log`.
    pub fn commit(&mut self, commit: &Commit, records_lost: bool) -> Result<(), DestinationError> {
        let Database { runtime, client, target, .. } = &mut self.database;
        let (sql, fence, typed, dialect) = (&self.sql, self.fence.as_ref(), &mut self.typed, &self.dialect);
        let fail = |source| DestinationError::Postgres { doing: "write to", target: target.clone(), source };
        let tx = runtime.block_on(client.transaction()).map_err(fail)?;
        if !records_lost {
            let latest = commit.batch.last_of_each_key();
            let fenced = runtime.block_on(async {
                if let Some(fence) = fence {
                    let row = tx.query_opt(&sql.lock_lease, &[&fence.connection]).await?;
                    let epoch: Option<i64> = row.map(|row| row.get(0));
                    if epoch != Some(fence.epoch) {
                        return Ok(Err(epoch));
                    }
                }
                write_batch(&tx, sql, &commit.run, &latest, &commit.batch).await.map(Ok)
            });
            if let Err(now) = fenced.map_err(fail)? {
                let fence = fence.ok_or(DestinationError::Misuse("only a fenced commit checks an epoch"))?;
                return Err(DestinationError::LeaseLost {
                    connection: fence.connection.clone(),
                    epoch: fence.epoch,
                    now,
                });
            }
            let mut backend = super::typed::Backend { runtime, client: &tx, dialect, target };
            typed.prepare(&mut backend, commit.batch.records().map(|r| r.record_type))?;
            super::typed::write_rows(runtime, &tx, dialect, typed, &commit.run.connection, &latest, &commit.batch)
                .map_err(fail)?;
        }
        let note = commit.summary.as_ref().and_then(|_| typed.take_misfit_report());
        let end = runtime.block_on(async {
            if let (false, Some(state)) = (records_lost, &commit.state) {
                let state = state.to_string();
                let params: [&(dyn ToSql + Sync); 4] =
                    [&commit.run.connection, &commit.run.stream_id, &state, &commit.run.run_id];
                tx.execute(&sql.upsert_state, &params).await?;
                if let Some(fence) = fence {
                    let params: [&(dyn ToSql + Sync); 4] =
                        [&fence.connection, &commit.run.stream_id, &fence.epoch, &fence.worker];
                    tx.execute(&sql.log_checkpoint, &params).await?;
                }
            }
            if let Some(summary) = &commit.summary {
                finish(&tx, sql, &commit.run, summary, note).await?;
            }
            tx.commit().await
        });
        end.map_err(fail)
    }

    /// Removes everything stored under `connection` in one transaction; returns the rows
    /// removed (logs aside).
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn forget_connection(&mut self, connection: &str) -> Result<u64, DestinationError> {
        let (client, sql, dialect) = (&mut self.database.client, &self.sql, &self.dialect);
        let removed = self.database.runtime.block_on(async {
            let tx = client.transaction().await?;
            tx.execute(&sql.forget_logs, &[&connection]).await?;
            if tx.query_one(&sql.has_typed_tables, &[]).await?.get(0) {
                for row in tx.query(&sql.typed_table_names, &[]).await? {
                    let delete = crate::typed::sql::delete_connection(dialect, row.get(0));
                    tx.execute(&delete, &[&connection]).await?;
                }
            }
            let mut removed = 0;
            for statement in &sql.forget {
                removed += tx.execute(statement, &[&connection]).await?;
            }
            tx.commit().await.map(|()| removed)
        });
        removed.map_err(self.error("write to"))
    }

    /// The typed tables, with their row counts.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn typed_tables(&mut self) -> Result<Vec<TableInfo>, DestinationError> {
        let Database { runtime, client, target, .. } = &mut self.database;
        let tx = runtime.block_on(client.transaction()).map_err(read_error(target))?;
        crate::typed::list(&mut super::typed::Backend { runtime, client: &tx, dialect: &self.dialect, target })
    }

    /// Rebuilds typed tables (see [`Typed::rebuild`]) in one transaction.
    ///
    /// # Errors
    /// A type without a table or schema, or the database cannot be written.
    pub fn rebuild_typed_tables(
        &mut self,
        schemas: std::sync::Arc<dyn RecordSchemas>,
        types: &[String],
    ) -> Result<Vec<String>, DestinationError> {
        let Database { runtime, client, target, .. } = &mut self.database;
        let tx = runtime.block_on(client.transaction()).map_err(read_error(target))?;
        let mut typed = Typed::default();
        typed.use_schemas(schemas);
        let rebuilt = typed
            .rebuild(&mut super::typed::Backend { runtime, client: &tx, dialect: &self.dialect, target }, types)?;
        runtime.block_on(tx.commit()).map_err(read_error(target))?;
        Ok(rebuilt)
    }

    /// The stored records of `connection` by `_type`, sorted by type.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn records_by_type(&mut self, connection: &str) -> Result<Vec<(String, u64)>, DestinationError> {
        let rows = self
            .database
            .runtime
            .block_on(self.database.client.query(&self.sql.records_by_type, &[&connection]))
            .map_err(self.error("read"))?;
        Ok(rows.iter().map(|row| (row.get(0), row.get::<_, i64>(1).unsigned_abs())).collect())
    }
}

/// A client error while using the database at `target`.
fn read_error(target: &str) -> impl Fn(tokio_postgres::Error) -> DestinationError + '_ {
    move |source| DestinationError::Postgres { doing: "use", target: target.to_owned(), source }
}

/// The session-local table a batch is copied into before the upsert; emptied by every
/// commit, never logged.
const STAGING: &str = "CREATE TEMP TABLE runner_staging (type text, id text, json json, extracted_at text) \
     ON COMMIT DELETE ROWS";

/// A connection for reading only, with its own runtime: no table is created or changed,
/// no staging table is made (the history's readers use it).
///
/// # Errors
/// The server cannot be reached or refuses the user, or no runtime can be built.
pub(crate) fn connect_for_reading(target: &Target) -> Result<(Runtime, Client), DestinationError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        DestinationError::PostgresSetup { target: target.to_string(), reason: format!("no runtime: {e}") }
    })?;
    let client = runtime.block_on(connect(target))?;
    Ok((runtime, client))
}

/// Opens a connection and keeps it running on the session's runtime.
async fn connect(target: &Target) -> Result<Client, DestinationError> {
    connect_with(target, None).await
}

/// Opens a connection whose notifications (`LISTEN`) each send `()` on `notified`, on the
/// current runtime; the sender is dropped when the connection ends.
pub(crate) async fn connect_listening(
    target: &Target,
    notified: tokio::sync::mpsc::UnboundedSender<()>,
) -> Result<Client, DestinationError> {
    connect_with(target, Some(notified)).await
}

async fn connect_with(
    target: &Target,
    notified: Option<tokio::sync::mpsc::UnboundedSender<()>>,
) -> Result<Client, DestinationError> {
    let tls = tls::connector(target)
        .map_err(|reason| DestinationError::PostgresSetup { target: target.to_string(), reason })?;
    let (client, mut connection) = target.config().connect(tls).await.map_err(|source| DestinationError::Postgres {
        doing: "connect to",
        target: target.to_string(),
        source,
    })?;
    // The connection's end (the server went away) surfaces as the next statement's error.
    match notified {
        None => drop(tokio::spawn(connection)),
        Some(notified) => drop(tokio::spawn(async move {
            while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                if matches!(message, tokio_postgres::AsyncMessage::Notification(_)) && notified.send(()).is_err() {
                    break;
                }
            }
        })),
    }
    Ok(client)
}

/// Marks `failed` the runs still `running` whose database session is gone: their runner
/// died without recording their end. Run when a run starts, and by workers' heartbeats,
/// so the history never shows a dead run as running for long. `schema` is quoted.
pub(crate) fn close_abandoned_runs(schema: &str) -> String {
    format!(
        "UPDATE {schema}.sync_runs r SET outcome = 'failed', finished_at = now(), \
         error = 'the runner (pid ' || coalesce(r.pid::text, '?') || ' on ' || coalesce(r.host, '?') || \
         ') stopped without recording how this run ended: its database session is gone (it was killed, \
         lost its connection, or its machine went down); checkpoints it stored are kept' \
         WHERE r.outcome = 'running' AND r.backend_pid IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid \
          AND (a.backend_start IS NULL OR a.backend_start = r.backend_start))"
    )
}

/// Every statement, with the schema's name in it.
struct Statements {
    load_state: String,
    close_abandoned: String,
    insert_run: String,
    copy_records: String,
    copy_to_staging: String,
    upsert_from_staging: String,
    insert_rejected: String,
    upsert_state: String,
    finish_run: String,
    insert_logs: String,
    lock_lease: String,
    log_checkpoint: String,
    forget_logs: String,
    forget: [String; 4],
    records_by_type: String,
    has_typed_tables: String,
    typed_table_names: String,
}

impl Statements {
    fn for_schema(schema: &str) -> Self {
        let s = schema::quote(schema);
        Statements {
            load_state: format!("SELECT state::text FROM {s}.stream_state WHERE connection = $1 AND stream_id = $2"),
            close_abandoned: close_abandoned_runs(&s),
            insert_run: format!(
                "INSERT INTO {s}.sync_runs (connection, connector, stream_id, cutoff, started_at, outcome, pid, host, \
                 backend_pid, backend_start) \
                 SELECT $1, $2, $3, $4::text::timestamptz, $5::text::timestamptz, 'running', $6, $7, \
                 pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) \
                 RETURNING id"
            ),
            copy_records: format!(
                "COPY {s}.records (connection, type, id, json, extracted_at, run_id) FROM STDIN (FORMAT binary)"
            ),
            copy_to_staging: "COPY pg_temp.runner_staging (type, id, json, extracted_at) FROM STDIN (FORMAT binary)"
                .to_owned(),
            // ON CONFLICT probes the primary key row by row in the executor: its cost does
            // not depend on the planner, whose statistics of a table filling up are stale
            // (a DELETE of the batch's keys was planned as a scan of the whole connection
            // and grew with the table).
            upsert_from_staging: format!(
                "INSERT INTO {s}.records (connection, type, id, json, extracted_at, run_id) \
                 SELECT $1, type, id, json, extracted_at, $2 FROM pg_temp.runner_staging \
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
            lock_lease: format!("SELECT epoch FROM {s}.connections WHERE name = $1 FOR UPDATE"),
            log_checkpoint: format!(
                "INSERT INTO {s}.checkpoint_log (connection, stream_id, epoch, worker) VALUES ($1, $2, $3, $4)"
            ),
            forget_logs: format!(
                "DELETE FROM {s}.run_logs WHERE run_id IN (SELECT id FROM {s}.sync_runs WHERE connection = $1)"
            ),
            forget: ["records", "rejected_records", "stream_state", "sync_runs"]
                .map(|table| format!("DELETE FROM {s}.{table} WHERE connection = $1")),
            records_by_type: format!(
                "SELECT type, count(*) FROM {s}.records WHERE connection = $1 GROUP BY type ORDER BY type"
            ),
            has_typed_tables: format!(
                "SELECT to_regclass('{}') IS NOT NULL",
                format!("{s}.typed_tables").replace('\'', "''")
            ),
            typed_table_names: format!("SELECT table_name FROM {s}.typed_tables"),
        }
    }
}

/// The batch as an upsert of its last record of each key, and its rejected records.
///
/// New keys (a first sync) take the server's fastest way in: one binary `COPY` straight
/// into `records`. When one of the keys is stored already, that `COPY` fails at once with
/// a unique violation; it is rolled back to a savepoint and the batch goes through the
/// staging table and `INSERT ... ON CONFLICT` instead. Both paths cost the same whatever
/// the table's size.
async fn write_batch(
    tx: &Transaction<'_>,
    sql: &Statements,
    run: &ActiveRun,
    latest: &[ValidRecord<'_>],
    batch: &Batch,
) -> Result<(), tokio_postgres::Error> {
    if !latest.is_empty() {
        tx.batch_execute("SAVEPOINT runner_copy").await?;
        match copy_rows(tx, &sql.copy_records, Some(run), latest).await {
            Ok(()) => tx.batch_execute("RELEASE SAVEPOINT runner_copy").await?,
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT runner_copy").await?;
                copy_rows(tx, &sql.copy_to_staging, None, latest).await?;
                tx.execute(&sql.upsert_from_staging, &[&run.connection, &run.run_id]).await?;
            }
            Err(error) => return Err(error),
        }
    }
    for r in &batch.rejected {
        let line = i64::try_from(r.line).unwrap_or(i64::MAX);
        let params: [&(dyn ToSql + Sync); 7] =
            [&run.run_id, &run.connection, &r.record_type, &r.id, &line, &r.json, &r.errors];
        tx.execute(&sql.insert_rejected, &params).await?;
    }
    Ok(())
}

/// Sends the records with one binary `COPY`: into `records` for `run`, or into the
/// staging table with `None`. The server checks each JSON text once, here.
async fn copy_rows(
    tx: &Transaction<'_>,
    copy: &str,
    run: Option<&ActiveRun>,
    records: &[ValidRecord<'_>],
) -> Result<(), tokio_postgres::Error> {
    let sink = tx.copy_in(copy).await?;
    let (into_records, into_staging) = (
        [Type::TEXT, Type::TEXT, Type::TEXT, Type::JSON, Type::TEXT, Type::INT8],
        [Type::TEXT, Type::TEXT, Type::JSON, Type::TEXT],
    );
    let types: &[Type] = if run.is_some() { &into_records } else { &into_staging };
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, types));
    for record in records {
        let json = RawJson(record.json);
        match run {
            Some(run) => {
                let row: [&(dyn ToSql + Sync); 6] =
                    [&run.connection, &record.record_type, &record.id, &json, &record.extracted_at, &run.run_id];
                writer.as_mut().write(&row).await?;
            }
            None => {
                let row: [&(dyn ToSql + Sync); 4] = [&record.record_type, &record.id, &json, &record.extracted_at];
                writer.as_mut().write(&row).await?;
            }
        }
    }
    writer.finish().await.map(drop)
}

/// The run's row, then its logs, and `note` (the store's own word on the run) as a warning.
async fn finish(
    tx: &Transaction<'_>,
    sql: &Statements,
    run: &ActiveRun,
    summary: &RunSummary,
    note: Option<String>,
) -> Result<(), tokio_postgres::Error> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let records = count(summary.records_by_type.values().sum::<u64>());
    let finished_at = summary.finished_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    // A map of strings to integers always serialises.
    let by_type = serde_json::to_string(&summary.records_by_type).unwrap_or_else(|_| "{}".to_owned());
    let params: [&(dyn ToSql + Sync); 8] = [
        &run.run_id,
        &finished_at,
        &summary.outcome.as_str(),
        &records,
        &by_type,
        &count(summary.rejected),
        &count(summary.checkpoints),
        &summary.error,
    ];
    tx.execute(&sql.finish_run, &params).await?;
    let note = note.map(|message| StoredLog { at: chrono::Utc::now(), level: "warn".to_owned(), message });
    let logs: Vec<&StoredLog> = summary.logs.iter().chain(&note).collect();
    if !logs.is_empty() {
        let at: Vec<String> = logs.iter().map(|l| l.at.to_rfc3339_opts(SecondsFormat::Millis, true)).collect();
        let level: Vec<&str> = logs.iter().map(|l| l.level.as_str()).collect();
        let message: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
        tx.execute(&sql.insert_logs, &[&run.run_id, &at, &level, &message]).await?;
    }
    Ok(())
}

/// A JSON text the runner has already validated, sent as it is (`json` keeps it byte for
/// byte; its binary form is the text).
#[derive(Debug)]
struct RawJson<'a>(&'a str);

impl ToSql for RawJson<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::writer::Writer;
    use crate::ValidRecord;

    fn batch(records: &[(&str, &str)]) -> Batch {
        let mut batch = Batch::default();
        for (id, json) in records {
            batch.push_record(&ValidRecord { record_type: "Team", id, json, extracted_at: "2026-01-01T00:00:00Z" });
        }
        batch
    }

    /// A commit that fails (here: a text the server refuses as JSON) loses its batch and
    /// its state; a later commit handed over before anyone noticed must not store its
    /// records or state either, or the stored state would claim the lost batch.
    #[test]
    fn after_a_failed_commit_no_later_state_or_record_is_stored() {
        let Some(cluster) = throwaway_postgres::require("after_a_failed_commit_no_later_state") else { return };
        cluster.create_database("writer_failure").unwrap();
        let target = Target::parse(&cluster.url("writer_failure")).unwrap();
        let writer = Writer::start("postgres-writer", move || Session::open(&target, None)).unwrap();
        let start = RunStart {
            connection: "c".into(),
            connector: "x".into(),
            stream_id: "s".into(),
            cutoff: Utc::now(),
            started_at: Utc::now(),
        };
        let run = writer.call(move |session| session.begin_run(&start)).unwrap();
        let commit = |batch, state| Commit { run: run.clone(), batch, state: Some(state), summary: None };
        writer.commit(commit(batch(&[("T1", "{}")]), json!(1))).unwrap();
        writer.commit(commit(batch(&[("T2", "{not json")]), json!(2))).unwrap();
        // The failure is reported by whichever call comes first after the writer met it:
        // this hand-over if the writer was quicker, else the wait. Either way, once.
        let handed_over = writer.commit(commit(batch(&[("T3", "{}")]), json!(3)));
        let error = handed_over.and_then(|()| writer.wait()).unwrap_err().to_string();
        assert!(error.contains("invalid input syntax for type json"), "{error}");
        assert_eq!(writer.wait().map_err(|e| e.to_string()), Ok(()), "a failure is reported once");
        let stored = |sql| cluster.psql("writer_failure", sql).unwrap();
        assert_eq!(stored("SELECT state::text FROM stream_state"), "1");
        assert_eq!(stored("SELECT string_agg(id, ',') FROM records"), "T1");
    }
}
