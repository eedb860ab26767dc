//! The commands: from parsed arguments to results on stdout and an exit code.
//! Bad input is checked before any connector is started.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use protocol::{Redactor, Stream};

use crate::cli::{Cli, Command, GlobalArgs, SyncAllArgs, SyncArgs};
use crate::connections;
use crate::connector::{Connector, FailureKind};
use crate::console::{Console, Verbosity};
use crate::destination::{OutputSpec, RunOutcome};
use crate::exit;
use crate::jobs::run_parallel;
use crate::report::{self, ConnectionReport};
use crate::resolve::{self, InputError};
use crate::supervisor::{signals, Limits};
use crate::sync::{sync_connection, ConnectionPlan};

/// Runs a parsed command line.
///
/// # Errors
/// Anything that stops the command before it has a result to report; `main` prints it
/// once and maps it to an exit code with [`exit::for_error`].
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::new(&cli.global);
    match cli.command {
        Command::Spec { connector } => spec(&settings, &connector),
        Command::Verify { connector, config } => verify(&settings, &connector, &config),
        Command::Discover { connector, config } => discover(&settings, &connector, &config),
        Command::Sync(args) => sync(&settings, args),
        Command::SyncAll(args) => sync_all(&settings, args),
        Command::TestConnector(args) => crate::kit::command(settings.connector(&args.connector)?, &args, settings.json),
        Command::New(args) => crate::scaffold::command(&args, &cli.global),
        Command::Demo(args) => crate::demo::command(&args, &cli.global),
    }
}

/// What every command shares.
struct Settings {
    console: Arc<Console>,
    limits: Limits,
    json: bool,
}

impl Settings {
    fn new(global: &GlobalArgs) -> Self {
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
        Settings { console: Arc::new(Console::new(verbosity)), limits, json: global.json }
    }

    fn connector(&self, arg: &str) -> Result<Connector, InputError> {
        Ok(Connector {
            path: resolve::connector(arg)?,
            limits: self.limits.clone(),
            console: Arc::clone(&self.console),
        })
    }
}

fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn spec(settings: &Settings, connector: &str) -> anyhow::Result<ExitCode> {
    let spec = settings.connector(connector)?.spec()?;
    let text =
        if io::stdout().is_terminal() { serde_json::to_string_pretty(&spec)? } else { serde_json::to_string(&spec)? };
    print(&format!("{text}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// Spec, then the config file and the redactor for its secrets.
fn prepare(
    settings: &Settings,
    connector: &str,
    config: &std::path::Path,
) -> anyhow::Result<(Connector, serde_json::Value, Redactor)> {
    let connector = settings.connector(connector)?;
    let config = resolve::config_file(config)?;
    let spec = connector.spec()?;
    let redactor = Redactor::from_config(&spec.config_schema, &config);
    Ok((connector, config, redactor))
}

fn verify(settings: &Settings, connector: &str, config: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (connector, config, redactor) = prepare(settings, connector, config)?;
    let verification = connector.verify(&config, &redactor)?;
    let errors: Vec<String> = verification.errors.iter().map(|e| redactor.redact(e).into_owned()).collect();
    if settings.json {
        let value = serde_json::json!({"type": "verification", "valid": verification.valid, "errors": errors});
        print(&format!("{value}\n"))?;
    } else if verification.valid {
        print(&format!("connector `{}`: the configuration is valid\n", connector.name()))?;
    } else {
        let list: String = errors.iter().map(|e| format!("  - {e}\n")).collect();
        print(&format!("connector `{}`: the configuration is not valid:\n{list}", connector.name()))?;
    }
    Ok(if verification.valid { ExitCode::SUCCESS } else { ExitCode::from(exit::FAILURE) })
}

fn discover(settings: &Settings, connector: &str, config: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (connector, config, redactor) = prepare(settings, connector, config)?;
    let streams = connector.discover(&config, &redactor)?;
    let text = if settings.json {
        streams.iter().map(|s| serde_json::to_string(s).map(|line| line + "\n")).collect::<Result<String, _>>()?
    } else {
        streams_table(&streams)
    };
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn streams_table(streams: &[Stream]) -> String {
    let id_width = streams.iter().map(|s| s.id.chars().count()).max().unwrap_or(0).max(2);
    let name_width = streams.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).max(4);
    let mut out = format!("{:<id_width$}  {:<name_width$}  self\n", "id", "name");
    for s in streams {
        out.push_str(&format!("{:<id_width$}  {:<name_width$}  {}\n", s.id, s.name, s.self_url));
    }
    out
}

fn sync(settings: &Settings, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let connector = settings.connector(&args.connector)?;
    let config = resolve::config_file(&args.config)?;
    let (stream, cutoff) = match args.rest.as_slice() {
        [cutoff] => (resolve::StreamChoice::All, cutoff),
        [stream, cutoff] => (resolve::stream(stream)?, cutoff),
        _ => return Err(InputError::Usage("expected [STREAM] EARLIEST_CUTOFF".into()).into()),
    };
    let output = OutputSpec::parse(&args.store.output);
    let plan = ConnectionPlan {
        name: args.connection,
        connector,
        config,
        streams: stream,
        cutoff: resolve::cutoff(cutoff)?,
        output: output.clone(),
        state_file: args.store.state,
        skip_invalid: args.store.skip_invalid,
    };
    let started = Instant::now();
    let report = sync_connection(&plan, usize::from(args.jobs));
    finish(settings, &[report], started, output == OutputSpec::Stdout)
}

fn sync_all(settings: &Settings, args: SyncAllArgs) -> anyhow::Result<ExitCode> {
    let entries = connections::load(&args.connections, &args.output)?;
    let to_stdout = entries.iter().any(|e| e.output == OutputSpec::Stdout);
    let plans: Vec<ConnectionPlan> = entries
        .into_iter()
        .map(|entry| ConnectionPlan {
            name: Some(entry.name),
            connector: Connector {
                path: entry.connector,
                limits: settings.limits.clone(),
                console: Arc::clone(&settings.console),
            },
            config: entry.config,
            streams: entry.streams,
            cutoff: entry.cutoff,
            output: entry.output,
            state_file: entry.state_file,
            skip_invalid: args.skip_invalid,
        })
        .collect();
    let started = Instant::now();
    let reports = run_parallel(usize::from(args.jobs), &plans, |plan| sync_connection(plan, 1));
    finish(settings, &reports, started, to_stdout)
}

/// Prints the errors, the summary (table or JSON) and picks the exit code.
fn finish(
    settings: &Settings,
    reports: &[ConnectionReport],
    started: Instant,
    records_on_stdout: bool,
) -> anyhow::Result<ExitCode> {
    let errors: Vec<_> =
        reports.iter().flat_map(|c| c.error.iter().chain(c.streams.iter().filter_map(|s| s.error.as_ref()))).collect();
    if errors.iter().any(|e| e.kind == FailureKind::BrokenPipe) {
        return Ok(ExitCode::SUCCESS);
    }
    for error in &errors {
        let _ = writeln!(io::stderr().lock(), "error: {error}");
    }
    let summary = if settings.json {
        Some(format!("{}\n", report::to_json(reports, started.elapsed())))
    } else if settings.console.verbosity() > Verbosity::Quiet {
        Some(report::table(reports))
    } else {
        None
    };
    if let Some(summary) = summary {
        if records_on_stdout {
            let _ = io::stderr().lock().write_all(summary.as_bytes());
        } else {
            print(&summary).context("writing the summary")?;
        }
    }
    Ok(ExitCode::from(exit_code(reports, &errors)))
}

fn exit_code(reports: &[ConnectionReport], errors: &[&crate::connector::ConnectorError]) -> u8 {
    if let Some(signal) = signals::received() {
        return signal.exit_code();
    }
    match report::overall(reports) {
        RunOutcome::Succeeded => exit::SUCCESS,
        _ if reports.len() == 1 && errors.iter().all(|e| e.kind == FailureKind::BadInput) => exit::USAGE,
        _ => exit::FAILURE,
    }
}
