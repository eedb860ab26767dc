//! One stream sync: open the destination, load the state, run the connector with the sync
//! message, and the store loop that hands each validated record to the destination and
//! each `state` to [`Destination::checkpoint`]; at the end, the run's history.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde_json::Value;

use protocol::{
    format_instant, ErrorMessage, ProgressMessage, RecordError, RunnerMessage, SchemaRegistry, Stream, SyncMessage,
};

use super::StreamContext;
use crate::connector::{describe, kind_of, stdin_for};
use crate::error::{ConnectorCommand, FailureBuilder, FailureKind, RunError};
use crate::events::Event;
use crate::format_drift::{FormatDrift, ENFORCED_HINT, HINT};
use crate::result::StreamResult;
use crate::schemas::RunSchemas;
use crate::supervisor::{self, Control, Outcome, Termination};
use crate::validate::{self, CheckedRecord, Item};
use store::history::DRIFT_LEVEL;
use store::{Destination, DestinationError, RejectedRecord, RunOutcome, RunStart, RunSummary, StoredLog, ValidRecord};

/// Connector log lines kept with one run's history, at most (the last ones).
const KEPT_LOGS: usize = 1000;

/// Syncs one stream into a destination of its own. Never fails as a whole: the result
/// says how it ended.
pub(super) fn sync_stream(context: &StreamContext<'_>, stream: &Stream) -> StreamResult {
    match context.with_stream_secrets(stream) {
        Some(context) => sync_masked(&context, stream),
        None => sync_masked(context, stream),
    }
}

/// [`sync_stream`] once `context` masks every secret the stream names.
fn sync_masked(context: &StreamContext<'_>, stream: &Stream) -> StreamResult {
    let started = Instant::now();
    let mut result = StreamResult::new(&stream.id);
    let events = &context.engine().events;
    events.event(Event::StreamStarted { connection: &context.connection, stream: &stream.id });
    if let Some(signal) = context.engine().stop.received() {
        result.outcome = RunOutcome::Interrupted;
        let cause = format!("was not started: {} received", signal.name());
        result.error = Some(failure(context).build(FailureKind::Failed, &cause));
    } else {
        match context.schemas_for(stream) {
            Ok(schemas) => open_and_run(context, stream, schemas, &mut result),
            Err(refused) => result.error = Some(refused),
        }
    }
    result.duration = started.elapsed();
    events.event(Event::StreamFinished { connection: &context.connection, result: &result });
    result
}

/// Opens the destination, loads the stream's state and runs the connector.
fn open_and_run(context: &StreamContext<'_>, stream: &Stream, schemas: Arc<SchemaRegistry>, result: &mut StreamResult) {
    let plan = context.plan;
    let opened = match &plan.fence {
        Some(fence) => plan.output.open_fenced(fence.clone()),
        None => store::open(&plan.output, plan.state_file.as_deref()),
    };
    let with_schemas = |mut destination: Box<dyn Destination>| {
        if store::typed::enabled() {
            destination.use_schemas(Arc::new(RunSchemas::new(Arc::clone(&schemas), context.client.name())));
        }
        destination
    };
    match opened.map(with_schemas).and_then(|destination| StoreLoop::begin(context, destination, stream)) {
        Ok(store) => store.run(stream, schemas, result),
        Err(error) => result.error = Some(RunError::storage(failure(context), error)),
    }
}

/// The signal that killed the connector when the runner did not send it: the runner sends
/// SIGTERM to stop a connector, and SIGKILL only when its ladder says so (`killed`).
fn killed_by_another(outcome: &Outcome) -> Option<i32> {
    let signal = std::os::unix::process::ExitStatusExt::signal(&outcome.status?)?;
    let ours = signal == libc::SIGTERM || (signal == libc::SIGKILL && outcome.killed);
    (!ours).then_some(signal)
}

/// A failure of this stream's sync command.
fn failure(context: &StreamContext<'_>) -> FailureBuilder {
    context.client.failure(ConnectorCommand::Sync, &context.redactor)
}

