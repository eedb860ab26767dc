//! Typed tables: for every record type with a schema, the SQLite and PostgreSQL stores
//! keep a table named after the type (`incident`, `incident_log_entry`), one row per
//! (`connection`, `id`), one column per top-level property of the schema, typed from it,
//! so that the data can be queried without JSON functions. The raw `records` table stays
//! as it is and is the truth: a typed table is a projection of it, written in the same
//! transaction, and can always be rebuilt from it.
//!
//! Written once for both stores, each giving only its [`sql::Dialect`] and a
//! [`apply::Backend`] over its open transaction:
//! - [`names`]: table and column names (snake_case, 63 bytes, no clash);
//! - [`layout`]: a schema → columns and their [`ColumnType`]s;
//! - [`row`]: a record's JSON text → a row's [`Cell`]s, in one pass;
//! - [`change`]: the change from the columns a table has to those its schema gives;
//! - [`sql`]: every statement, identifiers quoted, values bound;
//! - [`apply`]: the catalog (`typed_tables`) and the changes, inside a commit.
//!
//! The engine hands a run's schemas to the destination through
//! [`crate::Destination::use_schemas`] and a [`RecordSchemas`] it implements over its
//! schema registry: the store depends on no other crate of the workspace.

pub mod apply;
pub mod change;
pub mod layout;
pub mod names;
pub mod row;
pub mod sql;

use serde_json::Value;

pub use layout::{Column, ColumnType};
pub use row::Cell;

/// The environment variable that turns typed tables off (`off`, `0` or `false`): a pure
/// raw load into `records`. Tables of the types then written are marked behind and are
/// rebuilt from `records` by the next run with typed tables on.
pub const SWITCH: &str = "RUNNER_TYPED_TABLES";

/// Whether typed tables are on ([`SWITCH`] is not `off`, `0` or `false`).
pub fn enabled() -> bool {
    switched_on(std::env::var(SWITCH).ok().as_deref())
}

/// Whether a value of [`SWITCH`] leaves typed tables on (unset: on).
fn switched_on(value: Option<&str>) -> bool {
    !value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "off" | "0" | "false" | "no"))
}

/// The JSON Schemas of the record types a run may write, as the engine knows them.
pub trait RecordSchemas: Send + Sync {
    /// The JSON Schema of `record_type`, if it has one.
    fn schema(&self, record_type: &str) -> Option<&Value>;

    /// Whether `uri` is the `$id` of a record type's schema: a `$ref` to it is a link.
    fn is_record_schema(&self, uri: &str) -> bool;

    /// Where `record_type`'s schema comes from, for people (`shared`, `declared`).
    fn origin(&self, record_type: &str) -> String;
}

/// A typed table as `runner tables` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableInfo {
    /// The record type.
    pub record_type: String,
    /// The table.
    pub table: String,
    /// Its columns: name, what they hold, the store's SQL type (the key columns first).
    pub columns: Vec<ColumnInfo>,
    /// Its rows.
    pub rows: u64,
    /// Where its schema came from.
    pub origin: String,
    /// Whether it is behind `records` (a run with typed tables off wrote its type).
    pub behind: bool,
    /// The schema it was made from (what `runner tables rebuild` uses for a declared type).
    #[serde(skip)]
    pub schema: Value,
}

/// A column as `runner tables` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnInfo {
    /// Its name.
    pub name: String,
    /// What it holds (`text`, `timestamp`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// The store's SQL type.
    pub sql_type: String,
    /// The property it comes from (empty for the key columns).
    pub property: String,
}

/// Every typed table of a store, with its row count.
///
/// # Errors
/// The store cannot be read.
pub fn list(backend: &mut dyn apply::Backend) -> Result<Vec<TableInfo>, crate::DestinationError> {
    if !backend.has_catalog()? {
        return Ok(Vec::new());
    }
    let mut tables = Vec::new();
    for entry in backend.catalog()? {
        let rows = backend.count(&sql::count_rows(backend.dialect(), &entry.table))?;
        let columns: Vec<Column> =
            entry.columns.as_deref().and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default();
        let d = backend.dialect();
        let keys = layout::KEY_COLUMNS.iter().map(|key| ColumnInfo {
            name: (*key).to_owned(),
            ty: "text".to_owned(),
            sql_type: d.type_name(ColumnType::Text).to_owned(),
            property: String::new(),
        });
        let rest = columns.iter().map(|c| ColumnInfo {
            name: c.name.clone(),
            ty: if c.link_id { "link id".to_owned() } else { c.ty.as_str().to_owned() },
            sql_type: d.type_name(c.ty).to_owned(),
            property: c.property.clone(),
        });
        tables.push(TableInfo {
            columns: keys.chain(rest).collect(),
            record_type: entry.record_type,
            table: entry.table,
            rows,
            origin: entry.origin,
            behind: entry.columns.is_none(),
            schema: serde_json::from_str(&entry.schema).unwrap_or(Value::Null),
        });
    }
    Ok(tables)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Schemas by type, for tests; a `$ref` ending in `/records/<Type>.json` is a record.
    #[derive(Default)]
    pub(crate) struct Schemas(pub BTreeMap<String, Value>);

    impl RecordSchemas for Schemas {
        fn schema(&self, record_type: &str) -> Option<&Value> {
            self.0.get(record_type)
        }

        fn is_record_schema(&self, uri: &str) -> bool {
            uri.rsplit_once("/records/").is_some_and(|(_, file)| file.ends_with(".json"))
        }

        fn origin(&self, _record_type: &str) -> String {
            "test".to_owned()
        }
    }

    #[test]
    fn the_switch_reads_off_in_any_case_and_is_on_otherwise() {
        for off in ["off", "OFF", " 0", "false", "no"] {
            assert!(!switched_on(Some(off)), "{off}");
        }
        for on in [None, Some("on"), Some(""), Some("1")] {
            assert!(switched_on(on), "{on:?}");
        }
    }
}
