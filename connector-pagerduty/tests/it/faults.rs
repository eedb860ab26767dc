//! Server errors and plans without a feature: retried or skipped without changing what is
//! synced, or reported with the right kind once the retries are used up.

use chrono::Duration;
use pagerduty_mock::MockConfig;
use serde_json::json;

use crate::util::*;

#[test]
fn a_sync_with_failing_requests_stores_the_same_records() {
    let data = MockConfig { seed: 26, incidents: 50, days: 10, ..Default::default() };
    let clean = start(data.clone());
    let faulty = start(MockConfig { fail_rate: 0.2, ..data });
    let expected = full_sync_records(&clean);
    let got = full_sync_records(&faulty);
    let stats = faulty.stats();
    assert!(
        answered(&stats, 500) + answered(&stats, 503) > 0,
        "the simulator injected failures: {:?}",
        stats.by_status
    );
    assert_same_records(&got, &expected);
}

#[test]
fn a_sync_still_refused_after_its_retries_fails_with_kind_rate_limited_and_no_secret() {
    let server = refusing_server();
    let token = "secret-token-5c81e0";
    let setup = setup_at(server.base_url(), json!({"apiToken": token}));
    // The stream given as the runner gives it, so the sync's own first request is refused
    // (without it, discover's would be).
    let stream = json!({"_type": "Stream", "id": "mock", "self": "https://mock.pagerduty.com", "name": "mock"});
    let output = connector()
        .args(["sync", "--config"])
        .arg(&setup.config)
        .args(["--since", &protocol::format_instant(mock_now() - Duration::days(1))])
        .args(["--stream", &stream.to_string()])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output);
    let error = lines.iter().find(|l| l["type"] == "error").expect("an error message");
    assert_eq!(error["kind"], "rate_limited", "{error}");
    assert!(error["message"].as_str().unwrap().contains("HTTP 429"), "{error}");
    // Several requests are ready to go at once, but after a 429 only one goes out at a
    // time: the token is refused the 10 times in a row the README allows, no more.
    assert_eq!(server.requests().len(), 10, "refused 10 times in a row, whichever requests they were");
    let all = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(!all.contains(token), "the token never appears: {all}");
}

#[test]
fn a_sync_that_keeps_failing_ends_with_a_transient_error_and_no_secret() {
    let server = start(MockConfig { incidents: 50, days: 10, fail_rate: 1.0, ..Default::default() });
    let setup = setup(&server, json!({}));
    let output = sync(&setup, server.dataset().start(), None);
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output);
    let error = lines.iter().find(|l| l["type"] == "error").expect("an error message");
    assert_eq!(error["kind"], "transient");
    assert!(error["message"].as_str().unwrap().contains("gave up after 6 attempts"), "{error}");
    let all = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(!all.contains(USER_TOKEN), "the token never appears");
}

#[test]
fn lists_the_accounts_plan_lacks_are_skipped_with_a_warning() {
    let data = MockConfig { seed: 27, incidents: 50, days: 10, ..Default::default() };
    let full = start(data.clone());
    let lacking = start(MockConfig { missing_abilities: vec!["teams".into(), "priorities".into()], ..data });
    let mut expected = full_sync_records(&full);
    let output = sync(&setup(&lacking, json!({})), lacking.dataset().start(), None);
    assert_success(&output);
    let lines = lines(&output);
    let warnings = logs(&lines, "warn");
    for list in ["teams", "priorities"] {
        assert!(
            warnings.iter().any(|w| w.starts_with(&format!("skipping {list}: ")) && w.contains("HTTP 402")),
            "{warnings:?}"
        );
    }
    let got = without_base(records(&lines), &lacking.base_url);
    expected.remove("Team");
    expected.remove("Priority");
    assert_same_records(&got, &expected);
    assert_eq!(states(&lines).pop().unwrap()["phase"], "incremental", "the sync completed");
}
