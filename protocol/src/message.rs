//! The messages of protocol version 1, in both directions.
//!
//! Every message is one JSON object on one line with a `"type"` field. The runner writes
//! [`RunnerMessage`]s to a connector's stdin; the connector writes [`ConnectorMessage`]s
//! to its stdout. PROTOCOL.md is the normative description; `schemas/protocol/` holds a
//! JSON Schema per message type.
//!
//! Decoding a connector's output is the runner's hot path. [`ConnectorMessage::decode`]
//! scans a line once with serde, keeps a record's JSON as the exact bytes the connector
//! sent ([`RawValue`]) and never builds an intermediate tree for the envelope.
//! [`decode_line`] goes further for a sync: one pass over the line builds its [`Tape`],
//! which gives the envelope's fields and is the record's tape for validation too, and the
//! record stays a slice of the line. Whatever the tape does not read, or reads as anything
//! but a well-formed record message, takes [`ConnectorMessage::decode`]'s path, so both
//! give the same messages and the same errors (`tests/it/decode.rs`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use jsonschema::json::Node as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::tape::{Tape, TapeNode};

/// The protocol major version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A message from the runner to a connector (on the connector's stdin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunnerMessage {
    /// The connector's configuration; always the first line.
    Config(ConfigMessage),
    /// What to sync; the second line, for the `sync` command only.
    Sync(SyncMessage),
}

/// `{"type":"config","protocol":1,"config":{...}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigMessage {
    /// The protocol major version the runner speaks.
    pub protocol: u32,
    /// The configuration object, as the user wrote it.
    pub config: Value,
}

/// `{"type":"sync","stream":{...},"earliest_data_cutoff":"...","state":...}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncMessage {
    /// The Stream record (as emitted by `discover`) to sync.
    pub stream: Stream,
    /// RFC 3339 instant: do not emit data older than this.
    pub earliest_data_cutoff: String,
    /// The last checkpoint the connector emitted for this stream, or null on a first sync.
    #[serde(default)]
    pub state: Value,
}

/// A message from a connector to the runner (on the connector's stdout).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConnectorMessage {
    /// Answer to `spec`.
    Spec(Spec),
    /// Answer to `verify`.
    Verification(Verification),
    /// One stream found by `discover`.
    Stream(StreamMessage),
    /// One record produced by `sync`.
    Record(RecordMessage),
    /// A checkpoint covering every record emitted before it.
    State(StateMessage),
    /// How far a sync has got: work done and expected. Optional; never changes the outcome.
    Progress(ProgressMessage),
    /// A diagnostic for humans.
    Log(LogMessage),
    /// A fatal error; the connector exits non-zero after it.
    Error(ErrorMessage),
    /// A message type this runner does not know (a newer minor version). Ignored.
    #[serde(skip)]
    Unknown(String),
}

/// `{"type":"spec",...}`: who the connector is and what configuration it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Protocol major version the connector speaks.
    pub protocol: u32,
    /// Short lowercase name, e.g. `pagerduty`; the default connection name.
    pub name: String,
    /// The connector's own version.
    pub version: String,
    /// JSON Schema of the configuration object. Secret fields carry `"writeOnly": true`.
    pub config_schema: Value,
    /// The `_type`s of the records `sync` may emit.
    pub record_types: Vec<String>,
    /// JSON Schemas of record types the connector declares itself, by `_type`: types
    /// outside the shared vocabulary (see [`crate::SchemaRegistry::with_declared`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub record_schemas: BTreeMap<String, Value>,
    /// One sentence for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `{"type":"verification","valid":...,"errors":[...]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Whether the configuration works.
    pub valid: bool,
    /// Why not, one human-readable sentence each; empty when valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Verification {
    /// A valid configuration.
    pub fn valid() -> Self {
        Verification { valid: true, errors: Vec::new() }
    }

    /// An invalid configuration, with the reasons.
    pub fn invalid<I: IntoIterator<Item = S>, S: Into<String>>(errors: I) -> Self {
        Verification { valid: false, errors: errors.into_iter().map(Into::into).collect() }
    }
}

/// `{"type":"stream","stream":{...}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMessage {
    /// The Stream record.
    pub stream: Stream,
}

