//! What the engine tells its driver while it works: a closed set of [`Event`]s sent to an
//! [`EventSink`]. The engine never prints; the terminal console, a worker's log or a test
//! each render the same events their own way.
//!
//! Every text in an event has its secret values masked already.

use std::collections::BTreeMap;

use protocol::{LogLevel, ProgressMessage};

use super::result::StreamResult;

/// Something that happened while the engine ran a connector.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A connector sent a `log` message. `source` is the connection's name during a sync,
    /// else the connector's.
    ConnectorLog {
        /// Who sent it.
        source: &'a str,
        /// Its level.
        level: LogLevel,
        /// Its text, secrets masked.
        message: &'a str,
    },
    /// A line of a connector's stderr; sent only to sinks that [`EventSink::wants_stderr`].
    ConnectorStderr {
        /// Who wrote it.
        source: &'a str,
        /// The line, secrets masked.
        line: &'a str,
    },
    /// A detail that helps when debugging (a message type ignored during a sync).
    Debug {
        /// The text.
        message: &'a str,
    },
    /// A connector put a secret value into its data; it was stored masked. Sent once per
    /// stream sync.
    SecretMasked {
        /// The connection.
        connection: &'a str,
        /// What held it and what was done, for people.
        message: &'a str,
    },
    /// Records were stored that break formats of a third party's schema (a Stream's
    /// `recordFormats: report`). Sent once per stream sync, at its end.
    FormatDrift {
        /// The connection.
        connection: &'a str,
        /// What drifted, for people: a line per type and field, and the hint.
        message: &'a str,
    },
    /// Another process syncs the connection into the same store; this sync waits for it
    /// (`--wait`). Sent once, before waiting.
    WaitingForConnection {
        /// The connection.
        connection: &'a str,
        /// Who holds it: "pid 12 since …", "worker w1 since …".
        holder: &'a str,
    },
    /// A stream sync started.
    StreamStarted {
        /// The connection.
        connection: &'a str,
        /// The stream's id.
        stream: &'a str,
    },
    /// Records stored so far in a stream sync; sent after every batch of messages.
    Progress {
        /// The connection.
        connection: &'a str,
        /// The stream's id.
        stream: &'a str,
        /// Stored records by `_type`.
        records_by_type: &'a BTreeMap<String, u64>,
        /// Records rejected (`--skip-invalid`).
        rejected: u64,
    },
    /// A connector said how far its sync has got (a `progress` message): work done and,
    /// when it knows, expected. Sent for every such message, in the order received.
    ConnectorProgress {
        /// The connection.
        connection: &'a str,
        /// The stream's id.
        stream: &'a str,
        /// What the connector said.
        progress: &'a ProgressMessage,
    },
    /// A stream sync finished and its run was recorded.
    StreamFinished {
        /// The connection.
        connection: &'a str,
        /// How it ended.
        result: &'a StreamResult,
    },
}

/// Receives the engine's events, from any of its threads.
pub trait EventSink: Send + Sync {
    /// Handles one event. Called on the engine's hot path: return quickly.
    fn event(&self, event: Event<'_>);

    /// Whether to send [`Event::ConnectorStderr`] (reading stderr line by line costs a
    /// little; most sinks only need its tail, which errors carry).
    fn wants_stderr(&self) -> bool {
        false
    }
}

/// A sink that drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl EventSink for Silent {
    fn event(&self, _: Event<'_>) {}
}

#[cfg(test)]
pub(crate) mod recording {
    //! A sink that keeps what it was told, for tests.

    use std::sync::Mutex;

    use super::{Event, EventSink};

    /// Keeps each event as a line of text.
    #[derive(Debug, Default)]
    pub struct Recorder {
        pub lines: Mutex<Vec<String>>,
    }

    impl EventSink for Recorder {
        fn event(&self, event: Event<'_>) {
            let line = match event {
                Event::ConnectorLog { source, level, message } => format!("log {source} {level}: {message}"),
                Event::ConnectorStderr { source, line } => format!("stderr {source}: {line}"),
                Event::Debug { message } => format!("debug {message}"),
                Event::SecretMasked { connection, message } => format!("masked {connection}: {message}"),
                Event::FormatDrift { connection, message } => format!("drift {connection}: {message}"),
                Event::WaitingForConnection { connection, holder } => format!("waiting {connection}: {holder}"),
                Event::StreamStarted { connection, stream } => format!("started {connection}/{stream}"),
                Event::Progress { .. } => return,
                Event::ConnectorProgress { connection, stream, progress } => {
                    let total = progress.total.map_or_else(|| "?".to_owned(), |t| t.to_string());
                    format!("progress {connection}/{stream} {}/{total}", progress.done)
                }
                Event::StreamFinished { connection, result } => {
                    format!("finished {connection}/{} {}", result.stream, result.outcome.as_str())
                }
            };
            self.lines.lock().unwrap().push(line);
        }
    }
}
