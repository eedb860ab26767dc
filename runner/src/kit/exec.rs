//! Running one connector command for the kit through [`engine::supervisor`] and keeping its
//! [`Transcript`]: the messages with their line numbers, each record's verdict, lines that
//! are not valid protocol messages, where secrets leaked, and how the process ended.
//!
//! The per-line work (decoding, schema validation, the secret scan) runs on the
//! supervisor's mapper threads, and records are validated by the same function as in
//! `runner sync` ([`validate::record_verdict`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use protocol::{ConnectorMessage, DeclaredSchemaError, ErrorMessage, RecordCheck, SchemaRegistry, Stream};

use engine::connector::{describe, describe_error_message};
use engine::supervisor::{self, Control, Limits, Outcome, RawLine, StderrEcho, Termination};
use engine::validate;
use engine::ConnectorClient;

use super::check::Problem;
use super::leaks::{Leak, Scanner};

/// One record as the kit saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRecord {
    /// Its stdout line.
    pub line: u64,
    /// Its `_type`, if a string.
    pub record_type: Option<String>,
    /// Its `id` (a string, or a number's JSON text).
    pub id: Option<String>,
    /// Why it does not match its shared schema.
    pub error: Option<String>,
}

/// Everything one run of a connector command showed.
#[derive(Debug)]
pub struct Transcript {
    /// The kit's label for the run (`sync`, `verify (empty config)`, ...).
    pub label: String,
    /// Messages other than records, with their stdout lines.
    pub messages: Vec<(u64, ConnectorMessage)>,
    /// Records.
    pub records: Vec<SeenRecord>,
    /// Lines that are not valid protocol messages (undecodable or schema-invalid), first first.
    pub bad_lines: Vec<Problem>,
    /// How it ended, or why it could not start.
    pub outcome: Result<Outcome, String>,
    /// How long after the kit's stop request (SIGTERM) the run was over, if one was sent.
    pub after_stop: Option<Duration>,
}

impl Transcript {
    /// The `error` message the connector sent, if any, with its line.
    pub fn error_message(&self) -> Option<(u64, &ErrorMessage)> {
        self.messages.iter().find_map(|(line, m)| match m {
            ConnectorMessage::Error(e) => Some((*line, e)),
            _ => None,
        })
    }

    /// Whether the connector ended by itself (not stopped by the kit or a timeout).
    pub fn ended_by_itself(&self) -> bool {
        matches!(&self.outcome, Ok(o) if matches!(o.termination, Termination::Exited(_) | Termination::Signalled(_)))
    }

    /// Why the run did not end well: it could not start, ended other than by exiting 0, or
    /// sent an `error` message. Bad lines are not included (each check decides).
    pub fn exit_problem(&self) -> Option<Problem> {
        let outcome = match &self.outcome {
            Err(e) => return Some(Problem::new(format!("{}: could not be started: {e}", self.label))),
            Ok(outcome) => outcome,
        };
        if let Some((line, error)) = self.error_message() {
            let reason = format!("{}: {}", self.label, describe_error_message(error, &ended(&outcome.termination)));
            return Some(Problem::at(line, reason));
        }
        if outcome.success() {
            return None;
        }
        let mut reason = format!("{}: {}", self.label, ended(&outcome.termination));
        if let Some(last) = last_stderr_line(outcome) {
            reason.push_str(&format!(" (last stderr line: {last})"));
        }
        Some(Problem::new(reason))
    }

    /// The first bad line, or the exit problem: what makes a short command's answer unusable.
    pub fn problem(&self) -> Option<Problem> {
        self.bad_lines.first().cloned().map(|p| self.labelled(p)).or_else(|| self.exit_problem())
    }

    /// `problem` with the run's label in front.
    pub fn labelled(&self, problem: Problem) -> Problem {
        Problem { reason: format!("{}: {}", self.label, problem.reason), line: problem.line }
    }
}

