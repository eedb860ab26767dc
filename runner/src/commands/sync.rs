//! `runner sync` and `runner sync-all`: resolve the inputs, let the engine sync, then print
//! the errors and the summary (a table, or one JSON document with `--json`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{print, Settings, Status};
use crate::alert::{self, Notifier};
use crate::cli::{AlertArgs, SyncAllArgs, SyncArgs};
use crate::connections_file;
use crate::console::Verbosity;
use crate::failure::CommandResult;
use crate::resolve::{self, InputError};
use crate::summary;
use crate::untrusted::escape_lines;
use engine::result::{overall, ConnectionResult};
use engine::sync::ConnectionPlan;
use engine::{FailureKind, StreamChoice};
use store::{OutputSpec, RunOutcome};

/// What `runner sync` syncs, as the user typed it.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// A slug or a path to an executable.
    pub connector: String,
    /// The configuration file.
    pub config: PathBuf,
    /// A stream id or a Stream record as JSON; `None` syncs every stream.
    pub stream: Option<String>,
    /// The earliest-data cutoff, `YYYY-MM-DD` or RFC 3339.
    pub cutoff: String,
    /// `--connection`.
    pub connection: Option<String>,
    /// `--output`.
    pub output: String,
    /// `--state`.
    pub state: Option<PathBuf>,
    /// `--skip-invalid`.
    pub skip_invalid: bool,
    /// Streams in parallel.
    pub jobs: usize,
    /// `--wait`: wait for another sync of the connection into the same store to end.
    pub wait: bool,
    /// `--notify-url` and `--stale-after`.
    pub alerts: Option<Alerting>,
}

/// Where alerts go, and when a stream counts as stale.
#[derive(Debug, Clone)]
pub struct Alerting {
    /// `--notify-url`.
    pub url: String,
    /// `--stale-after`.
    pub stale_after: Option<Duration>,
}

impl Alerting {
    /// The alerts `--notify-url` asks for, if it is given.
    pub fn from_args(args: &AlertArgs) -> Option<Alerting> {
        args.notify_url.as_ref().map(|url| Alerting { url: url.clone(), stale_after: args.stale_after })
    }
}

impl TryFrom<SyncArgs> for SyncRequest {
    type Error = InputError;

    /// `[STREAM] EARLIEST_CUTOFF`, as clap leaves them, read as one of the two forms.
    fn try_from(args: SyncArgs) -> Result<Self, InputError> {
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
            output: args.output.output,
            state: args.output.state,
            skip_invalid: args.output.skip_invalid,
            jobs: usize::from(args.jobs),
            wait: args.output.wait,
            alerts: Alerting::from_args(&args.alerts),
        })
    }
}

/// The notifier of `alerts`, checked before anything runs.
pub(super) fn notifier(alerts: Option<&Alerting>) -> Result<Option<(Notifier, Option<Duration>)>, alert::AlertError> {
    alerts.map(|a| Notifier::new(&a.url).map(|n| (n, a.stale_after))).transpose()
}

/// `runner sync`.
///
/// # Errors
/// Bad input (checked before any connector starts), or a failed write of the summary.
pub fn sync(settings: &Settings, request: &SyncRequest) -> CommandResult<Status> {
    let output = resolve::output(&request.output)?;
    let notifier = notifier(request.alerts.as_ref())?;
    let plan = ConnectionPlan {
        name: request.connection.clone(),
        connector: resolve::connector(&request.connector)?,
        config: resolve::config_file(&request.config)?,
        streams: match &request.stream {
            Some(stream) => resolve::stream(stream)?,
            None => StreamChoice::All,
        },
        cutoff: resolve::cutoff(&request.cutoff)?,
        output: output.clone(),
        state_file: request.state.clone(),
        skip_invalid: request.skip_invalid,
        fence: None,
        secrets: Vec::new(),
        wait: request.wait,
    };
    let started = Instant::now();
    let result = settings.engine.sync_connection(&plan, request.jobs);
    finish(settings, &[result], std::slice::from_ref(&output), started, output.is_stdout(), notifier.as_ref())
}

