//! Rate limits and server errors: waited out or retried without changing what is synced,
//! or reported with the right kind once the retries are used up.

use chrono::Duration;
use pagerduty_mock::MockConfig;
use serde_json::json;

use crate::util::*;

/// The simulator's budget per window. A sync of [`small`] needs about a dozen requests:
/// it uses a window's budget up within milliseconds and is refused mid-sync.
const LIMIT: u32 = 8;
/// PagerDuty's window is a minute; two seconds keep each wait short. The connector's
/// client-side ceiling counts per minute, so it cannot keep a sync this short under a
/// limit this tight: the 429s are certain.
const WINDOW_SECS: u64 = 2;

/// One window of incidents and log entries (cutoff at the start of the data).
fn small(seed: u64) -> MockConfig {
    MockConfig { seed, incidents: 50, days: 10, ..Default::default() }
}

#[test]
fn a_sync_over_the_rate_limit_with_failing_requests_stores_the_same_records() {
    let data = small(26);
    let clean = start(data.clone());
    let faulty =
        start(MockConfig { rate_limit_rpm: Some(LIMIT), rate_limit_window_secs: WINDOW_SECS, fail_rate: 0.2, ..data });
    let expected = full_sync_records(&clean);
    let got = full_sync_records(&faulty);

    let stats = faulty.stats();
    assert!(answered(&stats, 429) > 0, "the sync ran into the rate limit: {:?}", stats.by_status);
    assert!(
        answered(&stats, 500) + answered(&stats, 503) > 0,
        "the simulator injected failures: {:?}",
        stats.by_status
    );
    assert_same_records(&got, &expected);
}

#[test]
fn a_429_in_the_middle_of_a_sync_is_waited_out_for_ratelimit_reset_seconds() {
    let data = small(23);
    let clean = start(data.clone());
    let limited = start(MockConfig { rate_limit_rpm: Some(LIMIT), rate_limit_window_secs: WINDOW_SECS, ..data });
    let expected = full_sync_records(&clean);
    let got = full_sync_records(&limited);
    assert_same_records(&got, &expected);

    let stats = limited.stats();
    let refused = answered(&stats, 429);
    let charged = stats.total - refused;
    assert!(refused >= 1, "the budget ran out mid-sync: {charged} requests, {LIMIT} per window");
    // Waiting `ratelimit-reset` seconds lands in a fresh window, so every window used up
    // refuses one request at most; a connector that guessed a shorter wait would be
    // refused again within the same window.
    assert!(
        refused <= charged / u64::from(LIMIT),
        "{refused} refusals for {charged} requests in windows of {LIMIT}: {:?}",
        stats.by_path
    );
}

#[test]
fn a_sync_still_refused_after_its_retries_fails_with_kind_rate_limited_and_no_secret() {
    let server = RefusingServer::start();
    let token = "secret-token-5c81e0";
    let setup = setup_at(&server.base_url, json!({"apiToken": token}));
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
    assert_eq!(server.refused(), 10, "one request, refused the 10 times in a row the README allows");
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