/// Why the store loop stopped the connector.
enum Stopped {
    /// The connector broke the protocol or sent a record it may not (cause, hint).
    Connector { cause: String, hint: Option<String> },
    /// The destination failed.
    Storage(DestinationError),
}

/// The store loop's state for one stream run (the loop that hands records to the store).
struct StoreLoop<'a> {
    context: &'a StreamContext<'a>,
    stream_id: &'a str,
    /// The record types the stream declares itself (`recordSchemas`).
    stream_declares: &'a BTreeMap<String, Value>,
    destination: Box<dyn Destination>,
    state: Value,
    records_by_type: BTreeMap<String, u64>,
    rejected: u64,
    checkpoints: u64,
    progress: Option<ProgressMessage>,
    format_drift: FormatDrift,
    error_message: Option<ErrorMessage>,
    stopped: Option<Stopped>,
    logs: VecDeque<StoredLog>,
    /// Whether the "a secret was masked in your data" warning was given (once per run).
    warned_masked: bool,
}

impl<'a> StoreLoop<'a> {
    /// Loads the stream's state and starts the run's history entry.
    fn begin(
        context: &'a StreamContext<'a>,
        mut destination: Box<dyn Destination>,
        stream: &'a Stream,
    ) -> Result<Self, DestinationError> {
        let state = destination.load_state(&context.connection, &stream.id)?;
        destination.begin_run(&RunStart {
            connection: context.connection.clone(),
            connector: context.client.name().to_owned(),
            stream_id: stream.id.clone(),
            cutoff: context.plan.cutoff,
            started_at: Utc::now(),
        })?;
        Ok(StoreLoop {
            context,
            stream_id: &stream.id,
            stream_declares: &stream.record_schemas,
            destination,
            state: state.unwrap_or(Value::Null),
            records_by_type: BTreeMap::new(),
            rejected: 0,
            checkpoints: 0,
            progress: None,
            format_drift: FormatDrift::default(),
            error_message: None,
            stopped: None,
            logs: VecDeque::new(),
            warned_masked: false,
        })
    }

    /// Runs the connector and records the run; fills `result`.
    fn run(mut self, stream: &Stream, schemas: Arc<SchemaRegistry>, result: &mut StreamResult) {
        let (plan, client) = (self.context.plan, &self.context.client);
        let sync = RunnerMessage::Sync(SyncMessage {
            stream: stream.clone(),
            earliest_data_cutoff: format_instant(plan.cutoff),
            state: std::mem::take(&mut self.state),
        });
        let invocation = client.invocation(vec!["sync".into()], Some(stdin_for(&plan.config, Some(&sync))));
        let echo = client.stderr_echo(&self.context.connection, &self.context.redactor);
        let checker = validate::checker(self.context.redactor.clone(), schemas);
        let outcome = supervisor::run(invocation, echo, checker, |text, batch| self.handle(text, batch));
        // Everything written is made durable before the run's end is decided: a
        // destination that writes in the background reports a late failure here.
        if self.stopped.is_none() {
            if let Err(error) = self.destination.flush() {
                self.stopped = Some(Stopped::Storage(error));
            }
        }
        let (outcome, error) = match outcome {
            Ok(outcome) => self.judge(&outcome),
            Err(spawn) => {
                let cause = format!("could not be started: {spawn}");
                (RunOutcome::Failed, Some(failure(self.context).build(FailureKind::BadInput, &cause)))
            }
        };
        self.finish(outcome, error, result);
    }

    fn stored(&self) -> u64 {
        self.records_by_type.values().sum()
    }

