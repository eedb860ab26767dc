//! What `--output` names: a store, as a component. Each kind of destination is a module
//! that implements [`Output`] and one line in [`KINDS`]; everything else (the engine, the
//! commands, the alerts, the demo) asks the [`OutputSpec`] it was given what it can do
//! (`has_history`, `lock`, `shared_database`...) instead of knowing the kinds.
//!
//! Adding a destination:
//! 1. a module with its [`Destination`] (the write side) and a type implementing
//!    [`Output`]: at least `kind`, `Display` (the place, as people see it, never a
//!    password), `open` and `lock`; the other questions have answers that suit a store
//!    without them (no history, nothing to forget, not shared);
//! 2. its parser in [`KINDS`], before the catch-all directory of JSON lines.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::guard::ConnectionGuard;
use crate::history::{History, HistoryError};
use crate::postgres::{Fence, Target};
use crate::typed::{RecordSchemas, TableInfo};
use crate::{jsonl, postgres, sqlite, stdout, Destination, DestinationError, Tuning};

/// One kind of store's reading of an `--output` text: `None` when the text names another
/// kind, else the store or why the text cannot be used.
pub type ParseOutput = fn(&str) -> Option<Result<OutputSpec, OutputError>>;

/// Every kind of store, tried in this order: the first that recognises the text takes it.
/// The directory of JSON lines takes anything, so it comes last.
pub const KINDS: [ParseOutput; 4] =
    [stdout::parse_output, postgres::parse_output, sqlite::parse_output, jsonl::parse_output];

/// An `--output` that names a store of a known kind but cannot be used (a malformed
/// PostgreSQL URL); the reason never quotes a password.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct OutputError(Box<dyn std::error::Error + Send + Sync>);

impl OutputError {
    /// Wraps a kind's own parse error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        OutputError(source.into())
    }
}

/// The SQL a database store speaks, for the few readers that bring their own queries
/// (the demo's examples, the report's incident figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    /// SQLite 3 (JSON through `json_extract`).
    Sqlite,
    /// PostgreSQL (JSON through `->>` and `#>>`).
    Postgres,
}

/// A store `--output` can name: what it is, how a run writes to it, and what it can do.
/// One value per `--output`, shared by every run of a command (`Send + Sync`).
pub trait Output: fmt::Debug + fmt::Display + Send + Sync {
    /// The kind, for messages: "SQLite database", "PostgreSQL database", ...
    fn kind(&self) -> &'static str;

    /// Opens the destination of one run. [`crate::open_tuned`] calls it and adds what every
    /// kind shares (a `--state FILE`).
    ///
    /// # Errors
    /// The store cannot be opened or created.
    fn open(&self, tuning: &Tuning) -> Result<Box<dyn Destination>, DestinationError>;

    /// Opens a worker's run, every commit fenced by its lease. Only a shared database can.
    ///
    /// # Errors
    /// [`DestinationError::Misuse`] for a store that cannot fence; as [`Output::open`].
    fn open_fenced(&self, _fence: Fence) -> Result<Box<dyn Destination>, DestinationError> {
        Err(DestinationError::Misuse("a lease fences only a PostgreSQL destination"))
    }

    /// Checks a shared store before any connector starts (reachable, schema ready); local
    /// files and directories are created on first use instead.
    ///
    /// # Errors
    /// As [`Output::open`].
    fn prepare(&self) -> Result<(), DestinationError> {
        Ok(())
    }

    /// Takes the guard that keeps two syncs of `connection` from interleaving in this
    /// store. While another process holds it, `busy(holder)` decides: `true` to try again,
    /// `false` to give up.
    ///
    /// # Errors
    /// [`DestinationError::Busy`] when `busy` gave up, or the lock cannot be taken.
    fn lock(&self, connection: &str, busy: &mut dyn FnMut(&str) -> bool) -> Result<ConnectionGuard, DestinationError>;

    /// Whether it keeps a history of runs that [`Output::history`] reads.
    fn has_history(&self) -> bool {
        false
    }

    /// Opens the read side.
    ///
    /// # Errors
    /// [`HistoryError::NotADatabase`] for a store without history; a missing file, no
    /// runner tables, or a store that cannot be opened.
    fn history(&self) -> Result<History, HistoryError> {
        Err(HistoryError::NotADatabase { output: self.to_string() })
    }

    /// Calls `visit` with the JSON text of every record stored or rejected here; returns
    /// where it read.
    ///
    /// # Errors
    /// The store keeps no records (stdout), or cannot be read.
    fn each_stored_record(&self, visit: &mut dyn FnMut(&str)) -> Result<String, HistoryError> {
        let mut history = self.history()?;
        history.stored_records(visit)?;
        Ok(history.describe().to_owned())
    }

    /// Removes everything stored under `connection`; the rows removed, or `None` for a
    /// store that holds nothing to remove this way.
    ///
    /// # Errors
    /// The store cannot be opened or written.
    fn forget_connection(&self, _connection: &str) -> Result<Option<u64>, DestinationError> {
        Ok(None)
    }

    /// The records stored under `connection`, by `_type` (`None`: not countable here).
    ///
    /// # Errors
    /// The store cannot be opened or read.
    fn records_by_type(&self, _connection: &str) -> Result<Option<Vec<(String, u64)>>, DestinationError> {
        Ok(None)
    }

    /// The typed tables it keeps ([`crate::typed`]); `None` for a store without them.
    ///
    /// # Errors
    /// The store cannot be opened or read.
    fn typed_tables(&self) -> Result<Option<Vec<TableInfo>>, DestinationError> {
        Ok(None)
    }

