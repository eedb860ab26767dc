//! The binary's edge: from the parsed command line to a command, and from how it ended
//! to an exit code. This is the one place that decides exit codes (the constants are in
//! [`crate::exit_code`]) and the one place, with `main`, that knows the command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::alert::AlertError;
use crate::cli::{
    AlertArgs, Cli, Command, ConnectionsCommand, GlobalArgs, Lang, SchemaCommand, SchemaDiffArgs, SyncArgs, TablesArgs,
    TablesCommand,
};
use crate::commands::history::{ReportRequest, RunsRequest};
use crate::commands::schema::DiffSource;
use crate::commands::sync::{Alerting, SyncRequest};
use crate::commands::worker::WorkerRequest;
use crate::commands::{connections, history, inspect, schema, sync, tables, worker, Settings, Status};
use crate::connections_file::ConnectionsError;
use crate::console::Verbosity;
use crate::exit_code;
use crate::resolve::InputError;
use crate::scaffold::{self, Language, ScaffoldError};
use crate::{demo, kit};
use engine::{FailureKind, Limits, RunError, Stop, StopSignal};
use store::history::HistoryError;

/// Runs a parsed command line with `stop` as its stop switch, prints an error once, and
/// returns the exit code.
pub fn run(cli: Cli, stop: Stop) -> ExitCode {
    let settings = settings(&cli.global, stop);
    match dispatch(cli, &settings) {
        Ok(status) => ExitCode::from(code_for_status(status)),
        Err(error) => {
            if !is_stdout_closed(&error) {
                let _ = writeln!(std::io::stderr().lock(), "error: {}", store::with_causes(error.as_ref()));
            }
            ExitCode::from(code_for_error(&error))
        }
    }
}

fn dispatch(cli: Cli, settings: &Settings) -> anyhow::Result<Status> {
    match cli.command {
        Command::Spec { connector } => inspect::spec(settings, &connector),
        Command::Verify { connector, config } => inspect::verify(settings, &connector, &config),
        Command::Discover { connector, config } => inspect::discover(settings, &connector, &config),
        Command::Sync(args) => sync::sync(settings, &sync_request(args)?),
        Command::SyncAll(args) => sync::sync_all(
            settings,
            &args.connections,
            &args.output,
            args.skip_invalid,
            usize::from(args.jobs),
            args.wait,
            alerting(&args.alerts).as_ref(),
        ),
        Command::Connections(ConnectionsCommand::Apply { file, db, prune }) => {
            connections::apply(settings, &file, &db, prune)
        }
        Command::Connections(ConnectionsCommand::List { db }) => connections::list(settings, &db),
        Command::Worker(args) => {
            let request = WorkerRequest {
                db: args.db,
                jobs: usize::from(args.jobs),
                until_idle: args.until_idle,
                lease_ttl: args.lease_ttl,
                alerts: alerting(&args.alerts),
            };
            worker::worker(settings, &request)
        }
        Command::TestConnector(args) => {
            let request = kit::Request {
                connector: args.connector,
                config: args.config,
                since: args.since,
                check_timeout: args.check_timeout,
                sigterm_grace: args.sigterm_grace,
            };
            kit::command(settings, &request)
        }
        Command::New(args) => {
            let request = scaffold::Request {
                slug: args.slug,
                language: language(args.lang),
                dir: args.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
            };
            scaffold::command(settings, &request, args.dir.is_some())
        }
        Command::Demo(args) => {
            demo::command(settings, &demo::Request { incidents: args.incidents, output: args.output })
        }
        Command::Runs(args) => history::runs(
            settings,
            &RunsRequest {
                db: args.db,
                connection: args.connection,
                failed: args.failed,
                limit: args.limit,
                stale_after: args.stale_after,
            },
        ),
        Command::Schema(SchemaCommand::Diff(args)) => schema::diff(settings, &diff_source(args)?),
        Command::Report(args) => history::report(
            settings,
            &ReportRequest { db: args.db, output: args.output, stale_after: args.stale_after },
        ),
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

fn alerting(args: &AlertArgs) -> Option<Alerting> {
    args.notify_url.as_ref().map(|url| Alerting { url: url.clone(), stale_after: args.stale_after })
}

fn sync_request(args: SyncArgs) -> Result<SyncRequest, InputError> {
    let (stream, cutoff) = match <[String; 1]>::try_from(args.rest) {
        Ok([cutoff]) => (None, cutoff),
        Err(rest) => match <[String; 2]>::try_from(rest) {
            Ok([stream, cutoff]) => (Some(stream), cutoff),
            Err(_) => return Err(InputError::Usage("expected [STREAM] EARLIEST_CUTOFF".into())),
        },
    };
    Ok(SyncRequest {
        connector: args.connector,
        config: args.config,
        stream,
        cutoff,
        connection: args.connection,
        output: args.store.output,
        state: args.store.state,
        skip_invalid: args.store.skip_invalid,
        jobs: usize::from(args.jobs),
        wait: args.store.wait,
        alerts: alerting(&args.alerts),
    })
}

fn diff_source(args: SchemaDiffArgs) -> Result<DiffSource, InputError> {
    match (args.db, args.connector, args.config) {
        (Some(db), None, None) => Ok(DiffSource::Stored { db }),
        (None, Some(connector), Some(config)) => Ok(DiffSource::Sample { connector, config, since: args.since }),
        _ => Err(InputError::Usage("expected CONNECTOR CONFIG, or --db PATH|URL".into())),
    }
}

fn language(lang: Lang) -> Language {
    match lang {
        Lang::Rust => Language::Rust,
        Lang::Python => Language::Python,
        Lang::Node => Language::Node,
        Lang::Shell => Language::Shell,
    }
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

/// The exit code for an error that ended a command.
pub fn code_for_error(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return exit_code::SUCCESS;
            }
        }
        if cause.is::<InputError>() || cause.is::<ConnectionsError>() {
            return exit_code::USAGE;
        }
        if let Some(run) = cause.downcast_ref::<RunError>() {
            return match run.kind() {
                FailureKind::Failed => exit_code::FAILURE,
                FailureKind::BadInput => exit_code::USAGE,
                FailureKind::Interrupted(signal) => code_for_signal(signal),
                FailureKind::StdoutClosed => exit_code::SUCCESS,
            };
        }
        if let Some(alert) = cause.downcast_ref::<AlertError>() {
            return if alert.is_bad_input() { exit_code::USAGE } else { exit_code::FAILURE };
        }
        if let Some(history) = cause.downcast_ref::<HistoryError>() {
            return if history.is_bad_input() { exit_code::USAGE } else { exit_code::FAILURE };
        }
        if let Some(scaffold) = cause.downcast_ref::<ScaffoldError>() {
            return if scaffold.is_bad_input() { exit_code::USAGE } else { exit_code::FAILURE };
        }
    }
    exit_code::FAILURE
}

