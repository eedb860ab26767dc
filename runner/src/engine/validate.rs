//! Checking a sync's messages on the supervisor's mapper threads: each record's JSON text
//! is validated against the compiled shared schema of its `_type`
//! ([`protocol::SchemaRegistry::validate_record_json`], which reads the text in place
//! rather than building a `Value`), and kept as the exact text for storage.
//!
//! One exception to "exactly as sent": a record or state holding a value of a `writeOnly`
//! configuration field (a connector bug) is stored with that value masked, because secrets
//! must never reach storage. The store loop warns when that happens.

use serde_json::value::RawValue;
use serde_json::Value;

use protocol::{
    CodecError, ConnectorMessage, ErrorMessage, LogMessage, ProgressMessage, RecordCheck, RecordError, Redactor,
    SchemaRegistry,
};

use super::supervisor::Incoming;

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
    /// The record's JSON text, as sent (secrets masked, see `masked`).
    pub raw: Box<RawValue>,
    /// Whether a secret value had to be masked in the text.
    pub masked: bool,
    /// The connector's `extracted_at`.
    pub extracted_at: Option<String>,
    /// Its `_type`, if it is a string.
    pub record_type: Option<String>,
    /// Its `id` (a string, or a number's JSON text).
    pub id: Option<String>,
    /// `Ok` or why it is invalid.
    pub verdict: Result<(), RecordError>,
}

/// The checker the supervisor runs on each decoded line (on its mapper threads), masking
/// the connection's secrets in records and states.
pub fn checker(redactor: Redactor) -> impl Fn(Incoming, Option<&str>) -> Item + Send + Sync + 'static {
    move |incoming, _| check(incoming, &redactor)
}

/// Checks one decoded line.
pub fn check(incoming: Incoming, redactor: &Redactor) -> Item {
    match incoming {
        Ok((line, ConnectorMessage::Record(record))) => {
            Item::Record(mask_record(check_record(line, record.record, record.extracted_at), redactor))
        }
        Ok((line, ConnectorMessage::State(state))) => {
            let (state, masked) = mask_state(state.state, redactor);
            Item::State { line, state, masked }
        }
        Ok((_, ConnectorMessage::Progress(progress))) => Item::Progress(progress),
        Ok((_, ConnectorMessage::Log(log))) => Item::Log(log),
        Ok((_, ConnectorMessage::Error(error))) => Item::Error(error),
        Ok((line, other)) => Item::Ignored { line, kind: other.type_name().to_owned() },
        Err(error) => Item::Bad(error),
    }
}

fn check_record(line: u64, raw: Box<RawValue>, extracted_at: Option<String>) -> CheckedRecord {
    let RecordCheck { record_type, id, verdict } = record_verdict(raw.get());
    CheckedRecord { line, raw, masked: false, extracted_at, record_type, id, verdict }
}

/// Validates a record's JSON text against the shared schema of its `_type`: the one
/// record check of the runner, used by `sync` and by the conformance kit alike.
pub fn record_verdict(json: &str) -> RecordCheck {
    SchemaRegistry::global().validate_record_json(json)
}

/// Masks secrets in the record's text. Masking replaces characters inside JSON strings
/// with `***`, so the text stays valid JSON.
fn mask_record(mut record: CheckedRecord, redactor: &Redactor) -> CheckedRecord {
    if redactor.leaks(record.raw.get()) {
        let masked = redactor.redact(record.raw.get()).into_owned();
        if let Ok(raw) = RawValue::from_string(masked) {
            record.raw = raw;
            record.masked = true;
        }
    }
    record
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

    fn record(line: &str) -> CheckedRecord {
        match check(Ok((7, ConnectorMessage::decode(line).unwrap())), &Redactor::default()) {
            Item::Record(record) => record,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_valid_record_keeps_its_text_type_and_id() {
        let checked =
            record(r#"{"type":"record","record":{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops"}}"#);
        assert!(checked.verdict.is_ok());
        assert_eq!(checked.raw.get(), r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops"}"#);
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
        let line =
            r#"{"type":"record","record":{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"s3cr3t-token"}}"#;
        let Item::Record(checked) = check(Ok((1, ConnectorMessage::decode(line).unwrap())), &redactor) else {
            panic!("not a record")
        };
        assert!(checked.masked && checked.verdict.is_ok());
        assert_eq!(checked.raw.get(), r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"***"}"#);

        let line = r#"{"type":"state","state":{"token":"s3cr3t-token","cursor":3}}"#;
        let Item::State { state, masked, .. } = check(Ok((2, ConnectorMessage::decode(line).unwrap())), &redactor)
        else {
            panic!("not a state")
        };
        assert!(masked);
        assert_eq!(state, serde_json::json!({"token": "***", "cursor": 3}));
    }

    #[test]
    fn records_without_secrets_are_kept_byte_for_byte() {
        let redactor = Redactor::new(["s3cr3t-token".to_owned()]);
        let line = r#"{"type":"record","record":{"_type":"Team", "id":"T1","self":"https://x.test/T1","name":"Ops"}}"#;
        let Item::Record(checked) = check(Ok((1, ConnectorMessage::decode(line).unwrap())), &redactor) else {
            panic!("not a record")
        };
        assert!(!checked.masked);
        assert_eq!(checked.raw.get(), r#"{"_type":"Team", "id":"T1","self":"https://x.test/T1","name":"Ops"}"#);
    }
}
