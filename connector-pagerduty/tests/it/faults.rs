//! Rate limits and injected server errors do not change what is synced.

use chrono::Duration;
use pagerduty_mock::MockConfig;
use serde_json::json;

use crate::util::*;

#[test]
fn a_sync_under_a_rate_limit_and_failing_requests_stores_the_same_records() {
    let data = MockConfig { seed: 21, incidents: 800, days: 60, ..Default::default() };
    let clean = start(data.clone());
    let faulty = start(MockConfig { rate_limit_rpm: Some(120), fail_rate: 0.05, ..data });
    let cutoff = clean.dataset().now() - Duration::days(55);

    let expected = {
        let output = sync(&setup(&clean, json!({})), cutoff, None);
        assert_success(&output);
        without_base(records(&lines(&output)), &clean.base_url)
    };
    let output = sync(&setup(&faulty, json!({"maxRequestsPerMinute": 120})), cutoff, None);
    assert_success(&output);
    let lines = lines(&output);
    validate_all(&lines);
    let got = without_base(records(&lines), &faulty.base_url);

    let stats = faulty.stats();
    let failed = stats.by_status.get("500").copied().unwrap_or(0) + stats.by_status.get("503").copied().unwrap_or(0);
    assert!(failed > 0, "the simulator injected failures: {:?}", stats.by_status);
    assert_eq!(stats.by_status.get("429"), None, "the client-side ceiling kept under the server's limit");
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (kind, records) in &expected {
        assert_eq!(&got[kind], records, "{kind} records differ");
    }
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
