//! Validating a record's text through a tape must give exactly what validating the parsed
//! `serde_json::Value` gives. Every record fixture is checked as is and with each of its
//! values, at any depth, replaced by a set of awkward values or removed, in compact,
//! spaced and escaped spellings (about 10,000 variants, 30,000 texts).
//!
//! Two comparisons. The tape validator alone ([`SchemaRegistry::tape_verdict`]) against
//! [`SchemaRegistry::validate_record`], valid and invalid records alike: this is what shows
//! the fast path is right, since `validate_record_json` hands anything the tape rejects to
//! the `Value` path and so compares invalid records with themselves. And the whole of
//! `validate_record_json` (type, id, errors) against `validate_record`.

use protocol::{RecordCheck, RecordError, SchemaRegistry, TapeVerdict};
use serde_json::{json, Value};

use crate::util::record_fixture;

/// The record fixtures: valid ones, and invalid ones (unwrapped from their test case).
fn fixture_records(file: &str) -> Vec<Value> {
    let cases = record_fixture(file).into_iter();
    cases.map(|value| if value.get("record").is_some() { value["record"].clone() } else { value }).collect()
}

fn replacements() -> Vec<Value> {
    let too_big: Value = serde_json::from_str("18446744073709551616").unwrap();
    let minus_zero: Value = serde_json::from_str("-0").unwrap();
    let exponent: Value = serde_json::from_str("1e2").unwrap();
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(3.0),
        too_big,
        minus_zero,
        exponent,
        json!(""),
        json!("x"),
        json!("not a uri"),
        json!("https://example.com/a"),
        json!("2026-13-45T00:00:00Z"),
        json!("2026-01-02T03:04:05Z"),
        json!("resolved"),
        json!("Incident"),
        json!("é\"\\\n"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"id": ""}),
        json!({"id": "P1"}),
    ]
}

/// Every variant of `value` with one value replaced or one member removed, at any depth.
fn mutations(value: &Value, depth: usize, out: &mut Vec<Value>) {
    let visit = |replace: &dyn Fn(Value) -> Value, current: &Value, out: &mut Vec<Value>| {
        for replacement in replacements() {
            out.push(replace(replacement));
        }
        let mut inner = Vec::new();
        mutations(current, depth + 1, &mut inner);
        out.extend(inner.into_iter().map(replace));
    };
    match value {
        // Deeper than this, the fixtures only hold references whose siblings were covered.
        _ if depth > 2 => {}
        Value::Object(members) => {
            for (key, current) in members {
                let mut without = members.clone();
                without.remove(key);
                out.push(Value::Object(without));
                let replace = |new: Value| {
                    let mut copy = members.clone();
                    copy.insert(key.clone(), new);
                    Value::Object(copy)
                };
                visit(&replace, current, out);
            }
        }
        Value::Array(elements) => {
            for (index, current) in elements.iter().enumerate() {
                let replace = |new: Value| {
                    let mut copy = elements.clone();
                    copy[index] = new;
                    Value::Array(copy)
                };
                visit(&replace, current, out);
            }
        }
        _ => {}
    }
}

fn reference(registry: &SchemaRegistry, value: &Value) -> RecordCheck {
    let display = |id: &Value| id.as_str().map_or_else(|| id.to_string(), str::to_owned);
    RecordCheck {
        record_type: value.get("_type").and_then(Value::as_str).map(str::to_owned),
        id: value.get("id").map(display),
        verdict: registry.validate_record(value),
    }
}

/// The same document compact, with spaces everywhere, and with every `a` written as
/// `\u0061`.
pub fn respelled(value: &Value) -> Vec<String> {
    let pretty = serde_json::to_string_pretty(value).unwrap();
    let compact = serde_json::to_string(value).unwrap();
    let escaped = escape_a_in_strings(&compact);
    assert_eq!(serde_json::from_str::<Value>(&escaped).unwrap(), *value);
    vec![compact, pretty, escaped]
}

