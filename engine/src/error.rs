//! Why a connector command failed, as typed values that keep their fields and render once.
//!
//! [`RunError`] is what the engine reports for a failed `spec`, `verify`, `discover` or
//! stream sync: the connector failed ([`RunError::Connector`]), the destination did
//! ([`RunError::Storage`]), or our stdout's reader went away ([`RunError::StdoutClosed`]).
//! Secret values are masked when an error is built ([`FailureBuilder::build`]), so every
//! rendering of it is safe to print and store. Which exit code an error gets is decided
//! at the binary's edge from [`RunError::kind`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use protocol::Redactor;

use super::stop::StopSignal;
use super::supervisor::Captured;
use store::DestinationError;

/// How much of the connector's stderr an error message shows.
const STDERR_IN_ERRORS: usize = 2048;

/// The protocol command a connector was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorCommand {
    /// `spec`.
    Spec,
    /// `verify`.
    Verify,
    /// `discover`.
    Discover,
    /// `sync`.
    Sync,
}

impl ConnectorCommand {
    /// The command as the connector receives it in argv.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorCommand::Spec => "spec",
            ConnectorCommand::Verify => "verify",
            ConnectorCommand::Discover => "discover",
            ConnectorCommand::Sync => "sync",
        }
    }
}

impl fmt::Display for ConnectorCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure a [`RunError`] is: the binary's edge picks the exit code from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The connector, the sync or the destination failed.
    Failed,
    /// The connector could not be started, or was asked for a stream it does not have.
    BadInput,
    /// A stop request (Ctrl-C, SIGTERM) ended it.
    Interrupted(StopSignal),
    /// Our stdout was closed by its reader: stop quietly, not an error for the user.
    StdoutClosed,
}

/// The connector's stderr tail, as an error shows it (secrets masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StderrTail {
    /// The last bytes of stderr, at most [`STDERR_IN_ERRORS`].
    pub text: String,
    /// Whether `text` is only the end of it.
    pub partial: bool,
    /// How much the connector wrote in all.
    pub total_bytes: u64,
}

impl StderrTail {
    /// The tail of `stderr` with `redactor`'s secrets masked; `None` when it is blank.
    pub fn of(stderr: &Captured, redactor: &Redactor) -> Option<StderrTail> {
        if stderr.is_blank() {
            return None;
        }
        let (text, partial) = stderr.last(STDERR_IN_ERRORS);
        let text = redactor.redact(text.trim_end()).into_owned();
        Some(StderrTail { text, partial, total_bytes: stderr.total_bytes })
    }
}

impl fmt::Display for StderrTail {
    /// Between `---- stderr ----` fences, with its size when cut.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = if self.partial {
            format!("---- stderr (last {} of {}) ----", kib(self.text.len() as u64), kib(self.total_bytes))
        } else {
            "---- stderr ----".to_owned()
        };
        let rule = "-".repeat(title.chars().count());
        write!(f, "{title}\n{}\n{rule}", self.text)
    }
}

fn kib(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// What every failure of a connector command says besides its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureContext {
    /// The connector as the user named it.
    pub connector: String,
    /// The command it was running.
    pub command: ConnectorCommand,
    /// How long it ran.
    pub elapsed: Option<Duration>,
    /// Records stored before the failure (sync).
    pub stored: Option<u64>,
    /// The end of its stderr.
    pub stderr: Option<StderrTail>,
    /// What to try.
    pub hint: Option<String>,
}

/// A failed connector command.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    /// The connector failed: it could not start, ended badly, broke the protocol, sent an
    /// `error` message or an invalid record, or was stopped.
    #[error("{}", render(context, cause))]
    Connector {
        /// Who, what, and the rest.
        context: Box<FailureContext>,
        /// What happened, as a phrase after the connector's name ("exited with status 1").
        cause: String,
        /// For the exit code.
        kind: FailureKind,
    },
    /// The destination could not store the connector's output.
    #[error("{}", render(context, &format!("could not store its output: {source}")))]
    Storage {
        /// Who, what, and the rest.
        context: Box<FailureContext>,
        /// The destination's error.
        source: Arc<DestinationError>,
    },
    /// Whoever reads our stdout has gone away (`runner sync ... --output - | head`).
    #[error("stdout was closed by its reader")]
    StdoutClosed,
}

impl RunError {
    /// What kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        match self {
            RunError::Connector { kind, .. } => *kind,
            RunError::Storage { .. } => FailureKind::Failed,
            RunError::StdoutClosed => FailureKind::StdoutClosed,
        }
    }

    /// The error for a destination failure, or [`RunError::StdoutClosed`] when that is
    /// what the destination saw.
    pub fn storage(failure: FailureBuilder, source: DestinationError) -> RunError {
        if source.is_stdout_closed() {
            return RunError::StdoutClosed;
        }
        RunError::Storage { context: Box::new(failure.context), source: Arc::new(source) }
    }
}

