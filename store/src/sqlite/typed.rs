//! The SQLite side of typed tables ([`crate::typed`]): its dialect, the backend over the
//! commit's transaction, and a row's values bound to a prepared statement. Times are
//! text in UTC (`2026-01-02T03:04:05Z`, fractions kept) that SQLite's date functions
//! read; dates `YYYY-MM-DD`; booleans 0 and 1; JSON as its text.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::SecondsFormat;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Statement, ToSql};

use super::{explain, has_table};
use crate::batch::Batch;
use crate::typed::apply::{self, CatalogEntry, TypedTable};
use crate::typed::sql::{self, quote, Dialect};
use crate::typed::{Cell, Column, ColumnType, RecordSchemas, TableInfo};
use crate::DestinationError;

/// SQLite's SQL for typed tables.
pub(super) struct Sqlite;

impl Dialect for Sqlite {
    /// Types with the affinity that keeps each value as bound: TEXT never turns a
    /// `"1.0"` into a number.
    fn type_name(&self, ty: ColumnType) -> &'static str {
        match ty {
            ColumnType::Text | ColumnType::Timestamp | ColumnType::Date | ColumnType::Json => "TEXT",
            ColumnType::Integer => "INTEGER",
            ColumnType::Number => "REAL",
            ColumnType::Boolean => "BOOLEAN",
        }
    }

    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    fn qualified(&self, table: &str) -> String {
        quote(table)
    }

    /// SQLite cannot change a column's type: the table is rebuilt.
    fn alter_type(&self, _table: &str, _column: &Column) -> Option<String> {
        None
    }

    fn as_text(&self, column: &str) -> String {
        column.to_owned()
    }
}

impl ToSql for Cell<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Cell::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Cell::Integer(n) => ToSqlOutput::Owned(SqlValue::Integer(*n)),
            Cell::Number(x) => ToSqlOutput::Owned(SqlValue::Real(*x)),
            Cell::Boolean(b) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(*b))),
            // Already in UTC with a `T` (the usual case): kept as sent, no allocation.
            Cell::Timestamp(_, text) if is_utc_text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Cell::Timestamp(at, _) => {
                ToSqlOutput::Owned(SqlValue::Text(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
            }
            Cell::Date(_, text) | Cell::Json(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

/// An RFC 3339 text (checked already) in UTC written as SQLite reads it: `T`, `Z`.
fn is_utc_text(text: &str) -> bool {
    text.as_bytes().get(10) == Some(&b'T') && text.ends_with('Z')
}

/// Binds a row (its key first) to an upsert and runs it.
fn upsert_row(statement: &mut Statement<'_>, row: &[Cell<'_>]) -> rusqlite::Result<()> {
    for (index, cell) in row.iter().enumerate() {
        statement.raw_bind_parameter(index + 1, cell)?;
    }
    statement.raw_execute().map(drop)
}

/// Writes the typed rows of a batch's records, one prepared upsert per table.
pub(super) fn write_rows(
    conn: &Connection,
    typed: &mut apply::Typed,
    connection: &str,
    batch: &Batch,
) -> rusqlite::Result<()> {
    let mut statements: HashMap<&str, rusqlite::CachedStatement<'_>> = HashMap::new();
    let mut row = Vec::new();
    for record in batch.records() {
        let Some(table) = typed.table_mut(record.record_type) else { continue };
        let statement = match statements.get_mut(record.record_type) {
            Some(statement) => statement,
            None => statements.entry(record.record_type).or_insert(conn.prepare_cached(&table.upsert)?),
        };
        table.projector.project(connection, record.id, record.json, &mut row, &mut table.misfits);
        upsert_row(statement, &row)?;
    }
    Ok(())
}

/// The typed tables of the file at `path`, read only.
///
/// # Errors
/// The file cannot be opened or read.
pub(super) fn list(path: &Path) -> Result<Vec<TableInfo>, DestinationError> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| DestinationError::open("SQLite database", path, e))?;
    crate::typed::list(&mut Backend { conn: &conn, path })
}