/// What the runner does with a record that breaks only a `format` of a stream's declared
/// schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordFormats {
    /// Rejects it, like any invalid record.
    #[default]
    Enforce,
    /// Stores it and reports the format drift: the schema is a third party's, whose
    /// formats its own data may not meet.
    Report,
}

impl RecordFormats {
    /// Whether formats are enforced.
    pub fn is_enforce(&self) -> bool {
        *self == RecordFormats::Enforce
    }
}

/// A Stream record: one independently syncable unit of a source (an account, a project).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    /// Always `"Stream"`.
    #[serde(rename = "_type")]
    pub record_type: String,
    /// Stable identifier, unique within the connection.
    pub id: String,
    /// URL of the stream in the source.
    #[serde(rename = "self")]
    pub self_url: String,
    /// Human-readable name.
    pub name: String,
    /// Record types this stream declares (`recordSchemas`): a JSON Schema per `_type`,
    /// under the same rules as the spec's `record_schemas`. For connectors whose types
    /// are known only once they have their configuration, such as an adapter that learns
    /// them from a Singer tap's catalog at `discover`.
    #[serde(rename = "recordSchemas", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub record_schemas: BTreeMap<String, Value>,
    /// How the runner treats the `format`s of the schemas in [`Stream::record_schemas`]
    /// (`recordFormats`): enforced (the default), or, for schemas translated from a third
    /// party's declaration (a Singer tap's, an Airbyte source's), reported: a record that
    /// breaks only a format is stored and the drift counted. Shared schemas are always
    /// enforced.
    #[serde(rename = "recordFormats", default, skip_serializing_if = "RecordFormats::is_enforce")]
    pub record_formats: RecordFormats,
    /// The stream has no incremental mode (`fullRefresh`): every sync reads all of it
    /// again, whatever the state says, so the kit does not expect a resumed sync to send
    /// less.
    #[serde(rename = "fullRefresh", default, skip_serializing_if = "std::ops::Not::not")]
    pub full_refresh: bool,
    /// JSON pointers into the connector's configuration whose values are secrets the
    /// connector learnt only once configured (`configSecrets`; an adapter reads them from
    /// an Airbyte source's spec). The runner masks them in this stream's sync like the
    /// `writeOnly` fields of the spec.
    #[serde(rename = "configSecrets", default, skip_serializing_if = "Vec::is_empty")]
    pub config_secrets: Vec<String>,
    /// Any further fields the connector sent, kept so a Stream round-trips unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Stream {
    /// A Stream record with no extra fields.
    pub fn new(id: impl Into<String>, self_url: impl Into<String>, name: impl Into<String>) -> Self {
        Stream {
            record_type: "Stream".to_owned(),
            id: id.into(),
            self_url: self_url.into(),
            name: name.into(),
            record_schemas: BTreeMap::new(),
            record_formats: RecordFormats::Enforce,
            full_refresh: false,
            config_secrets: Vec::new(),
            extra: Map::new(),
        }
    }

    /// This Stream, declaring `record_type` with `schema` (see [`Stream::record_schemas`]).
    pub fn declaring(mut self, record_type: impl Into<String>, schema: Value) -> Self {
        self.record_schemas.insert(record_type.into(), schema);
        self
    }
}

/// `{"type":"record","record":{...},"extracted_at":"..."}`
///
/// The record is kept as the exact JSON text the connector sent, so destinations can
/// store it byte for byte without serialising it again.
#[derive(Debug, Clone, Serialize)]
pub struct RecordMessage {
    /// The record object; its `_type` names its shared schema.
    pub record: Box<RawValue>,
    /// When the connector read it from the source (RFC 3339), if it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracted_at: Option<String>,
}

impl PartialEq for RecordMessage {
    fn eq(&self, other: &Self) -> bool {
        self.record.get() == other.record.get() && self.extracted_at == other.extracted_at
    }
}

/// `{"type":"state","state":...}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMessage {
    /// Opaque to the runner; handed back on the next sync of the same stream.
    pub state: Value,
}

