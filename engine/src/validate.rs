//! Checking a sync's messages on the supervisor's mapper threads: each line is decoded in
//! one pass ([`protocol::decode_line`]: the line's tape gives the envelope and is the
//! record's tape too), each record is validated on that tape against the compiled schema
//! of its `_type`, shared or declared by the connector
//! ([`protocol::SchemaRegistry::validate_record_node`] of the run's registry), and kept
//! where it is, as the exact text the connector sent: the store loop finds it in its
//! batch's text, so the record is never copied before the destination takes it.
//!
//! One exception to "exactly as sent": a record or state holding a value of a `writeOnly`
//! configuration field (a connector bug) is stored with that value masked, because secrets
//! must never reach storage. The store loop warns when that happens.

use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

use protocol::codec::snippet;
use protocol::{
    decode_line, CodecError, ConnectorMessage, ErrorMessage, FormatViolation, LineMessage, LogMessage, ProgressMessage,
    RecordCheck, RecordError, RecordLine, Redactor, SchemaRegistry,
};

use super::supervisor::{RawLine, StdoutLine};

/// A sync message, checked and ready for the store loop.
#[derive(Debug)]
pub enum Item {
    /// A record with its verdict.
    Record(CheckedRecord),
    /// A checkpoint.
    State {
        /// Its stdout line.
        line: u64,
        /// The state.
        state: Value,
        /// Whether a secret value had to be masked in it.
        masked: bool,
    },
    /// How far the connector says it has got.
    Progress(ProgressMessage),
    /// A log message.
    Log(LogMessage),
    /// A fatal error message.
    Error(ErrorMessage),
    /// A message type that does not belong in a sync (ignored, noted with `-v`).
    Ignored {
        /// Its stdout line.
        line: u64,
        /// Its type.
        kind: String,
    },
    /// A line that is not a valid message, or an oversized one.
    Bad(CodecError),
}

/// A record and what validation said.
#[derive(Debug)]
pub struct CheckedRecord {
    /// Its stdout line.
    pub line: u64,
    /// The record's JSON text, as sent (secrets masked, see [`RecordText::Masked`]).
    pub json: RecordText,
    /// The connector's `extracted_at`.
    pub extracted_at: Option<String>,
    /// Its `_type`, if it is a string.
    pub record_type: Option<String>,
    /// Its `id` (a string, or a number's JSON text).
    pub id: Option<String>,
    /// `Ok` or why it is invalid.
    pub verdict: Result<(), RecordError>,
    /// With an `Ok` verdict, the formats it breaks of a schema whose formats are
    /// reported (values not masked yet); usually empty.
    pub format_drift: Vec<FormatViolation>,
}

/// A record's JSON text: where it is in its batch's text, or (rarely) a text of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordText {
    /// As sent: this range of the batch's text.
    InBatch(Range<usize>),
    /// With a secret value masked.
    Masked(String),
}

impl RecordText {
    /// The text, given the text of the batch the record came in.
    pub fn get<'a>(&'a self, batch: &'a str) -> &'a str {
        match self {
            RecordText::InBatch(range) => &batch[range.clone()],
            RecordText::Masked(text) => text,
        }
    }

    /// Whether a secret value had to be masked in the text.
    pub fn is_masked(&self) -> bool {
        matches!(self, RecordText::Masked(_))
    }
}

