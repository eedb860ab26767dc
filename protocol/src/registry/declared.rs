//! Record types a connector declares itself: the spec's `record_schemas`, a JSON Schema
//! per `_type` outside the shared vocabulary.
//!
//! [`SchemaRegistry::with_declared`] checks and compiles them once per run into a registry
//! that shares the compiled shared schemas (nothing is compiled twice) and looks declared
//! types up after shared ones, so records of either kind take the same paths, the tape
//! fast path included. A declared schema may `$ref` a shared record schema by its `$id`.
//!
//! A declared type is refused, with an error naming it, when it redefines a shared type
//! (records of a shared `_type` mean the same thing from every connector), when its name
//! is not a type name (it becomes a file name in the JSON-lines destination), when its
//! schema does not require `_type` and `id` (what every destination keys a record by), or
//! when the schema does not compile.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::{RecordFormats, Stream};

use super::{shared_resources, Entry, RecordTable, SchemaRegistry};

/// The members every declared schema must list in its top-level `required`.
const REQUIRED_MEMBERS: [&str; 2] = ["_type", "id"];

/// A declared type's name is at most this long.
const MAX_NAME_CHARS: usize = 100;

/// Why a connector's `record_schemas` is refused; every variant names the type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclaredSchemaError {
    /// The type is a shared one.
    #[error(
        "record_schemas declares `{record_type}`, a shared type: a connector may not redefine a shared schema \
         (emit `{record_type}` as the shared schema describes it, or declare your type under another name)"
    )]
    RedefinesShared {
        /// The declared `_type`.
        record_type: String,
    },
    /// The name is not PascalCase letters and digits.
    #[error(
        "record_schemas declares `{record_type}`: a type name is an ASCII capital letter followed by letters and \
         digits, at most {MAX_NAME_CHARS} characters (e.g. AcmeWidget)"
    )]
    BadName {
        /// The declared `_type`.
        record_type: String,
    },
    /// The schema does not list `_type` and `id` in its top-level `required`.
    #[error(
        "the declared schema of `{record_type}` does not require {missing}: every record has `_type` and `id`, \
         so list both in the schema's top-level \"required\""
    )]
    MissingKeys {
        /// The declared `_type`.
        record_type: String,
        /// The members missing from `required`, e.g. `` `id` ``.
        missing: String,
    },
    /// A stream declares a type its connector's spec declares too.
    #[error(
        "stream `{stream}` declares `{record_type}` in recordSchemas, which the spec's record_schemas declares \
         already: declare each type once, in the spec or on the stream"
    )]
    DeclaredTwice {
        /// The declared `_type`.
        record_type: String,
        /// The Stream's id.
        stream: String,
    },
    /// The schema is not a valid JSON Schema (draft 2020-12), or `$ref`s what is not a
    /// shared record schema.
    #[error("the declared schema of `{record_type}` does not compile: {reason}")]
    DoesNotCompile {
        /// The declared `_type`.
        record_type: String,
        /// Why, as the compiler says it (values masked).
        reason: String,
    },
}

impl SchemaRegistry {
    /// The shared schemas of this registry plus the record types `declared` by a connector
    /// (`record_schemas` of its spec), each checked and compiled once. Declared types are
    /// then validated exactly like shared ones, by [`SchemaRegistry::validate_record_json`]
    /// and [`SchemaRegistry::validate_record`].
    ///
    /// # Errors
    /// The first declared type (in name order) that is refused, and why.
    pub fn with_declared(&self, declared: &BTreeMap<String, Value>) -> Result<SchemaRegistry, DeclaredSchemaError> {
        self.declare(declared, &BTreeSet::new())
    }

    /// [`SchemaRegistry::with_declared`], with the formats of the types in `reported`
    /// reported rather than enforced (see [`super::formats`]).
    fn declare(
        &self,
        declared: &BTreeMap<String, Value>,
        reported: &BTreeSet<&str>,
    ) -> Result<SchemaRegistry, DeclaredSchemaError> {
        let records = &self.shared.records;
        for (record_type, schema) in declared {
            check_declaration(record_type, schema, |name| records.contains_key(name))?;
        }
        let mut compiled = RecordTable::default();
        if !declared.is_empty() {
            let resources =
                shared_resources(self.shared.records.iter().map(|(name, entry)| (name.as_str(), &entry.schema)))
                    .expect("the shared schemas were registered as resources when the registry was built");
            for (record_type, schema) in declared {
                let compile = if reported.contains(record_type.as_str()) {
                    Entry::compile_reporting_formats
                } else {
                    Entry::compile
                };
                let entry = compile(schema, &resources).map_err(|reason| DeclaredSchemaError::DoesNotCompile {
                    record_type: record_type.clone(),
                    reason,
                })?;
                compiled.insert(record_type.clone(), entry);
            }
        }
        Ok(SchemaRegistry { shared: Arc::clone(&self.shared), declared: compiled })
    }

