//! The shared schemas against the documents and fixtures that describe them:
//! every example in PROTOCOL.md validates against its message schema, and the record
//! fixtures in `schemas/examples/records/` are accepted or rejected as they say.

use std::collections::BTreeSet;

use protocol::{ConnectorMessage, RecordError, SchemaRegistry};
use serde_json::Value;

use crate::util::{record_fixture, repo_file};

/// Lines of ```json fences in PROTOCOL.md that are protocol messages.
fn protocol_examples() -> Vec<(usize, String)> {
    let doc = repo_file("PROTOCOL.md");
    let mut in_json = false;
    let mut examples = Vec::new();
    for (index, line) in doc.lines().enumerate() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            text if in_json && text.starts_with("{\"type\"") => examples.push((index + 1, text.to_owned())),
            _ => {}
        }
    }
    examples
}

#[test]
fn every_protocol_md_example_validates_against_its_schema() {
    let registry = SchemaRegistry::global();
    let mut seen = BTreeSet::new();
    for (line, text) in protocol_examples() {
        let message: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("PROTOCOL.md:{line}: {e}"));
        registry.validate_message(&message).unwrap_or_else(|e| panic!("PROTOCOL.md:{line}: {e:?}"));
        if let Some(record) = message.get("record") {
            registry.validate_record(record).unwrap_or_else(|e| panic!("PROTOCOL.md:{line}: {e}"));
        }
        seen.insert(message["type"].as_str().unwrap().to_owned());
    }
    let all: BTreeSet<String> = registry.message_types().map(str::to_owned).collect();
    assert_eq!(seen, all, "PROTOCOL.md must show an example of every message type");
}

#[test]
fn connector_examples_in_protocol_md_decode() {
    for (line, text) in protocol_examples() {
        if text.starts_with("{\"type\":\"config\"") || text.starts_with("{\"type\":\"sync\"") {
            continue;
        }
        let message = ConnectorMessage::decode(&text).unwrap_or_else(|e| panic!("PROTOCOL.md:{line}: {e}"));
        assert!(!matches!(message, ConnectorMessage::Unknown(_)), "PROTOCOL.md:{line}");
    }
}

#[test]
fn the_progress_schema_takes_done_with_an_optional_total_and_unit_and_agrees_with_the_decoder() {
    let registry = SchemaRegistry::global();
    let valid = [
        r#"{"type":"progress","done":0}"#,
        r#"{"type":"progress","done":12,"total":null}"#,
        r#"{"type":"progress","done":120,"total":100,"unit":"pages"}"#,
        r#"{"type":"progress","done":1,"total":5,"eta_s":3}"#,
    ];
    for text in valid {
        let message: Value = serde_json::from_str(text).unwrap();
        registry.validate_message(&message).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert!(matches!(ConnectorMessage::decode(text), Ok(ConnectorMessage::Progress(_))), "{text}");
    }
    let invalid = [
        (r#"{"type":"progress"}"#, ""),
        (r#"{"type":"progress","done":-1}"#, "/done"),
        (r#"{"type":"progress","done":1.5}"#, "/done"),
        (r#"{"type":"progress","done":1,"total":"10"}"#, "/total"),
        (r#"{"type":"progress","done":1,"unit":""}"#, "/unit"),
    ];
    for (text, path) in invalid {
        let message: Value = serde_json::from_str(text).unwrap();
        let violations = registry.validate_message(&message).expect_err(text);
        assert!(violations.iter().any(|v| v.path == path), "{text}: expected a violation at {path:?}: {violations:?}");
    }
    for (text, _) in &invalid[..4] {
        assert!(ConnectorMessage::decode(text).is_err(), "the decoder refuses {text} too");
    }
}

#[test]
fn valid_record_fixtures_validate() {
    let registry = SchemaRegistry::global();
    let mut types = BTreeSet::new();
    for (index, record) in record_fixture("valid.jsonl").into_iter().enumerate() {
        registry.validate_record(&record).unwrap_or_else(|e| panic!("valid.jsonl:{}: {e}", index + 1));
        types.insert(record["_type"].as_str().unwrap().to_owned());
    }
    let all: BTreeSet<String> = registry.record_types().map(str::to_owned).collect();
    assert_eq!(types, all, "valid.jsonl must hold a record of every type");
}

#[test]
fn invalid_record_fixtures_are_rejected_at_the_expected_path() {
    let registry = SchemaRegistry::global();
    for (index, case) in record_fixture("invalid.jsonl").into_iter().enumerate() {
        let expected_path = case["expect_path"].as_str().unwrap();
        match registry.validate_record(&case["record"]) {
            Err(RecordError::Invalid { violations, .. }) => assert!(
                violations.iter().any(|v| v.path == expected_path),
                "invalid.jsonl:{} ({}): expected a violation at {expected_path:?}, got {violations:?}",
                index + 1,
                case["reason"]
            ),
            other => panic!("invalid.jsonl:{} ({}): expected rejection, got {other:?}", index + 1, case["reason"]),
        }
    }
}
