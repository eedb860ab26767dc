//! Keeping a store's typed tables in step with `records`, in the transaction that writes
//! them: which table each record type has, whether its columns still match its schema,
//! and the change that makes them match ([`super::change`]). A store gives a [`Backend`]
//! over its open transaction; everything decided here is the same for every store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};

use super::change::{self, Change};
use super::layout::{self, Column};
use super::names;
use super::row::Projector;
use super::sql::{self, Dialect};
use super::RecordSchemas;
use crate::DestinationError;

/// A row of the catalog (`typed_tables`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The record type.
    pub record_type: String,
    /// Its table.
    pub table: String,
    /// Its columns as JSON; `None` when the table is behind `records` (rebuilt on next use).
    pub columns: Option<String>,
    /// Where the schema came from.
    pub origin: String,
    /// The schema, as JSON.
    pub schema: String,
}

/// What a store does for typed tables inside its open transaction; the SQL comes from
/// [`super::sql`] with the backend's [`Dialect`], the values are bound by the backend.
pub trait Backend {
    /// The store's SQL dialect.
    fn dialect(&self) -> &dyn Dialect;

    /// Takes the store's lock on typed tables' changes until the transaction ends, where
    /// two sessions could change one table at once (PostgreSQL; a SQLite write
    /// transaction excludes the others already).
    ///
    /// # Errors
    /// The store refused it.
    fn lock_changes(&mut self) -> Result<(), DestinationError>;

    /// Runs a statement without parameters.
    ///
    /// # Errors
    /// The store refused it.
    fn execute(&mut self, sql: &str) -> Result<(), DestinationError>;

    /// The statement's single count.
    ///
    /// # Errors
    /// The store refused it.
    fn count(&mut self, sql: &str) -> Result<u64, DestinationError>;

    /// Whether the catalog table exists.
    ///
    /// # Errors
    /// The store cannot be read.
    fn has_catalog(&mut self) -> Result<bool, DestinationError>;

    /// Every catalog row.
    ///
    /// # Errors
    /// The store cannot be read.
    fn catalog(&mut self) -> Result<Vec<CatalogEntry>, DestinationError>;

    /// The catalog's columns of `record_type`: `None` without a row, `Some(None)` for a
    /// table behind `records`.
    ///
    /// # Errors
    /// The store cannot be read.
    fn stored_columns(&mut self, record_type: &str) -> Result<Option<Option<String>>, DestinationError>;

    /// Writes a catalog row.
    ///
    /// # Errors
    /// The store refused it.
    fn save(&mut self, entry: &CatalogEntry) -> Result<(), DestinationError>;

    /// Marks `record_type`'s table as behind `records`.
    ///
    /// # Errors
    /// The store refused it.
    fn mark_behind(&mut self, record_type: &str) -> Result<(), DestinationError>;

    /// Writes a row into `table` for every stored record of its type (from `records`),
    /// replacing the rows there are.
    ///
    /// # Errors
    /// The store refused it.
    fn refill(&mut self, table: &mut TypedTable) -> Result<(), DestinationError>;
}

/// A typed table as a run writes it: its columns, how records become rows, the upsert.
#[derive(Debug)]
pub struct TypedTable {
    /// The record type.
    pub record_type: String,
    /// The table's name (unquoted).
    pub table: String,
    /// Its columns (the key columns aside).
    pub columns: Vec<Column>,
    /// Its columns as the catalog stores them.
    columns_json: String,
    /// Records → rows.
    pub projector: Projector,
    /// The statement that writes one row (SQLite) or the staging table's rows (PostgreSQL
    /// builds its own from [`TypedTable::columns`]).
    pub upsert: String,
    /// Values that did not fit, per column, during this run.
    pub misfits: Vec<u64>,
    /// Whether this commit filled the table from `records` already, the commit's own
    /// records included (they are in `records` before the typed rows are written).
    filled: bool,
}

/// A store's typed tables during a run: what each record type's table is, checked at
/// every commit against the catalog (another run may have changed it).
#[derive(Default)]
pub struct Typed {
    schemas: Option<Arc<dyn RecordSchemas>>,
    /// By record type; `None` for a type without a schema.
    tables: HashMap<String, Option<TypedTable>>,
    /// With typed tables off: the types already marked behind in this run.
    marked: HashSet<String>,
    has_catalog: bool,
    /// Whether this run made sure the catalog exists.
    catalog_created: bool,
}