    /// The registry a sync of `stream` validates with: the shared schemas, the spec's
    /// declared types (`spec_declared`) and the stream's own (`recordSchemas`), checked
    /// and compiled as [`SchemaRegistry::with_declared`] does. Used by `runner sync` and
    /// by the conformance kit alike, so both refuse the same declarations.
    ///
    /// # Errors
    /// The stream declares a type the spec declares too, or a declared type is refused.
    pub fn for_stream(
        &self,
        spec_declared: &BTreeMap<String, Value>,
        stream: &Stream,
    ) -> Result<SchemaRegistry, DeclaredSchemaError> {
        let declared = declared_for_stream(spec_declared, stream)?;
        // A stream reports the formats of its own declarations only, never the spec's.
        let reported: BTreeSet<&str> = match stream.record_formats {
            RecordFormats::Report => stream.record_schemas.keys().map(String::as_str).collect(),
            RecordFormats::Enforce => BTreeSet::new(),
        };
        self.declare(&declared, &reported)
    }
}

/// Every record type a sync of `stream` may declare: the spec's (`spec_declared`) and the
/// stream's own `recordSchemas`, which a connector sets at `discover` when its types
/// depend on its configuration (an adapter learns them from a tap's catalog). Borrowed
/// when the stream declares nothing, the common case.
///
/// # Errors
/// The stream declares a type the spec declares too.
fn declared_for_stream<'a>(
    spec_declared: &'a BTreeMap<String, Value>,
    stream: &Stream,
) -> Result<Cow<'a, BTreeMap<String, Value>>, DeclaredSchemaError> {
    if stream.record_schemas.is_empty() {
        return Ok(Cow::Borrowed(spec_declared));
    }
    let mut all = spec_declared.clone();
    for (record_type, schema) in &stream.record_schemas {
        if all.insert(record_type.clone(), schema.clone()).is_some() {
            return Err(DeclaredSchemaError::DeclaredTwice {
                record_type: record_type.clone(),
                stream: stream.id.clone(),
            });
        }
    }
    Ok(Cow::Owned(all))
}

/// The rules a declared type must follow before it is compiled.
fn check_declaration(
    record_type: &str,
    schema: &Value,
    is_shared: impl Fn(&str) -> bool,
) -> Result<(), DeclaredSchemaError> {
    let owned = || record_type.to_owned();
    if is_shared(record_type) {
        return Err(DeclaredSchemaError::RedefinesShared { record_type: owned() });
    }
    if !is_type_name(record_type) {
        return Err(DeclaredSchemaError::BadName { record_type: owned() });
    }
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let missing: Vec<String> = REQUIRED_MEMBERS
        .iter()
        .filter(|member| !required.contains(member))
        .map(|member| format!("`{member}`"))
        .collect();
    if !missing.is_empty() {
        return Err(DeclaredSchemaError::MissingKeys { record_type: owned(), missing: missing.join(" and ") });
    }
    Ok(())
}

