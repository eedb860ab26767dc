//! Talking to one connector: its `spec`, `verify` and `discover` commands, and the
//! errors that name the connector, the command and the cause (shared with `sync`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use protocol::{
    ConfigMessage, ConnectorMessage, ErrorMessage, Redactor, RunnerMessage, SchemaRegistry, Spec, Stream, Verification,
    PROTOCOL_VERSION,
};

use crate::console::Console;
use crate::resolve::ConnectorPath;
use crate::supervisor::{self, Captured, Control, Invocation, Limits, Outcome, StopSignal, Termination};

/// How much of the connector's stderr an error message shows.
const STDERR_IN_ERRORS: usize = 2048;

/// What kind of failure, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The connector or the sync failed (exit 1).
    Failed,
    /// The connector could not be started, or was asked for a stream it does not have
    /// (bad input, exit 2).
    BadInput,
    /// Ctrl-C or SIGTERM (exit 130 or 143).
    Interrupted(StopSignal),
    /// Our stdout was closed by its reader (`runner sync c c.json 2026-01-01 --output - | head`):
    /// exit 0 quietly.
    BrokenPipe,
}

/// A failed connector command, rendered once, secrets masked.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{rendered}")]
pub struct ConnectorError {
    /// For the exit code.
    pub kind: FailureKind,
    rendered: String,
}

impl ConnectorError {
    /// The error for a closed stdout.
    pub fn broken_pipe() -> Self {
        ConnectorError { kind: FailureKind::BrokenPipe, rendered: "stdout was closed by its reader".to_owned() }
    }
}

/// Everything an error about a connector command says.
#[derive(Debug, Default)]
pub struct FailureReport<'a> {
    /// How the connector was named.
    pub connector: &'a str,
    /// `spec`, `verify`, `discover` or `sync`.
    pub command: &'a str,
    /// What happened, as a phrase after the connector's name ("exited with status 1").
    pub cause: String,
    /// How long it ran.
    pub elapsed: Option<Duration>,
    /// Records stored (sync).
    pub stored: Option<u64>,
    /// Its stderr, shown fenced and truncated.
    pub stderr: Option<&'a Captured>,
    /// What to try.
    pub hint: Option<String>,
}

impl FailureReport<'_> {
    /// The error, with secrets masked.
    pub fn into_error(self, kind: FailureKind, redactor: &Redactor) -> ConnectorError {
        ConnectorError { kind, rendered: redactor.redact(&self.render()).into_owned() }
    }

    fn render(&self) -> String {
        let mut out = format!("connector `{}` ({}) {}", self.connector, self.command, self.cause);
        if let Some(elapsed) = self.elapsed {
            let _ = write!(out, " after {}", crate::human::duration(elapsed));
        }
        if let Some(stored) = self.stored {
            let _ = write!(out, " ({stored} records stored)");
        }
        if let Some(stderr) = self.stderr.filter(|s| !s.is_blank()) {
            out.push('\n');
            out.push_str(&fence_stderr(stderr));
        }
        if let Some(hint) = &self.hint {
            let _ = write!(out, "\nhint: {hint}");
        }
        out
    }
}

/// The stderr tail between `---- stderr ----` fences.
pub fn fence_stderr(stderr: &Captured) -> String {
    let (text, partial) = stderr.last(STDERR_IN_ERRORS);
    let title = if partial {
        format!("---- stderr (last {} of {}) ----", kib(text.len() as u64), kib(stderr.total_bytes))
    } else {
        "---- stderr ----".to_owned()
    };
    let rule = "-".repeat(title.chars().count());
    format!("{title}\n{}\n{rule}", text.trim_end())
}

