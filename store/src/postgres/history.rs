//! The history of a PostgreSQL database: one connection of its own (never the writer's),
//! statements naming the target's schema, times read as seconds since the epoch, and
//! stored records and readers' own queries streamed through a portal a few thousand rows at a time.

use tokio::runtime::Runtime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use crate::history::{
    drift_lines, instant, parse_by_type, parse_state, Cell, HistoryError, ReadHistory, Run, RunFilter, StreamStatus,
    TypeCount,
};
use crate::postgres::{connect_for_reading, quote, Target};
use crate::SqlDialect;

/// Rows fetched per round trip when rows are streamed (incidents, stored records).
const BATCH: i32 = 5_000;

/// A history read from a PostgreSQL database.
pub struct PostgresHistory {
    shown: String,
    schema: String,
    runtime: Runtime,
    client: Client,
}

impl PostgresHistory {
    /// Connects; checks that the target's schema has the runner's tables.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the user, or the tables are missing.
    pub fn open(target: &Target) -> Result<Self, HistoryError> {
        let (runtime, client) = connect_for_reading(target)?;
        let history = PostgresHistory { shown: target.to_string(), schema: quote(target.schema()), runtime, client };
        let exists: bool = history
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
                 ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'sync_runs')",
                &[&target.schema()],
            )?
            .get(0);
        if !exists {
            return Err(HistoryError::NotRunnerDatabase { target: history.shown });
        }
        Ok(history)
    }

    fn read_error(&self) -> impl Fn(tokio_postgres::Error) -> HistoryError + '_ {
        move |err| HistoryError::Read { target: self.shown.clone(), source: Box::new(err) }
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, HistoryError> {
        self.runtime.block_on(self.client.query(sql, params)).map_err(self.read_error())
    }

    fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, HistoryError> {
        self.runtime.block_on(self.client.query_one(sql, params)).map_err(self.read_error())
    }

    /// The columns [`run`] reads, in its order.
    fn run_columns(&self) -> String {
        format!(
            "r.id, r.connection, r.connector, r.stream_id, extract(epoch FROM r.started_at)::float8, \
             extract(epoch FROM r.finished_at)::float8, r.outcome, r.records, r.records_by_type::text, r.rejected, \
             r.error, (SELECT string_agg(l.message, E'\\n') FROM {}.run_logs l WHERE l.run_id = r.id AND l.level = 'drift')",
            self.schema
        )
    }

    /// Calls `visit` with each row of `sql`, fetched through a portal [`BATCH`] rows at a
    /// time in a read-only transaction, so memory stays flat however many rows there are.
    fn stream(
        &mut self,
        sql: &str,
        visit: &mut dyn FnMut(&Row) -> Result<(), tokio_postgres::Error>,
    ) -> Result<(), HistoryError> {
        let (client, schema) = (&mut self.client, &self.schema);
        let result = self.runtime.block_on(async {
            let tx = client.build_transaction().read_only(true).start().await?;
            // Unqualified names in a reader's own query (`rows`) are the target's tables.
            tx.batch_execute(&format!("SET LOCAL search_path TO {schema}")).await?;
            let statement = tx.prepare(sql).await?;
            let portal = tx.bind(&statement, &[]).await?;
            loop {
                let rows = tx.query_portal(&portal, BATCH).await?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    visit(row)?;
                }
            }
            tx.commit().await
        });
        result.map_err(|err| HistoryError::Read { target: self.shown.clone(), source: Box::new(err) })
    }
}

impl ReadHistory for PostgresHistory {
    fn describe(&self) -> &str {
        &self.shown
    }

    fn latest(&mut self, connection: Option<&str>) -> Result<Vec<StreamStatus>, HistoryError> {
        let s = &self.schema;
        let sql = format!(
            "SELECT {columns}, \
             (SELECT extract(epoch FROM max(x.finished_at))::float8 FROM {s}.sync_runs x \
              WHERE x.connection = r.connection AND x.stream_id = r.stream_id AND x.outcome = 'succeeded'), \
             (SELECT count(*) FROM {s}.sync_runs x WHERE x.connection = r.connection AND x.stream_id = r.stream_id), \
             (SELECT count(*) FROM {s}.sync_runs x WHERE x.connection = r.connection AND x.stream_id = r.stream_id \
              AND x.outcome = 'failed') \
             FROM {s}.sync_runs r \
             WHERE r.id IN (SELECT max(id) FROM {s}.sync_runs GROUP BY connection, stream_id) \
             AND ($1::text IS NULL OR r.connection = $1) \
             ORDER BY r.connection COLLATE \"C\", r.stream_id COLLATE \"C\"",
            columns = self.run_columns(),
        );
        let rows = self.query(&sql, &[&connection])?;
        rows.iter()
            .map(|row| {
                let count = |i| row.try_get::<_, i64>(i).map(i64::unsigned_abs).map_err(self.read_error());
                Ok(StreamStatus {
                    latest: run(row, &self.shown)?,
                    last_success: instant(row.try_get(12).map_err(self.read_error())?),
                    runs: count(13)?,
                    failures: count(14)?,
                })
            })
            .collect()
    }

    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<Run>, HistoryError> {
        let s = &self.schema;
        let sql = format!(
            "SELECT {columns} FROM (SELECT *, row_number() OVER \
             (PARTITION BY connection, stream_id ORDER BY id DESC) AS n FROM {s}.sync_runs \
             WHERE ($1::text IS NULL OR connection = $1) AND (NOT $2 OR outcome = 'failed')) r \
             WHERE r.n <= $3 ORDER BY r.connection COLLATE \"C\", r.stream_id COLLATE \"C\", r.id DESC",
            columns = self.run_columns(),
        );
        let per_stream = i64::from(filter.per_stream);
        let rows = self.query(&sql, &[&filter.connection, &filter.failed_only, &per_stream])?;
        rows.iter().map(|row| run(row, &self.shown)).collect()
    }

