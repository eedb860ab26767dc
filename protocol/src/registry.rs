//! The schema registry: every shared JSON Schema, embedded at build time, compiled once.
//!
//! Record schemas (`schemas/records/<Type>.json`) are looked up by a record's `_type`;
//! protocol schemas (`schemas/protocol/*.json`) by message type. Formats (`date-time`,
//! `uri`, ...) are enforced, unlike the JSON Schema default of treating them as notes.
//! Validation errors name the record's `_type` and `id`, the field's JSON pointer and the
//! reason, and never quote a value that could be a secret.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::Value;

use jsonschema::json::{Json, Node as _, SerdeJson};

use crate::tape::{Tape, TapeJson, TapeNode};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_schemas.rs"));
}

/// At most this many violations are collected for one record.
const MAX_VIOLATIONS: usize = 8;

/// One schema violation: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending value inside the record (`""` is the record itself).
    pub path: String,
    /// What is wrong, e.g. `"yesterday" is not a "date-time"`.
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        write!(f, "at {path}: {}", self.reason)
    }
}

/// Why a record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record is not a JSON object.
    #[error("a record must be a JSON object")]
    NotAnObject,
    /// The object has no string `_type`.
    #[error("the record has no \"_type\" field naming its schema")]
    MissingType,
    /// No shared schema exists for the `_type`.
    #[error("record `{id}` has unknown _type \"{record_type}\" (known types: {known})")]
    UnknownType {
        /// The `_type` given.
        record_type: String,
        /// The record's `id`, or `?`.
        id: String,
        /// The known types, comma-separated.
        known: String,
    },
    /// The record does not match its schema.
    #[error("record {record_type} `{id}` does not match its schema: {}", join_violations(.violations))]
    Invalid {
        /// The record's `_type`.
        record_type: String,
        /// The record's `id`, or `?`.
        id: String,
        /// Up to a few violations, the first first.
        violations: Vec<Violation>,
    },
}

fn join_violations(violations: &[Violation]) -> String {
    violations.iter().map(Violation::to_string).collect::<Vec<_>>().join("; ")
}

/// A schema file that does not compile (a bug in `schemas/`, caught by the tests).
#[derive(Debug, thiserror::Error)]
#[error("schema {name} is not a valid JSON Schema: {reason}")]
pub struct SchemaError {
    /// The schema's file name without `.json`.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// One embedded schema: its JSON and its compiled validators.
struct Entry {
    schema: Value,
    validator: Validator,
    /// The same schema compiled for [`Tape`]s: the fast path of [`SchemaRegistry::validate_record_json`].
    tape_validator: Validator<TapeJson>,
}

/// What [`SchemaRegistry::validate_record_json`] found: the record's `_type` and `id`
/// (whatever the verdict), and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCheck {
    /// The `_type`, if it is a string.
    pub record_type: Option<String>,
    /// The `id`: a string's contents, or any other value's compact JSON text.
    pub id: Option<String>,
    /// `Ok`, or why the record is rejected.
    pub verdict: Result<(), RecordError>,
}

/// What the tape validator alone says about a record's text: the verdict of
/// [`SchemaRegistry::tape_verdict`], the fast path of [`SchemaRegistry::validate_record_json`]
/// without its `serde_json::Value` fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapeVerdict {
    /// The record's schema, checked on the tape, accepts it.
    Valid,
    /// The record's schema, checked on the tape, rejects it.
    Invalid,
    /// The tape read the text, but it names no schema: not an object, no string `_type`,
    /// or a `_type` without a shared schema.
    NoSchema,
    /// The tape does not read the text (see [`Tape::parse`]).
    Unreadable,
}