    /// Rebuilds the typed tables of `types` (all when empty) from the stored JSON with
    /// `schemas`, in one transaction; the types rebuilt, or `None` for a store without
    /// typed tables.
    ///
    /// # Errors
    /// A type without a typed table or a schema, or the store cannot be written.
    fn rebuild_typed_tables(
        &self,
        _schemas: Arc<dyn RecordSchemas>,
        _types: &[String],
    ) -> Result<Option<Vec<String>>, DestinationError> {
        Ok(None)
    }

    /// The same store with a relative location resolved against `base` (an `output` in a
    /// connections file is relative to the file); `None` when nothing is relative.
    fn relative_to(&self, _base: &Path) -> Option<OutputSpec> {
        None
    }

    /// The file or directory it lives in on this machine, if it is local.
    fn local_path(&self) -> Option<&Path> {
        None
    }

    /// Whether records go to the runner's own stdout (so nothing else may).
    fn is_stdout(&self) -> bool {
        false
    }

    /// The shared PostgreSQL database, for the fleet's commands and workers.
    fn shared_database(&self) -> Option<&Target> {
        None
    }

    /// The SQL it speaks, if SQL can be run on it.
    fn sql_dialect(&self) -> Option<SqlDialect> {
        None
    }

    /// The shell command a person runs to query it (`sqlite3 runner.db`, `psql '...'`).
    fn query_command(&self) -> Option<String> {
        None
    }
}

/// A parsed `--output`: one [`Output`] behind a cheap, cloneable handle. Two specs are
/// equal when they are the same kind of store at the same place.
#[derive(Clone)]
pub struct OutputSpec(Arc<dyn Output>);

impl OutputSpec {
    /// Classifies an `--output` value: the first of [`KINDS`] that recognises it.
    ///
    /// # Errors
    /// A store of a known kind that cannot be used (the reason never quotes a password).
    pub fn parse(output: &str) -> Result<OutputSpec, OutputError> {
        KINDS
            .iter()
            .find_map(|parse| parse(output))
            .unwrap_or_else(|| Err(OutputError::new(format!("`{output}` names no kind of store"))))
    }

    /// Wraps one kind's store.
    pub fn new(output: impl Output + 'static) -> Self {
        OutputSpec(Arc::new(output))
    }

    /// A SQLite database file.
    pub fn sqlite(path: impl Into<std::path::PathBuf>) -> Self {
        OutputSpec::new(sqlite::SqliteOutput::new(path.into()))
    }

    /// A directory of `<Type>.jsonl` files.
    pub fn json_lines(dir: impl Into<std::path::PathBuf>) -> Self {
        OutputSpec::new(jsonl::JsonLinesOutput::new(dir.into()))
    }

    /// A PostgreSQL database.
    pub fn postgres(target: Target) -> Self {
        OutputSpec::new(postgres::PostgresOutput::new(target))
    }

    /// Records as JSON lines on stdout.
    pub fn stdout() -> Self {
        OutputSpec::new(stdout::StdoutOutput)
    }
}

impl std::ops::Deref for OutputSpec {
    type Target = dyn Output;

    fn deref(&self) -> &(dyn Output + 'static) {
        &*self.0
    }
}

impl fmt::Display for OutputSpec {
    /// As people see it: a path, `-`, or a URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for OutputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq for OutputSpec {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.to_string() == other.to_string()
    }
}

impl Eq for OutputSpec {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_recognised_in_order_and_a_directory_takes_the_rest() {
        let kind = |text: &str| OutputSpec::parse(text).unwrap().kind();
        assert_eq!(kind("-"), "stdout");
        assert_eq!(kind("postgres://u@h/db"), "PostgreSQL database");
        assert_eq!(kind("postgresql://u@h/db"), "PostgreSQL database");
        assert_eq!(kind("runner.db"), "SQLite database");
        assert_eq!(kind("data/x.SQLite3"), "SQLite database");
        assert_eq!(kind("out"), "directory of JSON lines");
        assert_eq!(kind("out.json"), "directory of JSON lines");
    }

    #[test]
    fn a_malformed_url_is_an_error_of_its_kind_not_a_directory() {
        let error = OutputSpec::parse("postgres://u:pw@h:notaport/db").unwrap_err().to_string();
        assert!(!error.contains("pw"), "{error}");
    }

    #[test]
    fn specs_are_equal_by_kind_and_place_and_never_show_a_password() {
        assert_eq!(OutputSpec::parse("mine.db").unwrap(), OutputSpec::sqlite("mine.db"));
        assert_ne!(OutputSpec::sqlite("mine"), OutputSpec::json_lines("mine"));
        let url = OutputSpec::parse("postgres://ann:s3cret@db.example/sales").unwrap();
        assert!(!url.to_string().contains("s3cret") && !format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn capabilities_are_asked_of_the_store() {
        let sqlite = OutputSpec::sqlite("runner.db");
        assert!(sqlite.has_history() && sqlite.local_path().is_some() && !sqlite.is_stdout());
        assert_eq!(sqlite.sql_dialect(), Some(SqlDialect::Sqlite));
        let dir = OutputSpec::json_lines("out");
        assert!(!dir.has_history() && dir.sql_dialect().is_none());
        assert!(OutputSpec::stdout().is_stdout());
        let postgres = OutputSpec::parse("postgres://u@h/db").unwrap();
        assert!(postgres.shared_database().is_some() && postgres.has_history() && postgres.local_path().is_none());
        assert!(
            OutputSpec::sqlite("a.db").relative_to(Path::new("/conf")).unwrap() == OutputSpec::sqlite("/conf/a.db")
        );
        assert!(postgres.relative_to(Path::new("/conf")).is_none());
    }
}
