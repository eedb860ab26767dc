//! The schema registry: every shared JSON Schema, embedded at build time, compiled once.
//!
//! Record schemas (`schemas/records/<Type>.json`) are looked up by a record's `_type`;
//! protocol schemas (`schemas/protocol/*.json`) by message type. Formats (`date-time`,
//! `uri`, ...) are enforced, unlike the JSON Schema default of treating them as notes.
//! A schema may `$ref` any other embedded schema by its `$id` (a record field holding
//! another record, e.g. `.../records/Repository.json`); nothing is ever fetched, so a
//! `$ref` to anything else fails at startup.
//! Validation errors name the record's `_type` and `id`, the field's JSON pointer and the
//! reason, and never quote a value that could be a secret.
//!
//! A connector may declare record types of its own in its spec (`record_schemas`):
//! [`SchemaRegistry::with_declared`] compiles them once into a registry for the run, whose
//! records of those types take the same paths as shared ones ([`declared`]).

mod declared;
mod formats;

pub use declared::DeclaredSchemaError;
pub use formats::FormatViolation;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use jsonschema::{Draft, Registry, Validator};
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
    /// The `format` the value breaks, when that is what is wrong (`date-time`).
    pub format: Option<String>,
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
    /// The record's text cannot be read as a JSON value, although it is JSON: nested
    /// more than 127 levels deep, a number too large for a double, a lone UTF-16 surrogate
    /// in an escape. Only [`SchemaRegistry::validate_record_json`] says this.
    #[error("record {record_type} `{id}` cannot be read: {reason}")]
    Unreadable {
        /// The record's `_type`, or `?`.
        record_type: String,
        /// The record's `id`, or `?`.
        id: String,
        /// Why, with the line and column.
        reason: String,
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

impl RecordError {
    /// Whether the record breaks only `format`s of its schema (what an adapter's `formats`
    /// option decides for a third party's schema).
    pub fn breaks_only_formats(&self) -> bool {
        match self {
            RecordError::Invalid { violations, .. } => {
                !violations.is_empty() && violations.iter().all(|v| v.format.is_some())
            }
            _ => false,
        }
    }
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
    /// The same schema blind to `format`, for a declared type whose formats are reported
    /// ([`formats`]); `None` when they are enforced.
    structure: Option<Validator>,
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
    /// With an `Ok` verdict, the formats the record breaks of a schema whose formats are
    /// reported, not enforced (a Stream's `recordFormats: report`); usually empty.
    pub format_drift: Vec<FormatViolation>,
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

/// Every shared schema, compiled, and the record types one connector declares (none in
/// [`SchemaRegistry::global`]). Build one with [`SchemaRegistry::new`] or share
/// [`SchemaRegistry::global`]; add a connector's types with [`SchemaRegistry::with_declared`].
pub struct SchemaRegistry {
    /// The shared schemas, compiled once and shared by every registry made from this one.
    shared: Arc<Shared>,
    /// The connector-declared record schemas, by `_type`; never a shared `_type`.
    declared: RecordTable,
}

/// Record schemas by `_type`: one lookup per record, on the runner's hot path, which must
/// cost the same with fifty types as with five (see [`TypeNameHasher`]).
type RecordTable = HashMap<String, Entry, BuildHasherDefault<TypeNameHasher>>;

/// The embedded schemas, compiled.
struct Shared {
    records: RecordTable,
    /// The same `_type`s, sorted, for listing.
    record_types: Vec<String>,
    messages: BTreeMap<String, Entry>,
}

/// FNV-1a, a hash of a few multiplications for the short `_type` names: a lookup is one
/// hash and one string comparison, where a `BTreeMap` compares strings at every level and
/// slowed every record by a few percent once the vocabulary grew from 9 types to 50.
/// Not resistant to chosen collisions, and need not be: the table's keys are the embedded
/// schemas' names, fixed at build time, and a connector's `_type` is only looked up.
struct TypeNameHasher(u64);

impl Default for TypeNameHasher {
    fn default() -> Self {
        TypeNameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for TypeNameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("records", &self.shared.record_types)
            .field("declared", &self.declared_types().collect::<Vec<_>>())
            .field("messages", &self.shared.messages.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SchemaRegistry {
    /// Compiles every embedded schema.
    ///
    /// # Errors
    /// [`SchemaError`] if an embedded file is not JSON or not a valid schema.
    pub fn new() -> Result<Self, SchemaError> {
        let records = parse_all(embedded::RECORD_SCHEMAS)?;
        let messages = parse_all(embedded::MESSAGE_SCHEMAS)?;
        let shared = shared_resources(records.iter().chain(&messages).map(|(name, schema)| (name.as_str(), schema)))?;
        let records = compile_all(&records, &shared, |name| name.to_owned())?;
        let shared = Shared {
            record_types: records.keys().cloned().collect(),
            records: records.into_iter().collect(),
            messages: compile_all(&messages, &shared, message_type_of_file)?,
        };
        Ok(SchemaRegistry { shared: Arc::new(shared), declared: RecordTable::default() })
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
        self.shared.record_types.iter().map(String::as_str)
    }

    /// The record `_type`s the connector declared (see [`SchemaRegistry::with_declared`]), sorted.
    pub fn declared_types(&self) -> impl Iterator<Item = &str> {
        let mut types: Vec<&str> = self.declared.keys().map(String::as_str).collect();
        types.sort_unstable();
        types.into_iter()
    }

    /// Whether `record_type` is one the connector declared rather than a shared one.
    pub fn is_declared(&self, record_type: &str) -> bool {
        self.declared.contains_key(record_type)
    }

    /// The JSON Schema of a record type, shared or declared, as written.
    pub fn record_schema(&self, record_type: &str) -> Option<&Value> {
        self.record_entry(record_type).map(|entry| &entry.schema)
    }

    /// The compiled schema of a record type, shared or declared: the validator
    /// [`SchemaRegistry::validate_record`] uses, for callers that need more than a verdict.
    pub fn record_validator(&self, record_type: &str) -> Option<&Validator> {
        self.record_entry(record_type).map(|entry| &entry.validator)
    }

    /// The protocol message types that have a schema, sorted.
    pub fn message_types(&self) -> impl Iterator<Item = &str> {
        self.shared.messages.keys().map(String::as_str)
    }

    /// The JSON Schema of a protocol message type (`config`, `record`, ...).
    pub fn message_schema(&self, message_type: &str) -> Option<&Value> {
        self.shared.messages.get(message_type).map(|entry| &entry.schema)
    }

    /// The compiled schema of a record `_type`: shared first (most records), then declared.
    fn record_entry(&self, record_type: &str) -> Option<&Entry> {
        self.shared.records.get(record_type).or_else(|| self.declared.get(record_type))
    }

    /// Validates a record against the schema its `_type` names.
    ///
    /// # Errors
    /// [`RecordError`] saying what is wrong; it names the type, id, field and reason.
    pub fn validate_record(&self, record: &Value) -> Result<(), RecordError> {
        self.judge(record).map(drop)
    }

    /// [`SchemaRegistry::validate_record`], with the broken formats of a record accepted
    /// despite them (see [`RecordCheck::format_drift`]).
    fn judge(&self, record: &Value) -> Result<Vec<FormatViolation>, RecordError> {
        let object = record.as_object().ok_or(RecordError::NotAnObject)?;
        let record_type = object.get("_type").and_then(Value::as_str).ok_or(RecordError::MissingType)?;
        let id = || object.get("id").map_or_else(|| "?".to_owned(), display_id);
        let Some(entry) = self.record_entry(record_type) else {
            let known: Vec<&str> = self.record_types().chain(self.declared_types()).collect();
            return Err(RecordError::UnknownType {
                record_type: record_type.to_owned(),
                id: id(),
                known: known.join(", "),
            });
        };
        if entry.validator.is_valid(record) {
            return Ok(Vec::new());
        }
        if let Some(found) = entry.structure.as_ref().and_then(|s| formats::only_formats(&entry.validator, s, record)) {
            return Ok(found);
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
            Err(error) => return unreadable(json, &error),
        };
        let (verdict, format_drift) = match self.judge(&value) {
            Ok(found) => (Ok(()), found),
            Err(error) => (Err(error), Vec::new()),
        };
        RecordCheck {
            record_type: value.get("_type").and_then(Value::as_str).map(str::to_owned),
            id: value.get("id").map(display_id),
            verdict,
            format_drift,
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
        Some(RecordCheck { record_type: Some(record_type.into_owned()), id, verdict: Ok(()), format_drift: Vec::new() })
    }

    /// The record's `_type` and whether its schema accepts the record, checked on the tape;
    /// `None` when the tape names no known schema. The one place the tape validator runs.
    fn judge_on_tape<'t>(&self, root: TapeNode<'t>) -> Option<(Cow<'t, str>, bool)> {
        let record_type = root.member("_type")?.string()?;
        let entry = self.record_entry(record_type.as_ref())?;
        let valid = entry.tape_validator.is_valid(root);
        Some((record_type, valid))
    }

    /// Validates a protocol message (any direction) against the schema of its `type`.
    ///
    /// # Errors
    /// The violations, or one saying the `type` is missing or unknown.
    pub fn validate_message(&self, message: &Value) -> Result<(), Vec<Violation>> {
        let message_type = message.get("type").and_then(Value::as_str).ok_or_else(|| {
            vec![Violation {
                path: String::new(),
                reason: "the message has no string \"type\" field".into(),
                format: None,
            }]
        })?;
        let entry = self.shared.messages.get(message_type).ok_or_else(|| {
            vec![Violation {
                path: "/type".into(),
                reason: format!("unknown message type \"{message_type}\""),
                format: None,
            }]
        })?;
        if entry.validator.is_valid(message) {
            Ok(())
        } else {
            Err(violations(&entry.validator, message))
        }
    }
}

/// The check of a record whose text `serde_json` cannot read as a `Value`: its `_type` and
/// `id` are still named when a shallow read finds them (that read skips nested values
/// without recursing, so any depth is safe).
fn unreadable(json: &str, error: &serde_json::Error) -> RecordCheck {
    #[derive(serde::Deserialize)]
    struct Names<'a> {
        #[serde(rename = "_type", borrow, default)]
        record_type: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        id: Option<&'a serde_json::value::RawValue>,
    }
    if !json.trim_start().starts_with('{') {
        return RecordCheck {
            record_type: None,
            id: None,
            verdict: Err(RecordError::NotAnObject),
            format_drift: Vec::new(),
        };
    }
    let names = serde_json::from_str::<Names<'_>>(json).ok();
    let record_type = names.as_ref().and_then(|n| n.record_type.as_deref().map(str::to_owned));
    let id = names
        .as_ref()
        .and_then(|n| n.id)
        .map(|id| serde_json::from_str::<String>(id.get()).unwrap_or_else(|_| id.get().to_owned()));
    let reason = if error.to_string().starts_with("recursion limit exceeded") {
        format!("it is nested more than 127 levels deep (line {}, column {})", error.line(), error.column())
    } else {
        error.to_string()
    };
    let verdict = Err(RecordError::Unreadable {
        record_type: record_type.clone().unwrap_or_else(|| "?".to_owned()),
        id: id.clone().unwrap_or_else(|| "?".to_owned()),
        reason,
    });
    RecordCheck { record_type, id, verdict, format_drift: Vec::new() }
}

/// Compiles a JSON Schema the way the registry does (draft 2020-12, formats enforced).
/// Used for connectors' `config_schema`s too.
///
/// # Errors
/// The reason the schema is not valid.
pub fn compile_schema(schema: &Value) -> Result<Validator, String> {
    compile_for::<SerdeJson>(schema, None)
}

/// [`compile_schema`] for any JSON representation (`Value`s, [`Tape`]s), resolving `$ref`s
/// to other schemas in `shared` (by their `$id`) and nowhere else: nothing is fetched.
fn compile_for<F: Json>(schema: &Value, shared: Option<&Registry<'_>>) -> Result<Validator<F>, String> {
    compile_with::<F>(schema, shared, Formats::Enforced)
}

/// Whether a compiled schema checks `format`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Formats {
    Enforced,
    Ignored,
}

fn compile_with<F: Json>(
    schema: &Value,
    shared: Option<&Registry<'_>>,
    formats: Formats,
) -> Result<Validator<F>, String> {
    let mut options = jsonschema::options_for::<F>()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(formats == Formats::Enforced);
    if let Some(shared) = shared {
        options = options.with_registry(shared);
    }
    options.build(schema).map_err(|e| e.masked().to_string())
}

/// Up to [`MAX_VIOLATIONS`] violations of `instance`, with the values masked so that a
/// secret in a wrongly typed field never reaches an error message.
pub fn violations(validator: &Validator, instance: &Value) -> Vec<Violation> {
    validator
        .iter_errors(instance)
        .take(MAX_VIOLATIONS)
        .map(|error| Violation {
            path: error.instance_path().as_str().to_owned(),
            reason: error.masked().to_string(),
            format: match error.kind() {
                jsonschema::error::ValidationErrorKind::Format { format } => Some(format.clone()),
                _ => None,
            },
        })
        .collect()
}

/// Every embedded file of one kind, parsed: `(file name without .json, schema)`.
fn parse_all(files: &[(&str, &str)]) -> Result<Vec<(String, Value)>, SchemaError> {
    files
        .iter()
        .map(|(name, text)| match serde_json::from_str(text) {
            Ok(schema) => Ok(((*name).to_owned(), schema)),
            Err(e) => Err(SchemaError { name: (*name).to_owned(), reason: e.to_string() }),
        })
        .collect()
}

/// Every embedded schema that has an `$id`, as a resource the others may `$ref`: this is how
/// a record schema says a field holds another record (`"$ref": ".../records/Repository.json"`).
fn shared_resources<'a>(schemas: impl Iterator<Item = (&'a str, &'a Value)>) -> Result<Registry<'a>, SchemaError> {
    let error =
        |name: &str, e: jsonschema::ReferencingError| SchemaError { name: name.to_owned(), reason: e.to_string() };
    let mut builder = Registry::new().draft(Draft::Draft202012);
    for (name, schema) in schemas {
        if let Some(id) = schema.get("$id").and_then(Value::as_str) {
            builder = builder.add(id, schema).map_err(|e| error(name, e))?;
        }
    }
    builder.prepare().map_err(|e| error("(the embedded schemas together)", e))
}

fn compile_all(
    schemas: &[(String, Value)],
    shared: &Registry<'_>,
    key: impl Fn(&str) -> String,
) -> Result<BTreeMap<String, Entry>, SchemaError> {
    schemas
        .iter()
        .map(|(name, schema)| {
            let entry = Entry::compile(schema, shared).map_err(|reason| SchemaError { name: name.clone(), reason })?;
            Ok((key(name), entry))
        })
        .collect()
}

impl Entry {
    /// Compiles a record or message schema, for `Value`s and for tapes, resolving `$ref`s to
    /// other documents in `shared`.
    fn compile(schema: &Value, shared: &Registry<'_>) -> Result<Entry, String> {
        // A schema that refers only within itself is compiled on its own: compiled
        // beside the shared resources, its local `$ref`s cost about 2% more
        // instructions per record (measured with cachegrind on EscalationPolicy), a
        // price only schemas that link to other records need to pay.
        let shared = refers_outside(schema).then_some(shared);
        let validator = compile_for::<SerdeJson>(schema, shared)?;
        let tape_validator = compile_for::<TapeJson>(schema, shared)?;
        Ok(Entry { schema: schema.clone(), validator, tape_validator, structure: None })
    }

    /// [`Entry::compile`] for a declared type whose formats are reported, not enforced.
    fn compile_reporting_formats(schema: &Value, shared: &Registry<'_>) -> Result<Entry, String> {
        let mut entry = Entry::compile(schema, shared)?;
        let shared = refers_outside(schema).then_some(shared);
        entry.structure = Some(compile_with::<SerdeJson>(schema, shared, Formats::Ignored)?);
        Ok(entry)
    }
}

/// Whether `schema` holds a `$ref` to another document (anything but a `#` fragment).
fn refers_outside(schema: &Value) -> bool {
    match schema {
        Value::Object(members) => members.iter().any(|(keyword, value)| {
            (keyword == "$ref" && value.as_str().is_some_and(|r| !r.starts_with('#'))) || refers_outside(value)
        }),
        Value::Array(items) => items.iter().any(refers_outside),
        _ => false,
    }
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

    /// Compiles `schema` the way the registry compiles its own, with every embedded schema
    /// available to `$ref`.
    fn compile_beside_the_embedded(schema: &Value) -> Result<Validator, String> {
        let records = parse_all(embedded::RECORD_SCHEMAS).unwrap();
        let shared = shared_resources(records.iter().map(|(name, schema)| (name.as_str(), schema))).unwrap();
        compile_for::<SerdeJson>(schema, Some(&shared))
    }

    #[test]
    fn a_schema_refers_to_a_record_schema_by_its_id() {
        let team = json!({"$ref": "https://schemas.connector-toolkit.dev/records/Team.json"});
        let validator = compile_beside_the_embedded(&team).unwrap();
        let record = json!({"_type":"Team","id":"T1","self":"https://api.pagerduty.com/teams/T1","name":"Ops"});
        assert!(validator.is_valid(&record));
        assert!(!validator.is_valid(&json!({"_type":"Team","id":"T1"})), "the referenced schema applies in full");
    }

    #[test]
    fn a_reference_to_a_schema_that_is_not_embedded_does_not_compile() {
        // Nothing is fetched: an unknown `$ref` is a bug in `schemas/`, caught at startup.
        let nope = json!({"$ref": "https://schemas.connector-toolkit.dev/records/Nope.json"});
        let err = compile_beside_the_embedded(&nope).unwrap_err();
        assert!(err.contains("Nope.json"), "{err}");
    }

    #[test]
    fn only_schemas_that_link_to_other_records_are_compiled_beside_them() {
        let registry = SchemaRegistry::global();
        assert!(!refers_outside(registry.record_schema("EscalationPolicy").unwrap()), "only #/$defs refs");
        assert!(refers_outside(registry.record_schema("Branch").unwrap()), "links to Repository");
        assert!(refers_outside(&json!({"properties": {"a": {"anyOf": [{"$ref": "https://x.test/a.json"}]}}})));
    }

    #[test]
    fn record_types_are_listed_sorted_and_each_is_found() {
        let registry = SchemaRegistry::global();
        let types: Vec<&str> = registry.record_types().collect();
        assert!(types.windows(2).all(|pair| pair[0] < pair[1]), "{types:?}");
        for record_type in types {
            assert_eq!(registry.record_schema(record_type).unwrap()["title"], record_type);
        }
        assert!(registry.record_schema("Incident ").is_none());
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
