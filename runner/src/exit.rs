//! Exit codes, as named constants, and the code for an error.

use crate::connections::ConnectionsError;
use crate::connector::{ConnectorError, FailureKind};
use crate::resolve::InputError;
use crate::scaffold::ScaffoldError;

/// Everything succeeded.
pub const SUCCESS: u8 = 0;
/// A sync or a connector failed; `verify` found the configuration invalid.
pub const FAILURE: u8 = 1;
/// Bad usage or input: arguments, config file, date, missing connector, a slug or directory `new` refuses.
pub const USAGE: u8 = 2;
/// Interrupted by Ctrl-C (SIGINT).
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM.
pub const TERMINATED: u8 = 143;

/// The exit code for an error that reached `main`.
pub fn for_error(error: &anyhow::Error) -> u8 {
    if is_broken_pipe(error) {
        return SUCCESS;
    }
    for cause in error.chain() {
        if cause.is::<InputError>() || cause.is::<ConnectionsError>() {
            return USAGE;
        }
        if let Some(connector) = cause.downcast_ref::<ConnectorError>() {
            return for_kind(connector.kind);
        }
        if let Some(scaffold) = cause.downcast_ref::<ScaffoldError>() {
            return scaffold.exit_code();
        }
    }
    FAILURE
}

/// The exit code for a failure kind.
pub fn for_kind(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::Failed => FAILURE,
        FailureKind::BadInput => USAGE,
        FailureKind::Interrupted(signal) => signal.exit_code(),
        FailureKind::BrokenPipe => SUCCESS,
    }
}

/// Whether the error is our stdout being closed by its reader (`runner ... | head`).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<ConnectorError>().is_some_and(|e| e.kind == FailureKind::BrokenPipe)
    })
}