/// `runner sync-all`: every connection of the file, `--jobs` at a time; entries without an
/// output go to `--output`.
///
/// # Errors
/// A bad connections file (checked before any connector starts), or a failed write of the summary.
pub fn sync_all(settings: &Settings, request: &SyncAllArgs) -> CommandResult<Status> {
    let notifier = notifier(Alerting::from_args(&request.alerts).as_ref())?;
    let (skip_invalid, wait) = (request.skip_invalid, request.wait);
    let entries = connections_file::load(&request.connections, &request.output)?;
    let to_stdout = entries.iter().any(|e| e.output.is_stdout());
    let plans: Vec<ConnectionPlan> = entries
        .into_iter()
        .map(|entry| ConnectionPlan {
            name: Some(entry.name),
            connector: entry.connector,
            config: entry.config,
            streams: entry.streams,
            cutoff: entry.cutoff,
            output: entry.output,
            state_file: entry.state_file,
            skip_invalid: skip_invalid || entry.skip_invalid,
            fence: None,
            secrets: Vec::new(),
            wait,
        })
        .collect();
    let started = Instant::now();
    let results = settings.engine.sync_all(&plans, usize::from(request.jobs));
    let outputs: Vec<OutputSpec> = plans.into_iter().map(|plan| plan.output).collect();
    finish(settings, &results, &outputs, started, to_stdout, notifier.as_ref())
}

/// Sends the alerts of `results` (failures, and staleness with `stale_after`) within
/// [`alert::BUDGET`]; what was not sent or checked is a warning on stderr, never a failure.
pub(super) fn send_alerts(
    notifier: &Notifier,
    stale_after: Option<Duration>,
    results: &[ConnectionResult],
    outputs: &[OutputSpec],
) {
    let now = chrono::Utc::now();
    let pairs: Vec<_> = results.iter().zip(outputs).collect();
    let (alerts, mut problems) = alert::alerts_for(&pairs, stale_after, now);
    problems.extend(notifier.send_all(&alerts, now));
    for problem in problems {
        let _ = writeln!(io::stderr().lock(), "warning: {}", escape_lines(&problem.to_string()));
    }
}

/// Prints the errors, the summary (table or JSON), sends the alerts, and says how the
/// command ended. `outputs` are the results' outputs, in the same order.
fn finish(
    settings: &Settings,
    results: &[ConnectionResult],
    outputs: &[OutputSpec],
    started: Instant,
    records_on_stdout: bool,
    notifier: Option<&(Notifier, Option<Duration>)>,
) -> CommandResult<Status> {
    let errors: Vec<_> = results.iter().flat_map(ConnectionResult::errors).collect();
    if errors.iter().any(|e| e.kind() == FailureKind::StdoutClosed) {
        return Ok(Status::Success);
    }
    for error in &errors {
        let _ = writeln!(io::stderr().lock(), "error: {}", escape_lines(&error.to_string()));
    }
    let summary = if settings.json {
        Some(format!("{}\n", summary::to_json(results, started.elapsed())))
    } else if settings.verbosity() > Verbosity::Quiet {
        Some(summary::table(results))
    } else {
        None
    };
    if let Some(summary) = summary {
        if records_on_stdout {
            let _ = io::stderr().lock().write_all(crate::untrusted::escape_json(&summary).as_bytes());
        } else {
            print(&summary).context("writing the summary")?;
        }
    }
    if let Some(stopped) = settings.stopped() {
        // Stopping was asked for: no alert delays it.
        return Ok(stopped);
    }
    if let Some((notifier, stale_after)) = notifier {
        send_alerts(notifier, *stale_after, results, outputs);
    }
    Ok(match overall(results) {
        RunOutcome::Succeeded => Status::Success,
        _ if results.len() == 1 && errors.iter().all(|e| e.kind() == FailureKind::BadInput) => Status::BadInput,
        _ => Status::Failed,
    })
}
