//! Completeness and request budget of a full sync.

use std::collections::BTreeSet;

use chrono::Duration;
use pagerduty_mock::MockConfig;
use serde_json::json;

use crate::util::*;

/// Small lists: users, teams, services, escalation policies, priorities, on-calls (one
/// page each in the simulator), plus the `/users?limit=1` of discover.
const SMALL_LIST_REQUESTS: u64 = 6 + 1;

#[test]
fn a_full_sync_stores_exactly_the_incidents_since_the_cutoff_with_all_their_log_entries_within_budget() {
    let server = start(MockConfig { seed: 11, incidents: 5000, days: 400, ..Default::default() });
    let setup = setup(&server, json!({}));
    let truth = server.dataset();
    let cutoff = truth.now() - Duration::days(395);

    let output = sync(&setup, cutoff, None);
    assert_success(&output);
    let lines = lines(&output);
    validate_all(&lines);
    let records = records(&lines);

    let expected = truth.incidents_created_between(cutoff, far_future());
    let expected_ids: BTreeSet<String> = expected.iter().map(|i| i.id.clone()).collect();
    assert!(expected.len() > 4800, "the dataset covers the cutoff: {}", expected.len());
    assert_eq!(ids(&records, "Incident"), expected_ids, "exactly the incidents created since the cutoff");

    // Log entries: every entry created at or after the cutoff, which includes every
    // entry of every stored incident.
    let entries = ids(&records, "IncidentLogEntry");
    let expected_entries = truth.log_entry_count_between(cutoff, far_future());
    assert_eq!(entries.len() as u64, expected_entries);
    for incident in &expected {
        for entry in &incident.log_entry_ids {
            assert!(entries.contains(entry), "log entry {entry} of incident {} is missing", incident.id);
        }
    }
    for kind in ["Actor", "Service", "Team", "EscalationPolicy", "Priority", "OnCall"] {
        assert!(!ids(&records, kind).is_empty(), "no {kind} records");
    }

    // Budget: one request per 100 incidents and per 100 log entries, the small lists,
    // and one per window (3 windows of at most 180 days), within 10%.
    let stats = server.stats();
    let windows = 3;
    let ideal = expected.len() as u64 / 100 + expected_entries / 100 + SMALL_LIST_REQUESTS + windows;
    assert!(
        stats.total as f64 <= ideal as f64 * 1.1,
        "{} requests for an ideal of {ideal}: {:?}",
        stats.total,
        stats.by_path
    );
    assert_eq!(stats.by_status.keys().collect::<Vec<_>>(), ["200"], "no request was refused");

    // The last state says the backfill is complete and records the high-water mark.
    let last = states(&lines).pop().unwrap();
    assert_eq!(last["phase"], "incremental");
    assert!(last["highWaterMark"].as_str().is_some());
}

#[test]
fn a_burst_of_more_than_ten_thousand_incidents_in_one_month_is_synced_completely() {
    let server = start(MockConfig { seed: 5, incidents: 300, days: 30, burst_incidents: 10_300, ..Default::default() });
    let setup = setup(&server, json!({}));
    let truth = server.dataset();
    let cutoff = truth.start();
    let output = sync(&setup, cutoff, None);
    assert_success(&output);
    let lines = lines(&output);
    let records = records(&lines);

    let expected = truth.count_created_between(cutoff, far_future());
    assert!(expected > 10_000);
    assert_eq!(ids(&records, "Incident").len() as u64, expected, "every incident of the burst month");
    assert_eq!(
        ids(&records, "IncidentLogEntry").len() as u64,
        truth.log_entry_count_between(cutoff, far_future()),
        "every log entry"
    );
    assert_eq!(server.stats().count("/incidents", 400), 0, "never ran into the offset cap");
}
