//! Translating a Singer or Airbyte stream's JSON Schema into the declared record type the
//! runner validates with (JSON Schema draft 2020-12, formats enforced).
//!
//! Singer and Airbyte schemas are usually draft 4 or 7 without saying so. The translation:
//! - drops `$schema` everywhere (the runner compiles declared schemas as draft 2020-12);
//! - turns draft 4's boolean `exclusiveMinimum` / `exclusiveMaximum` into the numbers of
//!   later drafts, and the array form of `items` into `prefixItems` (with `additionalItems`
//!   becoming `items`); `definitions` stay (a `$ref` of `#/definitions/x` still resolves);
//! - keeps `format`, which the runner enforces, except where the values cannot match it:
//!   `time` (RFC 3339 wants an offset that neither protocol's sources send) and Airbyte's
//!   `airbyte_type` `timestamp_without_timezone` / `time_without_timezone` (no offset
//!   either). With [`Formats::Ignore`] every `format` is dropped, for taps whose
//!   `date-time` values are not RFC 3339; with [`Formats::Report`] (the default) the
//!   runner stores a record that breaks only formats and reports the drift;
//! - adds what every record has: `_type` (a `const`), `id` (a string) and `self` (a URI),
//!   all three required. A source field already called `_type`, `id` or `self` is kept
//!   under `_source_type`, `_source_id` or `_source_self` (see [`crate::record`]), so its
//!   schema moves there too, no longer required.

use connector_sdk::protocol::RecordFormats;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// What the adapter does with the `format`s of the source's schemas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Formats {
    /// Keep them, except those the values cannot match, and have the runner report a
    /// record that breaks only formats rather than reject it (the Stream's
    /// `recordFormats: report`): a third party's formats are its own promise, which its
    /// data may not keep (source-faker's `date-time`s carry no offset).
    #[default]
    Report,
    /// Keep them, and have the runner reject a record that breaks one.
    Enforce,
    /// Drop every `format`: for sources whose `date-time` strings are not RFC 3339.
    Ignore,
}

impl Formats {
    /// What the runner does with the formats of the declared schemas.
    pub fn on_stream(self) -> RecordFormats {
        match self {
            Formats::Report => RecordFormats::Report,
            Formats::Enforce | Formats::Ignore => RecordFormats::Enforce,
        }
    }
}

/// The fields every record carries, and where a source field of that name is kept.
pub const RESERVED: [(&str, &str); 3] = [("_type", "_source_type"), ("id", "_source_id"), ("self", "_source_self")];

/// Keywords whose value is one schema.
const ONE_SCHEMA: [&str; 10] = [
    "additionalProperties",
    "items",
    "additionalItems",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
];
/// Keywords whose value is an array of schemas.
const SCHEMA_LISTS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAPS: [&str; 5] = ["properties", "patternProperties", "definitions", "$defs", "dependentSchemas"];

/// The declared schema of `type_name` for records of a stream whose schema is `source`.
pub fn declared_schema(source: &Value, type_name: &str, formats: Formats) -> Value {
    let mut schema = match source {
        Value::Object(_) => source.clone(),
        _ => json!({}),
    };
    translate(&mut schema, formats);
    let root = schema.as_object_mut().expect("made an object above");
    // A Singer schema's root is often `"type": ["null", "object"]`; records are objects.
    root.insert("type".into(), json!("object"));
    root.insert("title".into(), json!(type_name));
    let properties = root.entry("properties").or_insert_with(|| json!({}));
    if !properties.is_object() {
        *properties = json!({});
    }
    let properties = properties.as_object_mut().expect("made an object above");
    for (name, kept_as) in RESERVED {
        if let Some(original) = properties.remove(name) {
            properties.insert(kept_as.into(), original);
        }
    }
    properties.insert("_type".into(), json!({"const": type_name}));
    properties.insert("id".into(), json!({"type": "string", "minLength": 1}));
    properties.insert("self".into(), json!({"type": "string", "format": "uri"}));
    let mut required = vec![json!("_type"), json!("id"), json!("self")];
    if let Some(Value::Array(given)) = root.get("required") {
        let reserved = |name: &str| RESERVED.iter().any(|(field, _)| *field == name);
        required.extend(given.iter().filter(|name| name.as_str().is_some_and(|name| !reserved(name))).cloned());
    }
    root.insert("required".into(), Value::Array(required));
    schema
}

