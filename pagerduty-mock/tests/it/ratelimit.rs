//! Rule: per-token rate limit with `ratelimit-*` headers on every answer and 429 code
//! 2020 beyond it.

use serde_json::json;

use crate::util::*;

#[test]
fn budget_headers_and_429() {
    let s = start(pagerduty_mock::MockConfig { rate_limit_rpm: Some(3), ..config() });
    for expected_remaining in ["2", "1", "0"] {
        let a = get(&s, "/incidents");
        assert_eq!(a.status, 200);
        assert_eq!(a.header("ratelimit-limit"), Some("3"));
        assert_eq!(a.header("ratelimit-remaining"), Some(expected_remaining));
        let reset: u64 = a.header("ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset));
    }
    let limited = get(&s, "/users");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body, json!({"error":{"message":"Rate Limit Exceeded","code":2020}}));
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    assert!(limited.header("ratelimit-reset").is_some());
    // The account-level token has its own budget; errors carry the headers too.
    let other = get_with(&s, "/incidents", Some(&format!("Token token={ACCOUNT_TOKEN}")));
    assert_eq!((other.status, other.header("ratelimit-remaining")), (200, Some("2")));
    let unauthorized = get_with(&s, "/incidents", Some("Token token=nope"));
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.header("ratelimit-limit"), Some("3"));
    assert_eq!(s.stats().count("/users", 429), 1);
}

#[test]
fn no_headers_without_a_limit() {
    let s = start(config());
    let a = get(&s, "/incidents");
    assert_eq!(a.status, 200);
    assert!(a.header("ratelimit-limit").is_none());
}

#[test]
fn refusals_are_counted_per_token_in_the_stats() {
    let s = start(pagerduty_mock::MockConfig { rate_limit_rpm: Some(2), ..config() });
    for _ in 0..4 {
        get(&s, "/abilities");
    }
    let account = format!("Token token={ACCOUNT_TOKEN}");
    for _ in 0..3 {
        get_with(&s, "/abilities", Some(&account));
    }
    let stats = control(&s, "/__mock/stats").body;
    assert_eq!(stats["by_token"][USER_TOKEN], json!({"200": 2, "429": 2}));
    assert_eq!(stats["by_token"][ACCOUNT_TOKEN], json!({"200": 2, "429": 1}));
    assert_eq!((s.stats().rate_limited(USER_TOKEN), s.stats().rate_limited(ACCOUNT_TOKEN)), (2, 1));
}
