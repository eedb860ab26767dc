//! The PostgreSQL side of typed tables ([`crate::typed`]): its dialect, the backend over
//! the commit's transaction, and rows sent by binary `COPY` into a staging table and
//! upserted from it (a row per statement would cost a round trip each). Times are
//! `timestamptz`, dates `date`, JSON `jsonb`.

use bytes::{BufMut, BytesMut};
use tokio::runtime::Runtime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Transaction;

use crate::batch::Batch;
use crate::typed::apply::{self, CatalogEntry, Typed, TypedTable};
use crate::typed::sql::{self, quote, Dialect};
use crate::typed::{Cell, Column, ColumnType};
use crate::{DestinationError, ValidRecord};

/// Rows read from `records` at a time when a table is filled again.
const REFILL_CHUNK: i32 = 5_000;

/// The session-local table a typed table's rows are copied into before the upsert.
const STAGE: &str = "pg_temp.typed_stage";

/// PostgreSQL's SQL for typed tables, in the target's schema (quoted).
pub(super) struct Postgres {
    pub(super) schema: String,
}

impl Dialect for Postgres {
    fn type_name(&self, ty: ColumnType) -> &'static str {
        match ty {
            ColumnType::Text => "text",
            ColumnType::Timestamp => "timestamptz",
            ColumnType::Date => "date",
            ColumnType::Integer => "bigint",
            ColumnType::Number => "double precision",
            ColumnType::Boolean => "boolean",
            ColumnType::Json => "jsonb",
        }
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}.{}", self.schema, quote(table))
    }

    /// In place: a bigint becomes a double exactly enough for what JSON integers the
    /// column held, anything becomes its JSON; the refill that follows writes every value
    /// again from the stored JSON anyway.
    fn alter_type(&self, table: &str, column: &Column) -> Option<String> {
        let name = quote(&column.name);
        let using = match column.ty {
            ColumnType::Json => format!("to_jsonb({name})"),
            _ => format!("{name}::{}", self.type_name(column.ty)),
        };
        Some(format!(
            "ALTER TABLE {} ALTER COLUMN {name} TYPE {} USING {using}",
            self.qualified(table),
            self.type_name(column.ty)
        ))
    }

    fn as_text(&self, column: &str) -> String {
        format!("{column}::text")
    }
}

/// The type `COPY` sends a column as.
fn copy_type(ty: ColumnType) -> Type {
    match ty {
        ColumnType::Text => Type::TEXT,
        ColumnType::Timestamp => Type::TIMESTAMPTZ,
        ColumnType::Date => Type::DATE,
        ColumnType::Integer => Type::INT8,
        ColumnType::Number => Type::FLOAT8,
        ColumnType::Boolean => Type::BOOL,
        ColumnType::Json => Type::JSONB,
    }
}