fn render(context: &FailureContext, cause: &str) -> String {
    use std::fmt::Write as _;
    let mut out = format!("connector `{}` ({}) {cause}", context.connector, context.command);
    if let Some(elapsed) = context.elapsed {
        let _ = write!(out, " after {}", crate::text::duration(elapsed));
    }
    if let Some(stored) = context.stored {
        let _ = write!(out, " ({stored} records stored)");
    }
    if let Some(stderr) = &context.stderr {
        let _ = write!(out, "\n{stderr}");
    }
    if let Some(hint) = &context.hint {
        let _ = write!(out, "\nhint: {hint}");
    }
    out
}

/// Builds a [`RunError`]: the context first, then [`FailureBuilder::build`] with the
/// connection's redactor, which masks every secret value in the texts.
#[derive(Debug, Clone)]
pub struct FailureBuilder {
    context: FailureContext,
    redactor: Redactor,
}

impl FailureBuilder {
    /// A failure of `connector` running `command`, masking with `redactor`.
    pub fn new(connector: &str, command: ConnectorCommand, redactor: &Redactor) -> Self {
        let context = FailureContext {
            connector: connector.to_owned(),
            command,
            elapsed: None,
            stored: None,
            stderr: None,
            hint: None,
        };
        FailureBuilder { context, redactor: redactor.clone() }
    }

    /// How long the connector ran.
    pub fn elapsed(mut self, elapsed: Duration) -> Self {
        self.context.elapsed = Some(elapsed);
        self
    }

    /// How many records were stored.
    pub fn stored(mut self, stored: u64) -> Self {
        self.context.stored = Some(stored);
        self
    }

    /// The connector's stderr (its tail is shown, secrets masked).
    pub fn stderr(mut self, stderr: &Captured) -> Self {
        self.context.stderr = StderrTail::of(stderr, &self.redactor);
        self
    }

    /// What to try.
    pub fn hint(mut self, hint: Option<String>) -> Self {
        self.context.hint = hint.map(|hint| self.redactor.redact(&hint).into_owned());
        self
    }

    /// The error, with `cause` masked.
    pub fn build(self, kind: FailureKind, cause: &str) -> RunError {
        RunError::Connector { cause: self.redactor.redact(cause).into_owned(), context: Box::new(self.context), kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::capture::HeadTail;

    #[test]
    fn errors_name_connector_command_cause_and_fence_stderr_with_secrets_masked() {
        let mut buf = HeadTail::new(64, 64);
        buf.push(b"GET /incidents: 401 token tok-secret-1 rejected\n");
        let redactor = Redactor::new(["tok-secret-1".to_owned()]);
        let error = FailureBuilder::new("pagerduty", ConnectorCommand::Sync, &redactor)
            .elapsed(Duration::from_millis(12_400))
            .stored(310)
            .stderr(&buf.snapshot())
            .hint(Some("check apiToken".into()))
            .build(FailureKind::Failed, "exited with status 1 (tok-secret-1)");
        assert_eq!(
            error.to_string(),
            "connector `pagerduty` (sync) exited with status 1 (***) after 12.4 s (310 records stored)\n\
             ---- stderr ----\nGET /incidents: 401 token *** rejected\n----------------\nhint: check apiToken"
        );
        let RunError::Connector { context, .. } = &error else { panic!("{error:?}") };
        assert_eq!((context.command, context.stored), (ConnectorCommand::Sync, Some(310)));
        assert_eq!(error.kind(), FailureKind::Failed);
    }

    #[test]
    fn long_stderr_is_cut_with_its_size() {
        let mut buf = HeadTail::new(100_000, 100_000);
        for i in 0..2000 {
            buf.push(format!("line {i}\n").as_bytes());
        }
        let fenced = StderrTail::of(&buf.snapshot(), &Redactor::default()).unwrap().to_string();
        assert!(fenced.starts_with("---- stderr (last 2 KiB of 19 KiB) ----\n"), "{fenced}");
        assert!(fenced.contains("line 1999\n---"), "{fenced}");
    }

    #[test]
    fn storage_failures_are_their_own_variant_and_a_closed_stdout_is_not_an_error() {
        let failure = FailureBuilder::new("c", ConnectorCommand::Sync, &Redactor::default());
        let closed = RunError::storage(failure.clone(), DestinationError::StdoutClosed);
        assert_eq!(closed.kind(), FailureKind::StdoutClosed);
        let full = RunError::storage(failure, DestinationError::Misuse("test"));
        assert!(matches!(full, RunError::Storage { .. }));
        assert_eq!(
            full.to_string(),
            "connector `c` (sync) could not store its output: destination used out of order: test"
        );
    }
}