    /// Decides how the run ended and builds its error.
    fn judge(&mut self, outcome: &Outcome) -> (RunOutcome, Option<RunError>) {
        let (context, stored) = (self.context, self.stored());
        let failure = || failure(context).elapsed(outcome.elapsed).stored(stored).stderr(&outcome.stderr);
        match self.stopped.take() {
            Some(Stopped::Storage(error)) => return (RunOutcome::Failed, Some(RunError::storage(failure(), error))),
            Some(Stopped::Connector { cause, hint }) => {
                // A connector killed mid-line leaves half a line: that it was killed is the news.
                let cause = match killed_by_another(outcome) {
                    Some(signal) => {
                        format!("{}; its last line was cut short: {cause}", describe(&Termination::Signalled(signal)))
                    }
                    None => cause,
                };
                return (RunOutcome::Failed, Some(failure().hint(hint).build(FailureKind::Failed, &cause)));
            }
            None => {}
        }
        if outcome.success() && self.error_message.is_none() {
            return (RunOutcome::Succeeded, None);
        }
        let error = context.client.failed(failure(), outcome, self.error_message.as_ref());
        let run_outcome = match kind_of(&outcome.termination) {
            FailureKind::Interrupted(_) => RunOutcome::Interrupted,
            _ => RunOutcome::Failed,
        };
        if !outcome.stderr.is_blank() {
            let text = self.context.redactor.redact(&outcome.stderr.text()).into_owned();
            self.keep_log("stderr", text);
        }
        (run_outcome, Some(error))
    }

    fn finish(mut self, outcome: RunOutcome, mut error: Option<RunError>, result: &mut StreamResult) {
        self.report_format_drift();
        let summary = RunSummary {
            outcome,
            finished_at: Utc::now(),
            records_by_type: std::mem::take(&mut self.records_by_type),
            rejected: self.rejected,
            checkpoints: self.checkpoints,
            error: error.as_ref().map(ToString::to_string),
            logs: self.logs.drain(..).collect(),
        };
        let mut outcome = outcome;
        if let Err(e) = self.destination.finish_run(&summary) {
            outcome = RunOutcome::Failed;
            error = error.or_else(|| Some(RunError::storage(failure(self.context), e)));
        }
        result.outcome = outcome;
        result.records_by_type = summary.records_by_type;
        result.rejected = self.rejected;
        result.checkpoints = self.checkpoints;
        result.progress = self.progress.take();
        result.format_drift = std::mem::take(&mut self.format_drift);
        result.error = error;
    }

    /// Says what format drift the run found: a warning, and a `drift` line per field in
    /// the run's logs (what `runner runs` shows).
    fn report_format_drift(&mut self) {
        if self.format_drift.is_empty() {
            return;
        }
        let lines = self.format_drift.lines();
        let message = format!("stream `{}`: format drift ({HINT}):\n  {}", self.stream_id, lines.join("\n  "));
        let connection = &self.context.connection;
        self.context.engine().events.event(Event::FormatDrift { connection, message: &message });
        for line in lines {
            self.keep_log(DRIFT_LEVEL, line);
        }
    }

    /// Handles one batch from the stdout pipeline; its records are ranges of `text`.
    fn handle(&mut self, text: &str, batch: Vec<Item>) -> Control {
        let received_at = format_instant(Utc::now());
        for item in batch {
            if let Err(stopped) = self.item(item, text, &received_at) {
                let reason = match &stopped {
                    Stopped::Connector { cause, .. } => cause.clone(),
                    Stopped::Storage(error) => format!("could not store its output: {error}"),
                };
                self.stopped = Some(stopped);
                return Control::Stop(reason);
            }
        }
        self.context.engine().events.event(Event::Progress {
            connection: &self.context.connection,
            stream: self.stream_id,
            records_by_type: &self.records_by_type,
            rejected: self.rejected,
        });
        Control::Continue
    }

