//! The house rules every shared schema follows, checked on the schemas the registry embeds,
//! so a new `schemas/records/<Type>.json` cannot quietly break them.
//!
//! Records: `$id` and `title` from the file name, a description on the type and on every
//! property at any depth, `_type`/`id`/`self` required and shaped alike, every required
//! field defined, camelCase names, unknown fields allowed (PROTOCOL.md §6). All schemas:
//! only JSON Schema 2020-12 keywords and the two annotations the reference page reads,
//! so a misspelt keyword (`additonalProperties`, `descrtiption`), which validators silently
//! ignore, is an error here.

use protocol::SchemaRegistry;
use serde_json::{json, Value};

/// Keywords of JSON Schema draft 2020-12 (core, applicator, validation, format and
/// meta-data vocabularies) that a schema here may use.
const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "$comment",
    "$anchor",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "type",
    "const",
    "enum",
    "format",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "required",
    "dependentRequired",
    "dependentSchemas",
    "minProperties",
    "maxProperties",
    "items",
    "prefixItems",
    "contains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
];

/// Annotations of our own, read by `reference.rs`: a record type's family, and the record
/// types the source's pointer objects in a field point at.
const ANNOTATIONS: &[&str] = &["x-family", "x-references"];

/// Every subschema of `schema` with its JSON pointer, `schema` itself first.
fn subschemas<'s>(pointer: String, schema: &'s Value, out: &mut Vec<(String, &'s Value)>) {
    let Some(object) = schema.as_object() else { return };
    out.push((pointer.clone(), schema));
    for (keyword, value) in object {
        let here = format!("{pointer}/{keyword}");
        match keyword.as_str() {
            "properties" | "patternProperties" | "$defs" | "dependentSchemas" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    subschemas(format!("{here}/{name}"), sub, out);
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                for (index, sub) in value.as_array().into_iter().flatten().enumerate() {
                    subschemas(format!("{here}/{index}"), sub, out);
                }
            }
            "items" | "additionalProperties" | "propertyNames" | "contains" | "not" | "if" | "then" | "else" => {
                subschemas(here, value, out);
            }
            _ => {}
        }
    }
}

fn all_subschemas(schema: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    subschemas(String::new(), schema, &mut out);
    out
}

/// Every embedded schema, records and messages, by a name for messages.
fn every_schema(registry: &SchemaRegistry) -> Vec<(String, &Value)> {
    let records = registry.record_types().map(|t| (format!("records/{t}.json"), registry.record_schema(t).unwrap()));
    let messages =
        registry.message_types().map(|t| (format!("protocol/{t}.json"), registry.message_schema(t).unwrap()));
    records.chain(messages).collect()
}

/// The problems of one record schema against the house rules; empty when it follows them.
fn record_schema_problems(record_type: &str, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |what: &str, ok: bool| {
        if !ok {
            problems.push(what.to_owned());
        }
    };
    expect("$schema is draft 2020-12", schema["$schema"] == "https://json-schema.org/draft/2020-12/schema");
    let id = format!("https://schemas.connector-toolkit.dev/records/{record_type}.json");
    expect(&format!("$id is {id}"), schema["$id"] == id.as_str());
    expect("title is the file name", schema["title"] == record_type);
    expect("type is object", schema["type"] == "object");
    expect(
        "additionalProperties is true (PROTOCOL.md §6: unknown fields are allowed and stored)",
        schema["additionalProperties"] == true,
    );
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    expect(
        &format!("_type is the constant {record_type:?}"),
        properties.get("_type").map(|p| &p["const"]) == Some(&json!(record_type)),
    );
    expect(
        "id is a non-empty string",
        properties.get("id").is_some_and(|p| p["type"] == "string" && p["minLength"] == 1),
    );
    expect(
        "self is a uri string",
        properties.get("self").is_some_and(|p| p["type"] == "string" && p["format"] == "uri"),
    );
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for field in ["_type", "id", "self"] {
        expect(&format!("{field} is required"), required.contains(&field));
    }
    for field in &required {
        expect(&format!("required field {field} is defined in properties"), properties.contains_key(*field));
    }
    for (pointer, sub) in all_subschemas(schema) {
        let description = sub.get("description").and_then(Value::as_str).unwrap_or("");
        let is_property = pointer.rsplit('/').nth(1) == Some("properties");
        if pointer.is_empty() || is_property {
            expect(
                &format!("{} has a description", if pointer.is_empty() { "the type" } else { &pointer }),
                !description.trim().is_empty(),
            );
        }
        for name in sub.get("properties").and_then(Value::as_object).into_iter().flatten().map(|(name, _)| name) {
            expect(&format!("{pointer}/properties/{name} is camelCase"), is_camel_case(name));
        }
    }
    problems
}

fn is_camel_case(name: &str) -> bool {
    let name = name.strip_prefix('_').unwrap_or(name);
    name.starts_with(|c: char| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

fn unknown_keywords(schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    for (pointer, sub) in all_subschemas(schema) {
        for keyword in sub.as_object().into_iter().flatten().map(|(k, _)| k) {
            if !KEYWORDS.contains(&keyword.as_str()) && !ANNOTATIONS.contains(&keyword.as_str()) {
                unknown.push(format!("{pointer}/{keyword}"));
            }
        }
    }
    unknown
}

#[test]
fn every_record_schema_follows_the_house_rules() {
    let registry = SchemaRegistry::global();
    let mut failures = Vec::new();
    for record_type in registry.record_types() {
        for problem in record_schema_problems(record_type, registry.record_schema(record_type).unwrap()) {
            failures.push(format!("schemas/records/{record_type}.json: expected {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_schema_uses_a_keyword_json_schema_does_not_know() {
    let registry = SchemaRegistry::global();
    let mut failures = Vec::new();
    for (name, schema) in every_schema(registry) {
        for at in unknown_keywords(schema) {
            failures.push(format!("schemas/{name}: unknown keyword at {at} (misspelt? validators ignore it silently)"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_rules_catch_what_they_are_meant_to_catch() {
    let registry = SchemaRegistry::global();
    let good = registry.record_schema("Team").unwrap();
    assert_eq!(record_schema_problems("Team", good), Vec::<String>::new());
    assert_eq!(unknown_keywords(good), Vec::<String>::new());

    let mut bad = good.clone();
    bad["additonalProperties"] = json!(false);
    bad["properties"]["name"]["descrtiption"] = bad["properties"]["name"]["description"].take();
    bad["properties"]["parent"]["x-refrences"] = json!(["Team"]);
    bad["required"] = json!(["_type", "id", "oid"]);
    bad["properties"]["default_role"] = json!({"type": "string"});
    let problems = record_schema_problems("Team", &bad).join("\n");
    for expected in [
        "/properties/name has a description",
        "self is required",
        "required field oid is defined",
        "/properties/default_role has a description",
        "/properties/default_role is camelCase",
    ] {
        assert!(problems.contains(expected), "{expected:?} not in:\n{problems}");
    }
    assert_eq!(
        unknown_keywords(&bad),
        ["/additonalProperties", "/properties/name/descrtiption", "/properties/parent/x-refrences"]
    );
    assert!(record_schema_problems("Actor", good).iter().any(|p| p.contains("$id is")), "the file name decides $id");
}
