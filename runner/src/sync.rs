//! Orchestrating syncs: one connection (spec, discover, then every chosen stream, in
//! parallel up to `--jobs`), and one stream (the sync message, the store loop that
//! writes validated records and checkpoints to the destination, and the run's history).
//!
//! Invariant: a state is handed to the destination only after every record before it,
//! through [`Destination::checkpoint`], which makes them durable first.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use protocol::{format_instant, ErrorMessage, RecordError, Redactor, RunnerMessage, Stream, SyncMessage};

use crate::connector::{Connector, ConnectorError, FailureKind, FailureReport};
use crate::console::Progress;
use crate::destination::{
    self, Destination, DestinationError, OutputSpec, RejectedRecord, RunOutcome, RunStart, RunSummary, StoredLog,
    ValidRecord,
};
use crate::jobs::run_parallel;
use crate::report::{ConnectionReport, StreamReport};
use crate::resolve::{self, StreamChoice};
use crate::supervisor::{self, signals, Control, Outcome};
use crate::validate::{self, CheckedRecord, Item};

/// Connector log lines kept with one run's history, at most (the last ones).
const KEPT_LOGS: usize = 1000;

/// One connection to sync, fully resolved and validated.
#[derive(Debug, Clone)]
pub struct ConnectionPlan {
    /// `--connection` or the `sync-all` entry's name; `None` means the spec's name.
    pub name: Option<String>,
    /// The connector.
    pub connector: Connector,
    /// Its configuration.
    pub config: Value,
    /// Which streams.
    pub streams: StreamChoice,
    /// The earliest-data cutoff.
    pub cutoff: DateTime<Utc>,
    /// Where records go.
    pub output: OutputSpec,
    /// `--state FILE`.
    pub state_file: Option<PathBuf>,
    /// `--skip-invalid`.
    pub skip_invalid: bool,
}

/// Everything one stream sync needs besides the stream.
struct StreamContext<'a> {
    plan: &'a ConnectionPlan,
    connection: String,
    redactor: Redactor,
}

/// Syncs a connection: spec, discover (unless given a Stream record), then each stream,
/// `jobs` at a time. Never fails as a whole: failures are in the report.
pub fn sync_connection(plan: &ConnectionPlan, jobs: usize) -> ConnectionReport {
    let started = Instant::now();
    let mut report = ConnectionReport {
        name: plan.name.clone().unwrap_or_else(|| plan.connector.name().to_owned()),
        connector: plan.connector.name().to_owned(),
        streams: Vec::new(),
        error: None,
        duration: Duration::ZERO,
    };
    match prepare(plan) {
        Ok((context, streams)) => {
            report.name.clone_from(&context.connection);
            report.streams = run_parallel(jobs, &streams, |stream| sync_stream(&context, stream));
        }
        Err(error) => report.error = Some(error),
    }
    report.duration = started.elapsed();
    report
}

fn prepare(plan: &ConnectionPlan) -> Result<(StreamContext<'_>, Vec<Stream>), ConnectorError> {
    let spec = plan.connector.spec()?;
    let redactor = Redactor::from_config(&spec.config_schema, &plan.config);
    let connection = plan.name.clone().unwrap_or_else(|| spec.name.clone());
    let streams = match &plan.streams {
        StreamChoice::Record(stream) => vec![stream.clone()],
        choice => {
            let found = plan.connector.discover(&plan.config, &redactor)?;
            resolve::pick_streams(plan.connector.name(), choice, found).map_err(|e| {
                let report = FailureReport {
                    connector: plan.connector.name(),
                    command: "sync",
                    cause: format!("cannot sync: {e}"),
                    ..Default::default()
                };
                report.into_error(FailureKind::BadInput, &redactor)
            })?
        }
    };
    Ok((StreamContext { plan, connection, redactor }, streams))
}

/// Syncs one stream into a destination of its own.
fn sync_stream(context: &StreamContext<'_>, stream: &Stream) -> StreamReport {
    let started = Instant::now();
    let mut report = StreamReport {
        stream: stream.id.clone(),
        outcome: RunOutcome::Failed,
        records_by_type: BTreeMap::new(),
        rejected: 0,
        checkpoints: 0,
        state_saved: false,
        duration: Duration::ZERO,
        error: None,
    };
    if let Some(signal) = signals::received() {
        report.outcome = RunOutcome::Interrupted;
        report.error = Some(simple_error(context, &format!("was not started: {} received", signal.name()), None));
        return report;
    }
    let plan = context.plan;
    let destination = destination::open(&plan.output, plan.state_file.as_deref());
    let result = destination.map_err(|e| storage_error(context, &e)).and_then(|destination| {
        let mut store = Store::new(context, destination, stream);
        store.begin(stream).map_err(|e| storage_error(context, &e))?;
        store.run(stream, &mut report);
        Ok(())
    });
    if let Err(error) = result {
        report.error = Some(error);
    }
    report.duration = started.elapsed();
    report
}