    fn item(&mut self, item: Item, text: &str, received_at: &str) -> Result<(), Stopped> {
        match item {
            Item::Record(record) => self.record(record, text, received_at),
            Item::State { line, state, masked } => {
                if masked {
                    self.warn_masked(&format!("the state on line {line}"));
                }
                self.destination.checkpoint(&state).map_err(Stopped::Storage)?;
                self.checkpoints += 1;
                Ok(())
            }
            Item::Progress(progress) => {
                let (connection, stream) = (&self.context.connection, self.stream_id);
                self.context.engine().events.event(Event::ConnectorProgress {
                    connection,
                    stream,
                    progress: &progress,
                });
                self.progress = Some(progress);
                Ok(())
            }
            Item::Log(log) => {
                let message = self.context.redactor.redact(&log.message).into_owned();
                // From the connection, not the connector: parallel connections stay distinguishable.
                let source = &self.context.connection;
                self.context.engine().events.event(Event::ConnectorLog { source, level: log.level, message: &message });
                self.keep_log(log.level.as_str(), message);
                Ok(())
            }
            Item::Error(error) => {
                self.error_message = Some(error);
                Ok(())
            }
            Item::Ignored { line, kind } => {
                let message = format!("ignoring a \"{kind}\" message on line {line} during sync");
                self.context.engine().events.event(Event::Debug { message: &message });
                Ok(())
            }
            Item::Bad(error) => {
                let hint = matches!(error, protocol::CodecError::LineTooLong { .. })
                    .then(|| "raise --max-message-bytes if such large records are expected".to_owned());
                Err(Stopped::Connector { cause: format!("broke the protocol: {error}"), hint })
            }
        }
    }

    fn record(&mut self, record: CheckedRecord, text: &str, received_at: &str) -> Result<(), Stopped> {
        let CheckedRecord { line, json, extracted_at, record_type, id, verdict, format_drift } = record;
        if json.is_masked() {
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
                    json: json.get(text),
                    extracted_at: extracted_at.as_deref().unwrap_or(received_at),
                };
                self.destination.write_record(&valid).map_err(Stopped::Storage)?;
                for found in &format_drift {
                    self.format_drift.add(&record_type, found, &self.context.redactor);
                }
                *self.records_by_type.entry(record_type).or_insert(0) += 1;
                Ok(())
            }
            Err(error @ RecordError::UnknownType { .. }) => Err(Stopped::Connector {
                cause: format!("sent a record of an unknown type on line {line}: {error}"),
                hint: Some("every _type needs a shared schema in schemas/records/".to_owned()),
            }),
            Err(error) if self.context.plan.skip_invalid => {
                let errors = error.to_string();
                let rejected = RejectedRecord {
                    record_type: record_type.as_deref(),
                    id: id.as_deref(),
                    json: json.get(text),
                    errors: &errors,
                    line,
                };
                self.destination.write_rejected(&rejected).map_err(Stopped::Storage)?;
                self.rejected += 1;
                Ok(())
            }
            Err(error) => {
                let hint = self.invalid_record_hint(&error, record_type.as_deref());
                Err(Stopped::Connector {
                    cause: format!("sent an invalid record on line {line}: {error}"),
                    hint: Some(hint),
                })
            }
        }
    }

    /// What to do about an invalid record: `--skip-invalid`, and for a record that breaks
    /// only formats of a type the stream declares (an adapter's translation of a third
    /// party's schema), the adapter's `formats` option.
    fn invalid_record_hint(&self, error: &RecordError, record_type: Option<&str>) -> String {
        let skip = "--skip-invalid stores rejected records with their errors and goes on";
        let declared = record_type.is_some_and(|t| self.stream_declares.contains_key(t));
        if declared && error.breaks_only_formats() {
            format!("{ENFORCED_HINT}; or {skip}")
        } else {
            skip.to_owned()
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
        let connection = &self.context.connection;
        self.context.engine().events.event(Event::SecretMasked { connection, message: &message });
        self.keep_log("warn", message);
    }

    fn keep_log(&mut self, level: &str, message: String) {
        if self.logs.len() == KEPT_LOGS {
            self.logs.pop_front();
        }
        self.logs.push_back(StoredLog { at: Utc::now(), level: level.to_owned(), message });
    }
}