impl Typed {
    /// Typed tables for the record types `schemas` describes; without (never called, or
    /// typed tables off), records only mark their type's table as behind.
    pub fn use_schemas(&mut self, schemas: Arc<dyn RecordSchemas>) {
        self.schemas = Some(schemas);
        self.tables.clear();
    }

    /// The table of `record_type`, waiting for this commit's rows, if it has one (not
    /// when the commit filled it from `records` already).
    pub fn table_mut(&mut self, record_type: &str) -> Option<&mut TypedTable> {
        self.tables.get_mut(record_type).and_then(Option::as_mut).filter(|table| !table.filled)
    }

    /// Makes the tables of `types` (this commit's record types, repeats allowed) match
    /// their schemas. Called inside the commit's transaction, after `records` is written.
    ///
    /// # Errors
    /// The store refused a statement; the transaction must be rolled back.
    pub fn prepare<'t>(
        &mut self,
        backend: &mut dyn Backend,
        types: impl Iterator<Item = &'t str>,
    ) -> Result<(), DestinationError> {
        self.tables.values_mut().flatten().for_each(|table| table.filled = false);
        let mut seen: Vec<&str> = Vec::new();
        for record_type in types {
            // Records of one type usually come together: comparing with the last is enough.
            if seen.last() == Some(&record_type) || seen.contains(&record_type) {
                continue;
            }
            seen.push(record_type);
            match self.schemas.clone() {
                Some(schemas) => {
                    self.create_catalog(backend)?;
                    self.ensure(backend, &*schemas, record_type, false)?;
                }
                None => self.mark_behind(backend, record_type)?,
            }
        }
        Ok(())
    }

    /// Rebuilds the tables of `types` (every type in the catalog when empty) from the
    /// stored JSON, with the schemas given; returns the tables rebuilt.
    ///
    /// # Errors
    /// A type has no table or no schema, or the store refused a statement.
    pub fn rebuild(&mut self, backend: &mut dyn Backend, types: &[String]) -> Result<Vec<String>, DestinationError> {
        let schemas = self.schemas.clone().ok_or(DestinationError::Misuse("rebuild without schemas"))?;
        if !backend.has_catalog()? {
            return Ok(Vec::new());
        }
        let mut catalog: Vec<String> = backend.catalog()?.into_iter().map(|entry| entry.record_type).collect();
        if !types.is_empty() {
            if let Some(unknown) = types.iter().find(|t| !catalog.contains(t)) {
                return Err(DestinationError::NoTypedTable { record_type: unknown.clone() });
            }
            catalog = types.to_vec();
        }
        for record_type in &catalog {
            if schemas.schema(record_type).is_none() {
                return Err(DestinationError::NoTypedTable { record_type: record_type.clone() });
            }
            self.ensure(backend, &*schemas, record_type, true)?;
        }
        Ok(catalog)
    }

    /// Takes this run's count of values that did not fit their column, as a log line.
    pub fn take_misfit_report(&mut self) -> Option<String> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for table in self.tables.values_mut().flatten() {
            for (column, misfits) in table.columns.iter().zip(&mut table.misfits) {
                if *misfits > 0 {
                    counts.insert(format!("{}.{}", table.table, column.name), std::mem::take(misfits));
                }
            }
        }
        let total: u64 = counts.values().sum();
        (total > 0).then(|| {
            let each: Vec<String> = counts.iter().map(|(column, n)| format!("{column} {n}")).collect();
            format!(
                "typed tables: {total} value(s) did not fit their column and are NULL there (the records keep them): {}",
                each.join(", ")
            )
        })
    }

    /// Once a run: a failed commit ends the run's writes, so a catalog created in a
    /// transaction that rolled back is never counted on.
    fn create_catalog(&mut self, backend: &mut dyn Backend) -> Result<(), DestinationError> {
        if !self.catalog_created {
            backend.lock_changes()?;
            backend.execute(&sql::create_catalog(backend.dialect()))?;
            self.catalog_created = true;
        }
        Ok(())
    }

    fn mark_behind(&mut self, backend: &mut dyn Backend, record_type: &str) -> Result<(), DestinationError> {
        if self.marked.is_empty() {
            self.has_catalog = backend.has_catalog()?;
        }
        if self.marked.insert(record_type.to_owned()) && self.has_catalog {
            backend.mark_behind(record_type)?;
        }
        Ok(())
    }

    /// Brings `record_type`'s table in step with its schema (or rebuilds it, `force`).
    fn ensure(
        &mut self,
        backend: &mut dyn Backend,
        schemas: &dyn RecordSchemas,
        record_type: &str,
        force: bool,
    ) -> Result<(), DestinationError> {
        let wanted = match self.tables.get(record_type) {
            Some(None) => return Ok(()),
            Some(Some(table)) => table.columns_json.clone(),
            None => {
                let Some(schema) = schemas.schema(record_type) else {
                    self.tables.insert(record_type.to_owned(), None);
                    return Ok(());
                };
                let columns = layout::columns(schema, schemas);
                serde_json::to_string(&columns).unwrap_or_default()
            }
        };
        let stored = backend.stored_columns(record_type)?;
        let ready = self.tables.get(record_type).is_some_and(Option::is_some);
        if ready && !force && stored.as_ref().and_then(Option::as_deref) == Some(wanted.as_str()) {
            return Ok(());
        }
        // Another session may be changing the same table: wait for it, then read again.
        backend.lock_changes()?;
        let stored = backend.stored_columns(record_type)?;
        let context = |doing: &'static str, table: &str| {
            let (record_type, table) = (record_type.to_owned(), table.to_owned());
            move |source| DestinationError::TypedTable { record_type, table, doing, source: Box::new(source) }
        };
        let table_name = table_of(backend, record_type, stored.is_some())?;
        let mut table = self.table(schemas, record_type, &table_name, backend.dialect());
        let old: Option<Vec<Column>> = stored.flatten().and_then(|text| serde_json::from_str(&text).ok());
        let planned = if force { Change::Rebuild } else { change::plan(old.as_deref(), &table.columns) };
        table.filled = apply(backend, &mut table, planned).map_err(context("change", &table_name))?;
        let entry = CatalogEntry {
            record_type: record_type.to_owned(),
            table: table_name.clone(),
            columns: Some(table.columns_json.clone()),
            origin: schemas.origin(record_type),
            schema: schemas.schema(record_type).map(ToString::to_string).unwrap_or_default(),
        };
        backend.save(&entry).map_err(context("record", &table_name))?;
        self.tables.insert(record_type.to_owned(), Some(table));
        Ok(())
    }

    /// The run's view of a type's table, keeping this run's misfit counts.
    fn table(&mut self, schemas: &dyn RecordSchemas, record_type: &str, name: &str, d: &dyn Dialect) -> TypedTable {
        let schema = schemas.schema(record_type).cloned().unwrap_or_default();
        let columns = layout::columns(&schema, schemas);
        let misfits = match self.tables.remove(record_type).flatten() {
            Some(previous) if previous.columns == columns => previous.misfits,
            _ => vec![0; columns.len()],
        };
        TypedTable {
            record_type: record_type.to_owned(),
            table: name.to_owned(),
            columns_json: serde_json::to_string(&columns).unwrap_or_default(),
            projector: Projector::new(&columns),
            upsert: sql::upsert(d, name, &columns),
            misfits,
            columns,
            filled: false,
        }
    }
}

