//! Rule: objects use the field names and JSON types of PagerDuty's public OpenAPI spec
//! (inventory in tests/fixtures/openapi_inventory.json) and never send null arrays.

use serde_json::Value;

use crate::util::*;

#[test]
fn incidents_and_their_references_match_the_spec() {
    let s = start(config());
    let incidents = spec_checked_list(
        &s,
        "/incidents?date_range=all&limit=100&statuses[]=triggered&statuses[]=acknowledged&statuses[]=resolved",
        "incidents",
    );
    assert_match_spec("incident", &incidents);
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
    assert_match_spec("reference", &refs);
}

#[test]
fn log_entries_match_the_spec() {
    let s = start(config());
    let entries = spec_checked_list(&s, "/log_entries?limit=100", "log_entries");
    assert_match_spec("log_entry", &entries);
    let inv = inventory();
    let known = inv["log_entry"]["types"].as_array().unwrap();
    for e in &entries {
        assert!(known.contains(&e["type"]), "{}", e["type"]);
        assert_match_spec("reference", &[e["agent"].clone(), e["service"].clone(), e["incident"].clone()]);
    }
}

#[test]
fn account_objects_match_the_spec() {
    let s = start(config());
    assert_match_spec("service", &spec_checked_list(&s, "/services", "services"));
    assert_match_spec("user", &spec_checked_list(&s, "/users", "users"));
    assert_match_spec("team", &spec_checked_list(&s, "/teams", "teams"));
    let policies = spec_checked_list(&s, "/escalation_policies", "escalation_policies");
    assert_match_spec("escalation_policy", &policies);
    let rules: Vec<Value> = policies.iter().flat_map(|p| p["escalation_rules"].as_array().unwrap().clone()).collect();
    assert_match_spec("escalation_rule", &rules);
    assert_match_spec("priority", &spec_checked_list(&s, "/priorities", "priorities"));
    assert_match_spec("oncall", &spec_checked_list(&s, "/oncalls", "oncalls"));
}