/// Rewrites one schema (and every schema inside it) for draft 2020-12.
fn translate(schema: &mut Value, formats: Formats) {
    let Value::Object(map) = schema else { return };
    map.remove("$schema");
    exclusive_bound(map, "exclusiveMinimum", "minimum");
    exclusive_bound(map, "exclusiveMaximum", "maximum");
    if map.get("items").is_some_and(Value::is_array) {
        let tuple = map.remove("items").unwrap_or_default();
        if let Some(rest) = map.remove("additionalItems") {
            map.insert("items".into(), rest);
        }
        map.insert("prefixItems".into(), tuple);
    }
    if keep_format(map, formats).is_none() {
        map.remove("format");
    }
    for keyword in ONE_SCHEMA {
        if let Some(inner) = map.get_mut(keyword) {
            translate(inner, formats);
        }
    }
    for keyword in SCHEMA_LISTS {
        if let Some(Value::Array(inner)) = map.get_mut(keyword) {
            inner.iter_mut().for_each(|schema| translate(schema, formats));
        }
    }
    for keyword in SCHEMA_MAPS {
        if let Some(Value::Object(inner)) = map.get_mut(keyword) {
            inner.values_mut().for_each(|schema| translate(schema, formats));
        }
    }
}

/// Draft 4: `"exclusiveMinimum": true` qualifies `minimum`; later drafts give the bound.
fn exclusive_bound(map: &mut Map<String, Value>, exclusive: &str, inclusive: &str) {
    match map.get(exclusive) {
        Some(Value::Bool(true)) => match map.remove(inclusive) {
            Some(bound) => {
                map.insert(exclusive.into(), bound);
            }
            None => {
                map.remove(exclusive);
            }
        },
        Some(Value::Bool(false)) => {
            map.remove(exclusive);
        }
        _ => {}
    }
}

