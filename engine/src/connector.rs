//! Talking to one connector executable: its `spec`, `verify` and `discover` commands, the
//! stdin every command gets, and how an unsuccessful end becomes a [`RunError`] that names
//! the connector, the command and the cause (shared with the stream sync).

use serde_json::Value;

use protocol::{
    ConfigMessage, ConnectorMessage, ErrorMessage, Redactor, RunnerMessage, SchemaRegistry, Spec, Stream, Verification,
    PROTOCOL_VERSION,
};

use super::error::{ConnectorCommand, FailureBuilder, FailureKind, RunError};
use super::events::Event;
use super::supervisor::{self, Control, Invocation, Outcome, StderrEcho, Termination};
use super::{ConnectorProgram, Engine};

/// The stdin bytes of a command: the `config` message, then `extra` (the `sync` message).
pub fn stdin_for(config: &Value, extra: Option<&RunnerMessage>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let config = RunnerMessage::Config(ConfigMessage { protocol: PROTOCOL_VERSION, config: config.clone() });
    for message in std::iter::once(&config).chain(extra) {
        protocol::codec::write_message(&mut bytes, message).expect("writing to a Vec cannot fail");
    }
    bytes
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

/// The phrase for a connector that sent an `error` message and then ended.
pub fn describe_error_message(error: &ErrorMessage, ended: &str) -> String {
    format!("failed ({} error): {}; it {ended}", error.kind, error.message)
}

/// A hint for how a connector ended, if there is a useful one.
fn hint_for(termination: &Termination, error: Option<&ErrorMessage>, connector: &str) -> Option<String> {
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

/// One connector executable and the engine that runs it.
#[derive(Clone)]
pub struct ConnectorClient {
    program: ConnectorProgram,
    engine: Engine,
}

impl std::fmt::Debug for ConnectorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorClient").field("program", &self.program).finish_non_exhaustive()
    }
}

impl ConnectorClient {
    /// A client of `program`, run by `engine`.
    pub fn new(program: ConnectorProgram, engine: Engine) -> Self {
        ConnectorClient { program, engine }
    }

    /// The connector's name for messages, as the user named it.
    pub fn name(&self) -> &str {
        &self.program.display
    }

    /// The executable.
    pub fn program(&self) -> &ConnectorProgram {
        &self.program
    }

    /// The engine running it.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The invocation of `args` with `stdin`, under the engine's limits and stop switch.
    pub fn invocation(&self, args: Vec<String>, stdin: Option<Vec<u8>>) -> Invocation {
        Invocation {
            program: self.program.path.clone(),
            args,
            stdin,
            limits: self.engine.limits.clone(),
            stop: self.engine.stop.clone(),
        }
    }

    /// Sends stderr lines (masked) to the engine's sink as coming from `source`, if it wants them.
    pub fn stderr_echo(&self, source: &str, redactor: &Redactor) -> Option<StderrEcho> {
        if !self.engine.events.wants_stderr() {
            return None;
        }
        let (events, redactor, source) = (self.engine.events.clone(), redactor.clone(), source.to_owned());
        Some(Box::new(move |line: &str| {
            events.event(Event::ConnectorStderr { source: &source, line: &redactor.redact(line) })
        }))
    }

    /// A failure of this connector running `command`.
    pub fn failure(&self, command: ConnectorCommand, redactor: &Redactor) -> FailureBuilder {
        FailureBuilder::new(self.name(), command, redactor)
    }

    /// The error for an unsuccessful outcome (or an `error` message), built on `failure`.
    pub fn failed(&self, failure: FailureBuilder, outcome: &Outcome, error: Option<&ErrorMessage>) -> RunError {
        let ended = describe(&outcome.termination);
        let cause = match error {
            Some(error) => describe_error_message(error, &ended),
            None => ended,
        };
        failure
            .elapsed(outcome.elapsed)
            .stderr(&outcome.stderr)
            .hint(hint_for(&outcome.termination, error, self.name()))
            .build(kind_of(&outcome.termination), &cause)
    }

    /// Runs `spec` and checks the answer: schema-valid and protocol 1.
    ///
    /// # Errors
    /// The connector failed, sent no spec, an invalid one, or speaks another protocol.
    pub fn spec(&self) -> Result<Spec, RunError> {
        let redactor = Redactor::default();
        let messages = self.collect(ConnectorCommand::Spec, None, &redactor)?;
        let fail = |cause: &str, hint: Option<String>| {
            self.failure(ConnectorCommand::Spec, &redactor).hint(hint).build(FailureKind::Failed, cause)
        };
        let spec = messages.into_iter().find_map(|m| match m {
            ConnectorMessage::Spec(spec) => Some(spec),
            _ => None,
        });
        let spec = spec.ok_or_else(|| fail("sent no spec message", None))?;
        if spec.protocol != PROTOCOL_VERSION {
            return Err(fail(
                &format!("speaks protocol {}, this runner speaks {PROTOCOL_VERSION}", spec.protocol),
                Some("use a runner and a connector of the same protocol major version".into()),
            ));
        }
        let mut as_value = serde_json::to_value(&spec).expect("a Spec serialises");
        as_value["type"] = Value::from("spec");
        if let Err(violations) = SchemaRegistry::global().validate_message(&as_value) {
            let list = violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            return Err(fail(&format!("sent an invalid spec message: {list}"), None));
        }
        Ok(spec)
    }