impl ToSql for Cell<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Text(text) => text.as_ref().to_sql(ty, out),
            Cell::Integer(n) => n.to_sql(ty, out),
            Cell::Number(x) => x.to_sql(ty, out),
            Cell::Boolean(b) => b.to_sql(ty, out),
            Cell::Timestamp(at, _) => at.to_sql(ty, out),
            Cell::Date(day, _) => day.to_sql(ty, out),
            // jsonb's binary form: version 1, then the text.
            Cell::Json(text) => {
                out.put_u8(1);
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    /// Each cell is made for its column's type ([`copy_type`]).
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The backend over a transaction on its runtime.
pub(super) struct Backend<'a, 't> {
    pub(super) runtime: &'a Runtime,
    pub(super) client: &'a Transaction<'t>,
    pub(super) dialect: &'a Postgres,
    /// The database, as a URL without its password.
    pub(super) target: &'a str,
}

impl Backend<'_, '_> {
    fn fail(&self, doing: &'static str) -> impl Fn(tokio_postgres::Error) -> DestinationError + '_ {
        move |source| DestinationError::Postgres { doing, target: self.target.to_owned(), source }
    }

    fn text_rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, DestinationError> {
        self.runtime.block_on(self.client.query(sql, params)).map_err(self.fail("read"))
    }
}

impl apply::Backend for Backend<'_, '_> {
    fn dialect(&self) -> &dyn Dialect {
        self.dialect
    }

    /// An advisory lock per schema, released when the transaction ends.
    fn lock_changes(&mut self) -> Result<(), DestinationError> {
        let key = format!("connector toolkit typed tables: {}", self.dialect.schema);
        let params: [&(dyn ToSql + Sync); 1] = [&key];
        let lock = self.client.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &params);
        self.runtime.block_on(lock).map(drop).map_err(self.fail("lock"))
    }

    fn execute(&mut self, sql: &str) -> Result<(), DestinationError> {
        self.runtime.block_on(self.client.batch_execute(sql)).map_err(self.fail("write to"))
    }

    fn count(&mut self, sql: &str) -> Result<u64, DestinationError> {
        let row = self.runtime.block_on(self.client.query_one(sql, &[])).map_err(self.fail("read"))?;
        Ok(row.get::<_, i64>(0).unsigned_abs())
    }

    fn has_catalog(&mut self) -> Result<bool, DestinationError> {
        let name = self.dialect.qualified("typed_tables");
        let rows = self.text_rows("SELECT to_regclass($1) IS NOT NULL", &[&name])?;
        Ok(rows.first().is_some_and(|row| row.get(0)))
    }

    fn catalog(&mut self) -> Result<Vec<CatalogEntry>, DestinationError> {
        let rows = self.text_rows(&sql::read_catalog(self.dialect), &[])?;
        Ok(rows
            .iter()
            .map(|row| CatalogEntry {
                record_type: row.get(0),
                table: row.get(1),
                columns: row.get(2),
                origin: row.get(3),
                schema: row.get(4),
            })
            .collect())
    }

    fn stored_columns(&mut self, record_type: &str) -> Result<Option<Option<String>>, DestinationError> {
        let rows = self.text_rows(&sql::read_columns(self.dialect), &[&record_type])?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn save(&mut self, e: &CatalogEntry) -> Result<(), DestinationError> {
        let now = apply::now();
        let params: [&(dyn ToSql + Sync); 6] = [&e.record_type, &e.table, &e.columns, &e.schema, &e.origin, &now];
        let sql = sql::save_catalog(self.dialect);
        self.runtime.block_on(self.client.execute(&sql, &params)).map(drop).map_err(self.fail("write to"))
    }

    fn mark_behind(&mut self, record_type: &str) -> Result<(), DestinationError> {
        let sql = sql::mark_behind(self.dialect);
        self.runtime.block_on(self.client.execute(&sql, &[&record_type])).map(drop).map_err(self.fail("write to"))
    }

    /// Reads `records` through a portal, a chunk at a time, so a large table is never
    /// held in memory whole.
    fn refill(&mut self, table: &mut TypedTable) -> Result<(), DestinationError> {
        let (runtime, client, d) = (self.runtime, self.client, self.dialect);
        let stored = sql::stored_records(d);
        let fill = async {
            let statement = client.prepare(&stored).await?;
            let params: [&(dyn ToSql + Sync); 1] = [&table.record_type];
            let portal = client.bind(&statement, &params).await?;
            loop {
                let rows = client.query_portal(&portal, REFILL_CHUNK).await?;
                if rows.is_empty() {
                    return Ok(());
                }
                let records = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2)));
                copy_rows(client, d, table, records).await?;
            }
        };
        runtime.block_on(fill).map_err(self.fail("write to"))
    }
}

/// Copies rows for `records` (connection, id, JSON; one per key) into the staging table
/// and upserts them into `table`.
async fn copy_rows<'r>(
    client: &Transaction<'_>,
    d: &Postgres,
    table: &mut TypedTable,
    records: impl Iterator<Item = (&'r str, &'r str, &'r str)>,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("CREATE TEMP TABLE typed_stage (LIKE {}) ON COMMIT DROP", d.qualified(&table.table)))
        .await?;
    let types: Vec<Type> =
        [Type::TEXT, Type::TEXT].into_iter().chain(table.columns.iter().map(|c| copy_type(c.ty))).collect();
    let names = sql::column_list(&table.columns);
    let sink = client.copy_in(&format!("COPY {STAGE} ({names}) FROM STDIN (FORMAT binary)")).await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    let mut row = Vec::with_capacity(types.len());
    for (connection, id, json) in records {
        table.projector.project(connection, id, json, &mut row, &mut table.misfits);
        writer.as_mut().write_raw(row.iter()).await?;
    }
    writer.finish().await?;
    let upsert = sql::upsert_from(d, &table.table, STAGE, &table.columns);
    client.batch_execute(&format!("{upsert}; DROP TABLE {STAGE}")).await
}

