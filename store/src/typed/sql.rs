//! The SQL of typed tables, written once: each store gives only its [`Dialect`] (type
//! names, placeholders, where its tables live, whether a column's type can be altered).
//! Every identifier is quoted ([`quote`]); every value is bound, never written into SQL.

use super::layout::{Column, ColumnType, KEY_COLUMNS};

/// What differs between the SQL of two stores.
pub trait Dialect {
    /// The SQL type of a column of `ty`.
    fn type_name(&self, ty: ColumnType) -> &'static str;

    /// The `n`th (from 1) bound parameter: `?1`, `$1`.
    fn placeholder(&self, n: usize) -> String;

    /// `table` quoted, and qualified by the store's schema where it has one.
    fn qualified(&self, table: &str) -> String;

    /// The statement that turns `column` into its (wider) type in place, keeping its
    /// values; `None` when the store cannot, and rebuilds the table instead.
    fn alter_type(&self, table: &str, column: &Column) -> Option<String>;

    /// A `records.json` value read as text (PostgreSQL's column is `json`).
    fn as_text(&self, column: &str) -> String;
}

/// `name` as a quoted identifier: in double quotes, a double quote doubled (SQLite and
/// PostgreSQL alike).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The catalog of typed tables: which table each record type has, its columns (as JSON;
/// NULL when the table is known to be behind `records` and is rebuilt on next use), the
/// schema it came from, and where that schema came from.
pub fn create_catalog(d: &dyn Dialect) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (type text PRIMARY KEY, table_name text NOT NULL UNIQUE, columns text, \
         schema text NOT NULL, origin text NOT NULL, updated_at text NOT NULL)",
        d.qualified("typed_tables")
    )
}

/// Every catalog row: type, table name, columns (JSON or NULL), origin, schema.
pub fn read_catalog(d: &dyn Dialect) -> String {
    format!("SELECT type, table_name, columns, origin, schema FROM {} ORDER BY type", d.qualified("typed_tables"))
}

/// One catalog row's columns (JSON or NULL), by type (`$1`).
pub fn read_columns(d: &dyn Dialect) -> String {
    format!("SELECT columns FROM {} WHERE type = {}", d.qualified("typed_tables"), d.placeholder(1))
}

/// Stores a type's table: type, table name, columns, schema, origin, updated_at.
pub fn save_catalog(d: &dyn Dialect) -> String {
    let values: Vec<String> = (1..=6).map(|n| d.placeholder(n)).collect();
    format!(
        "INSERT INTO {} (type, table_name, columns, schema, origin, updated_at) VALUES ({}) \
         ON CONFLICT (type) DO UPDATE SET table_name = excluded.table_name, columns = excluded.columns, \
         schema = excluded.schema, origin = excluded.origin, updated_at = excluded.updated_at",
        d.qualified("typed_tables"),
        values.join(", ")
    )
}

/// Marks a type's table (`$1`) as behind `records`: a run with typed tables off wrote
/// records of its type.
pub fn mark_behind(d: &dyn Dialect) -> String {
    format!("UPDATE {} SET columns = NULL WHERE type = {}", d.qualified("typed_tables"), d.placeholder(1))
}

/// The table, with the key columns first.
pub fn create_table(d: &dyn Dialect, table: &str, columns: &[Column]) -> String {
    let key_type = d.type_name(ColumnType::Text);
    let mut definitions: Vec<String> =
        KEY_COLUMNS.iter().map(|key| format!("{} {key_type} NOT NULL", quote(key))).collect();
    definitions.extend(columns.iter().map(|c| format!("{} {}", quote(&c.name), d.type_name(c.ty))));
    definitions.push(format!("PRIMARY KEY ({})", key_list()));
    format!("CREATE TABLE {} ({})", d.qualified(table), definitions.join(", "))
}

/// Drops the table if it is there.
pub fn drop_table(d: &dyn Dialect, table: &str) -> String {
    format!("DROP TABLE IF EXISTS {}", d.qualified(table))
}

/// Adds a column.
pub fn add_column(d: &dyn Dialect, table: &str, column: &Column) -> String {
    format!("ALTER TABLE {} ADD COLUMN {} {}", d.qualified(table), quote(&column.name), d.type_name(column.ty))
}

/// `connection`, `id`, then the columns, in the order rows hold their values (a table's
/// own order may differ: added columns come last).
pub fn column_list(columns: &[Column]) -> String {
    let names = KEY_COLUMNS.iter().copied().chain(columns.iter().map(|c| c.name.as_str()));
    names.map(quote).collect::<Vec<_>>().join(", ")
}

/// Inserts or replaces one row: `connection`, `id`, then the columns, in order.
pub fn upsert(d: &dyn Dialect, table: &str, columns: &[Column]) -> String {
    let values: Vec<String> = (1..=KEY_COLUMNS.len() + columns.len()).map(|n| d.placeholder(n)).collect();
    let (names, conflict) = (column_list(columns), on_conflict(columns));
    format!("INSERT INTO {} ({names}) VALUES ({}) {conflict}", d.qualified(table), values.join(", "))
}

/// Inserts or replaces every row of `source`, a table with the same columns
/// (PostgreSQL's staging table).
pub fn upsert_from(d: &dyn Dialect, table: &str, source: &str, columns: &[Column]) -> String {
    let (names, conflict) = (column_list(columns), on_conflict(columns));
    format!("INSERT INTO {} ({names}) SELECT {names} FROM {source} {conflict}", d.qualified(table))
}

/// Deletes a connection's rows (`$1`).
pub fn delete_connection(d: &dyn Dialect, table: &str) -> String {
    format!("DELETE FROM {} WHERE connection = {}", d.qualified(table), d.placeholder(1))
}

/// Counts the table's rows.
pub fn count_rows(d: &dyn Dialect, table: &str) -> String {
    format!("SELECT count(*) FROM {}", d.qualified(table))
}

/// The stored records of a type (`$1`), to fill its table from: connection, id, JSON text.
pub fn stored_records(d: &dyn Dialect) -> String {
    let json = d.as_text("json");
    format!("SELECT connection, id, {json} FROM {} WHERE type = {}", d.qualified("records"), d.placeholder(1))
}

fn key_list() -> String {
    KEY_COLUMNS.map(quote).join(", ")
}

fn on_conflict(columns: &[Column]) -> String {
    if columns.is_empty() {
        return format!("ON CONFLICT ({}) DO NOTHING", key_list());
    }
    let updates: Vec<String> = columns.iter().map(|c| format!("{0} = excluded.{0}", quote(&c.name))).collect();
    format!("ON CONFLICT ({}) DO UPDATE SET {}", key_list(), updates.join(", "))
}
