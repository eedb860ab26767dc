//! A SQLite file as an `--output`: what the runner asks of it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{SqliteDestination, SqliteHistory};
use crate::guard::{self, ConnectionGuard};
use crate::history::{History, HistoryError};
use crate::typed::{RecordSchemas, TableInfo};
use crate::{Destination, DestinationError, Output, OutputError, OutputSpec, SqlDialect, Tuning};

/// Reads a path ending in `.db`, `.sqlite` or `.sqlite3` (any case) as a SQLite file.
pub(crate) fn parse_output(text: &str) -> Option<Result<OutputSpec, OutputError>> {
    let path = Path::new(text);
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    matches!(ext.as_str(), "db" | "sqlite" | "sqlite3").then(|| Ok(OutputSpec::sqlite(path)))
}

/// A SQLite database file; created on the first run that writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOutput {
    path: PathBuf,
}

impl SqliteOutput {
    /// The file at `path`.
    pub fn new(path: PathBuf) -> Self {
        SqliteOutput { path }
    }
}

impl fmt::Display for SqliteOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

impl Output for SqliteOutput {
    fn kind(&self) -> &'static str {
        "SQLite database"
    }

    fn open(&self, tuning: &Tuning) -> Result<Box<dyn Destination>, DestinationError> {
        Ok(Box::new(SqliteDestination::open(&self.path, tuning)?))
    }

    /// A lock file per connection in `<file>.locks/` beside the database.
    fn lock(&self, connection: &str, busy: &mut dyn FnMut(&str) -> bool) -> Result<ConnectionGuard, DestinationError> {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        guard::lock_file(&self.path.with_file_name(format!("{name}.locks")), connection, busy)
    }

    fn has_history(&self) -> bool {
        true
    }

    fn history(&self) -> Result<History, HistoryError> {
        Ok(Box::new(SqliteHistory::open(&self.path)?))
    }

    fn forget_connection(&self, connection: &str) -> Result<Option<u64>, DestinationError> {
        super::forget_connection(&self.path, connection).map(Some)
    }

    fn records_by_type(&self, connection: &str) -> Result<Option<Vec<(String, u64)>>, DestinationError> {
        super::records_by_type(&self.path, connection).map(Some)
    }

    fn typed_tables(&self) -> Result<Option<Vec<TableInfo>>, DestinationError> {
        super::typed::list(&self.path).map(Some)
    }

    fn rebuild_typed_tables(
        &self,
        schemas: Arc<dyn RecordSchemas>,
        types: &[String],
    ) -> Result<Option<Vec<String>>, DestinationError> {
        super::typed::rebuild(&self.path, schemas, types).map(Some)
    }

    fn relative_to(&self, base: &Path) -> Option<OutputSpec> {
        Some(OutputSpec::sqlite(base.join(&self.path)))
    }

    fn local_path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn sql_dialect(&self) -> Option<SqlDialect> {
        Some(SqlDialect::Sqlite)
    }

    fn query_command(&self) -> Option<String> {
        Some(format!("sqlite3 {self}"))
    }
}
