//! The runner's exit codes, as named constants. This module depends on nothing: what
//! error or outcome gets which code is decided in one place, at the binary's edge
//! (`crate::app`).

/// Everything succeeded (also: our stdout was closed by its reader, `runner ... | head`).
pub const SUCCESS: u8 = 0;
/// A sync or a connector failed; `verify` found the configuration invalid; a conformance
/// check failed.
pub const FAILURE: u8 = 1;
/// Bad usage or input: arguments, config file, date, missing connector, unknown stream, a
/// slug or directory `runner new` refuses.
pub const USAGE: u8 = 2;
/// Stopped by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM (128 + SIGTERM).
pub const TERMINATED: u8 = 143;
