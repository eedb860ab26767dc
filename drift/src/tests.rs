//! The findings of [`super::diff`], one rule at a time, on small schemas written here and
//! on the shared Incident schema.

use serde_json::{json, Value};

use super::*;

fn drift(schema: &Value, records: &[Value]) -> TypeDrift {
    diff("T", schema, &NoDocuments, records)
}

fn paths<T>(items: &[T], path: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(path).collect()
}

fn example(record: &str, path: &str) -> Example {
    Example { record: record.into(), path: path.into() }
}

#[test]
fn a_record_that_matches_its_schema_has_no_drift() {
    let schema = json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}});
    let found = drift(&schema, &[json!({"id": "a"}), json!({"id": "b"})]);
    assert_eq!(found.records, 2);
    assert!(!found.drifted());
    assert!(found.never_seen.is_empty());
}

#[test]
fn unnamed_fields_are_counted_at_their_nested_path_with_their_types() {
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "string"},
        "assignees": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
    }});
    let records = [
        json!({"id": "a", "extra": 1, "assignees": [{"id": "u", "summary": "Ann"}, {"id": "v", "summary": null}]}),
        json!({"id": "b", "extra": "x", "assignees": []}),
    ];
    let found = drift(&schema, &records);
    assert!(found.drifted());
    let unnamed = &found.unnamed_fields;
    assert_eq!(paths(unnamed, |u| &u.path), ["assignees[].summary", "extra"]);
    assert_eq!((unnamed[0].count, unnamed[0].types.clone()), (2, vec!["null".to_owned(), "string".to_owned()]));
    assert_eq!(unnamed[0].example, example("a", "assignees[0].summary"));
    assert_eq!((unnamed[1].count, unnamed[1].types.clone()), (2, vec!["integer".to_owned(), "string".to_owned()]));
    assert!(unnamed.iter().all(|u| u.allowed));
}

#[test]
fn additional_properties_false_marks_unnamed_fields_not_allowed_and_a_map_names_its_keys() {
    let schema = json!({"type": "object", "additionalProperties": false, "properties": {
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object"},
    }});
    let records = [json!({"labels": {"env": "prod", "tier": 1}, "free": {"anything": {"goes": 1}}, "stray": true})];
    let found = drift(&schema, &records);
    assert_eq!(paths(&found.unnamed_fields, |u| &u.path), ["stray"]);
    assert!(!found.unnamed_fields[0].allowed);
    let mismatch = &found.type_mismatches;
    assert_eq!(paths(mismatch, |m| &m.path), ["labels.*"], "a map's values are walked as path.*");
    assert_eq!((mismatch[0].expected.as_str(), mismatch[0].found.as_str()), ("string", "integer"));
    assert_eq!(mismatch[0].example, example("?", "labels.tier"));
}

#[test]
fn pattern_properties_name_the_fields_they_match() {
    let schema = json!({"type": "object", "properties": {}, "patternProperties": {"^x-": {"type": "string"}}});
    let found = drift(&schema, &[json!({"x-trace": 5, "y": 1})]);
    assert_eq!(paths(&found.unnamed_fields, |u| &u.path), ["y"]);
    assert_eq!(paths(&found.type_mismatches, |m| &m.path), ["x-trace"]);
}

#[test]
fn fields_never_seen_are_reported_only_under_a_parent_that_appeared() {
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "note": {"type": "string"},
        "service": {"type": "object", "properties": {"id": {}, "summary": {}}},
        "team": {"type": "object", "properties": {"id": {}, "summary": {}}},
    }});
    let found = drift(&schema, &[json!({"id": "a", "service": {"id": "s"}}), json!({"id": "b"})]);
    let never: Vec<(&str, u64)> = found.never_seen.iter().map(|n| (n.path.as_str(), n.of)).collect();
    assert_eq!(never, [("note", 2), ("team", 2), ("service.summary", 1)]);
    assert!(!found.drifted(), "a field never seen is not drift by itself");
}

#[test]
fn missing_required_fields_are_counted_against_the_objects_that_should_have_them() {
    let schema = json!({"type": "object", "required": ["id", "title"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"},
        "teams": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {"id": {}}}},
    }});
    let records = [
        json!({"id": "a", "teams": [{"id": "t"}, {"name": "x"}, {}]}),
        json!({"id": "b", "title": "ok", "teams": []}),
        json!({"title": "no id"}),
    ];
    let found = drift(&schema, &records);
    let missing: Vec<(&str, u64, u64)> =
        found.missing_required.iter().map(|m| (m.path.as_str(), m.count, m.of)).collect();
    assert_eq!(missing, [("id", 1, 3), ("teams[].id", 2, 3), ("title", 1, 3)]);
    assert_eq!(found.missing_required[1].example, example("a", "teams[1].id"));
    assert_eq!(found.missing_required[0].example, example("?", "id"));
}