    fn records_by_type(&mut self) -> Result<Vec<TypeCount>, HistoryError> {
        let sql = format!(
            "SELECT connection, type, count(*) FROM {}.records GROUP BY connection, type \
             ORDER BY connection COLLATE \"C\", type COLLATE \"C\"",
            self.schema
        );
        let rows = self.query(&sql, &[])?;
        rows.iter()
            .map(|row| {
                Ok(TypeCount {
                    connection: row.try_get(0).map_err(self.read_error())?,
                    record_type: row.try_get(1).map_err(self.read_error())?,
                    count: row.try_get::<_, i64>(2).map_err(self.read_error())?.unsigned_abs(),
                })
            })
            .collect()
    }

    fn stored_records(&mut self, visit: &mut dyn FnMut(&str)) -> Result<(), HistoryError> {
        let s = &self.schema;
        let sql = format!("SELECT json::text FROM {s}.records UNION ALL SELECT json FROM {s}.rejected_records");
        self.stream(&sql, &mut |row| {
            visit(row.try_get(0)?);
            Ok(())
        })
    }

    fn dialect(&self) -> SqlDialect {
        SqlDialect::Postgres
    }

    fn rows(&mut self, sql: &str, visit: &mut dyn FnMut(&[Cell])) -> Result<(), HistoryError> {
        let mut cells = Vec::new();
        self.stream(sql, &mut |row| {
            cells.clear();
            for index in 0..row.len() {
                cells.push(cell(row, index)?);
            }
            visit(&cells);
            Ok(())
        })
    }
}

/// Column `index` of `row` as a [`Cell`]: integers, floating-point numbers and text as
/// they are, booleans as 0 or 1; any other type reads as its text, which a query gets
/// with a cast (`::text`).
fn cell(row: &Row, index: usize) -> Result<Cell, tokio_postgres::Error> {
    use tokio_postgres::types::Type;
    let kind = row.columns()[index].type_();
    Ok(match *kind {
        Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map_or(Cell::Null, |n| Cell::Integer(n.into())),
        Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map_or(Cell::Null, |n| Cell::Integer(n.into())),
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map_or(Cell::Null, Cell::Integer),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(index)?.map_or(Cell::Null, |x| Cell::Real(x.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map_or(Cell::Null, Cell::Real),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map_or(Cell::Null, |b| Cell::Integer(b.into())),
        _ => row.try_get::<_, Option<String>>(index)?.map_or(Cell::Null, Cell::Text),
    })
}

/// A run from the first columns of `row` ([`PostgresHistory::run_columns`]).
fn run(row: &Row, target: &str) -> Result<Run, HistoryError> {
    let read = |err| HistoryError::Read { target: target.to_owned(), source: Box::new(err) };
    let id: i64 = row.try_get(0).map_err(read)?;
    let started_at = instant(row.try_get(4).map_err(read)?).ok_or_else(|| HistoryError::Corrupt {
        target: target.to_owned(),
        run: id,
        what: "started_at is not a time".to_owned(),
    })?;
    let outcome: String = row.try_get(6).map_err(read)?;
    let by_type: String = row.try_get(8).map_err(read)?;
    Ok(Run {
        id,
        connection: row.try_get(1).map_err(read)?,
        connector: row.try_get(2).map_err(read)?,
        stream_id: row.try_get(3).map_err(read)?,
        started_at,
        finished_at: instant(row.try_get(5).map_err(read)?),
        outcome: parse_state(&outcome, target, id)?,
        records: row.try_get::<_, i64>(7).map_err(read)?.unsigned_abs(),
        records_by_type: parse_by_type(&by_type),
        rejected: row.try_get::<_, i64>(9).map_err(read)?.unsigned_abs(),
        error: row.try_get(10).map_err(read)?,
        format_drift: drift_lines(row.try_get(11).map_err(read)?),
    })
}
