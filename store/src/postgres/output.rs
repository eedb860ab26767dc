//! A PostgreSQL database as an `--output`: what the runner asks of it. The one shared
//! store: workers fence their runs in it, and it is checked before any connector starts.

use std::fmt;
use std::sync::Arc;

use super::{is_url, Fence, PostgresDestination, PostgresHistory, Target};
use crate::guard::{self, ConnectionGuard};
use crate::history::{History, HistoryError};
use crate::typed::{RecordSchemas, TableInfo};
use crate::{Destination, DestinationError, Output, OutputError, OutputSpec, SqlDialect, Tuning};

/// Reads a `postgres://` or `postgresql://` URL (completed from the `PG*` variables).
pub(crate) fn parse_output(text: &str) -> Option<Result<OutputSpec, OutputError>> {
    is_url(text).then(|| Target::parse(text).map(OutputSpec::postgres).map_err(OutputError::new))
}

/// A PostgreSQL database; its `Display` and `Debug` never show the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOutput {
    target: Target,
}

impl PostgresOutput {
    /// The database `target` names.
    pub fn new(target: Target) -> Self {
        PostgresOutput { target }
    }
}

impl fmt::Display for PostgresOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.target)
    }
}

impl Output for PostgresOutput {
    fn kind(&self) -> &'static str {
        "PostgreSQL database"
    }

    fn open(&self, tuning: &Tuning) -> Result<Box<dyn Destination>, DestinationError> {
        Ok(Box::new(PostgresDestination::open(&self.target, tuning, None)?))
    }

    fn open_fenced(&self, fence: Fence) -> Result<Box<dyn Destination>, DestinationError> {
        Ok(Box::new(PostgresDestination::open(&self.target, &Tuning::default(), Some(fence))?))
    }

    /// Connects and creates or upgrades the schema: the error the first stream's open
    /// would give, only sooner, and with nothing run.
    fn prepare(&self) -> Result<(), DestinationError> {
        self.open(&Tuning::default()).map(drop)
    }

    /// A session-level advisory lock per connection, on a session of its own.
    fn lock(&self, connection: &str, busy: &mut dyn FnMut(&str) -> bool) -> Result<ConnectionGuard, DestinationError> {
        guard::lock_postgres(&self.target, connection, busy)
    }

    fn has_history(&self) -> bool {
        true
    }

    fn history(&self) -> Result<History, HistoryError> {
        Ok(Box::new(PostgresHistory::open(&self.target)?))
    }

    fn forget_connection(&self, connection: &str) -> Result<Option<u64>, DestinationError> {
        PostgresDestination::open(&self.target, &Tuning::default(), None)?.forget_connection(connection).map(Some)
    }

    fn records_by_type(&self, connection: &str) -> Result<Option<Vec<(String, u64)>>, DestinationError> {
        PostgresDestination::open(&self.target, &Tuning::default(), None)?.records_by_type(connection).map(Some)
    }

    fn typed_tables(&self) -> Result<Option<Vec<TableInfo>>, DestinationError> {
        PostgresDestination::open(&self.target, &Tuning::default(), None)?.typed_tables().map(Some)
    }

    fn rebuild_typed_tables(
        &self,
        schemas: Arc<dyn RecordSchemas>,
        types: &[String],
    ) -> Result<Option<Vec<String>>, DestinationError> {
        let mut destination = PostgresDestination::open(&self.target, &Tuning::default(), None)?;
        destination.rebuild_typed_tables(schemas, types).map(Some)
    }

    fn shared_database(&self) -> Option<&Target> {
        Some(&self.target)
    }

    fn sql_dialect(&self) -> Option<SqlDialect> {
        Some(SqlDialect::Postgres)
    }

    fn query_command(&self) -> Option<String> {
        Some(format!("psql '{}'", self.target.url_without_password()))
    }
}