/// Rebuilds typed tables of the file at `path` (see [`apply::Typed::rebuild`]) in one
/// write transaction.
///
/// # Errors
/// A type without a table or schema, or the file cannot be written.
pub(super) fn rebuild(
    path: &Path,
    schemas: Arc<dyn RecordSchemas>,
    types: &[String],
) -> Result<Vec<String>, DestinationError> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE;
    let mut conn =
        Connection::open_with_flags(path, flags).map_err(|e| DestinationError::open("SQLite database", path, e))?;
    let fail = |e: rusqlite::Error| DestinationError::write(path, e);
    conn.busy_timeout(super::BUSY_TIMEOUT).map_err(fail)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(fail)?;
    let mut typed = apply::Typed::default();
    typed.use_schemas(schemas);
    let rebuilt = typed.rebuild(&mut Backend { conn: &tx, path }, types)?;
    tx.commit().map_err(fail)?;
    Ok(rebuilt)
}

/// The backend over a connection in a transaction (or a read-only one, for listing).
pub(super) struct Backend<'c> {
    pub(super) conn: &'c Connection,
    pub(super) path: &'c Path,
}

impl Backend<'_> {
    fn fail(&self) -> impl Fn(rusqlite::Error) -> DestinationError + '_ {
        |err| DestinationError::write(self.path, explain(self.conn, &err))
    }
}

impl apply::Backend for Backend<'_> {
    fn dialect(&self) -> &dyn Dialect {
        &Sqlite
    }

    /// The commit's `BEGIN IMMEDIATE` holds the file's write lock already.
    fn lock_changes(&mut self) -> Result<(), DestinationError> {
        Ok(())
    }

    fn execute(&mut self, sql: &str) -> Result<(), DestinationError> {
        self.conn.execute_batch(sql).map_err(self.fail())
    }

    fn count(&mut self, sql: &str) -> Result<u64, DestinationError> {
        let n: i64 = self.conn.query_row(sql, [], |row| row.get(0)).map_err(self.fail())?;
        Ok(n.unsigned_abs())
    }

    fn has_catalog(&mut self) -> Result<bool, DestinationError> {
        has_table(self.conn, "typed_tables").map_err(self.fail())
    }

    fn catalog(&mut self) -> Result<Vec<CatalogEntry>, DestinationError> {
        let mut statement = self.conn.prepare_cached(&sql::read_catalog(&Sqlite)).map_err(self.fail())?;
        let rows = statement.query_map([], |row| {
            Ok(CatalogEntry {
                record_type: row.get(0)?,
                table: row.get(1)?,
                columns: row.get(2)?,
                origin: row.get(3)?,
                schema: row.get(4)?,
            })
        });
        rows.and_then(Iterator::collect).map_err(self.fail())
    }

    fn stored_columns(&mut self, record_type: &str) -> Result<Option<Option<String>>, DestinationError> {
        let mut statement = self.conn.prepare_cached(&sql::read_columns(&Sqlite)).map_err(self.fail())?;
        statement.query_row([record_type], |row| row.get(0)).optional().map_err(self.fail())
    }

    fn save(&mut self, e: &CatalogEntry) -> Result<(), DestinationError> {
        let mut statement = self.conn.prepare_cached(&sql::save_catalog(&Sqlite)).map_err(self.fail())?;
        let values = params![e.record_type, e.table, e.columns, e.schema, e.origin, apply::now()];
        statement.execute(values).map(drop).map_err(self.fail())
    }

    fn mark_behind(&mut self, record_type: &str) -> Result<(), DestinationError> {
        self.conn.execute(&sql::mark_behind(&Sqlite), [record_type]).map(drop).map_err(self.fail())
    }

    fn refill(&mut self, table: &mut TypedTable) -> Result<(), DestinationError> {
        refill(self.conn, table).map_err(self.fail())
    }
}