/// `{"type":"progress","done":1200,"total":59000,"unit":"items"}`: how far a sync has
/// got, so a runner can show a percentage and an estimated time left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressMessage {
    /// Units of work done so far in this sync.
    pub done: u64,
    /// Units the whole sync needs, as far as the connector knows yet; absent when it does
    /// not know. It may change while the connector learns more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// What is counted (`items`, `pages`, ...), for people; absent means items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl ProgressMessage {
    /// `done` of `total` items.
    pub fn items(done: u64, total: Option<u64>) -> Self {
        ProgressMessage { done, total, unit: None }
    }
}

/// `{"type":"log","level":"info","message":"..."}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMessage {
    /// Severity.
    pub level: LogLevel,
    /// Free text for humans.
    pub message: String,
}

/// Severity of a [`LogMessage`], most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    /// The wire name: `error`, `warn`, `info` or `debug`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"type":"error","message":"...","kind":"auth"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// What went wrong, for humans.
    pub message: String,
    /// What kind of failure, so an orchestrator can decide whether to retry.
    pub kind: ErrorKind,
}

/// The kinds of fatal connector errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The configuration is unusable; retrying will not help.
    Config,
    /// The source rejected the credentials.
    Auth,
    /// The source kept answering "too many requests".
    RateLimited,
    /// A network or server failure that may pass; retrying later may help.
    Transient,
    /// A bug or an unexpected answer.
    Internal,
}

impl ErrorKind {
    /// The wire name, e.g. `rate_limited`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transient => "transient",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a line is not a valid connector message.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The line is not a JSON object.
    #[error("not a JSON object: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The object has no string `"type"` field.
    #[error("the object has no \"type\" field")]
    MissingType,
    /// A known message type with missing or mistyped fields.
    #[error("invalid \"{message_type}\" message: {source}")]
    InvalidFields {
        /// The message's `type`.
        message_type: String,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// The envelope of a connector message, scanned once. `record` and `extracted_at` are
/// read here directly because records are by far the most frequent message.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
    #[serde(borrow)]
    extracted_at: Option<Cow<'a, str>>,
}

/// A line of a connector's stdout decoded by [`decode_line`].
#[derive(Debug)]
pub enum LineMessage<'a> {
    /// A record message, borrowed from the line.
    Record(RecordLine<'a>),
    /// Any other message, as [`ConnectorMessage::decode`] gives it.
    Other(ConnectorMessage),
}

/// A record message borrowed from its line.
#[derive(Debug, Clone)]
pub struct RecordLine<'a> {
    /// The record object's JSON text exactly as sent: a slice of the line.
    pub text: &'a str,
    /// Where `text` starts in the line.
    pub offset: usize,
    /// The record on the line's tape, when the tape read the line: validate it there
    /// ([`crate::SchemaRegistry::validate_record_node`]) rather than parse the text again.
    pub node: Option<TapeNode<'a>>,
    /// When the connector read it from the source (RFC 3339), if it said.
    pub extracted_at: Option<Cow<'a, str>>,
}

