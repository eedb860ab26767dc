//! Rule: `--fail-rate` answers that share of requests with 500 or 503, `--latency-ms`
//! delays each answer (`--latency-jitter-ms` spreads the delay; its range and
//! reproducibility are unit-tested in `faults.rs`).

use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn fail_rate_injects_500_and_503() {
    let s = start(pagerduty_mock::MockConfig { fail_rate: 0.5, ..config() });
    let statuses: Vec<u16> = (0..120).map(|_| get(&s, "/abilities").status).collect();
    let failed = statuses.iter().filter(|&&st| st >= 500).count();
    assert!((25..=95).contains(&failed), "{failed} of 120 failed");
    assert!(statuses.contains(&500) && statuses.contains(&503) && statuses.contains(&200));
    let always = start(pagerduty_mock::MockConfig { fail_rate: 1.0, ..config() });
    let a = get(&always, "/incidents");
    assert!(a.status == 500 || a.status == 503);
    assert!(a.body["error"]["message"].is_string());
    // The control endpoints never fail.
    assert_eq!(control(&always, "/__mock/stats").status, 200);
}

#[test]
fn latency_delays_answers() {
    let s = start(pagerduty_mock::MockConfig { latency_ms: 150, ..config() });
    let t = Instant::now();
    assert_eq!(get(&s, "/abilities").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[test]
fn jitter_larger_than_the_latency_is_refused() {
    let refused = pagerduty_mock::start_blocking(pagerduty_mock::MockConfig {
        latency_ms: 100,
        latency_jitter_ms: 150,
        ..config()
    });
    let error = refused.expect_err("a negative delay is no delay").to_string();
    assert!(error.contains("latency_jitter_ms is 150, expected at most latency_ms (100)"), "{error}");
}
