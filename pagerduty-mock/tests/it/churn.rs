//! Rule: `POST /__mock/churn?new=N&resolve=M` adds triggered incidents and resolves open
//! ones "now", visible to an incremental sync through since/until.

use chrono::DateTime;

use crate::util::*;

#[test]
fn churn_adds_and_resolves() {
    let s = start(config());
    let before = ok(&s, "/incidents?date_range=all&total=true&limit=1")["total"].as_u64().unwrap();
    let churned = post(&s, "/__mock/churn?new=3&resolve=2");
    assert_eq!(churned.status, 200);
    let report = churned.body;
    let at: DateTime<chrono::Utc> = report["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(report["created"].as_array().unwrap().len(), 3);
    assert_eq!(report["resolved"].as_array().unwrap().len(), 2);
    for id in report["created"].as_array().unwrap() {
        let inc = ok(&s, &format!("/incidents/{}", id.as_str().unwrap()))["incident"].clone();
        assert_eq!(inc["status"], "triggered");
        assert_eq!(inc["created_at"], report["at"]);
    }
    for id in report["resolved"].as_array().unwrap() {
        let inc = ok(&s, &format!("/incidents/{}", id.as_str().unwrap()))["incident"].clone();
        assert_eq!(inc["status"], "resolved");
        assert_eq!(inc["resolved_at"], report["at"]);
        assert_eq!(inc["updated_at"], report["at"]);
        assert_eq!(inc["last_status_change_at"], report["at"]);
        assert!(inc["assignments"].as_array().unwrap().is_empty());
    }
    let after = ok(&s, "/incidents?date_range=all&total=true&limit=1")["total"].as_u64().unwrap();
    assert_eq!(after, before + 3);
    // An incremental sync from just before the churn sees exactly the new activity.
    let q = range(at, at + chrono::Duration::seconds(1));
    assert_eq!(all_pages(&s, "/incidents", &q, "incidents").len(), 3);
    let logs = all_pages(&s, "/log_entries", &q, "log_entries");
    let resolves = logs.iter().filter(|e| e["type"] == "resolve_log_entry").count();
    assert_eq!(resolves, 2);
    assert_eq!(logs.iter().filter(|e| e["type"] == "trigger_log_entry").count(), 3);
    assert_eq!(s.dataset().count_created_between(at, at + chrono::Duration::seconds(1)), 3);
    // The default window now includes the churned incidents.
    assert!(ok(&s, "/incidents?statuses[]=triggered&limit=100")["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == report["created"][0]));
    let lib = s.churn(1, 0);
    assert_eq!(lib.created.len(), 1);
    assert_eq!(post(&s, "/__mock/churn?new=abc").status, 400);
}
