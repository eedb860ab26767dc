//! The commands that drive the engine: `spec`, `verify`, `discover` ([`inspect`]),
//! `sync` and `sync-all` ([`sync`]), `runs` and `report` ([`history`]),
//! `connections apply|list` ([`connections`]), `worker` ([`worker`]), `schema diff`
//! ([`schema`]) and `tables` ([`tables`]). Each takes [`Settings`] and
//! typed arguments, prints its results on stdout, and says how it ended with a [`Status`];
//! the binary's edge (`crate::app`) turns that into an exit code. The demo calls the same
//! functions.

pub mod connections;
pub mod history;
pub mod inspect;
pub mod schema;
pub mod sync;
pub mod tables;
pub mod worker;

use std::io::{self, Write};
use std::sync::Arc;

use crate::console::{Console, Verbosity};
use crate::resolve::{self, InputError};
use engine::{ConnectorClient, Engine, Limits, Stop, StopSignal};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It did what was asked.
    Success,
    /// A sync or a connector failed, a configuration is invalid, a check failed.
    Failed,
    /// The input was unusable (found out only once the command ran).
    BadInput,
    /// A stop request (Ctrl-C, SIGTERM) ended it.
    Stopped(StopSignal),
}

/// What every command shares: the engine (limits, stop switch, events) and how to print.
#[derive(Clone)]
pub struct Settings {
    /// Runs connectors; its events go to [`Settings::console`].
    pub engine: Engine,
    /// The terminal.
    pub console: Arc<Console>,
    /// `--json`: machine-readable output on stdout.
    pub json: bool,
}

impl Settings {
    /// Settings printing at `verbosity`, with these connector limits and stop switch.
    pub fn new(verbosity: Verbosity, limits: Limits, stop: Stop, json: bool) -> Self {
        let console = Arc::new(Console::new(verbosity));
        let engine = Engine { limits, stop, events: console.clone() };
        Settings { engine, console, json }
    }

    /// How much to say.
    pub fn verbosity(&self) -> Verbosity {
        self.console.verbosity()
    }

    /// A client of the connector the user named (a slug or a path).
    ///
    /// # Errors
    /// [`InputError`] when no such executable is found.
    pub fn connector(&self, arg: &str) -> Result<ConnectorClient, InputError> {
        Ok(self.engine.connector(resolve::connector(arg)?))
    }

    /// The status for a stop request received while the command ran, if any.
    pub fn stopped(&self) -> Option<Status> {
        self.engine.stop.received().map(Status::Stopped)
    }
}

/// Writes `text` to stdout and flushes it. Tables arrive with connector text escaped
/// already; JSON documents leave DEL and C1 controls raw, so they are escaped here.
///
/// # Errors
/// stdout is closed or full.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(crate::untrusted::escape_json(text).as_bytes())?;
    out.flush()
}