fn kib(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// The phrase for how a connector ended, e.g. "exited with status 1".
pub fn describe(termination: &Termination) -> String {
    match termination {
        Termination::Exited(code) => format!("exited with status {code}"),
        Termination::Signalled(signal) => format!("was killed by signal {signal}"),
        Termination::IdleTimeout(idle) => {
            format!("sent no message for {} s (--idle-timeout) and was stopped", idle.as_secs_f64())
        }
        Termination::OverallTimeout(total) => {
            format!("ran longer than {} s (--timeout) and was stopped", total.as_secs_f64())
        }
        Termination::Stopped(reason) => reason.clone(),
        Termination::Interrupted(signal) => format!("was interrupted by {}", signal.name()),
    }
}

/// A hint for how a connector ended, if there is a useful one.
pub fn hint_for(termination: &Termination, error: Option<&ErrorMessage>, connector: &str) -> Option<String> {
    if let Some(error) = error {
        return match error.kind {
            protocol::ErrorKind::Config | protocol::ErrorKind::Auth => {
                Some(format!("check the configuration with `runner verify {connector} <config.json>`"))
            }
            protocol::ErrorKind::RateLimited | protocol::ErrorKind::Transient => {
                Some("this may pass: try again later".to_owned())
            }
            protocol::ErrorKind::Internal => None,
        };
    }
    match termination {
        Termination::IdleTimeout(_) => Some("raise --idle-timeout if the source is just slow".to_owned()),
        Termination::OverallTimeout(_) => Some("raise --timeout, or sync fewer streams at once".to_owned()),
        _ => None,
    }
}

/// The failure kind of a termination.
pub fn kind_of(termination: &Termination) -> FailureKind {
    match termination {
        Termination::Interrupted(signal) => FailureKind::Interrupted(*signal),
        _ => FailureKind::Failed,
    }
}

/// A resolved connector and how to run it.
#[derive(Debug, Clone)]
pub struct Connector {
    /// The executable and its display name.
    pub path: ConnectorPath,
    /// Timeouts and size limits.
    pub limits: Limits,
    /// Where logs go.
    pub console: Arc<Console>,
}

/// What a non-sync command produced.
struct Collected {
    messages: Vec<ConnectorMessage>,
}

impl Connector {
    /// The connector's name for messages.
    pub fn name(&self) -> &str {
        &self.path.display
    }

    /// The stdin bytes for a command: the config message, then `extra` messages.
    pub fn stdin_for(config: &Value, extra: Option<&RunnerMessage>) -> Vec<u8> {
        let mut bytes = Vec::new();
        let config = RunnerMessage::Config(ConfigMessage { protocol: PROTOCOL_VERSION, config: config.clone() });
        for message in std::iter::once(&config).chain(extra) {
            protocol::codec::write_message(&mut bytes, message).expect("writing to a Vec cannot fail");
        }
        bytes
    }

    /// The invocation of `command` with `stdin`.
    pub fn invocation(&self, command: &str, stdin: Option<Vec<u8>>) -> Invocation {
        Invocation {
            program: self.path.program.clone(),
            args: vec![command.to_owned()],
            stdin,
            limits: self.limits.clone(),
        }
    }

    /// Echoes stderr lines (redacted) with `-v`, prefixed with `label`.
    pub fn stderr_echo(&self, label: &str, redactor: &Redactor) -> Option<supervisor::StderrEcho> {
        if self.console.verbosity() < crate::console::Verbosity::Verbose {
            return None;
        }
        let (console, redactor, name) = (Arc::clone(&self.console), redactor.clone(), label.to_owned());
        Some(Box::new(move |line: &str| console.connector_stderr(&name, &redactor.redact(line))))
    }

    /// Runs `spec` and checks the answer: schema-valid and protocol 1.
    ///
    /// # Errors
    /// The connector failed, sent no spec, an invalid one, or speaks another protocol.
    pub fn spec(&self) -> Result<Spec, ConnectorError> {
        let redactor = Redactor::default();
        let collected = self.collect("spec", None, &redactor)?;
        let spec = collected.messages.into_iter().find_map(|m| match m {
            ConnectorMessage::Spec(spec) => Some(spec),
            _ => None,
        });
        let fail = |cause: String, hint: Option<String>| {
            FailureReport { connector: self.name(), command: "spec", cause, hint, ..Default::default() }
                .into_error(FailureKind::Failed, &redactor)
        };
        let spec = spec.ok_or_else(|| fail("sent no spec message".into(), None))?;
        if spec.protocol != PROTOCOL_VERSION {
            return Err(fail(
                format!("speaks protocol {}, this runner speaks {PROTOCOL_VERSION}", spec.protocol),
                Some("use a runner and a connector of the same protocol major version".into()),
            ));
        }
        let mut as_value = serde_json::to_value(&spec).expect("a Spec serialises");
        as_value["type"] = Value::from("spec");
        if let Err(violations) = SchemaRegistry::global().validate_message(&as_value) {
            let list = violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            return Err(fail(format!("sent an invalid spec message: {list}"), None));
        }
        Ok(spec)
    }

    /// Runs `verify`.
    ///
    /// # Errors
    /// The connector failed or did not answer with exactly one verification; an invalid
    /// configuration is an `Ok` answer.
    pub fn verify(&self, config: &Value, redactor: &Redactor) -> Result<Verification, ConnectorError> {
        let collected = self.collect("verify", Some(Self::stdin_for(config, None)), redactor)?;
        let mut answers: Vec<Verification> = collected
            .messages
            .into_iter()
            .filter_map(|m| match m {
                ConnectorMessage::Verification(v) => Some(v),
                _ => None,
            })
            .collect();
        if answers.len() != 1 {
            let cause = format!("sent {} verification messages, expected exactly one", answers.len());
            let report = FailureReport { connector: self.name(), command: "verify", cause, ..Default::default() };
            return Err(report.into_error(FailureKind::Failed, redactor));
        }
        Ok(answers.remove(0))
    }

    /// Runs `discover`.
    ///
    /// # Errors
    /// The connector failed, or found no stream, or sent an invalid Stream record.
    pub fn discover(&self, config: &Value, redactor: &Redactor) -> Result<Vec<Stream>, ConnectorError> {
        let collected = self.collect("discover", Some(Self::stdin_for(config, None)), redactor)?;
        let streams: Vec<Stream> = collected
            .messages
            .into_iter()
            .filter_map(|m| match m {
                ConnectorMessage::Stream(s) => Some(s.stream),
                _ => None,
            })
            .collect();
        let fail = |cause: String| {
            FailureReport { connector: self.name(), command: "discover", cause, ..Default::default() }
                .into_error(FailureKind::Failed, redactor)
        };
        if streams.is_empty() {
            return Err(fail("found no stream (discover must emit at least one)".into()));
        }
        for stream in &streams {
            let value = serde_json::to_value(stream).expect("a Stream serialises");
            SchemaRegistry::global()
                .validate_record(&value)
                .map_err(|e| fail(format!("sent an invalid stream: {e}")))?;
        }
        Ok(streams)
    }

    /// Runs a short command, forwarding logs, and returns its other messages. Fails on a
    /// bad line, an `error` message or any unsuccessful end.
    fn collect(&self, command: &str, stdin: Option<Vec<u8>>, redactor: &Redactor) -> Result<Collected, ConnectorError> {
        let mut messages = Vec::new();
        let mut error: Option<ErrorMessage> = None;
        let console = Arc::clone(&self.console);
        let outcome = supervisor::run(
            self.invocation(command, stdin),
            self.stderr_echo(self.name(), redactor),
            |incoming, _| incoming,
            |batch| {
                for incoming in batch {
                    match incoming {
                        Ok((_, ConnectorMessage::Log(log))) => {
                            console.connector_log(self.name(), log.level, &redactor.redact(&log.message))
                        }
                        Ok((_, ConnectorMessage::Error(e))) => error = Some(e),
                        Ok((_, ConnectorMessage::Unknown(kind))) => {
                            console.debug(&format!("ignoring message of unknown type \"{kind}\""))
                        }
                        Ok((_, message)) => messages.push(message),
                        Err(e) => return Control::Stop(format!("sent a bad line: {e}")),
                    }
                }
                Control::Continue
            },
        )
        .map_err(|e| {
            let report = FailureReport {
                connector: self.name(),
                command,
                cause: format!("could not be started: {e}"),
                ..Default::default()
            };
            report.into_error(FailureKind::BadInput, redactor)
        })?;
        self.check(command, &outcome, error.as_ref(), redactor)?;
        Ok(Collected { messages })
    }

    /// Turns an unsuccessful outcome (or an `error` message) into an error.
    ///
    /// # Errors
    /// The error, naming the connector, the command and the cause.
    pub fn check(
        &self,
        command: &str,
        outcome: &Outcome,
        error: Option<&ErrorMessage>,
        redactor: &Redactor,
    ) -> Result<(), ConnectorError> {
        if outcome.success() && error.is_none() {
            return Ok(());
        }
        Err(self.failure(command, outcome, error, None).into_error(kind_of(&outcome.termination), redactor))
    }

    /// The report for an unsuccessful outcome.
    pub fn failure<'a>(
        &'a self,
        command: &'a str,
        outcome: &'a Outcome,
        error: Option<&ErrorMessage>,
        stored: Option<u64>,
    ) -> FailureReport<'a> {
        let mut cause = describe(&outcome.termination);
        if let Some(error) = error {
            cause = format!("failed ({} error): {}; it {cause}", error.kind, error.message);
        }
        FailureReport {
            connector: self.name(),
            command,
            cause,
            elapsed: Some(outcome.elapsed),
            stored,
            stderr: Some(&outcome.stderr),
            hint: hint_for(&outcome.termination, error, self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_name_connector_command_cause_and_fence_stderr() {
        let mut buf = crate::supervisor::capture::HeadTail::new(64, 64);
        buf.push(b"GET /incidents: 401 token tok-secret-1 rejected\n");
        let stderr = buf.snapshot();
        let report = FailureReport {
            connector: "pagerduty",
            command: "sync",
            cause: "exited with status 1".into(),
            elapsed: Some(Duration::from_millis(12_400)),
            stored: Some(310),
            stderr: Some(&stderr),
            hint: Some("check apiToken".into()),
        };
        let err = report.into_error(FailureKind::Failed, &Redactor::new(["tok-secret-1".to_owned()])).to_string();
        assert_eq!(
            err,
            "connector `pagerduty` (sync) exited with status 1 after 12.4 s (310 records stored)\n\
             ---- stderr ----\nGET /incidents: 401 token *** rejected\n----------------\nhint: check apiToken"
        );
    }

    #[test]
    fn long_stderr_is_cut_with_its_size() {
        let mut buf = crate::supervisor::capture::HeadTail::new(100_000, 100_000);
        for i in 0..2000 {
            buf.push(format!("line {i}\n").as_bytes());
        }
        let fenced = fence_stderr(&buf.snapshot());
        assert!(fenced.starts_with("---- stderr (last 2 KiB of 19 KiB) ----\n"), "{fenced}");
        assert!(fenced.contains("line 1999\n---"), "{fenced}");
    }

    #[test]
    fn stdin_has_the_config_then_the_extra_message() {
        let bytes = Connector::stdin_for(&serde_json::json!({"k": 1}), None);
        assert_eq!(String::from_utf8(bytes).unwrap(), "{\"type\":\"config\",\"protocol\":1,\"config\":{\"k\":1}}\n");
    }
}