    /// The shared schemas plus the record types `spec` declares (`record_schemas`),
    /// compiled once: the registry a sync of this connector validates its records with.
    ///
    /// # Errors
    /// A declared type is refused (redefines a shared type, does not compile, does not
    /// require `_type` and `id`); the error names it.
    pub fn record_schemas(&self, spec: &Spec) -> Result<SchemaRegistry, RunError> {
        SchemaRegistry::global().with_declared(&spec.record_schemas).map_err(|refused| {
            let hint = "fix `record_schemas` in the connector's spec (see PROTOCOL.md, \"Declared record types\")";
            self.failure(ConnectorCommand::Spec, &Redactor::default())
                .hint(Some(hint.to_owned()))
                .build(FailureKind::Failed, &format!("sent an unusable spec: {refused}"))
        })
    }

    /// Runs `verify`.
    ///
    /// # Errors
    /// The connector failed or did not answer with exactly one verification; an invalid
    /// configuration is an `Ok` answer.
    pub fn verify(&self, config: &Value, redactor: &Redactor) -> Result<Verification, RunError> {
        let messages = self.collect(ConnectorCommand::Verify, Some(stdin_for(config, None)), redactor)?;
        let mut answers: Vec<Verification> = messages
            .into_iter()
            .filter_map(|m| match m {
                ConnectorMessage::Verification(v) => Some(v),
                _ => None,
            })
            .collect();
        if answers.len() != 1 {
            let cause = format!("sent {} verification messages, expected exactly one", answers.len());
            return Err(self.failure(ConnectorCommand::Verify, redactor).build(FailureKind::Failed, &cause));
        }
        Ok(answers.remove(0))
    }

    /// Runs `discover`.
    ///
    /// # Errors
    /// The connector failed, or found no stream, or sent an invalid Stream record.
    pub fn discover(&self, config: &Value, redactor: &Redactor) -> Result<Vec<Stream>, RunError> {
        let messages = self.collect(ConnectorCommand::Discover, Some(stdin_for(config, None)), redactor)?;
        let streams: Vec<Stream> = messages
            .into_iter()
            .filter_map(|m| match m {
                ConnectorMessage::Stream(s) => Some(s.stream),
                _ => None,
            })
            .collect();
        let fail = |cause: &str| self.failure(ConnectorCommand::Discover, redactor).build(FailureKind::Failed, cause);
        if streams.is_empty() {
            return Err(fail("found no stream (discover must emit at least one)"));
        }
        for stream in &streams {
            check_stream(stream).map_err(|e| fail(&format!("sent an invalid stream: {e}")))?;
        }
        Ok(streams)
    }

    /// Runs a short command, forwarding logs, and returns its other messages. Fails on a
    /// bad line, an `error` message or any unsuccessful end.
    fn collect(
        &self,
        command: ConnectorCommand,
        stdin: Option<Vec<u8>>,
        redactor: &Redactor,
    ) -> Result<Vec<ConnectorMessage>, RunError> {
        let mut messages = Vec::new();
        let mut error: Option<ErrorMessage> = None;
        let events = &self.engine.events;
        let invocation = self.invocation(vec![command.as_str().to_owned()], stdin);
        let outcome = supervisor::run(
            invocation,
            self.stderr_echo(self.name(), redactor),
            |line| line.and_then(|line| line.decode()),
            |_, batch| {
                for incoming in batch {
                    match incoming {
                        Ok((_, ConnectorMessage::Log(log))) => events.event(Event::ConnectorLog {
                            source: self.name(),
                            level: log.level,
                            message: &redactor.redact(&log.message),
                        }),
                        Ok((_, ConnectorMessage::Error(e))) => error = Some(e),
                        Ok((_, ConnectorMessage::Unknown(kind))) => events
                            .event(Event::Debug { message: &format!("ignoring message of unknown type \"{kind}\"") }),
                        Ok((_, message)) => messages.push(message),
                        Err(e) => return Control::Stop(format!("sent a bad line: {e}")),
                    }
                }
                Control::Continue
            },
        )
        .map_err(|e| {
            self.failure(command, redactor).build(FailureKind::BadInput, &format!("could not be started: {e}"))
        })?;
        if outcome.success() && error.is_none() {
            return Ok(messages);
        }
        Err(self.failed(self.failure(command, redactor), &outcome, error.as_ref()))
    }
}

/// Checks a Stream record against its shared schema.
///
/// # Errors
/// Why it is not a valid Stream, with its field.
pub fn check_stream(stream: &Stream) -> Result<(), protocol::RecordError> {
    let value = serde_json::to_value(stream).expect("a Stream serialises");
    SchemaRegistry::global().validate_record(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_has_the_config_then_the_extra_message() {
        let bytes = stdin_for(&serde_json::json!({"k": 1}), None);
        assert_eq!(String::from_utf8(bytes).unwrap(), "{\"type\":\"config\",\"protocol\":1,\"config\":{\"k\":1}}\n");
    }
}