/// Every stored record of the table's type, projected into it.
fn refill(conn: &Connection, table: &mut TypedTable) -> rusqlite::Result<()> {
    let mut read = conn.prepare(&sql::stored_records(&Sqlite))?;
    let mut write = conn.prepare_cached(&table.upsert)?;
    let mut stored = read.query([&table.record_type])?;
    while let Some(record) = stored.next()? {
        // A row borrows its record, which the next step of the query reuses: one row
        // each (a refill is rare, the write path reuses one).
        let mut row = Vec::with_capacity(table.columns.len());
        let (connection, id, json) =
            (record.get_ref(0)?.as_str()?, record.get_ref(1)?.as_str()?, record.get_ref(2)?.as_str()?);
        table.projector.project(connection, id, json, &mut row, &mut table.misfits);
        upsert_row(&mut write, &row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::super::SqliteDestination;
    use crate::test_support::{schemas, team_schema, typed_run};
    use crate::typed::tests::Schemas;
    use crate::Tuning;

    fn sync(path: &std::path::Path, schemas: Option<Arc<Schemas>>, records: &[(&str, &str, &str)]) {
        typed_run(Box::new(SqliteDestination::open(path, &Tuning::default()).unwrap()), schemas, records);
    }

    fn rows(path: &std::path::Path, sql: &str) -> Vec<Vec<String>> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut statement = conn.prepare(sql).unwrap();
        let width = statement.column_count();
        let rows = statement.query_map([], |row| {
            (0..width)
                .map(|i| {
                    row.get::<_, rusqlite::types::Value>(i).map(|v| match v {
                        rusqlite::types::Value::Null => "NULL".to_owned(),
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Real(x) => format!("{x:?}"),
                        rusqlite::types::Value::Text(t) => t,
                        rusqlite::types::Value::Blob(_) => "blob".to_owned(),
                    })
                })
                .collect()
        });
        rows.unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn typed_rows_are_written_with_their_records_and_typed_from_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let incident = json!({"properties": {
            "_type": {"const": "Incident"}, "id": {"type": "string"}, "n": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"}, "ok": {"type": "boolean"},
            "service": {"type": "object", "properties": {"_type": {}, "id": {}}},
        }});
        let s = schemas(&[("Incident", incident), ("Team", team_schema(json!({})))]);
        sync(
            &path,
            Some(s),
            &[
                (
                    "Incident",
                    "P1",
                    r#"{"n":1,"at":"2026-01-02T03:04:05+02:00","ok":true,"service":{"_type":"Team","id":"T1"}}"#,
                ),
                ("Team", "T1", r#"{"name":"Core"}"#),
                (
                    "Incident",
                    "P1",
                    r#"{"n":2,"at":"2026-01-02T03:04:05Z","ok":false,"service":{"_type":"Team","id":"T1"}}"#,
                ),
            ],
        );
        let joined = rows(
            &path,
            "SELECT i.id, i.n, i.at, date(i.at), i.ok, t.name FROM incident i JOIN team t ON t.id = i.service_id",
        );
        assert_eq!(joined, [["P1", "2", "2026-01-02T03:04:05Z", "2026-01-02", "0", "Core"]]);
        assert_eq!(rows(&path, "SELECT count(*) FROM records"), [["2"]]);
        let catalog = rows(&path, "SELECT type, table_name, origin FROM typed_tables ORDER BY type");
        assert_eq!(catalog, [["Incident", "incident", "test"], ["Team", "team", "test"]]);
    }

    #[test]
    fn hostile_type_and_property_names_are_stored_under_predictable_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let long_type = format!("Very{}", "Long".repeat(50));
        let schema = json!({"properties": {
            "Name": {"type": "string"}, "name": {"type": "string"}, "connection": {"type": "string"},
            "id": {"type": "string"}, "a\"; DROP TABLE records; --": {"type": "integer"},
            "Ünïcode": {"type": "string"}, "x".repeat(200): {"type": "boolean"},
        }});
        let s = schemas(&[
            ("Records", schema.clone()),
            (long_type.as_str(), schema),
            ("Bad\"Type;", team_schema(json!({}))),
        ]);
        let json = format!(
            r#"{{"Name":"upper","name":"lower","connection":"theirs","id":"R1","a\"; DROP TABLE records; --":7,"Ünïcode":"ü","{}":true}}"#,
            "x".repeat(200)
        );
        sync(
            &path,
            Some(s),
            &[("Records", "R1", &json), (&long_type, "R1", &json), ("Bad\"Type;", "B1", r#"{"name":"b"}"#)],
        );
        let long_column = crate::typed::names::snake_case(&"x".repeat(200));
        let sql = format!(
            "SELECT connection, id, name, name_2, connection_2, a_drop_table_records, \"ünïcode\", \"{long_column}\" FROM records_2"
        );
        assert_eq!(rows(&path, &sql), [["acme", "R1", "upper", "lower", "theirs", "7", "ü", "1"]]);
        let tables = rows(&path, "SELECT type, table_name FROM typed_tables ORDER BY type");
        let long_table = crate::typed::names::snake_case(&long_type);
        assert!(long_table.len() == 63, "{long_table}");
        assert_eq!(
            tables,
            [
                vec!["Bad\"Type;".to_owned(), "bad_type".to_owned()],
                vec!["Records".to_owned(), "records_2".to_owned()],
                vec![long_type.clone(), long_table.clone()],
            ]
        );
        assert_eq!(rows(&path, &format!("SELECT id FROM \"{long_table}\"")), [["R1"]]);
        assert_eq!(rows(&path, "SELECT count(*) FROM records"), [["3"]], "the runner's own table is untouched");
    }

    #[test]
    fn schema_changes_keep_every_value_and_misfits_are_null_and_logged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        sync(
            &path,
            Some(schemas(&[("Team", team_schema(json!({"size": {"type": "integer"}})))])),
            &[("Team", "T1", r#"{"name":"a","size":3,"since":"2026-01-01"}"#)],
        );
        // A new property: a column added and filled from the stored JSON.
        let added = team_schema(json!({"size": {"type": "integer"}, "since": {"type": "string", "format": "date"}}));
        sync(
            &path,
            Some(schemas(&[("Team", added)])),
            &[("Team", "T2", r#"{"name":"b","size":4,"since":"2026-02-01"}"#)],
        );
        assert_eq!(
            rows(&path, "SELECT id, size, since FROM team ORDER BY id"),
            [["T1", "3", "2026-01-01"], ["T2", "4", "2026-02-01"]]
        );
        // A widening and a change: integer → number, date → boolean (a misfit for every row).
        let changed = team_schema(json!({"size": {"type": "number"}, "since": {"type": "boolean"}}));
        sync(&path, Some(schemas(&[("Team", changed)])), &[("Team", "T3", r#"{"name":"c","size":4.5,"since":true}"#)]);
        let got = rows(&path, "SELECT id, size, since FROM team ORDER BY id");
        assert_eq!(got, [["T1", "3.0", "NULL"], ["T2", "4.0", "NULL"], ["T3", "4.5", "1"]]);
        let logs = rows(&path, "SELECT message FROM run_logs WHERE level = 'warn'");
        assert!(logs.len() == 1 && logs[0][0].contains("team.since 2"), "{logs:?}");
        assert_eq!(
            rows(&path, "SELECT json FROM records WHERE id = 'T1'"),
            [[r#"{"name":"a","size":3,"since":"2026-01-01"}"#]]
        );
    }

    #[test]
    fn a_run_with_typed_tables_off_leaves_them_to_be_rebuilt_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let s = schemas(&[("Team", team_schema(json!({})))]);
        sync(&path, Some(Arc::clone(&s)), &[("Team", "T1", r#"{"name":"a"}"#)]);
        sync(&path, None, &[("Team", "T2", r#"{"name":"b"}"#)]);
        assert_eq!(rows(&path, "SELECT count(*) FROM team"), [["1"]]);
        assert_eq!(rows(&path, "SELECT columns IS NULL FROM typed_tables"), [["1"]], "marked behind");
        sync(&path, Some(s), &[("Team", "T3", r#"{"name":"c"}"#)]);
        assert_eq!(rows(&path, "SELECT id, name FROM team ORDER BY id"), [["T1", "a"], ["T2", "b"], ["T3", "c"]]);
        let off_only = dir.path().join("raw.db");
        sync(&off_only, None, &[("Team", "T1", "{}")]);
        assert_eq!(rows(&off_only, "SELECT count(*) FROM sqlite_master WHERE name = 'typed_tables'"), [["0"]]);
    }

    #[test]
    fn forgetting_a_connection_removes_its_typed_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        sync(&path, Some(schemas(&[("Team", team_schema(json!({})))])), &[("Team", "T1", r#"{"name":"a"}"#)]);
        assert_eq!(super::super::forget_connection(&path, "acme").unwrap(), 3, "records, state, run: as before");
        assert_eq!(rows(&path, "SELECT count(*) FROM team"), [["0"]]);
    }
}