fn escape_a_in_strings(text: &str) -> String {
    let (mut out, mut in_string, mut escaping) = (String::new(), false, false);
    for c in text.chars() {
        if escaping {
            escaping = false;
            out.push(c);
            continue;
        }
        match c {
            '"' => in_string = !in_string,
            '\\' => escaping = in_string,
            'a' if in_string => {
                out.push_str("\\u0061");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The records both comparisons run on: the invalid fixtures as they are, the valid ones
/// also with every mutation.
fn variants() -> Vec<Value> {
    let mut variants = fixture_records("invalid.jsonl");
    for record in fixture_records("valid.jsonl") {
        mutations(&record, 0, &mut variants);
        variants.push(record);
    }
    variants
}

/// What the tape alone must say about `record`: what the `Value` validator says.
fn expected_tape_verdict(registry: &SchemaRegistry, record: &Value) -> TapeVerdict {
    match registry.validate_record(record) {
        Ok(()) => TapeVerdict::Valid,
        Err(RecordError::Invalid { .. }) => TapeVerdict::Invalid,
        Err(RecordError::NotAnObject | RecordError::MissingType | RecordError::UnknownType { .. }) => {
            TapeVerdict::NoSchema
        }
    }
}

#[test]
fn the_tape_validator_alone_gives_the_value_validators_verdict() {
    let registry = SchemaRegistry::global();
    let (mut valid, mut invalid, mut no_schema, mut checked) = (0, 0, 0, 0);
    for variant in variants() {
        let expected = expected_tape_verdict(registry, &variant);
        for text in respelled(&variant) {
            assert_eq!(registry.tape_verdict(&text), expected, "{text}");
            checked += 1;
        }
        match expected {
            TapeVerdict::Valid => valid += 1,
            TapeVerdict::Invalid => invalid += 1,
            TapeVerdict::NoSchema => no_schema += 1,
            TapeVerdict::Unreadable => unreachable!("the reference never says so"),
        }
    }
    // Every valid record was accepted by the tape itself, and every invalid one rejected by
    // it; both must be well represented, or the comparison proves little.
    assert!(valid > 1_000 && invalid > 1_000, "valid {valid}, invalid {invalid}");
    assert!(checked > 25_000, "{checked}");
    eprintln!("tape alone: {checked} texts of {valid} valid, {invalid} invalid and {no_schema} schemaless records");
}

#[test]
fn validate_record_json_gives_what_validate_record_gives() {
    let registry = SchemaRegistry::global();
    let mut checked = 0;
    for variant in variants() {
        let expected = reference(registry, &variant);
        for text in respelled(&variant) {
            assert_eq!(registry.validate_record_json(&text), expected, "{text}");
            checked += 1;
        }
    }
    assert!(checked > 25_000, "{checked}");
}

#[test]
fn text_the_tape_does_not_read_is_unreadable_not_invalid() {
    let registry = SchemaRegistry::global();
    for text in ["{", "", "[1,]", "{\"_type\":\"Team\",}"] {
        assert_eq!(registry.tape_verdict(text), TapeVerdict::Unreadable, "{text}");
    }
    assert_eq!(registry.tape_verdict("[1]"), TapeVerdict::NoSchema);
    assert_eq!(registry.tape_verdict(r#"{"_type":"Gizmo","id":"g1"}"#), TapeVerdict::NoSchema);
}

#[test]
fn text_that_is_not_a_json_object_is_rejected() {
    let registry = SchemaRegistry::global();
    let incident = r#"{"_type":"Incident","id":"P1","self":"https://x.test/P1","title":"T","status":"triggered","createdAt":"2026-01-02T03:04:05Z","number":12}"#;
    assert_eq!(registry.validate_record_json(incident).verdict, Ok(()));
    let broken = [
        incident.replace("12}", "-}"),
        incident.replace("12}", "012}"),
        incident.replace("12}", "1e400}"),
        incident.replace(r#""T""#, r#""\q""#),
        incident.replace(r#""T""#, "\"\u{1}\""),
        incident.replace(r#""T""#, r#""\ud800""#),
        incident.replace('}', ""),
    ];
    for text in broken.iter().map(String::as_str).chain(["[1]", "\"x\"", "{", ""]) {
        assert!(registry.validate_record_json(text).verdict.is_err(), "{text}");
    }
}