/// `Some(())` when the schema's `format` (if any) stays.
fn keep_format(map: &Map<String, Value>, formats: Formats) -> Option<()> {
    let format = map.get("format")?.as_str()?;
    let airbyte_type = map.get("airbyte_type").and_then(Value::as_str).unwrap_or_default();
    let without_offset = airbyte_type.ends_with("_without_timezone") || format == "time";
    (formats != Formats::Ignore && !without_offset).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::protocol::SchemaRegistry;

    fn compile(type_name: &str, schema: &Value) -> SchemaRegistry {
        let declared = [(type_name.to_owned(), schema.clone())].into_iter().collect();
        SchemaRegistry::global().with_declared(&declared).unwrap_or_else(|e| panic!("{e}: {schema:#}"))
    }

    fn verdict(registry: &SchemaRegistry, record: Value) -> Result<(), String> {
        registry.validate_record_json(&record.to_string()).verdict.map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn nullable_types_stay_and_the_record_fields_are_added_and_required() {
        let source = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": ["null", "object"],
            "required": ["name"],
            "properties": {"name": {"type": ["null", "string"]}, "n": {"type": ["integer", "null"]}}});
        let schema = declared_schema(&source, "JsonlOrders", Formats::Enforce);
        assert_eq!(schema["required"], json!(["_type", "id", "self", "name"]));
        assert_eq!(schema["type"], "object");
        assert!(schema.get("$schema").is_none());
        let registry = compile("JsonlOrders", &schema);
        let ok =
            json!({"_type": "JsonlOrders", "id": "1", "self": "singer://tap-jsonl/orders/1", "name": null, "n": 3});
        assert_eq!(verdict(&registry, ok.clone()), Ok(()));
        let mut wrong = ok;
        wrong["n"] = json!("three");
        assert!(verdict(&registry, wrong).is_err());
    }

    #[test]
    fn draft_4_exclusive_bounds_become_numbers() {
        let source = json!({"properties": {
            "a": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
            "b": {"type": "number", "maximum": 10, "exclusiveMaximum": false},
            "c": {"type": "number", "exclusiveMaximum": true}}});
        let schema = declared_schema(&source, "T", Formats::Enforce);
        assert_eq!(schema["properties"]["a"], json!({"type": "number", "exclusiveMinimum": 0}));
        assert_eq!(schema["properties"]["b"], json!({"type": "number", "maximum": 10}));
        assert_eq!(schema["properties"]["c"], json!({"type": "number"}));
        let registry = compile("T", &schema);
        let record = |a: f64| json!({"_type": "T", "id": "x", "self": "singer://t/s/x", "a": a});
        assert!(verdict(&registry, record(0.0)).is_err());
        assert_eq!(verdict(&registry, record(0.5)), Ok(()));
    }

    #[test]
    fn formats_are_enforced_unless_the_values_cannot_have_an_offset() {
        let source = json!({"properties": {
            "at": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone"},
            "local": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"},
            "clock": {"type": ["null", "string"], "format": "time"},
            "nested": {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}}}});
        let schema = declared_schema(&source, "T", Formats::Enforce);
        assert_eq!(schema["properties"]["at"]["format"], "date-time");
        assert!(schema["properties"]["local"].get("format").is_none());
        assert!(schema["properties"]["clock"].get("format").is_none());
        assert_eq!(schema["properties"]["nested"]["properties"]["when"]["format"], "date-time");
        let registry = compile("T", &schema);
        let record = |at: &str, when: &str| {
            json!({"_type": "T", "id": "x", "self": "airbyte://s/t/x", "at": at, "local": "2024-01-01T10:00:00",
                "clock": "10:00:00", "nested": {"when": when}})
        };
        assert_eq!(verdict(&registry, record("2024-01-01T10:00:00Z", "2024-01-01T10:00:00+02:00")), Ok(()));
        assert!(verdict(&registry, record("2024-01-01 10:00", "2024-01-01T10:00:00Z")).is_err());
        assert!(verdict(&registry, record("2024-01-01T10:00:00Z", "yesterday")).is_err(), "nested formats count");

        let ignored = declared_schema(&source, "T", Formats::Ignore);
        assert!(ignored["properties"]["at"].get("format").is_none());
        assert!(ignored["properties"]["nested"]["properties"]["when"].get("format").is_none());
        assert_eq!(ignored["properties"]["self"]["format"], "uri", "ours stays");
    }

    #[test]
    fn nested_objects_arrays_definitions_and_tuples_are_translated() {
        let source = json!({"definitions": {"money": {"$schema": "x", "type": "number", "minimum": 0, "exclusiveMinimum": true}},
            "properties": {
                "price": {"$ref": "#/definitions/money"},
                "lines": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}},
                "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false},
                "any": {"anyOf": [{"type": "null"}, {"type": "string", "format": "time"}]}}});
        let schema = declared_schema(&source, "T", Formats::Enforce);
        assert_eq!(schema["definitions"]["money"], json!({"type": "number", "exclusiveMinimum": 0}));
        assert_eq!(
            schema["properties"]["pair"],
            json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})
        );
        assert_eq!(schema["properties"]["any"]["anyOf"][1], json!({"type": "string"}));
        let registry = compile("T", &schema);
        let record = |price: f64, qty: Value, pair: Value| json!({"_type": "T", "id": "x", "self": "singer://t/s/x", "price": price, "lines": [{"qty": qty}], "pair": pair});
        assert_eq!(verdict(&registry, record(1.0, json!(2), json!(["a", 1]))), Ok(()));
        assert!(verdict(&registry, record(0.0, json!(2), json!(["a", 1]))).is_err(), "$ref to definitions works");
        assert!(verdict(&registry, record(1.0, json!("2"), json!(["a", 1]))).is_err(), "nested items checked");
        assert!(verdict(&registry, record(1.0, json!(2), json!(["a", 1, true]))).is_err(), "tuple closed");
    }

    #[test]
    fn a_source_field_named_like_ours_moves_aside_with_its_schema() {
        let source = json!({"type": "object", "required": ["id", "self"], "additionalProperties": false,
            "properties": {"id": {"type": "integer"}, "self": {"type": "string"}, "_type": {"type": "string"}}});
        let schema = declared_schema(&source, "T", Formats::Enforce);
        assert_eq!(schema["properties"]["_source_id"], json!({"type": "integer"}));
        assert_eq!(schema["properties"]["_source_self"], json!({"type": "string"}));
        assert_eq!(schema["properties"]["_source_type"], json!({"type": "string"}));
        assert_eq!(schema["properties"]["id"], json!({"type": "string", "minLength": 1}));
        assert_eq!(schema["required"], json!(["_type", "id", "self"]));
        let registry = compile("T", &schema);
        let record = json!({"_type": "T", "id": "5", "self": "singer://t/s/5", "_source_id": 5});
        assert_eq!(verdict(&registry, record), Ok(()));
    }

    #[test]
    fn a_schema_that_is_not_an_object_still_gives_a_record_schema() {
        let schema = declared_schema(&json!(true), "T", Formats::Enforce);
        compile("T", &schema);
        assert_eq!(schema["required"], json!(["_type", "id", "self"]));
    }
}