/// `AcmeWidget`: the shape of every shared type's name, safe as a file or table name.
fn is_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
        && name.len() <= MAX_NAME_CHARS
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{RecordError, TapeVerdict};

    fn widget_schema() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["_type", "id", "self", "name"],
            "properties": {
                "_type": {"const": "AcmeWidget"},
                "id": {"type": "string"},
                "self": {"type": "string", "format": "uri"},
                "name": {"type": "string"},
                "sprockets": {"type": "integer", "minimum": 0},
                "team": {"$ref": "https://schemas.connector-toolkit.dev/records/Team.json"}
            }
        })
    }

    fn declare(record_type: &str, schema: Value) -> Result<SchemaRegistry, DeclaredSchemaError> {
        SchemaRegistry::global().with_declared(&BTreeMap::from([(record_type.to_owned(), schema)]))
    }

    const WIDGET: &str =
        r#"{"_type":"AcmeWidget","id":"w1","self":"https://acme.test/widgets/w1","name":"Left","sprockets":3}"#;

    #[test]
    fn a_declared_type_validates_on_the_tape_like_a_shared_one() {
        let registry = declare("AcmeWidget", widget_schema()).unwrap();
        assert_eq!(registry.tape_verdict(WIDGET), TapeVerdict::Valid, "the fast path knows the declared type");
        let check = registry.validate_record_json(WIDGET);
        assert_eq!(
            (check.record_type.as_deref(), check.id.as_deref(), check.verdict),
            (Some("AcmeWidget"), Some("w1"), Ok(()))
        );
        let shared = r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops"}"#;
        assert_eq!(registry.validate_record_json(shared).verdict, Ok(()), "shared types still validate");
        assert!(registry.is_declared("AcmeWidget") && !registry.is_declared("Team"));
        assert_eq!(registry.declared_types().collect::<Vec<_>>(), ["AcmeWidget"]);
        assert!(registry.record_validator("AcmeWidget").is_some() && registry.record_schema("AcmeWidget").is_some());
    }

    #[test]
    fn an_invalid_declared_record_is_rejected_with_its_field_named() {
        let registry = declare("AcmeWidget", widget_schema()).unwrap();
        let bad = WIDGET.replace("\"sprockets\":3", "\"sprockets\":-1");
        assert_eq!(registry.tape_verdict(&bad), TapeVerdict::Invalid);
        match registry.validate_record_json(&bad).verdict {
            Err(RecordError::Invalid { record_type, violations, .. }) => {
                assert_eq!(record_type, "AcmeWidget");
                assert_eq!(violations[0].path, "/sprockets");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_declared_schema_refers_to_a_shared_record_schema() {
        let registry = declare("AcmeWidget", widget_schema()).unwrap();
        let with_team = WIDGET.replace("\"sprockets\":3", r#""team":{"_type":"Team","id":"T1"}"#);
        let Err(RecordError::Invalid { violations, .. }) = registry.validate_record_json(&with_team).verdict else {
            panic!("a Team without self and name is not a Team")
        };
        assert!(violations[0].path.starts_with("/team"), "{violations:?}");
    }

    #[test]
    fn the_global_registry_does_not_know_declared_types() {
        declare("AcmeWidget", widget_schema()).unwrap();
        let verdict = SchemaRegistry::global().validate_record_json(WIDGET).verdict;
        assert!(matches!(verdict, Err(RecordError::UnknownType { .. })), "{verdict:?}");
    }

    #[test]
    fn redefining_a_shared_type_is_refused_by_name() {
        let err = declare("Incident", widget_schema()).err().unwrap();
        assert_eq!(err, DeclaredSchemaError::RedefinesShared { record_type: "Incident".into() });
        assert!(err.to_string().contains("`Incident`, a shared type"), "{err}");
    }

    #[test]
    fn a_schema_that_does_not_compile_is_refused_by_name() {
        let err = declare("AcmeWidget", json!({"required": ["_type", "id"], "type": "thing"})).err().unwrap();
        assert!(matches!(&err, DeclaredSchemaError::DoesNotCompile { record_type, .. } if record_type == "AcmeWidget"));
        let elsewhere = json!({"required": ["_type", "id"], "$ref": "https://elsewhere.test/widget.json"});
        let err = declare("AcmeWidget", elsewhere).err().unwrap();
        assert!(err.to_string().starts_with("the declared schema of `AcmeWidget` does not compile"), "{err}");
    }

    #[test]
    fn a_schema_must_require_type_and_id() {
        let err = declare("AcmeWidget", json!({"type": "object", "required": ["_type"]})).err().unwrap();
        assert_eq!(err, DeclaredSchemaError::MissingKeys { record_type: "AcmeWidget".into(), missing: "`id`".into() });
        let err = declare("AcmeWidget", json!(true)).err().unwrap();
        assert!(err.to_string().contains("does not require `_type` and `id`"), "{err}");
    }

    #[test]
    fn a_type_name_is_pascal_case_letters_and_digits() {
        for bad in ["", "acmeWidget", "Acme Widget", "../Widget", "Acme-Widget", "Ünit"] {
            let err = declare(bad, widget_schema()).err().unwrap();
            assert_eq!(err, DeclaredSchemaError::BadName { record_type: bad.into() });
        }
        assert!(is_type_name("AcmeWidget2"));
        assert!(!is_type_name(&"A".repeat(MAX_NAME_CHARS + 1)));
    }

    #[test]
    fn a_stream_adds_its_declared_types_to_the_spec_s() {
        let spec = BTreeMap::from([("AcmeWidget".to_owned(), widget_schema())]);
        let plain = Stream::new("all", "https://acme.test", "All");
        assert!(matches!(declared_for_stream(&spec, &plain).unwrap(), Cow::Borrowed(_)));
        let gadget = widget_schema().to_string().replace("AcmeWidget", "AcmeGadget");
        let declaring = plain.clone().declaring("AcmeGadget", serde_json::from_str(&gadget).unwrap());
        let all = declared_for_stream(&spec, &declaring).unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["AcmeGadget", "AcmeWidget"]);
        let registry = SchemaRegistry::global().with_declared(&all).unwrap();
        assert_eq!(registry.validate_record_json(&WIDGET.replace("AcmeWidget", "AcmeGadget")).verdict, Ok(()));
    }

    #[test]
    fn a_stream_may_not_declare_what_the_spec_declares() {
        let spec = BTreeMap::from([("AcmeWidget".to_owned(), widget_schema())]);
        let stream = Stream::new("all", "https://acme.test", "All").declaring("AcmeWidget", widget_schema());
        let err = declared_for_stream(&spec, &stream).unwrap_err();
        assert_eq!(err, DeclaredSchemaError::DeclaredTwice { record_type: "AcmeWidget".into(), stream: "all".into() });
        assert!(err.to_string().contains("stream `all` declares `AcmeWidget`"), "{err}");
    }

    /// A stream declaring `AcmeEvent` (a `date-time` and an integer) with its formats `formats`.
    fn event_stream(formats: RecordFormats) -> Stream {
        let schema = json!({"type": "object", "required": ["_type", "id", "at"], "properties": {
            "_type": {"const": "AcmeEvent"}, "id": {"type": "string"},
            "at": {"type": "string", "format": "date-time"}, "n": {"type": "integer"}}});
        let mut stream = Stream::new("events", "https://acme.test/events", "Events").declaring("AcmeEvent", schema);
        stream.record_formats = formats;
        stream
    }

    const NO_OFFSET: &str = r#"{"_type":"AcmeEvent","id":"e1","at":"2001-02-03T11:53:10.771720","n":1}"#;

    #[test]
    fn a_stream_reporting_formats_accepts_a_record_that_breaks_only_a_format_and_names_it() {
        let registry =
            SchemaRegistry::global().for_stream(&BTreeMap::new(), &event_stream(RecordFormats::Report)).unwrap();
        let check = registry.validate_record_json(NO_OFFSET);
        assert_eq!(check.verdict, Ok(()));
        let expected = crate::FormatViolation {
            path: "/at".into(),
            format: "date-time".into(),
            value: json!("2001-02-03T11:53:10.771720"),
        };
        assert_eq!(check.format_drift, [expected]);
        let valid = NO_OFFSET.replace("771720", "771720Z");
        assert_eq!(registry.validate_record_json(&valid).format_drift, [], "a valid record reports nothing");
    }

    #[test]
    fn structure_stays_strict_and_enforced_formats_still_reject() {
        let reporting =
            SchemaRegistry::global().for_stream(&BTreeMap::new(), &event_stream(RecordFormats::Report)).unwrap();
        let wrong_type = NO_OFFSET.replace("\"n\":1", "\"n\":\"one\"");
        assert!(matches!(reporting.validate_record_json(&wrong_type).verdict, Err(RecordError::Invalid { .. })));
        let missing = r#"{"_type":"AcmeEvent","id":"e1"}"#;
        assert!(matches!(reporting.validate_record_json(missing).verdict, Err(RecordError::Invalid { .. })));
        let enforcing =
            SchemaRegistry::global().for_stream(&BTreeMap::new(), &event_stream(RecordFormats::Enforce)).unwrap();
        let check = enforcing.validate_record_json(NO_OFFSET);
        assert!(matches!(check.verdict, Err(RecordError::Invalid { .. })), "{check:?}");
        let shared = r#"{"_type":"Incident","id":"P1","self":"https://x.test/P1","title":"t","status":"resolved","createdAt":"2001-02-03T11:53:10"}"#;
        assert!(reporting.validate_record_json(shared).verdict.is_err(), "shared schemas are always enforced");
    }

    #[test]
    fn no_declaration_is_the_shared_registry() {
        let registry = SchemaRegistry::global().with_declared(&BTreeMap::new()).unwrap();
        assert_eq!(registry.declared_types().count(), 0);
        assert_eq!(registry.record_types().count(), SchemaRegistry::global().record_types().count());
    }
}
