//! Rule: log entries of the real types, 2 to 8 per incident in time order, account-wide
//! `/log_entries` filtered on their created_at with the same window rules, `is_overview`.

use std::collections::HashSet;

use chrono::Duration;

use crate::util::*;

#[test]
fn incident_timelines() {
    let s = start(config());
    for inc in ok(&s, "/incidents?limit=60&date_range=all")["incidents"].as_array().unwrap() {
        let id = inc["id"].as_str().unwrap();
        let entries =
            ok(&s, &format!("/incidents/{id}/log_entries?limit=100"))["log_entries"].as_array().unwrap().clone();
        assert!((2..=8).contains(&entries.len()), "{id}: {}", entries.len());
        // Newest first; the oldest is the trigger the incident points at.
        assert!(entries.windows(2).all(|w| created_at(&w[0]) >= created_at(&w[1])));
        let oldest = entries.last().unwrap();
        assert_eq!(oldest["type"], "trigger_log_entry");
        assert_eq!(oldest["id"], inc["first_trigger_log_entry"]["id"]);
        assert_eq!(created_at(oldest), created_at(inc));
        let types: HashSet<&str> = entries.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types.contains("resolve_log_entry"), inc["status"] == "resolved", "{id}");
        for e in &entries {
            assert_eq!(e["incident"]["id"], id);
            assert_eq!(e["service"]["id"], inc["service"]["id"]);
        }
    }
}

#[test]
fn account_wide_log_entries_follow_the_window() {
    let s = start(config());
    let (since, until) = (now() - Duration::days(20), now() - Duration::days(18));
    let entries = all_pages(&s, "/log_entries", &range(since, until), "log_entries");
    let expected: HashSet<String> = scan_log_entries(&s.dataset(), since, until).into_iter().map(|e| e.id).collect();
    let served: HashSet<String> = entries.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(served.len(), entries.len(), "an entry is served twice");
    assert_eq!(served, expected);
    assert!(entries.iter().all(|e| created_at(e) >= since && created_at(e) < until));
    assert!(entries.windows(2).all(|w| created_at(&w[0]) >= created_at(&w[1])), "newest first");
    let kinds: HashSet<_> = entries.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for k in ["trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry", "notify_log_entry", "assign_log_entry"]
    {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    let overview = all_pages(&s, "/log_entries", &format!("{}&is_overview=true", range(since, until)), "log_entries");
    assert!(!overview.is_empty() && overview.len() < entries.len());
    assert!(overview.iter().all(|e| e["type"] != "notify_log_entry" && e["type"] != "assign_log_entry"));
    let one = &entries[0];
    let single = ok(&s, &format!("/log_entries/{}", one["id"].as_str().unwrap()));
    assert_eq!(&single["log_entry"], one);
}

#[test]
fn incidents_and_log_entries_agree_with_the_ground_truth() {
    let s = start(config());
    let (since, until) = (now() - Duration::days(10), now() - Duration::days(9));
    let incidents = scan_incidents(&s.dataset(), since, until);
    assert!(!incidents.is_empty());
    for truth in incidents {
        let body = ok(&s, &format!("/incidents/{}/log_entries?limit=100", truth.id));
        let mut got: Vec<String> =
            body["log_entries"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        got.reverse();
        assert_eq!(got, truth.log_entry_ids);
    }
}