fn simple_error(context: &StreamContext<'_>, cause: &str, hint: Option<String>) -> ConnectorError {
    let report = FailureReport {
        connector: context.plan.connector.name(),
        command: "sync",
        cause: cause.to_owned(),
        hint,
        ..Default::default()
    };
    report.into_error(FailureKind::Failed, &context.redactor)
}

fn storage_error(context: &StreamContext<'_>, error: &DestinationError) -> ConnectorError {
    if error.is_stdout_closed() {
        return ConnectorError::broken_pipe();
    }
    simple_error(context, &format!("could not store its output: {error}"), None)
}

/// Why the store loop stopped the connector.
struct Failure {
    cause: String,
    hint: Option<String>,
    broken_pipe: bool,
}

/// The store loop's state for one stream run.
struct Store<'a> {
    context: &'a StreamContext<'a>,
    destination: Box<dyn Destination>,
    progress: Progress,
    state: Option<Value>,
    records_by_type: BTreeMap<String, u64>,
    rejected: u64,
    checkpoints: u64,
    error_message: Option<ErrorMessage>,
    failure: Option<Failure>,
    logs: VecDeque<StoredLog>,
    /// Whether the "a secret was masked in your data" warning was given (once per run).
    warned_masked: bool,
}

impl<'a> Store<'a> {
    fn new(context: &'a StreamContext<'a>, destination: Box<dyn Destination>, stream: &Stream) -> Self {
        let label = format!("{} {}", context.connection, stream.id);
        Store {
            context,
            destination,
            progress: context.plan.connector.console.progress(&label),
            state: None,
            records_by_type: BTreeMap::new(),
            rejected: 0,
            checkpoints: 0,
            error_message: None,
            failure: None,
            logs: VecDeque::new(),
            warned_masked: false,
        }
    }

    fn begin(&mut self, stream: &Stream) -> Result<(), DestinationError> {
        self.state = self.destination.load_state(&self.context.connection, &stream.id)?;
        self.destination.begin_run(&RunStart {
            connection: self.context.connection.clone(),
            connector: self.context.plan.connector.name().to_owned(),
            stream_id: stream.id.clone(),
            cutoff: self.context.plan.cutoff,
            started_at: Utc::now(),
        })
    }

    /// Runs the connector and records the run; fills `report`.
    fn run(mut self, stream: &Stream, report: &mut StreamReport) {
        let plan = self.context.plan;
        let sync = RunnerMessage::Sync(SyncMessage {
            stream: stream.clone(),
            earliest_data_cutoff: format_instant(plan.cutoff),
            state: self.state.take().unwrap_or(Value::Null),
        });
        let stdin = Connector::stdin_for(&plan.config, Some(&sync));
        let invocation = plan.connector.invocation("sync", Some(stdin));
        let echo = plan.connector.stderr_echo(&self.context.connection, &self.context.redactor);
        let outcome = supervisor::run(invocation, echo, validate::checker(self.context.redactor.clone()), |batch| {
            self.handle(batch)
        });
        self.progress.finish();
        let (outcome, error) = match outcome {
            Ok(outcome) => self.judge(&outcome),
            Err(spawn) => {
                let cause = format!("could not be started: {spawn}");
                let report =
                    FailureReport { connector: plan.connector.name(), command: "sync", cause, ..Default::default() };
                (RunOutcome::Failed, Some(report.into_error(FailureKind::BadInput, &self.context.redactor)))
            }
        };
        self.finish(outcome, error, report);
    }

    /// Decides how the run ended and builds its error.
    fn judge(&mut self, outcome: &Outcome) -> (RunOutcome, Option<ConnectorError>) {
        let connector = &self.context.plan.connector;
        let redactor = &self.context.redactor;
        let stored = Some(self.records_by_type.values().sum());
        if let Some(failure) = &self.failure {
            if failure.broken_pipe {
                return (RunOutcome::Failed, Some(ConnectorError::broken_pipe()));
            }
            let mut report = connector.failure("sync", outcome, None, stored);
            report.cause.clone_from(&failure.cause);
            report.hint.clone_from(&failure.hint);
            return (RunOutcome::Failed, Some(report.into_error(FailureKind::Failed, redactor)));
        }
        if outcome.success() && self.error_message.is_none() {
            return (RunOutcome::Succeeded, None);
        }
        let report = connector.failure("sync", outcome, self.error_message.as_ref(), stored);
        let kind = crate::connector::kind_of(&outcome.termination);
        let run_outcome =
            if matches!(kind, FailureKind::Interrupted(_)) { RunOutcome::Interrupted } else { RunOutcome::Failed };
        if !outcome.stderr.is_blank() {
            let text = redactor.redact(&outcome.stderr.text()).into_owned();
            self.keep_log("stderr", text);
        }
        (run_outcome, Some(report.into_error(kind, redactor)))
    }