/// The table a type has in the catalog, or a new name no other table has.
fn table_of(backend: &mut dyn Backend, record_type: &str, in_catalog: bool) -> Result<String, DestinationError> {
    let catalog = backend.catalog()?;
    if in_catalog {
        if let Some(entry) = catalog.iter().find(|e| e.record_type == record_type) {
            return Ok(entry.table.clone());
        }
    }
    let mut taken: HashSet<String> = catalog.into_iter().map(|entry| entry.table).collect();
    Ok(names::table_name(record_type, &mut taken))
}

/// Applies a change: the DDL, then the rows from the stored JSON where the change needs
/// them; whether it filled the table. A widening the store cannot do in place rebuilds
/// instead.
fn apply(backend: &mut dyn Backend, table: &mut TypedTable, planned: Change) -> Result<bool, DestinationError> {
    let d = backend.dialect();
    let statements: Vec<String> = match &planned {
        Change::Unchanged => return Ok(false),
        Change::Create | Change::Rebuild => rebuild_statements(d, table),
        Change::Alter { added, widened } => {
            let altered: Option<Vec<String>> = widened.iter().map(|c| d.alter_type(&table.table, c)).collect();
            match altered {
                Some(altered) => added.iter().map(|c| sql::add_column(d, &table.table, c)).chain(altered).collect(),
                None => rebuild_statements(d, table),
            }
        }
    };
    for statement in &statements {
        backend.execute(statement)?;
    }
    backend.refill(table).map(|()| true)
}

fn rebuild_statements(d: &dyn Dialect, table: &TypedTable) -> Vec<String> {
    vec![sql::drop_table(d, &table.table), sql::create_table(d, &table.table, &table.columns)]
}

/// The time a catalog row was written, as text.
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
