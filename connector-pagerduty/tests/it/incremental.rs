//! A sync with the final state of a previous one fetches only what changed.

use pagerduty_mock::MockConfig;
use serde_json::json;

use crate::util::*;

#[test]
fn an_incremental_sync_after_a_full_one_fetches_new_and_changed_incidents_in_a_handful_of_requests() {
    let server = start(MockConfig { seed: 41, incidents: 400, days: 30, ..Default::default() });
    let setup = setup(&server, json!({}));
    let cutoff = server.dataset().start();
    let full = sync(&setup, cutoff, None);
    assert_success(&full);
    let state = states(&lines(&full)).pop().unwrap();

    let churn = server.churn(5, 3);
    assert_eq!((churn.created.len(), churn.resolved.len()), (5, 3));
    server.reset_stats();

    let output = sync(&setup, cutoff, Some(&state));
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
    assert_eq!(incidents.len(), 8, "only new and changed incidents");
    let entries = &records["IncidentLogEntry"];
    assert!(entries.values().all(|e| e["createdAt"] == churn.at), "only the new log entries");

    // 6 small lists + discover + 1 incident page + 1 log entry page + 3 changed incidents.
    let stats = server.stats();
    assert!(stats.total <= 12, "{} requests: {:?}", stats.total, stats.by_path);
    assert_eq!(stats.requests_to("/incidents/{id}"), 3);

    let last = states(&lines).pop().unwrap();
    assert_eq!(last["phase"], "incremental");
    // The new high-water mark lies past the churn: the next sync will not look before it.
    let mark = |v: &serde_json::Value| protocol::parse_cutoff(v.as_str().unwrap()).unwrap();
    assert!(mark(&last["highWaterMark"]) > mark(&serde_json::json!(churn.at)));
    assert!(mark(&last["highWaterMark"]) >= mark(&state["highWaterMark"]));
}
