//! How an error that ends a command counts. Every command returns a [`CommandResult`]; an
//! error becomes a [`CommandError`] at the `?` that leaves a command, and takes its
//! [`FailureKind`] from its own type then, through [`Classify`]. So the binary's edge
//! (`app.rs`) reads one field to choose the exit code, and a new error type that a command
//! returns does not compile until it says how it counts: no list of downcasts to join.
//!
//! Errors made with `anyhow` (a `.context(...)` on a write, a `bail!`) count as failures,
//! except a broken pipe on our stdout (`runner ... | head`), which is the reader going
//! away and ends the command quietly.

use std::fmt;

use engine::{FailureKind, RunError};
use store::history::HistoryError;
use store::DestinationError;

/// What a command returns.
pub type CommandResult<T> = Result<T, CommandError>;

/// An error type's own say in how it counts when it ends a command.
pub trait Classify {
    /// Failed, bad input, stopped by a signal, or our stdout gone.
    fn failure_kind(&self) -> FailureKind;
}

/// An error that ended a command, and how it counts.
pub struct CommandError {
    kind: FailureKind,
    error: anyhow::Error,
}

impl CommandError {
    /// How it counts.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The error and its causes.
    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }

    /// The same error, counted the same, under a sentence saying what was being done.
    #[must_use]
    pub fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Self {
        CommandError { kind: self.kind, error: self.error.context(context) }
    }
}

impl fmt::Debug for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:?})", self.error, self.kind)
    }
}

impl<E> From<E> for CommandError
where
    E: Classify + std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        CommandError { kind: error.failure_kind(), error: anyhow::Error::new(error) }
    }
}

impl From<anyhow::Error> for CommandError {
    fn from(error: anyhow::Error) -> Self {
        let broken_pipe = error.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(is_broken_pipe));
        let kind = if broken_pipe { FailureKind::StdoutClosed } else { FailureKind::Failed };
        CommandError { kind, error }
    }
}

fn is_broken_pipe(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::BrokenPipe
}

impl Classify for std::io::Error {
    /// Writing our own output: a broken pipe is the reader gone.
    fn failure_kind(&self) -> FailureKind {
        if is_broken_pipe(self) {
            FailureKind::StdoutClosed
        } else {
            FailureKind::Failed
        }
    }
}

impl Classify for serde_json::Error {
    /// Writing a document of our own (a spec, a stream list) cannot fail but on a bug.
    fn failure_kind(&self) -> FailureKind {
        FailureKind::Failed
    }
}

impl Classify for RunError {
    fn failure_kind(&self) -> FailureKind {
        self.kind()
    }
}

impl Classify for HistoryError {
    fn failure_kind(&self) -> FailureKind {
        bad_input_if(self.is_bad_input())
    }
}

/// Bad input when the input was at fault, else a failure.
pub fn bad_input_if(bad_input: bool) -> FailureKind {
    if bad_input {
        FailureKind::BadInput
    } else {
        FailureKind::Failed
    }
}

impl Classify for DestinationError {
    fn failure_kind(&self) -> FailureKind {
        if self.is_stdout_closed() {
            FailureKind::StdoutClosed
        } else {
            FailureKind::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::error::FailureBuilder;
    use engine::{ConnectorCommand, StopSignal};

    fn kind_of(error: impl Into<CommandError>) -> FailureKind {
        error.into().kind()
    }

    #[test]
    fn every_error_says_how_it_counts() {
        let io = std::io::Error::from;
        assert_eq!(kind_of(io(std::io::ErrorKind::BrokenPipe)), FailureKind::StdoutClosed);
        assert_eq!(kind_of(io(std::io::ErrorKind::Other)), FailureKind::Failed);
        let failure = || FailureBuilder::new("c", ConnectorCommand::Sync, &protocol::Redactor::default());
        let run = |kind| failure().build(kind, "failed");
        assert_eq!(kind_of(run(FailureKind::Failed)), FailureKind::Failed);
        assert_eq!(kind_of(run(FailureKind::BadInput)), FailureKind::BadInput);
        let stopped = FailureKind::Interrupted(StopSignal::Terminate);
        assert_eq!(kind_of(run(stopped)), stopped);
        assert_eq!(kind_of(RunError::StdoutClosed), FailureKind::StdoutClosed);
        assert_eq!(kind_of(HistoryError::Missing { path: "none.db".into() }), FailureKind::BadInput);
        assert_eq!(kind_of(HistoryError::NotRunnerDatabase { target: "x.db".into() }), FailureKind::Failed);
    }

    #[test]
    fn context_keeps_the_kind_and_anyhow_errors_are_failures_but_a_broken_pipe() {
        let failure = FailureBuilder::new("c", ConnectorCommand::Sync, &protocol::Redactor::default());
        let context = CommandError::from(failure.build(FailureKind::BadInput, "x")).context("while syncing");
        assert_eq!(context.kind(), FailureKind::BadInput, "the cause decides, under any context");
        assert_eq!(kind_of(anyhow::anyhow!("the database went away")), FailureKind::Failed);
        let pipe = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("writing");
        assert_eq!(kind_of(pipe), FailureKind::StdoutClosed);
    }
}
