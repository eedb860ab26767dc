//! Helpers shared by the test modules.

use std::path::PathBuf;

use protocol::{RecordCheck, SchemaRegistry};
use serde_json::{json, Value};

/// The path of a file of the repository, given relative to the repository's root.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// A file of the repository, by its path relative to the repository's root.
pub fn repo_file(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The lines of a `schemas/examples/records/` fixture file, each parsed as JSON.
pub fn record_fixture(file: &str) -> Vec<Value> {
    let text = repo_file(&format!("schemas/examples/records/{file}"));
    let parse = |(index, line): (usize, &str)| {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", index + 1))
    };
    text.lines().enumerate().map(parse).collect()
}

/// Values to put in place of a record's own: of every JSON kind, numbers spelled oddly or
/// too big for 64 bits, strings of every format the schemas check, escapes.
pub fn awkward_values() -> Vec<Value> {
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
        json!("é\"\\\n\u{1F600}"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"id": ""}),
        json!({"id": "P1"}),
    ]
}

/// The registry's answer on the parsed text, as `validate_record_json` must give it.
pub fn reference(registry: &SchemaRegistry, value: &Value) -> RecordCheck {
    let display = |id: &Value| id.as_str().map_or_else(|| id.to_string(), str::to_owned);
    RecordCheck {
        record_type: value.get("_type").and_then(Value::as_str).map(str::to_owned),
        id: value.get("id").map(display),
        verdict: registry.validate_record(value),
        // Shared schemas enforce their formats: nothing is ever reported.
        format_drift: Vec::new(),
    }
}
