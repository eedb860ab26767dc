//! Rule: objects use the field names and JSON types of PagerDuty's public OpenAPI spec
//! (inventory in tests/fixtures/openapi_inventory.json) and never send null arrays.

use serde_json::Value;

use crate::util::*;

fn inventory() -> Value {
    serde_json::from_str(include_str!("../fixtures/openapi_inventory.json")).unwrap()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks one object against an inventory kind; returns the problems found.
fn check(kind: &str, obj: &Value) -> Vec<String> {
    let inv = inventory();
    let fields = inv[kind]["fields"].as_object().unwrap();
    let mut problems = Vec::new();
    for (name, value) in obj.as_object().unwrap() {
        match fields.get(name) {
            None => problems.push(format!("{kind}.{name} is not in the spec")),
            Some(types) if !types.as_array().unwrap().contains(&json_type(value).into()) => {
                problems.push(format!("{kind}.{name} is {}, spec allows {types}", json_type(value)))
            }
            _ => {}
        }
    }
    for required in inv[kind]["always"].as_array().unwrap() {
        if obj.get(required.as_str().unwrap()).is_none() {
            problems.push(format!("{kind} lacks {required}"));
        }
    }
    problems
}

fn check_all(kind: &str, objects: &[Value]) {
    assert!(!objects.is_empty(), "no {kind} to check");
    let problems: Vec<String> = objects.iter().flat_map(|o| check(kind, o)).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

fn list(s: &pagerduty_mock::MockServer, path: &str, key: &str) -> Vec<Value> {
    let body = ok(s, path);
    check_all(
        "pagination",
        &[serde_json::json!({
            "offset": body["offset"], "limit": body["limit"], "more": body["more"], "total": body["total"]
        })],
    );
    body[key].as_array().unwrap().clone()
}

#[test]
fn incidents_and_their_references_match_the_spec() {
    let s = start(config());
    let incidents = list(
        &s,
        "/incidents?date_range=all&limit=100&statuses[]=triggered&statuses[]=acknowledged&statuses[]=resolved",
        "incidents",
    );
    check_all("incident", &incidents);
    let statuses: std::collections::HashSet<_> = incidents.iter().map(|i| i["status"].clone()).collect();
    assert!(statuses.len() >= 2, "a realistic mix of statuses: {statuses:?}");
    let mut refs = Vec::new();
    for inc in &incidents {
        for key in ["service", "escalation_policy", "first_trigger_log_entry", "last_status_change_by"] {
            refs.push(inc[key].clone());
        }
        refs.extend(inc["teams"].as_array().unwrap().iter().cloned());
        if inc["resolved_at"].is_null() {
            assert_ne!(inc["status"], "resolved");
        }
        let types: Vec<&str> = refs.iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert!(types.iter().all(|t| t.ends_with("_reference")));
    }
    check_all("reference", &refs);
}

#[test]
fn log_entries_match_the_spec() {
    let s = start(config());
    let entries = list(&s, "/log_entries?limit=100", "log_entries");
    check_all("log_entry", &entries);
    let inv = inventory();
    let known = inv["log_entry"]["types"].as_array().unwrap();
    for e in &entries {
        assert!(known.contains(&e["type"]), "{}", e["type"]);
        check_all("reference", &[e["agent"].clone(), e["service"].clone(), e["incident"].clone()]);
    }
}

#[test]
fn account_objects_match_the_spec() {
    let s = start(config());
    check_all("service", &list(&s, "/services", "services"));
    check_all("user", &list(&s, "/users", "users"));
    check_all("team", &list(&s, "/teams", "teams"));
    let policies = list(&s, "/escalation_policies", "escalation_policies");
    check_all("escalation_policy", &policies);
    let rules: Vec<Value> = policies.iter().flat_map(|p| p["escalation_rules"].as_array().unwrap().clone()).collect();
    check_all("escalation_rule", &rules);
    check_all("priority", &list(&s, "/priorities", "priorities"));
    check_all("oncall", &list(&s, "/oncalls", "oncalls"));
}