/// Writes the typed rows of a batch's records (`latest`: one per key), a `COPY` per table.
pub(super) fn write_rows(
    runtime: &Runtime,
    tx: &Transaction<'_>,
    d: &Postgres,
    typed: &mut Typed,
    connection: &str,
    latest: &[ValidRecord<'_>],
    batch: &Batch,
) -> Result<(), tokio_postgres::Error> {
    let mut types: Vec<&str> = batch.records().map(|r| r.record_type).collect();
    types.sort_unstable();
    types.dedup();
    for record_type in types {
        let Some(table) = typed.table_mut(record_type) else { continue };
        let of_type = latest.iter().filter(|r| r.record_type == record_type).map(|r| (connection, r.id, r.json));
        runtime.block_on(copy_rows(tx, d, table, of_type))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{PostgresDestination, Target};
    use crate::test_support::{schemas, team_schema, typed_run};
    use crate::typed::tests::Schemas;
    use crate::Tuning;

    fn sync(target: &Target, schemas: Option<std::sync::Arc<Schemas>>, records: &[(&str, &str, &str)]) {
        typed_run(Box::new(PostgresDestination::open(target, &Tuning::default(), None).unwrap()), schemas, records);
    }

    #[test]
    fn typed_rows_have_postgres_types_and_follow_schema_changes() {
        let Some(cluster) = throwaway_postgres::require("typed_rows_have_postgres_types") else { return };
        cluster.create_database("typed_tables").unwrap();
        let target = Target::parse(&cluster.url("typed_tables")).unwrap();
        let psql = |sql: &str| cluster.psql("typed_tables", sql).unwrap();
        let incident = json!({"properties": {
            "_type": {"const": "Incident"}, "id": {"type": "string"}, "n": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"}, "day": {"type": "string", "format": "date"},
            "tags": {"type": "array"}, "service": {"type": "object", "properties": {"_type": {}, "id": {}}},
            "Name": {"type": "string"}, "name": {"type": "string"}, "a\"; DROP TABLE records; --": {"type": "boolean"},
        }});
        let first = schemas(&[("Incident", incident), ("Team", team_schema(json!({"size": {"type": "integer"}})))]);
        sync(
            &target,
            Some(first),
            &[
                (
                    "Incident",
                    "P1",
                    r#"{"n":1,"at":"2026-01-02T03:04:05+02:00","day":"2026-01-02","tags":["x"],"service":{"_type":"Team","id":"T1"},"Name":"U","name":"l","a\"; DROP TABLE records; --":true}"#,
                ),
                ("Team", "T1", r#"{"name":"Core","size":3}"#),
                ("Incident", "P2", r#"{"n":"not a number","at":"2026-01-03T00:00:00Z","tags":{"k":"\u0000"}}"#),
            ],
        );
        let types = psql(
            "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM \
             information_schema.columns WHERE table_name = 'incident'",
        );
        assert_eq!(
            types,
            "connection text, id text, name text, a_drop_table_records boolean, at timestamp with time zone, \
             day date, n bigint, name_2 text, service jsonb, tags jsonb, service_id text"
        );
        let joined = psql(
            "SET TIME ZONE 'UTC'; SELECT i.id, i.at, i.day, i.tags->>0, i.name, i.name_2, i.a_drop_table_records, t.name FROM incident i \
             JOIN team t ON t.id = i.service_id",
        );
        assert_eq!(joined, "P1|2026-01-02 01:04:05+00|2026-01-02|x|U|l|t|Core");
        assert_eq!(
            psql(
                "SELECT coalesce(n::text, 'NULL') || ' ' || coalesce(tags::text, 'NULL') FROM incident WHERE id = 'P2'"
            ),
            "NULL NULL"
        );
        let note = psql("SELECT message FROM run_logs WHERE level = 'warn'");
        assert!(note.contains("incident.n 1") && note.contains("incident.tags 1"), "{note}");

        // A new property and a widening, altered in place; then an incompatible change, rebuilt.
        let widened = team_schema(json!({"size": {"type": "number"}, "since": {"type": "string", "format": "date"}}));
        sync(
            &target,
            Some(schemas(&[("Team", widened)])),
            &[("Team", "T2", r#"{"name":"b","size":2.5,"since":"2026-02-01"}"#)],
        );
        assert_eq!(
            psql(
                "SELECT string_agg(id || ' ' || size || ' ' || coalesce(since::text, '-'), ', ' ORDER BY id) FROM team"
            ),
            "T1 3 -, T2 2.5 2026-02-01"
        );
        let changed = team_schema(json!({"size": {"type": "string"}, "since": {"type": "string", "format": "date"}}));
        sync(&target, Some(schemas(&[("Team", changed)])), &[("Team", "T3", r#"{"name":"c","size":"large"}"#)]);
        assert_eq!(psql("SELECT string_agg(id || ' ' || size, ', ' ORDER BY id) FROM team"), "T1 3, T2 2.5, T3 large");
        assert_eq!(
            psql("SELECT data_type FROM information_schema.columns WHERE table_name = 'team' AND column_name = 'size'"),
            "text"
        );

        // Typed tables off: the table is behind, and the next typed run catches up.
        sync(&target, None, &[("Team", "T4", r#"{"name":"d"}"#)]);
        assert_eq!(psql("SELECT count(*) FROM team"), "3");
        let again = team_schema(json!({"size": {"type": "string"}, "since": {"type": "string", "format": "date"}}));
        sync(&target, Some(schemas(&[("Team", again)])), &[("Team", "T5", r#"{"name":"e"}"#)]);
        assert_eq!(psql("SELECT count(*) FROM team"), "5");
        let forgotten =
            PostgresDestination::open(&target, &Tuning::default(), None).unwrap().forget_connection("acme").unwrap();
        assert!(forgotten > 0);
        assert_eq!(psql("SELECT (SELECT count(*) FROM team) + (SELECT count(*) FROM incident)"), "0");
    }
}
