//! `runner tables` and `runner tables rebuild`: the typed tables a database keeps beside
//! `records` ([`store::typed`]), their columns, types, rows and the schema each came
//! from; and a rebuild of them from the stored JSON with the schemas this runner has
//! (after an upgrade of the runner's shared schemas, or to start a table afresh).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;

use super::{print, Settings, Status};
use crate::console::Verbosity;
use crate::failure::CommandResult;
use crate::resolve::{self, InputError};
use engine::schemas::RunSchemas;
use store::history::HistoryError;
use store::typed::TableInfo;
use store::OutputSpec;

/// `runner tables`.
///
/// # Errors
/// A `--db` that is no database (bad input), or a database that cannot be read.
pub fn list(settings: &Settings, db: &str) -> CommandResult<Status> {
    let (spec, tables) = tables_of(db)?;
    let text = if settings.json {
        format!("{}\n", json!({ "database": spec.to_string(), "tables": tables }))
    } else if settings.verbosity() > Verbosity::Quiet {
        describe(&spec, &tables)
    } else {
        String::new()
    };
    print(&text).context("writing the tables")?;
    Ok(Status::Success)
}

/// `runner tables rebuild [TYPE...]`: every table when no type is named.
///
/// # Errors
/// A `--db` that is no database, a type without a typed table, or a database that
/// cannot be written.
pub fn rebuild(settings: &Settings, db: &str, types: &[String]) -> CommandResult<Status> {
    let (spec, tables) = tables_of(db)?;
    let stored: BTreeMap<String, _> =
        tables.into_iter().map(|t| (t.record_type.clone(), (t.schema, t.origin))).collect();
    // A type named that has no typed table is a typing error, said before anything runs.
    if let Some(unknown) = types.iter().find(|t| !stored.contains_key(t.as_str())) {
        let known: Vec<&str> = stored.keys().map(String::as_str).collect();
        return Err(InputError::Usage(format!(
            "record type `{}` has no typed table in {spec}; it has: {}\nhint: `runner tables` with the same --db lists them",
            crate::untrusted::escape(unknown),
            if known.is_empty() { "none yet".to_owned() } else { known.join(", ") }
        ))
        .into());
    }
    let schemas = RunSchemas::stored(&stored).context("reading the schemas the typed tables were made from")?;
    let rebuilt = spec.rebuild_typed_tables(Arc::new(schemas), types)?.unwrap_or_default();
    let text = if settings.json {
        format!("{}\n", json!({ "database": spec.to_string(), "rebuilt": rebuilt }))
    } else if settings.verbosity() > Verbosity::Quiet {
        format!("rebuilt {} typed table(s) from the stored records in {spec}: {}\n", rebuilt.len(), rebuilt.join(", "))
    } else {
        String::new()
    };
    print(&text).context("writing the tables")?;
    Ok(Status::Success)
}

/// The database `db` names and its typed tables.
fn tables_of(db: &str) -> CommandResult<(OutputSpec, Vec<TableInfo>)> {
    let spec = resolve::output(db)?;
    if let Some(path) = spec.local_path().filter(|path| spec.sql_dialect().is_some() && !path.exists()) {
        return Err(HistoryError::Missing { path: path.to_owned() }.into());
    }
    let tables = spec.typed_tables()?.ok_or_else(|| HistoryError::NotADatabase { output: spec.to_string() })?;
    Ok((spec, tables))
}

/// Each table, then its columns: name, what it holds, SQL type, the property.
fn describe(spec: &OutputSpec, tables: &[TableInfo]) -> String {
    if tables.is_empty() {
        return format!("no typed tables in {spec} yet: a sync creates one per record type with a schema\n");
    }
    let mut out = String::new();
    for table in tables {
        let behind =
            if table.behind { ", behind records: `runner tables rebuild` or the next sync fills it" } else { "" };
        out.push_str(&format!(
            "{} ({}, {} rows, schema: {}{behind})\n",
            table.table, table.record_type, table.rows, table.origin
        ));
        let mut rows = vec![["  column", "type", "sql type", "property"].map(String::from)];
        for column in &table.columns {
            let property = if column.property.is_empty() { "-".to_owned() } else { column.property.clone() };
            rows.push([format!("  {}", column.name), column.ty.clone(), column.sql_type.clone(), property]);
        }
        out.push_str(&crate::table::columns(&rows));
        out.push('\n');
    }
    out
}