/// Decodes one line of a connector's stdout (without its terminator) in one pass over its
/// text, and hands the result to `then` (the line's tape lives only during the call).
///
/// Gives what [`ConnectorMessage::decode`] gives, a record borrowed rather than copied.
///
/// # Errors
/// As [`ConnectorMessage::decode`], handed to `then`.
pub fn decode_line<R>(line: &str, then: impl FnOnce(Result<LineMessage<'_>, MessageError>) -> R) -> R {
    let tape = Tape::parse(line).ok();
    match tape.as_ref().and_then(|tape| record_on_tape(tape.root())) {
        Some(record) => then(Ok(LineMessage::Record(record))),
        None => then(Decoded::from_line(line).map(|decoded| decoded.into_line_message(line))),
    }
}

/// The record message at the root of a line's tape, if the line is a well-formed one:
/// an object with one string `type` that is `record`, one object `record`, at most one
/// `extracted_at` that is a string or null. Anything else (`None`) is left to serde, for
/// its messages and errors.
fn record_on_tape(root: TapeNode<'_>) -> Option<RecordLine<'_>> {
    let (mut kind, mut record, mut extracted_at) = (None, None, None);
    for (name, value) in root.members()? {
        let field = match name.as_ref() {
            "type" => &mut kind,
            "record" => &mut record,
            "extracted_at" => &mut extracted_at,
            _ => continue,
        };
        if field.replace(value).is_some() {
            return None; // serde refuses a duplicate field
        }
    }
    if kind?.string()? != "record" {
        return None;
    }
    let record = record.filter(TapeNode::is_object)?;
    let extracted_at = match extracted_at {
        Some(node) if !node.is_null() => Some(node.string()?),
        _ => None,
    };
    Some(RecordLine { text: record.text(), offset: record.span().start, node: Some(record), extracted_at })
}

/// A line decoded by serde: a record borrowed from the line, or any other message.
enum Decoded<'a> {
    Record { record: &'a RawValue, extracted_at: Option<Cow<'a, str>> },
    Other(ConnectorMessage),
}

impl<'a> Decoded<'a> {
    fn from_line(line: &'a str) -> Result<Decoded<'a>, MessageError> {
        let envelope: Envelope<'_> = serde_json::from_str(line).map_err(MessageError::NotJson)?;
        let kind = envelope.kind.ok_or(MessageError::MissingType)?;
        let invalid = |source| MessageError::InvalidFields { message_type: kind.to_string(), source };
        let message = match kind.as_ref() {
            "record" => {
                let record = envelope.record.ok_or_else(|| invalid(missing_field("record")))?;
                if !record.get().starts_with('{') {
                    return Err(invalid(serde::de::Error::custom("`record` must be a JSON object")));
                }
                return Ok(Decoded::Record { record, extracted_at: envelope.extracted_at });
            }
            "spec" => ConnectorMessage::Spec(serde_json::from_str(line).map_err(invalid)?),
            "verification" => ConnectorMessage::Verification(serde_json::from_str(line).map_err(invalid)?),
            "stream" => ConnectorMessage::Stream(serde_json::from_str(line).map_err(invalid)?),
            "state" => ConnectorMessage::State(serde_json::from_str(line).map_err(invalid)?),
            "progress" => ConnectorMessage::Progress(serde_json::from_str(line).map_err(invalid)?),
            "log" => ConnectorMessage::Log(serde_json::from_str(line).map_err(invalid)?),
            "error" => ConnectorMessage::Error(serde_json::from_str(line).map_err(invalid)?),
            other => ConnectorMessage::Unknown(other.to_owned()),
        };
        Ok(Decoded::Other(message))
    }

    /// As a [`LineMessage`] of `line`, the text this was decoded from.
    fn into_line_message(self, line: &'a str) -> LineMessage<'a> {
        match self {
            Decoded::Record { record, extracted_at } => {
                let text = record.get();
                // serde borrows a RawValue from the input, so the record is a slice of it.
                let offset = text.as_ptr() as usize - line.as_ptr() as usize;
                LineMessage::Record(RecordLine { text, offset, node: None, extracted_at })
            }
            Decoded::Other(message) => LineMessage::Other(message),
        }
    }
}

impl ConnectorMessage {
    /// Decodes one line of a connector's stdout (without its line terminator).
    ///
    /// Unknown fields are ignored and an unknown `type` gives [`ConnectorMessage::Unknown`],
    /// so a newer connector keeps working with this runner.
    ///
    /// # Errors
    /// [`MessageError`] when the line is not a JSON object, has no `type`, or a known type
    /// lacks a field or has one of the wrong type.
    pub fn decode(line: &str) -> Result<ConnectorMessage, MessageError> {
        Ok(match Decoded::from_line(line)? {
            Decoded::Record { record, extracted_at } => ConnectorMessage::Record(RecordMessage {
                record: record.to_owned(),
                extracted_at: extracted_at.map(Cow::into_owned),
            }),
            Decoded::Other(message) => message,
        })
    }

    /// The wire name of this message's type.
    pub fn type_name(&self) -> &str {
        match self {
            ConnectorMessage::Spec(_) => "spec",
            ConnectorMessage::Verification(_) => "verification",
            ConnectorMessage::Stream(_) => "stream",
            ConnectorMessage::Record(_) => "record",
            ConnectorMessage::State(_) => "state",
            ConnectorMessage::Progress(_) => "progress",
            ConnectorMessage::Log(_) => "log",
            ConnectorMessage::Error(_) => "error",
            ConnectorMessage::Unknown(name) => name,
        }
    }
}

fn missing_field(name: &'static str) -> serde_json::Error {
    serde::de::Error::missing_field(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(line: &str) -> ConnectorMessage {
        ConnectorMessage::decode(line).unwrap()
    }

    #[test]
    fn record_keeps_the_exact_bytes_of_the_record() {
        let line =
            r#"{"type":"record","record":{"_type":"Team", "id":"P1","n":1.50},"extracted_at":"2026-01-01T00:00:00Z"}"#;
        let ConnectorMessage::Record(record) = decode(line) else { panic!("not a record") };
        assert_eq!(record.record.get(), r#"{"_type":"Team", "id":"P1","n":1.50}"#);
        assert_eq!(record.extracted_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn record_must_be_an_object() {
        let err = ConnectorMessage::decode(r#"{"type":"record","record":[1]}"#).unwrap_err();
        assert!(err.to_string().contains("must be a JSON object"), "{err}");
        let err = ConnectorMessage::decode(r#"{"type":"record"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `record`"), "{err}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_unknown_types_are_reported_as_unknown() {
        let message = decode(r#"{"type":"log","level":"info","message":"hi","colour":"blue"}"#);
        assert_eq!(message, ConnectorMessage::Log(LogMessage { level: LogLevel::Info, message: "hi".into() }));
        assert_eq!(decode(r#"{"type":"heartbeat","at":3}"#), ConnectorMessage::Unknown("heartbeat".into()));
    }

    #[test]
    fn missing_type_and_bad_fields_are_errors() {
        assert!(matches!(ConnectorMessage::decode(r#"{"level":"info"}"#), Err(MessageError::MissingType)));
        assert!(matches!(ConnectorMessage::decode("[1,2]"), Err(MessageError::NotJson(_))));
        let err = ConnectorMessage::decode(r#"{"type":"log","level":"loud","message":"x"}"#).unwrap_err();
        assert!(err.to_string().starts_with("invalid \"log\" message: unknown variant `loud`"), "{err}");
    }

    #[test]
    fn messages_round_trip_through_their_wire_form() {
        let messages = [
            ConnectorMessage::Verification(Verification::invalid(["apiToken must be present"])),
            ConnectorMessage::Stream(StreamMessage { stream: Stream::new("a", "https://x.test", "A") }),
            ConnectorMessage::State(StateMessage { state: json!({"cursor": 3}) }),
            ConnectorMessage::Progress(ProgressMessage::items(40, Some(900))),
            ConnectorMessage::Progress(ProgressMessage { done: 2, total: None, unit: Some("pages".into()) }),
            ConnectorMessage::Error(ErrorMessage { message: "boom".into(), kind: ErrorKind::RateLimited }),
        ];
        for message in messages {
            let line = serde_json::to_string(&message).unwrap();
            assert_eq!(decode(&line), message, "{line}");
        }
    }

    #[test]
    fn progress_needs_done_and_takes_total_and_unit_when_given() {
        let message = decode(r#"{"type":"progress","done":3,"total":null,"eta":"soon"}"#);
        assert_eq!(message, ConnectorMessage::Progress(ProgressMessage::items(3, None)));
        let line = serde_json::to_string(&ProgressMessage::items(3, None)).unwrap();
        assert_eq!(line, r#"{"done":3}"#, "unknown parts are left out, not null");
        let err = ConnectorMessage::decode(r#"{"type":"progress","total":10}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `done`"), "{err}");
        let err = ConnectorMessage::decode(r#"{"type":"progress","done":-1}"#).unwrap_err();
        assert!(err.to_string().starts_with("invalid \"progress\" message"), "{err}");
    }

    #[test]
    fn stream_keeps_extra_fields() {
        let line = r#"{"type":"stream","stream":{"_type":"Stream","id":"a","self":"https://x.test","name":"A","region":"eu"}}"#;
        let ConnectorMessage::Stream(StreamMessage { stream }) = decode(line) else { panic!() };
        assert_eq!(stream.extra.get("region"), Some(&json!("eu")));
        assert_eq!(serde_json::to_value(&stream).unwrap()["region"], "eu");
    }

    #[test]
    fn runner_messages_have_their_type_tag() {
        let config = RunnerMessage::Config(ConfigMessage { protocol: 1, config: json!({"k": 1}) });
        assert_eq!(serde_json::to_value(&config).unwrap(), json!({"type":"config","protocol":1,"config":{"k":1}}));
    }
}