/// The checker the supervisor runs on each line (on its mapper threads), validating
/// records with `schemas` (the run's: shared and declared types) and masking the
/// connection's secrets in records and states.
pub fn checker(
    redactor: Redactor,
    schemas: Arc<SchemaRegistry>,
) -> impl Fn(RawLine<'_>) -> Item + Send + Sync + 'static {
    move |line| check(line, &redactor, &schemas)
}

/// Decodes and checks one line.
pub fn check(line: RawLine<'_>, redactor: &Redactor, schemas: &SchemaRegistry) -> Item {
    let line = match line {
        Ok(line) => line,
        Err(error) => return Item::Bad(error),
    };
    decode_line(line.text, |decoded| match decoded {
        Ok(LineMessage::Record(record)) => Item::Record(check_record(&line, &record, redactor, schemas)),
        Ok(LineMessage::Other(message)) => check_message(line.number, message, redactor),
        Err(source) => {
            Item::Bad(CodecError::InvalidMessage { line: line.number, snippet: snippet(line.text, 120), source })
        }
    })
}

fn check_message(line: u64, message: ConnectorMessage, redactor: &Redactor) -> Item {
    match message {
        ConnectorMessage::State(state) => {
            let (state, masked) = mask_state(state.state, redactor);
            Item::State { line, state, masked }
        }
        ConnectorMessage::Progress(progress) => Item::Progress(progress),
        ConnectorMessage::Log(log) => Item::Log(log),
        ConnectorMessage::Error(error) => Item::Error(error),
        // A record reaches here only from ConnectorMessage::decode, never from decode_line.
        other => Item::Ignored { line, kind: other.type_name().to_owned() },
    }
}

fn check_record(
    line: &StdoutLine<'_>,
    record: &RecordLine<'_>,
    redactor: &Redactor,
    schemas: &SchemaRegistry,
) -> CheckedRecord {
    let RecordCheck { record_type, id, verdict, format_drift } = schemas.validate_record_node(record.text, record.node);
    let start = line.offset + record.offset;
    let json = match mask(record.text, redactor) {
        Some(masked) => RecordText::Masked(masked),
        None => RecordText::InBatch(start..start + record.text.len()),
    };
    let extracted_at = record.extracted_at.as_deref().map(str::to_owned);
    CheckedRecord { line: line.number, json, extracted_at, record_type, id, verdict, format_drift }
}

/// Validates a record's JSON text against the schema of its `_type` in `schemas`: the one
/// record check of the runner, used by `sync` and by the conformance kit alike.
pub fn record_verdict(schemas: &SchemaRegistry, json: &str) -> RecordCheck {
    schemas.validate_record_json(json)
}

/// The record's text with its secrets masked, if it holds any. Masking replaces
/// characters inside JSON strings with `***`, so the text stays valid JSON.
fn mask(record: &str, redactor: &Redactor) -> Option<String> {
    redactor.leaks(record).then(|| redactor.redact(record).into_owned())
}

fn mask_state(state: Value, redactor: &Redactor) -> (Value, bool) {
    if redactor.is_empty() {
        return (state, false);
    }
    let text = state.to_string();
    if !redactor.leaks(&text) {
        return (state, false);
    }
    match serde_json::from_str(&redactor.redact(&text)) {
        Ok(masked) => (masked, true),
        Err(_) => (state, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `text` as line `number` of a batch, at `offset` in it.
    fn line(number: u64, text: &str, offset: usize) -> RawLine<'_> {
        Ok(StdoutLine { number, text, offset })
    }

    fn record(text: &str) -> CheckedRecord {
        match check(line(7, text, 0), &Redactor::default(), SchemaRegistry::global()) {
            Item::Record(record) => record,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_valid_record_keeps_its_text_type_and_id() {
        let text = r#"{"type":"record","record":{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops"}}"#;
        let checked = record(text);
        assert!(checked.verdict.is_ok());
        assert_eq!(checked.json.get(text), r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops"}"#);
        assert_eq!(
            (checked.record_type.as_deref(), checked.id.as_deref(), checked.line),
            (Some("Team"), Some("T1"), 7)
        );
    }

    #[test]
    fn invalid_and_unknown_records_carry_the_reason() {
        let checked = record(r#"{"type":"record","record":{"_type":"Team","id":"T1","self":"nope","name":"Ops"}}"#);
        assert!(matches!(checked.verdict, Err(RecordError::Invalid { .. })));
        let checked = record(r#"{"type":"record","record":{"_type":"Gizmo","id":7}}"#);
        assert!(matches!(checked.verdict, Err(RecordError::UnknownType { .. })));
        assert_eq!(checked.id.as_deref(), Some("7"));
    }

    #[test]
    fn secrets_in_records_and_states_are_masked_and_flagged() {
        let redactor = Redactor::new(["s3cr3t-token".to_owned()]);
        let text =
            r#"{"type":"record","record":{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"s3cr3t-token"}}"#;
        let Item::Record(checked) = check(line(1, text, 0), &redactor, SchemaRegistry::global()) else {
            panic!("not a record")
        };
        assert!(checked.json.is_masked() && checked.verdict.is_ok());
        assert_eq!(checked.json.get(""), r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"***"}"#);

        let text = r#"{"type":"state","state":{"token":"s3cr3t-token","cursor":3}}"#;
        let Item::State { state, masked, .. } = check(line(2, text, 0), &redactor, SchemaRegistry::global()) else {
            panic!("not a state")
        };
        assert!(masked);
        assert_eq!(state, serde_json::json!({"token": "***", "cursor": 3}));
    }

    #[test]
    fn records_without_secrets_are_kept_byte_for_byte() {
        let redactor = Redactor::new(["s3cr3t-token".to_owned()]);
        let text = r#"{"type":"record","record":{"_type":"Team", "id":"T1","self":"https://x.test/T1","name":"Ops"}}"#;
        // The line as the second of its batch: the record's range is in the batch's text.
        let batch = format!("{{\"type\":\"state\",\"state\":1}}{text}");
        let offset = batch.len() - text.len();
        let Item::Record(checked) = check(line(2, &batch[offset..], offset), &redactor, SchemaRegistry::global())
        else {
            panic!("not a record")
        };
        assert!(!checked.json.is_masked());
        assert_eq!(checked.json.get(&batch), r#"{"_type":"Team", "id":"T1","self":"https://x.test/T1","name":"Ops"}"#);
    }

    #[test]
    fn lines_that_are_not_messages_or_not_for_a_sync_say_so() {
        let redactor = Redactor::default();
        let bad = check(line(3, "not json", 0), &redactor, SchemaRegistry::global());
        assert!(matches!(&bad, Item::Bad(CodecError::InvalidMessage { line: 3, .. })), "{bad:?}");
        let stream = r#"{"type":"stream","stream":{"_type":"Stream","id":"a","self":"https://x.test","name":"A"}}"#;
        assert!(
            matches!(check(line(4, stream, 0), &redactor, SchemaRegistry::global()), Item::Ignored { line: 4, ref kind } if kind == "stream")
        );
        let log = r#"{"type":"log","level":"warn","message":"slow"}"#;
        assert!(
            matches!(check(line(5, log, 0), &redactor, SchemaRegistry::global()), Item::Log(LogMessage { ref message, .. }) if message == "slow")
        );
    }
}
