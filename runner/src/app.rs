//! The binary's edge: from the parsed command line to a command, and from how it ended
//! to an exit code. This is the one place that decides exit codes (the constants are in
//! [`crate::exit_code`]) and the one place, with `main`, that knows the command line.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{Cli, Command, ConnectionsCommand, GlobalArgs, SchemaCommand, TablesArgs, TablesCommand};
use crate::commands::schema::DiffSource;
use crate::commands::sync::SyncRequest;
use crate::commands::{connections, history, inspect, schema, sync, tables, worker, Settings, Status};
use crate::console::Verbosity;
use crate::exit_code;
use crate::failure::{CommandError, CommandResult};
use crate::scaffold;
use crate::untrusted::escape_lines;
use crate::{demo, kit};
use engine::{FailureKind, Limits, Stop, StopSignal};

/// Runs a parsed command line with `stop` as its stop switch, prints an error once, and
/// returns the exit code.
pub fn run(cli: Cli, stop: Stop) -> ExitCode {
    let settings = settings(&cli.global, stop);
    match dispatch(cli, &settings) {
        Ok(status) => ExitCode::from(code_for_status(status)),
        Err(error) => {
            // The reader of our stdout went away (`runner ... | head`): nothing to say.
            if error.kind() != FailureKind::StdoutClosed {
                let text = store::with_causes(error.error().as_ref());
                let _ = writeln!(std::io::stderr().lock(), "error: {}", escape_lines(&text));
            }
            ExitCode::from(code_for_error(&error))
        }
    }
}

/// Each subcommand's arguments go to their command as they are, or through the request
/// they convert themselves into (`TryFrom`, beside the request).
fn dispatch(cli: Cli, settings: &Settings) -> CommandResult<Status> {
    match cli.command {
        Command::Spec { connector } => inspect::spec(settings, &connector),
        Command::Verify { connector, config } => inspect::verify(settings, &connector, &config),
        Command::Discover { connector, config } => inspect::discover(settings, &connector, &config),
        Command::Sync(args) => sync::sync(settings, &SyncRequest::try_from(args)?),
        Command::SyncAll(args) => sync::sync_all(settings, &args),
        Command::Connections(ConnectionsCommand::Apply { file, db, prune }) => {
            connections::apply(settings, &file, &db, prune)
        }
        Command::Connections(ConnectionsCommand::List { db }) => connections::list(settings, &db),
        Command::Worker(args) => worker::worker(settings, &args),
        Command::TestConnector(args) => kit::command(settings, &args),
        Command::New(args) => scaffold::command(settings, &args),
        Command::Demo(args) => demo::command(settings, &args),
        Command::Runs(args) => history::runs(settings, &args),
        Command::Schema(SchemaCommand::Diff(args)) => schema::diff(settings, &DiffSource::try_from(args)?),
        Command::Report(args) => history::report(settings, &args),
        Command::Tables(TablesArgs { db, action: None }) => tables::list(settings, &db),
        Command::Tables(TablesArgs { db, action: Some(TablesCommand::Rebuild { types }) }) => {
            tables::rebuild(settings, &db, &types)
        }
    }
}

fn settings(global: &GlobalArgs, stop: Stop) -> Settings {
    let verbosity = match (global.quiet, global.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let limits = Limits {
        max_message_bytes: global.max_message_bytes,
        idle_timeout: global.idle_timeout,
        overall_timeout: global.timeout,
        grace: global.grace,
        ..Limits::default()
    };
    Settings::new(verbosity, limits, stop, global.json)
}

/// The exit code for how a command ended.
pub fn code_for_status(status: Status) -> u8 {
    match status {
        Status::Success => exit_code::SUCCESS,
        Status::Failed => exit_code::FAILURE,
        Status::BadInput => exit_code::USAGE,
        Status::Stopped(signal) => code_for_signal(signal),
    }
}

/// The conventional code: 128 + the signal's number.
pub fn code_for_signal(signal: StopSignal) -> u8 {
    match signal {
        StopSignal::Interrupt => exit_code::INTERRUPTED,
        StopSignal::Terminate => exit_code::TERMINATED,
        // Never a whole command's end: a worker's sync stopped, the worker goes on.
        StopSignal::LeaseLost => exit_code::FAILURE,
    }
}

/// The exit code for an error that ended a command: its kind, which the error's own type
/// gave it (`failure::Classify`).
pub fn code_for_error(error: &CommandError) -> u8 {
    match error.kind() {
        FailureKind::Failed => exit_code::FAILURE,
        FailureKind::BadInput => exit_code::USAGE,
        FailureKind::Interrupted(signal) => code_for_signal(signal),
        FailureKind::StdoutClosed => exit_code::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::InputError;
    use engine::error::FailureBuilder;
    use engine::{ConnectorCommand, RunError};
    use store::history::HistoryError;

    #[test]
    fn every_kind_of_error_gets_its_code() {
        let code = |error: CommandError| code_for_error(&error);
        assert_eq!(code(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into()), exit_code::SUCCESS);
        assert_eq!(code(std::io::Error::from(std::io::ErrorKind::Other).into()), exit_code::FAILURE);
        assert_eq!(code(InputError::Usage("x".into()).into()), exit_code::USAGE);
        let failure = || FailureBuilder::new("c", ConnectorCommand::Sync, &protocol::Redactor::default());
        let run = |kind| CommandError::from(failure().build(kind, "failed"));
        assert_eq!(code(run(FailureKind::Failed)), exit_code::FAILURE);
        assert_eq!(code(run(FailureKind::BadInput)), exit_code::USAGE);
        assert_eq!(code(run(FailureKind::Interrupted(StopSignal::Terminate))), exit_code::TERMINATED);
        assert_eq!(code(RunError::StdoutClosed.into()), exit_code::SUCCESS);
        assert_eq!(code(HistoryError::Missing { path: "none.db".into() }.into()), exit_code::USAGE);
        assert_eq!(code(HistoryError::NotRunnerDatabase { target: "x.db".into() }.into()), exit_code::FAILURE);
        assert_eq!(code(run(FailureKind::BadInput).context("while syncing")), exit_code::USAGE, "under any context");
    }

    #[test]
    fn every_status_gets_its_code() {
        assert_eq!(code_for_status(Status::Success), 0);
        assert_eq!(code_for_status(Status::Failed), 1);
        assert_eq!(code_for_status(Status::BadInput), 2);
        assert_eq!(code_for_status(Status::Stopped(StopSignal::Interrupt)), 130);
        assert_eq!(code_for_status(Status::Stopped(StopSignal::Terminate)), 143);
    }
}