#[test]
fn type_mismatches_say_what_was_expected_and_found_with_an_example() {
    let schema = json!({"type": "object", "properties": {
        "number": {"type": "integer"},
        "resolvedAt": {"type": ["string", "null"]},
        "title": {"type": "string"},
        "score": {"type": "number"},
    }});
    let records = [
        json!({"id": "a", "number": "7", "resolvedAt": null, "title": null, "score": 3}),
        json!({"id": "b", "number": 7.5, "resolvedAt": 3, "title": "t", "score": 2.5}),
        json!({"id": "c", "number": "8"}),
    ];
    let found = drift(&schema, &records);
    let mismatches: Vec<(&str, &str, &str, u64)> = found
        .type_mismatches
        .iter()
        .map(|m| (m.path.as_str(), m.expected.as_str(), m.found.as_str(), m.count))
        .collect();
    assert_eq!(
        mismatches,
        [
            ("number", "integer", "number", 1),
            ("number", "integer", "string", 2),
            ("resolvedAt", "string or null", "integer", 1),
            ("title", "string", "null", 1),
        ]
    );
    assert_eq!(found.type_mismatches[1].example, example("a", "number"));
}

#[test]
fn any_of_and_one_of_branches_are_alternatives_by_type() {
    let schema = json!({
        "$defs": {"Ref": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "summary": {}}}},
        "type": "object",
        "properties": {
            "owner": {"anyOf": [{"$ref": "#/$defs/Ref"}, {"type": "null"}]},
            "target": {"oneOf": [
                {"type": "object", "required": ["id", "kind"], "properties": {"id": {}, "kind": {}}},
                {"type": "object", "required": ["id", "url"], "properties": {"id": {}, "url": {}}},
                {"type": "string"},
            ]},
        },
    });
    let records = [
        json!({"owner": null, "target": "https://x.test"}),
        json!({"owner": {"id": "u", "extra": 1}, "target": {"id": "t", "url": "u"}}),
        json!({"owner": {"summary": "no id"}, "target": {"kind": "k"}}),
        json!({"owner": 5, "target": 6}),
    ];
    let found = drift(&schema, &records);
    assert_eq!(paths(&found.unnamed_fields, |u| &u.path), ["owner.extra"]);
    let missing: Vec<(&str, u64)> = found.missing_required.iter().map(|m| (m.path.as_str(), m.count)).collect();
    assert_eq!(missing, [("owner.id", 1), ("target.id", 1)], "required by every branch of its type");
    let mismatches: Vec<(&str, &str)> =
        found.type_mismatches.iter().map(|m| (m.path.as_str(), m.expected.as_str())).collect();
    assert_eq!(mismatches, [("owner", "object or null"), ("target", "object or string")]);
    assert!(found.never_seen.is_empty(), "every named field of the branches appeared: {:?}", found.never_seen);
}

#[test]
fn refs_into_other_documents_are_followed_through_the_resolver() {
    let found = diff(
        "Incident",
        protocol::SchemaRegistry::global().record_schema("Incident").unwrap(),
        &Schemas::shared(),
        &[json!({"_type": "Incident", "id": "Q1", "self": "https://x.test/Q1", "title": "t", "status": "triggered",
                 "createdAt": "2026-01-01T00:00:00Z", "service": {"id": "S1", "colour": "red"},
                 "assignees": [{"id": "U1", "summary": 3}], "number": "12"})],
    );
    assert_eq!(paths(&found.unnamed_fields, |u| &u.path), ["service.colour"]);
    let mismatches: Vec<&str> = found.type_mismatches.iter().map(|m| m.path.as_str()).collect();
    assert!(mismatches.contains(&"number"), "{mismatches:?}");
    assert!(found.never_seen.iter().any(|n| n.path == "service.summary"), "{:?}", found.never_seen);
    assert!(found.missing_required.is_empty(), "{:?}", found.missing_required);
}

#[test]
fn odd_field_names_are_quoted_in_paths() {
    let schema = json!({"type": "object", "properties": {"a.b": {"type": "object", "properties": {}}}});
    let found = drift(&schema, &[json!({"a.b": {"c d": 1}})]);
    assert_eq!(paths(&found.unnamed_fields, |u| &u.path), ["[\"a.b\"][\"c d\"]"]);
    assert_eq!(parent_of("[\"a.b\"][\"c d\"]"), "[\"a.b\"]");
    assert_eq!(parent_of("x.y"), "x");
}
