//! How syncs ended: per stream, per connection, and for a whole command. Renderings for
//! people and machines live outside the engine (`crate::report`).

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::ProgressMessage;

use super::error::{FailureKind, RunError};
use super::format_drift::FormatDrift;
use store::RunOutcome;

/// How one stream sync ended.
#[derive(Debug, Clone)]
pub struct StreamResult {
    /// The stream's id.
    pub stream: String,
    /// Succeeded, failed or interrupted.
    pub outcome: RunOutcome,
    /// Stored records by `_type`.
    pub records_by_type: BTreeMap<String, u64>,
    /// Rejected records (`--skip-invalid`).
    pub rejected: u64,
    /// Checkpoints stored.
    pub checkpoints: u64,
    /// The last `progress` the connector sent, if it sent any.
    pub progress: Option<ProgressMessage>,
    /// Values that broke a format of a third party's schema, stored anyway.
    pub format_drift: FormatDrift,
    /// How long it took.
    pub duration: Duration,
    /// Why it failed.
    pub error: Option<RunError>,
}

impl StreamResult {
    /// A stream sync that has not stored anything yet.
    pub fn new(stream: &str) -> Self {
        StreamResult {
            stream: stream.to_owned(),
            outcome: RunOutcome::Failed,
            records_by_type: BTreeMap::new(),
            rejected: 0,
            checkpoints: 0,
            progress: None,
            format_drift: FormatDrift::default(),
            duration: Duration::ZERO,
            error: None,
        }
    }

    /// Stored records, all types.
    pub fn records(&self) -> u64 {
        self.records_by_type.values().sum()
    }

    /// Whether at least one checkpoint was stored.
    pub fn state_saved(&self) -> bool {
        self.checkpoints > 0
    }
}

/// How one connection (one connector, one configuration) ended.
#[derive(Debug, Clone)]
pub struct ConnectionResult {
    /// The connection name.
    pub name: String,
    /// The connector as named by the user.
    pub connector: String,
    /// One per stream synced.
    pub streams: Vec<StreamResult>,
    /// A failure before any stream could sync (spec, discover, an unknown stream).
    pub error: Option<RunError>,
    /// How long it took.
    pub duration: Duration,
}

impl ConnectionResult {
    /// The connection's outcome: interrupted, else failed, else succeeded.
    pub fn outcome(&self) -> RunOutcome {
        let from_errors = self.errors().map(|e| match e.kind() {
            FailureKind::Interrupted(_) => RunOutcome::Interrupted,
            _ => RunOutcome::Failed,
        });
        worst(from_errors.chain(self.streams.iter().map(|s| s.outcome)))
    }

    /// Every error: the connection's own, then each stream's.
    pub fn errors(&self) -> impl Iterator<Item = &RunError> {
        self.error.iter().chain(self.streams.iter().filter_map(|s| s.error.as_ref()))
    }

    /// Stored records, all streams.
    pub fn records(&self) -> u64 {
        self.streams.iter().map(StreamResult::records).sum()
    }
}

/// The outcome of a whole command over several connections.
pub fn overall(connections: &[ConnectionResult]) -> RunOutcome {
    worst(connections.iter().map(ConnectionResult::outcome))
}

/// Interrupted beats failed beats succeeded.
fn worst(outcomes: impl Iterator<Item = RunOutcome>) -> RunOutcome {
    outcomes.fold(RunOutcome::Succeeded, |result, outcome| match (result, outcome) {
        (RunOutcome::Interrupted, _) | (_, RunOutcome::Interrupted) => RunOutcome::Interrupted,
        (RunOutcome::Failed, _) | (_, RunOutcome::Failed) => RunOutcome::Failed,
        _ => RunOutcome::Succeeded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(outcomes: &[RunOutcome]) -> ConnectionResult {
        ConnectionResult {
            name: "pd".into(),
            connector: "pagerduty".into(),
            streams: outcomes.iter().map(|&outcome| StreamResult { outcome, ..StreamResult::new("acme") }).collect(),
            error: None,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn interrupted_beats_failed_beats_succeeded() {
        assert_eq!(connection(&[RunOutcome::Succeeded]).outcome(), RunOutcome::Succeeded);
        assert_eq!(connection(&[RunOutcome::Succeeded, RunOutcome::Failed]).outcome(), RunOutcome::Failed);
        let all = [connection(&[RunOutcome::Failed]), connection(&[RunOutcome::Interrupted])];
        assert_eq!(overall(&all), RunOutcome::Interrupted);
        assert_eq!(overall(&[]), RunOutcome::Succeeded);
    }

    #[test]
    fn a_connection_error_counts_even_without_streams() {
        let mut failed = connection(&[]);
        failed.error = Some(RunError::StdoutClosed);
        assert_eq!(failed.outcome(), RunOutcome::Failed);
        assert_eq!(failed.records(), 0);
    }
}
