//! Rule: `GET /__mock/stats` (no auth) counts requests by path, status and token, and
//! reports the peak of requests in progress at once.

use std::sync::Barrier;

use crate::util::*;

#[test]
fn stats_count_by_path_and_status() {
    let s = start(config());
    let id = ok(&s, "/incidents?limit=1")["incidents"][0]["id"].as_str().unwrap().to_string();
    ok(&s, &format!("/incidents/{id}"));
    ok(&s, &format!("/incidents/{id}/log_entries"));
    get_with(&s, "/incidents", None);
    let body = control(&s, "/__mock/stats").body;
    assert_eq!(body["total"], 4);
    assert_eq!(body["by_path"]["/incidents"]["200"], 1);
    assert_eq!(body["by_path"]["/incidents"]["401"], 1);
    assert_eq!(body["by_path"]["/incidents/{id}"]["200"], 1);
    assert_eq!(body["by_path"]["/incidents/{id}/log_entries"]["200"], 1);
    assert_eq!(body["by_token"][USER_TOKEN]["200"], 3);
    assert_eq!(body["by_token"]["(none)"]["401"], 1);
    assert_eq!(body["peak_concurrency"], 1, "one request after the other");
    assert_eq!(s.stats().requests_to("/incidents"), 2);
    assert_eq!(post(&s, "/__mock/stats/reset").status, 204);
    assert_eq!(s.stats().total, 0);
}

#[test]
fn the_peak_concurrency_counts_requests_answered_at_the_same_time() {
    // Each answer takes a second and a half, so requests sent together are in progress
    // together, however the threads are scheduled.
    let s = start(pagerduty_mock::MockConfig { latency_ms: 1500, ..config() });
    let together = Barrier::new(4);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                together.wait();
                assert_eq!(get(&s, "/abilities").status, 200);
            });
        }
    });
    assert_eq!(s.stats().peak_concurrency, 4);
    assert_eq!(control(&s, "/__mock/stats").body["peak_concurrency"], 4);
    post(&s, "/__mock/stats/reset");
    assert_eq!(s.stats().peak_concurrency, 0);
}
