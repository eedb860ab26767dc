//! A sync with the final state of a previous one fetches only what changed: new incidents
//! and log entries, and the incidents those log entries name, each fetched alone or, when
//! that costs fewer requests, by listing their range again.

use pagerduty_mock::MockConfig;
use serde_json::{json, Value};

use crate::util::*;

/// A full sync of `server` from the start of its data: the setup and the last state.
fn full_sync(server: &pagerduty_mock::MockServer) -> (Setup, Value) {
    let setup = setup(server, json!({}));
    let full = sync(&setup, server.dataset().start(), None);
    assert_success(&full);
    let state = states(&lines(&full)).pop().unwrap();
    (setup, state)
}

#[test]
fn an_incremental_sync_after_a_full_one_fetches_new_and_changed_incidents_in_a_handful_of_requests() {
    let server = start(MockConfig { seed: 41, incidents: 400, days: 30, ..Default::default() });
    let (setup, state) = full_sync(&server);
    let churn = server.churn(5, 3);
    assert_eq!((churn.created.len(), churn.resolved.len()), (5, 3));
    server.reset_stats();

    let output = sync(&setup, server.dataset().start(), Some(&state));
    assert_success(&output);
    let lines = lines(&output);
    validate_all(&lines);
    let records = records(&lines);

    let incidents = &records["Incident"];
    for id in &churn.created {
        assert_eq!(incidents[id]["status"], "triggered", "new incident {id}");
    }
    for id in &churn.resolved {
        assert_eq!(incidents[id]["status"], "resolved", "changed incident {id} re-emitted resolved");
    }
    let entries = &records["IncidentLogEntry"];
    assert!(entries.values().all(|e| e["createdAt"] == churn.at), "only the new log entries");

    // 6 small lists + discover + 1 incident page + 1 log entry page + at most 3 for the
    // changed incidents: fetched one by one, or found on the newest page of their range.
    let stats = server.stats();
    assert!(stats.total <= 12, "{} requests: {:?}", stats.total, stats.by_path);
    assert!(stats.requests_to("/incidents/{id}") + stats.requests_to("/incidents") <= 1 + 3, "{:?}", stats.by_path);

    let last = states(&lines).pop().unwrap();
    assert_eq!(last["phase"], "incremental");
    // The new high-water mark lies past the churn: the next sync will not look before it.
    assert!(instant(&last["highWaterMark"]) > instant(&json!(churn.at)));
    assert!(instant(&last["highWaterMark"]) >= instant(&state["highWaterMark"]));
}

#[test]
fn after_a_long_gap_many_changed_incidents_are_found_by_listing_their_range_again() {
    let server = start(MockConfig { seed: 42, incidents: 3000, days: 60, ..Default::default() });
    let (setup, state) = full_sync(&server);
    let churn = server.churn(0, 400);
    let changed = churn.resolved.len() as u64;
    assert!(changed > 31, "the simulator had {changed} open incidents to resolve");
    server.reset_stats();

    let output = sync(&setup, server.dataset().start(), Some(&state));
    assert_success(&output);
    let lines = lines(&output);
    let incidents = &records(&lines)["Incident"];
    for id in &churn.resolved {
        assert_eq!(incidents[id]["status"], "resolved", "changed incident {id} re-emitted resolved");
    }
    // Listing 60 days of 3,000 incidents costs 30 pages, fetching the changed ones (all
    // that were open, more than 31) one request each: the connector counted, and listed.
    let stats = server.stats();
    assert_eq!(stats.requests_to("/incidents/{id}"), 0, "{:?}", stats.by_path);
    assert!(stats.requests_to("/incidents") <= 1 + 30, "{:?}", stats.by_path);
    assert!(logs(&lines, "info")
        .iter()
        .any(|l| l.starts_with(&format!("{changed} changed incidents ")) && l.contains("listing")));
}

#[test]
fn a_few_changed_incidents_in_a_long_history_are_fetched_one_by_one() {
    let server = start(MockConfig { seed: 43, incidents: 5000, days: 400, ..Default::default() });
    let (setup, state) = full_sync(&server);
    let churn = server.churn(0, 2);
    assert_eq!(churn.resolved.len(), 2);
    server.reset_stats();

    let output = sync(&setup, server.dataset().start(), Some(&state));
    assert_success(&output);
    let incidents = &records(&lines(&output))["Incident"];
    for id in &churn.resolved {
        assert_eq!(incidents[id]["status"], "resolved", "changed incident {id} re-emitted resolved");
    }
    // 400 days are three windows: listing them costs at least three requests, fetching
    // the two changed incidents two.
    let stats = server.stats();
    assert_eq!(stats.requests_to("/incidents/{id}"), 2, "{:?}", stats.by_path);
    assert_eq!(stats.requests_to("/incidents"), 1, "the incremental range only: {:?}", stats.by_path);
}
