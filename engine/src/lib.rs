//! The engine: everything that runs connectors and stores what they send, and nothing that
//! knows about terminals, command lines or reports. `runner sync`, `sync-all`, the
//! conformance kit and the demo are drivers of the same engine.
//!
//! - [`supervisor`]: the only place connectors are spawned (timeouts, signals, stderr, the
//!   parallel stdout pipeline).
//! - [`connector`]: a connector's `spec`, `verify` and `discover`, and the stdin of a command.
//! - [`validate`]: per-record schema validation, on the supervisor's mapper threads.
//! - [`sync`]: one connection's streams, the store loop, the run history; [`result`]: how
//!   they ended.
//! - [`destination`]: SQLite, JSON lines, stdout, `--state FILE`.
//! - [`jobs`]: bounded parallelism; [`fleet`]: the connections workers share in
//!   PostgreSQL, their schedule and the leases that fence their writes.
//! - [`format_drift`]: values that break a format of a third party's schema, stored anyway;
//! - [`schemas`]: the run's schemas as the store's typed tables read them.
//! - [`events`]: what the engine reports while it works; [`error`]: why a command failed;
//!   [`with_causes`]: any error and its causes as one line, each said once;
//!   [`stop`]: stop requests (Ctrl-C, SIGTERM) as the engine receives them.
//!
//! *Invariant:* nothing under `engine/` imports the command line, the console, the report,
//! the kit, the demo or the scaffold (`tests/it/architecture.rs` checks it).

pub mod connector;
pub mod error;
pub mod events;
pub mod format_drift;
pub mod jobs;
pub mod result;
pub mod schemas;
pub mod stop;
pub mod supervisor;
pub mod sync;
pub mod text;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;

pub use connector::ConnectorClient;
pub use error::{ConnectorCommand, FailureKind, RunError};
pub use events::{Event, EventSink};
pub use stop::{Stop, StopSignal};
pub use supervisor::Limits;

use protocol::Stream;

/// How connectors are run and whom the engine tells: shared by every run of a command.
#[derive(Clone)]
pub struct Engine {
    /// Timeouts and size limits of every connector run.
    pub limits: Limits,
    /// Stop requests every run watches.
    pub stop: Stop,
    /// Where events go.
    pub events: Arc<dyn EventSink>,
}

impl Engine {
    /// A client for one connector executable.
    pub fn connector(&self, program: ConnectorProgram) -> ConnectorClient {
        ConnectorClient::new(program, self.clone())
    }
}

/// A connector executable, and the name to show for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorProgram {
    /// As the user wrote it (`pagerduty`, `./my-connector.sh`).
    pub display: String,
    /// The executable.
    pub path: PathBuf,
}

/// Which streams a sync covers.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamChoice {
    /// Every stream discover finds.
    All,
    /// The streams with these ids (looked up with discover).
    Ids(Vec<String>),
    /// This Stream record, used as given.
    Record(Stream),
}

impl StreamChoice {
    /// Picks the streams to sync among those discover `found`.
    ///
    /// # Errors
    /// The phrase for an id discover did not return, listing what it found.
    pub fn pick(&self, found: Vec<Stream>) -> Result<Vec<Stream>, String> {
        match self {
            StreamChoice::All => Ok(found),
            StreamChoice::Record(stream) => Ok(vec![stream.clone()]),
            StreamChoice::Ids(ids) => {
                let listed = found.iter().map(|s| format!("`{}`", s.id)).collect::<Vec<_>>().join(", ");
                ids.iter()
                    .map(|id| {
                        found
                            .iter()
                            .find(|s| &s.id == id)
                            .cloned()
                            .ok_or_else(|| format!("has no stream `{id}` (discover found: {listed})"))
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_stream_ids_list_what_was_found() {
        let found = vec![Stream::new("a", "https://x.test", "A")];
        let err = StreamChoice::Ids(vec!["b".into()]).pick(found.clone()).unwrap_err();
        assert_eq!(err, "has no stream `b` (discover found: `a`)");
        assert_eq!(StreamChoice::Ids(vec!["a".into()]).pick(found.clone()).unwrap(), found);
        assert_eq!(StreamChoice::All.pick(found.clone()).unwrap(), found);
    }
}