/// Whether the error is our stdout being closed by its reader (`runner ... | head`): then
/// nothing is printed and the exit code is 0.
fn is_stdout_closed(error: &anyhow::Error) -> bool {
    code_for_error(error) == exit_code::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::error::FailureBuilder;
    use engine::ConnectorCommand;

    #[test]
    fn every_error_gets_its_code() {
        let io = |kind| anyhow::Error::from(std::io::Error::from(kind));
        assert_eq!(code_for_error(&io(std::io::ErrorKind::BrokenPipe)), exit_code::SUCCESS);
        assert_eq!(code_for_error(&io(std::io::ErrorKind::Other)), exit_code::FAILURE);
        assert_eq!(code_for_error(&InputError::Usage("x".into()).into()), exit_code::USAGE);
        let failure = || FailureBuilder::new("c", ConnectorCommand::Sync, &protocol::Redactor::default());
        let run = |kind| anyhow::Error::from(failure().build(kind, "failed"));
        assert_eq!(code_for_error(&run(FailureKind::Failed)), exit_code::FAILURE);
        assert_eq!(code_for_error(&run(FailureKind::BadInput)), exit_code::USAGE);
        assert_eq!(code_for_error(&run(FailureKind::Interrupted(StopSignal::Terminate))), exit_code::TERMINATED);
        assert_eq!(code_for_error(&RunError::StdoutClosed.into()), exit_code::SUCCESS);
        let missing = HistoryError::Missing { path: "none.db".into() };
        assert_eq!(code_for_error(&missing.into()), exit_code::USAGE);
        let foreign = HistoryError::NotRunnerDatabase { target: "x.db".into() };
        assert_eq!(code_for_error(&foreign.into()), exit_code::FAILURE);
        let context = anyhow::Error::from(failure().build(FailureKind::BadInput, "x")).context("while syncing");
        assert_eq!(code_for_error(&context), exit_code::USAGE, "the cause decides, under any context");
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