/// How a run ended, in the kit's terms (its overall timeout is `--check-timeout`).
pub fn ended(termination: &Termination) -> String {
    match termination {
        Termination::OverallTimeout(limit) => {
            format!("did not finish within {} s (--check-timeout) and was stopped", limit.as_secs_f64())
        }
        other => describe(other),
    }
}

fn last_stderr_line(outcome: &Outcome) -> Option<String> {
    let (text, _) = outcome.stderr.last(512);
    text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| protocol::codec::snippet(l.trim(), 160))
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The kit's label for it.
    pub label: String,
    /// The arguments (the protocol command).
    pub args: Vec<String>,
    /// stdin bytes, then closed.
    pub stdin: Option<Vec<u8>>,
    /// Send SIGTERM (the supervisor's termination ladder) after the first message.
    pub stop_after_first_message: bool,
    /// Overrides the kit's limits.
    pub limits: Option<Limits>,
}

impl Run {
    /// `connector <command>` with `stdin`.
    pub fn new(label: impl Into<String>, command: &str, stdin: Option<Vec<u8>>) -> Self {
        Run {
            label: label.into(),
            args: vec![command.to_owned()],
            stdin,
            stop_after_first_message: false,
            limits: None,
        }
    }
}

/// Runs commands of one connector and remembers every secret leak seen.
pub struct Executor<'a> {
    connector: &'a ConnectorClient,
    limits: Limits,
    scanner: Scanner,
    /// What records are validated with once the spec's declared types are known to
    /// compile; the shared schemas until then.
    schemas: Option<Arc<SchemaRegistry>>,
    /// The spec's declared types, once they compile: a stream adds its own to them.
    declared: BTreeMap<String, Value>,
    leaks: Vec<Leak>,
}

impl<'a> Executor<'a> {
    /// An executor whose runs each get `check_timeout` as overall timeout.
    pub fn new(connector: &'a ConnectorClient, check_timeout: Duration) -> Self {
        let limits = Limits { overall_timeout: Some(check_timeout), ..connector.engine().limits.clone() };
        let (scanner, declared) = (Scanner::default(), BTreeMap::new());
        Executor { connector, limits, scanner, schemas: None, declared, leaks: Vec::new() }
    }

    /// The limits every run gets unless it overrides them.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// From now on, look for these secrets.
    pub fn set_scanner(&mut self, scanner: Scanner) {
        self.scanner = scanner;
    }

    /// From now on, validate records with `schemas`: the shared ones and `declared`, the
    /// spec's declared types, which compiled into `schemas`.
    pub fn set_schemas(&mut self, declared: &BTreeMap<String, Value>, schemas: SchemaRegistry) {
        self.schemas = Some(Arc::new(schemas));
        self.declared.clone_from(declared);
    }

    /// The schemas a sync of `stream` validates with, as the runner's `sync` builds them:
    /// the spec's declared types plus the stream's own (`recordSchemas`).
    ///
    /// # Errors
    /// A declaration of the stream is refused, as a sync would refuse it.
    pub fn schemas_for(&self, stream: &Stream) -> Result<SchemaRegistry, DeclaredSchemaError> {
        SchemaRegistry::global().for_stream(&self.declared, stream)
    }

    /// From now on, validate records as a sync of `stream` does (see [`Executor::schemas_for`]).
    pub fn use_stream(&mut self, stream: &Stream) {
        if !stream.record_schemas.is_empty() {
            self.schemas = self.schemas_for(stream).ok().map(Arc::new);
        }
    }

    /// The secrets being looked for.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// Every leak seen so far.
    pub fn leaks(&self) -> &[Leak] {
        &self.leaks
    }