/// Every shared schema, compiled. Build one with [`SchemaRegistry::new`] or share
/// [`SchemaRegistry::global`].
pub struct SchemaRegistry {
    records: BTreeMap<String, Entry>,
    messages: BTreeMap<String, Entry>,
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("records", &self.records.keys().collect::<Vec<_>>())
            .field("messages", &self.messages.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SchemaRegistry {
    /// Compiles every embedded schema.
    ///
    /// # Errors
    /// [`SchemaError`] if an embedded file is not JSON or not a valid schema.
    pub fn new() -> Result<Self, SchemaError> {
        Ok(SchemaRegistry {
            records: compile_all(embedded::RECORD_SCHEMAS, |name| name.to_owned())?,
            messages: compile_all(embedded::MESSAGE_SCHEMAS, message_type_of_file)?,
        })
    }

    /// The process-wide registry, compiled on first use.
    ///
    /// # Panics
    /// If an embedded schema does not compile: the crate's own tests make that impossible
    /// for a released build.
    pub fn global() -> &'static SchemaRegistry {
        static GLOBAL: OnceLock<SchemaRegistry> = OnceLock::new();
        GLOBAL.get_or_init(|| SchemaRegistry::new().expect("embedded schemas compile (checked by tests)"))
    }

    /// The record `_type`s that have a shared schema, sorted.
    pub fn record_types(&self) -> impl Iterator<Item = &str> {
        self.records.keys().map(String::as_str)
    }

    /// The JSON Schema of a record type.
    pub fn record_schema(&self, record_type: &str) -> Option<&Value> {
        self.records.get(record_type).map(|entry| &entry.schema)
    }

    /// The protocol message types that have a schema, sorted.
    pub fn message_types(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }

    /// The JSON Schema of a protocol message type (`config`, `record`, ...).
    pub fn message_schema(&self, message_type: &str) -> Option<&Value> {
        self.messages.get(message_type).map(|entry| &entry.schema)
    }

    /// Validates a record against the schema its `_type` names.
    ///
    /// # Errors
    /// [`RecordError`] saying what is wrong; it names the type, id, field and reason.
    pub fn validate_record(&self, record: &Value) -> Result<(), RecordError> {
        let object = record.as_object().ok_or(RecordError::NotAnObject)?;
        let record_type = object.get("_type").and_then(Value::as_str).ok_or(RecordError::MissingType)?;
        let id = || object.get("id").map_or_else(|| "?".to_owned(), display_id);
        let Some(entry) = self.records.get(record_type) else {
            return Err(RecordError::UnknownType {
                record_type: record_type.to_owned(),
                id: id(),
                known: self.records.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        if entry.validator.is_valid(record) {
            return Ok(());
        }
        Err(RecordError::Invalid {
            record_type: record_type.to_owned(),
            id: id(),
            violations: violations(&entry.validator, record),
        })
    }

    /// Validates a record given as JSON text, with the same verdicts and errors as
    /// [`SchemaRegistry::validate_record`] on the parsed text.
    ///
    /// This is the runner's hot path. A valid record is checked on a [`Tape`] of the text,
    /// which costs a fraction of building a `serde_json::Value`; anything else (an invalid
    /// record, an unknown type, text the tape does not read) takes the `Value` path, so
    /// error messages are exactly those of [`SchemaRegistry::validate_record`].
    pub fn validate_record_json(&self, json: &str) -> RecordCheck {
        let tape = Tape::parse(json).ok();
        self.validate_record_node(json, tape.as_ref().map(Tape::root))
    }

    /// [`SchemaRegistry::validate_record_json`] for a record whose tape the caller has
    /// already built: `node` is the record `json` on that tape (a record message's
    /// [`crate::RecordLine::node`], from the line's tape), or `None` when there is none.
    pub fn validate_record_node(&self, json: &str, node: Option<TapeNode<'_>>) -> RecordCheck {
        if let Some(check) = node.and_then(|node| self.valid_on_tape(node)) {
            return check;
        }
        let value: Value = match serde_json::from_str(json) {
            Ok(value) => value,
            Err(_) => return RecordCheck { record_type: None, id: None, verdict: Err(RecordError::NotAnObject) },
        };
        RecordCheck {
            record_type: value.get("_type").and_then(Value::as_str).map(str::to_owned),
            id: value.get("id").map(display_id),
            verdict: self.validate_record(&value),
        }
    }

    /// The verdict of the tape validator alone on a record's text: what
    /// [`SchemaRegistry::validate_record_json`] decides on its fast path, before an invalid
    /// or unreadable record falls back to the `Value` path.
    ///
    /// The runner wants [`SchemaRegistry::validate_record_json`]; this is for tests and
    /// benchmarks that show the fast path itself agrees with [`SchemaRegistry::validate_record`]
    /// (`tests/it/tape.rs`), which the fallback would otherwise hide.
    pub fn tape_verdict(&self, json: &str) -> TapeVerdict {
        let Ok(tape) = Tape::parse(json) else { return TapeVerdict::Unreadable };
        match self.judge_on_tape(tape.root()) {
            Some((_, true)) => TapeVerdict::Valid,
            Some((_, false)) => TapeVerdict::Invalid,
            None => TapeVerdict::NoSchema,
        }
    }

    /// `Some` when the record is valid, checked on its tape; `None` means "use the slow path".
    fn valid_on_tape(&self, root: TapeNode<'_>) -> Option<RecordCheck> {
        let (record_type, true) = self.judge_on_tape(root)? else { return None };
        let id = root.member("id").map(|id| id.string().map_or_else(|| display_id(&id.to_value()), Cow::into_owned));
        Some(RecordCheck { record_type: Some(record_type.into_owned()), id, verdict: Ok(()) })
    }

    /// The record's `_type` and whether its schema accepts the record, checked on the tape;
    /// `None` when the tape names no known schema. The one place the tape validator runs.
    fn judge_on_tape<'t>(&self, root: TapeNode<'t>) -> Option<(Cow<'t, str>, bool)> {
        let record_type = root.member("_type")?.string()?;
        let entry = self.records.get(record_type.as_ref())?;
        let valid = entry.tape_validator.is_valid(root);
        Some((record_type, valid))
    }

    /// Validates a protocol message (any direction) against the schema of its `type`.
    ///
    /// # Errors
    /// The violations, or one saying the `type` is missing or unknown.
    pub fn validate_message(&self, message: &Value) -> Result<(), Vec<Violation>> {
        let message_type = message.get("type").and_then(Value::as_str).ok_or_else(|| {
            vec![Violation { path: String::new(), reason: "the message has no string \"type\" field".into() }]
        })?;
        let entry = self.messages.get(message_type).ok_or_else(|| {
            vec![Violation { path: "/type".into(), reason: format!("unknown message type \"{message_type}\"") }]
        })?;
        if entry.validator.is_valid(message) {
            Ok(())
        } else {
            Err(violations(&entry.validator, message))
        }
    }
}

/// Compiles a JSON Schema the way the registry does (draft 2020-12, formats enforced).
/// Used for connectors' `config_schema`s too.
///
/// # Errors
/// The reason the schema is not valid.
pub fn compile_schema(schema: &Value) -> Result<Validator, String> {
    compile_for::<SerdeJson>(schema)
}

/// [`compile_schema`] for any JSON representation (`Value`s, [`Tape`]s).
fn compile_for<F: Json>(schema: &Value) -> Result<Validator<F>, String> {
    jsonschema::options_for::<F>()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.masked().to_string())
}

/// Up to [`MAX_VIOLATIONS`] violations of `instance`, with the values masked so that a
/// secret in a wrongly typed field never reaches an error message.
pub fn violations(validator: &Validator, instance: &Value) -> Vec<Violation> {
    validator
        .iter_errors(instance)
        .take(MAX_VIOLATIONS)
        .map(|error| Violation { path: error.instance_path().as_str().to_owned(), reason: error.masked().to_string() })
        .collect()
}

fn compile_all(files: &[(&str, &str)], key: impl Fn(&str) -> String) -> Result<BTreeMap<String, Entry>, SchemaError> {
    files
        .iter()
        .map(|(name, text)| {
            let error = |reason: String| SchemaError { name: (*name).to_owned(), reason };
            let schema: Value = serde_json::from_str(text).map_err(|e| error(e.to_string()))?;
            let validator = compile_schema(&schema).map_err(&error)?;
            let tape_validator = compile_for::<TapeJson>(&schema).map_err(&error)?;
            Ok((key(name), Entry { schema, validator, tape_validator }))
        })
        .collect()
}

/// `schemas/protocol/record.message.json` -> `record`: the message type is the file name
/// up to its first dot.
fn message_type_of_file(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_owned()
}

fn display_id(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn incident() -> Value {
        json!({
            "_type": "Incident", "id": "PT4KHLK", "self": "https://api.pagerduty.com/incidents/PT4KHLK",
            "title": "The server is on fire", "status": "triggered", "createdAt": "2026-01-02T03:04:05Z",
            "number": 1234, "htmlUrl": "https://acme.pagerduty.com/incidents/PT4KHLK"
        })
    }

    fn rejected(record: Value) -> (String, Vec<Violation>) {
        match SchemaRegistry::global().validate_record(&record) {
            Err(RecordError::Invalid { record_type, violations, .. }) => (record_type, violations),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn every_embedded_schema_compiles() {
        let registry = SchemaRegistry::new().unwrap();
        let types: Vec<_> = registry.record_types().collect();
        for expected in [
            "Actor",
            "EscalationPolicy",
            "Incident",
            "IncidentLogEntry",
            "OnCall",
            "Priority",
            "Service",
            "Stream",
            "Team",
        ] {
            assert!(types.contains(&expected), "missing record schema {expected}: {types:?}");
        }
        let messages: Vec<_> = registry.message_types().collect();
        for expected in
            ["config", "sync", "spec", "verification", "stream", "record", "state", "progress", "log", "error"]
        {
            assert!(messages.contains(&expected), "missing message schema {expected}: {messages:?}");
        }
    }

    #[test]
    fn a_code_climate_incident_validates() {
        SchemaRegistry::global().validate_record(&incident()).unwrap();
    }

    #[test]
    fn the_seed_stream_validates() {
        let stream =
            json!({"_type":"Stream","id":"unavailable","self":"https://pagerduty.com","name":"PagerDuty Account"});
        SchemaRegistry::global().validate_record(&stream).unwrap();
    }

    #[test]
    fn a_missing_title_is_named() {
        let mut record = incident();
        record.as_object_mut().unwrap().remove("title");
        let (record_type, violations) = rejected(record);
        assert_eq!(record_type, "Incident");
        assert!(violations[0].reason.contains("\"title\""), "{violations:?}");
    }

    #[test]
    fn a_bad_status_and_a_bad_date_are_named_by_path() {
        let mut record = incident();
        record["status"] = json!("exploded");
        assert_eq!(rejected(record).1[0].path, "/status");

        let mut record = incident();
        record["createdAt"] = json!("yesterday");
        let (_, violations) = rejected(record);
        assert_eq!(violations[0].path, "/createdAt");
        assert!(violations[0].reason.contains("date-time"), "{violations:?}");
    }

    #[test]
    fn uri_format_is_enforced() {
        let mut record = incident();
        record["self"] = json!("not a url");
        assert_eq!(rejected(record).1[0].path, "/self");
    }

    #[test]
    fn extra_fields_are_allowed_but_wrong_types_are_not() {
        let mut record = incident();
        record["somethingNew"] = json!({"x": 1});
        SchemaRegistry::global().validate_record(&record).unwrap();
        record["number"] = json!("1234");
        assert_eq!(rejected(record).1[0].path, "/number");
    }

    #[test]
    fn errors_name_type_and_id_and_never_quote_values() {
        let mut record = incident();
        record["title"] = json!(12345678);
        let err = SchemaRegistry::global().validate_record(&record).unwrap_err().to_string();
        assert!(err.starts_with("record Incident `PT4KHLK` does not match its schema: at /title:"), "{err}");
        assert!(!err.contains("12345678"), "value leaked: {err}");
    }

    #[test]
    fn unknown_and_missing_types_are_errors() {
        let err = SchemaRegistry::global().validate_record(&json!({"_type":"Gizmo","id":"g1"})).unwrap_err();
        assert!(
            matches!(&err, RecordError::UnknownType { record_type, id, .. } if record_type == "Gizmo" && id == "g1")
        );
        assert!(err.to_string().contains("Incident"), "lists known types: {err}");
        assert_eq!(SchemaRegistry::global().validate_record(&json!({"id":"x"})), Err(RecordError::MissingType));
        assert_eq!(SchemaRegistry::global().validate_record(&json!([1])), Err(RecordError::NotAnObject));
    }

    #[test]
    fn messages_validate_against_their_schema() {
        let registry = SchemaRegistry::global();
        registry.validate_message(&json!({"type":"log","level":"info","message":"hi"})).unwrap();
        let errors = registry.validate_message(&json!({"type":"log","level":"loud","message":"hi"})).unwrap_err();
        assert_eq!(errors[0].path, "/level");
        assert!(registry.validate_message(&json!({"type":"nope"})).is_err());
    }
}