    fn finish(mut self, outcome: RunOutcome, mut error: Option<ConnectorError>, report: &mut StreamReport) {
        let summary = RunSummary {
            outcome,
            finished_at: Utc::now(),
            records_by_type: self.records_by_type.clone(),
            rejected: self.rejected,
            checkpoints: self.checkpoints,
            error: error.as_ref().map(ToString::to_string),
            logs: self.logs.drain(..).collect(),
        };
        let mut outcome = outcome;
        if let Err(e) = self.destination.finish_run(&summary) {
            outcome = RunOutcome::Failed;
            error = error.or_else(|| Some(storage_error(self.context, &e)));
        }
        report.outcome = outcome;
        report.records_by_type = summary.records_by_type;
        report.rejected = self.rejected;
        report.checkpoints = self.checkpoints;
        report.state_saved = self.checkpoints > 0;
        report.error = error;
    }

    /// Handles one batch from the stdout thread.
    fn handle(&mut self, batch: Vec<Item>) -> Control {
        let received_at = format_instant(Utc::now());
        for item in batch {
            if let Err(failure) = self.item(item, &received_at) {
                let cause = failure.cause.clone();
                self.failure = Some(failure);
                return Control::Stop(cause);
            }
        }
        self.progress.update(&self.records_by_type, self.rejected);
        Control::Continue
    }

    fn item(&mut self, item: Item, received_at: &str) -> Result<(), Failure> {
        match item {
            Item::Record(record) => self.record(record, received_at),
            Item::State { line, state, masked } => {
                if masked {
                    self.warn_masked(&format!("the state on line {line}"));
                }
                self.destination.checkpoint(Some(&state)).map_err(|e| self.storage_failure(&e))?;
                self.checkpoints += 1;
                Ok(())
            }
            Item::Log(log) => {
                let message = self.context.redactor.redact(&log.message).into_owned();
                // Prefixed with the connection name: parallel connections stay distinguishable.
                self.context.plan.connector.console.connector_log(&self.context.connection, log.level, &message);
                self.keep_log(log.level.as_str(), message);
                Ok(())
            }
            Item::Error(error) => {
                self.error_message = Some(error);
                Ok(())
            }
            Item::Ignored { line, kind } => {
                let note = format!("ignoring a \"{kind}\" message on line {line} during sync");
                self.context.plan.connector.console.debug(&note);
                Ok(())
            }
            Item::Bad(error) => {
                let hint = matches!(error, protocol::CodecError::LineTooLong { .. })
                    .then(|| "raise --max-message-bytes if such large records are expected".to_owned());
                Err(Failure { cause: format!("broke the protocol: {error}"), hint, broken_pipe: false })
            }
        }
    }

    fn record(&mut self, record: CheckedRecord, received_at: &str) -> Result<(), Failure> {
        let CheckedRecord { line, raw, masked, extracted_at, record_type, id, verdict } = record;
        if masked {
            let what = format!(
                "record {} `{}` (line {line})",
                record_type.as_deref().unwrap_or("?"),
                id.as_deref().unwrap_or("?")
            );
            self.warn_masked(&what);
        }
        match verdict {
            Ok(()) => {
                let record_type = record_type.expect("a valid record has a _type");
                let valid = ValidRecord {
                    record_type: &record_type,
                    id: id.as_deref().unwrap_or(""),
                    json: raw.get(),
                    extracted_at: extracted_at.as_deref().unwrap_or(received_at),
                };
                self.destination.write_record(&valid).map_err(|e| self.storage_failure(&e))?;
                *self.records_by_type.entry(record_type).or_insert(0) += 1;
                Ok(())
            }
            Err(error @ RecordError::UnknownType { .. }) => Err(Failure {
                cause: format!("sent a record of an unknown type on line {line}: {error}"),
                hint: Some("every _type needs a shared schema in schemas/records/".to_owned()),
                broken_pipe: false,
            }),
            Err(error) if self.context.plan.skip_invalid => {
                let errors = error.to_string();
                let rejected = RejectedRecord {
                    record_type: record_type.as_deref(),
                    id: id.as_deref(),
                    json: raw.get(),
                    errors: &errors,
                    line,
                };
                self.destination.write_rejected(&rejected).map_err(|e| self.storage_failure(&e))?;
                self.rejected += 1;
                Ok(())
            }
            Err(error) => Err(Failure {
                cause: format!("sent an invalid record on line {line}: {error}"),
                hint: Some("--skip-invalid stores rejected records with their errors and goes on".to_owned()),
                broken_pipe: false,
            }),
        }
    }

    fn storage_failure(&self, error: &DestinationError) -> Failure {
        Failure {
            cause: format!("could not store its output: {error}"),
            hint: None,
            broken_pipe: error.is_stdout_closed(),
        }
    }

    /// A connector put a secret into its data; it was stored masked. Said once per run.
    fn warn_masked(&mut self, what: &str) {
        if self.warned_masked {
            return;
        }
        self.warned_masked = true;
        let message = format!(
            "{what} contained the value of a writeOnly configuration field; it was stored with the value masked as *** \
             (a connector bug: report it to its author)"
        );
        self.context.plan.connector.console.warn(&message);
        self.keep_log("warn", message);
    }

    fn keep_log(&mut self, level: &str, message: String) {
        if self.logs.len() == KEPT_LOGS {
            self.logs.pop_front();
        }
        self.logs.push_back(StoredLog { at: Utc::now(), level: level.to_owned(), message });
    }
}