    /// Runs one command to the end and returns what it showed.
    pub fn run(&mut self, run: Run) -> Transcript {
        let mut invocation = self.connector.invocation(run.args.clone(), run.stdin);
        invocation.limits = run.limits.unwrap_or_else(|| self.limits.clone());
        let stderr_leaks = Arc::new(Mutex::new(Vec::new()));
        let echo = stderr_scan(self.scanner.clone(), Arc::clone(&stderr_leaks));
        let (scanner, schemas) = (self.scanner.clone(), self.schemas.clone());
        let mut transcript = Transcript {
            label: run.label,
            messages: Vec::new(),
            records: Vec::new(),
            bad_lines: Vec::new(),
            outcome: Err(String::new()),
            after_stop: None,
        };
        let mut stdout_leaks = Vec::new();
        let mut stop_sent: Option<Instant> = None;
        let result = supervisor::run(
            invocation,
            Some(echo),
            move |line| inspect(line, &scanner, schemas.as_deref().unwrap_or_else(|| SchemaRegistry::global())),
            |_, batch| {
                for seen in batch {
                    if seen.leak {
                        stdout_leaks.push(seen.line);
                    }
                    seen.record_into(&mut transcript);
                }
                if run.stop_after_first_message && stop_sent.is_none() {
                    stop_sent = Some(Instant::now());
                    return Control::Stop("the kit sent SIGTERM after the first message".into());
                }
                Control::Continue
            },
        );
        transcript.after_stop = stop_sent.map(|at| at.elapsed());
        transcript.outcome = result.map_err(|e| e.to_string());
        let stderr_lines = std::mem::take(&mut *stderr_leaks.lock().unwrap_or_else(|e| e.into_inner()));
        let leak = |stream, line| Leak { command: transcript.label.clone(), stream, line };
        self.leaks.extend(stdout_leaks.into_iter().map(|line| leak("stdout", line)));
        self.leaks.extend(stderr_lines.into_iter().map(|line| leak("stderr", line)));
        transcript
    }
}

/// A stderr echo that notes the numbers of the lines holding a secret.
fn stderr_scan(scanner: Scanner, found: Arc<Mutex<Vec<u64>>>) -> StderrEcho {
    let mut number = 0;
    Box::new(move |line: &str| {
        number += 1;
        if scanner.leaks(line) {
            found.lock().unwrap_or_else(|e| e.into_inner()).push(number);
        }
    })
}

/// One stdout line, inspected on the stdout thread.
struct Seen {
    line: u64,
    leak: bool,
    body: Body,
}

enum Body {
    Message(ConnectorMessage, Option<String>),
    Record(SeenRecord, Option<String>),
    Bad(String),
}

impl Seen {
    fn record_into(self, transcript: &mut Transcript) {
        let line = self.line;
        let invalid =
            |reason: String| Problem::at(line, format!("line {line} is not a valid protocol message: {reason}"));
        match self.body {
            Body::Bad(reason) => transcript.bad_lines.push(Problem::at(line, reason)),
            Body::Message(message, violation) => {
                transcript.bad_lines.extend(violation.map(invalid));
                transcript.messages.push((line, message));
            }
            Body::Record(record, violation) => {
                transcript.bad_lines.extend(violation.map(invalid));
                transcript.records.push(record);
            }
        }
    }
}

/// Secrets are searched in the line as the connector wrote it (when it was read whole),
/// so nothing the connector printed escapes the scan.
fn inspect(line: RawLine<'_>, scanner: &Scanner, schemas: &SchemaRegistry) -> Seen {
    let leak = line.as_ref().is_ok_and(|line| scanner.leaks(line.text));
    match line.and_then(|line| line.decode()) {
        Err(error) => {
            let reason = error.to_string();
            Seen { line: error.line(), leak: leak || scanner.leaks(&reason), body: Body::Bad(reason) }
        }
        Ok((line, ConnectorMessage::Record(message))) => {
            let text = message.record.get();
            let RecordCheck { record_type, id, verdict, .. } = validate::record_verdict(schemas, text);
            let declared = record_type.as_deref().is_some_and(|t| schemas.is_declared(t));
            let error = verdict.err().map(|e| match declared && e.breaks_only_formats() {
                true => format!("{e} (hint: {})", engine::format_drift::ENFORCED_HINT),
                false => e.to_string(),
            });
            let seen = SeenRecord { line, record_type, id, error };
            let violation = record_envelope_violation(text, message.extracted_at);
            Seen { line, leak: leak || scanner.leaks(text), body: Body::Record(seen, violation) }
        }
        // A message type this runner does not know: forward compatible, nothing to check.
        Ok((line, message @ ConnectorMessage::Unknown(_))) => Seen { line, leak, body: Body::Message(message, None) },
        Ok((line, message)) => {
            let value = serde_json::to_value(&message).unwrap_or(Value::Null);
            let leak = leak || scanner.leaks(&value.to_string());
            Seen { line, leak, body: Body::Message(message, message_violation(&value)) }
        }
    }
}

/// What is wrong with a `record` message's envelope (`extracted_at`), checked against the
/// message schema. The record itself is [`validate::record_verdict`]'s business.
fn record_envelope_violation(record: &str, extracted_at: Option<String>) -> Option<String> {
    let mut envelope = Map::new();
    envelope.insert("type".into(), "record".into());
    // The decoder checked that the record is a JSON object, so this parse succeeds.
    envelope.insert("record".into(), serde_json::from_str(record).unwrap_or(Value::Null));
    if let Some(at) = extracted_at {
        envelope.insert("extracted_at".into(), at.into());
    }
    message_violation(&Value::Object(envelope))
}

fn message_violation(message: &Value) -> Option<String> {
    SchemaRegistry::global()
        .validate_message(message)
        .err()
        .map(|violations| violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::supervisor::StdoutLine;

    fn seen(line: &str) -> Seen {
        let scanner = Scanner::new(
            &serde_json::json!({"properties":{"apiToken":{"type":"string","writeOnly":true}}}),
            &serde_json::json!({"apiToken":"tok-secret-9"}),
        );
        inspect(Ok(StdoutLine { number: 3, text: line, offset: 0 }), &scanner, SchemaRegistry::global())
    }

    #[test]
    fn leaks_are_found_anywhere_in_the_raw_line() {
        // Fields the runner ignores, message types it does not know, and the tail of a long
        // garbage line are all part of what the connector printed.
        assert!(seen(r#"{"type":"log","level":"info","message":"ok","debug":"tok-secret-9"}"#).leak);
        assert!(seen(r#"{"type":"heartbeat","token":"tok-secret-9"}"#).leak);
        assert!(seen(&format!("{} tok-secret-9", "x".repeat(300))).leak);
        assert!(!seen(r#"{"type":"log","level":"info","message":"clean"}"#).leak);
    }

    #[test]
    fn records_are_validated_and_leaks_found() {
        let s = seen(r#"{"type":"record","record":{"_type":"Team","id":"T1","self":"nope","name":"tok-secret-9"}}"#);
        assert!(s.leak);
        let Body::Record(record, violation) = s.body else { panic!("not a record") };
        assert_eq!((record.record_type.as_deref(), record.id.as_deref()), (Some("Team"), Some("T1")));
        assert!(record.error.unwrap().contains("/self"));
        assert_eq!(violation, None);
    }

    #[test]
    fn messages_are_checked_against_their_protocol_schema() {
        let s = seen(r#"{"type":"verification","valid":true,"errors":"none"}"#);
        assert!(matches!(s.body, Body::Bad(_)), "errors must be a list: the decoder rejects it");
        let s = seen(r#"{"type":"stream","stream":{"_type":"Stream","id":"a","self":"not a uri","name":"A"}}"#);
        let Body::Message(_, violation) = s.body else { panic!() };
        assert!(violation.is_some());
        let s = seen("Fetched page 1 tok-secret-9");
        assert!(s.leak && matches!(s.body, Body::Bad(_)));
    }
}
