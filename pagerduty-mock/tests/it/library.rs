//! Rule: the library starts a server on a free port from async code too, and dropping
//! the handle stops it.

#[tokio::test]
async fn async_start_and_drop() {
    let server = pagerduty_mock::start(crate::util::config()).await.expect("starts");
    let url = format!("{}/abilities", server.base_url);
    let client = reqwest::Client::new();
    let resp = client.get(&url).header("Authorization", "Token token=mock-user-token").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.stats().count("/abilities", 200), 1);
    drop(server);
    // Dropping signals the server task, which closes the listener the next time it runs:
    // while this task awaits its first request below. A connection it accepted in that
    // same turn may still be answered; the next one finds no listener. Each attempt
    // waits for its own outcome, so there is nothing to spin on.
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut answered = 0;
    for _ in 0..ATTEMPTS_AFTER_DROP {
        match fresh.get(&url).send().await {
            Ok(_) => answered += 1,
            // Refused, or reset while queued on the closing listener: not served.
            Err(_) => return,
        }
    }
    panic!("the server answered all {answered} new connections after it was dropped");
}

/// At most one connection can be answered after the drop (see above); one more attempt
/// must be refused.
const ATTEMPTS_AFTER_DROP: usize = 2;

#[test]
fn dataset_without_a_server_matches_the_server() {
    let cfg = crate::util::config();
    let offline = pagerduty_mock::dataset(&cfg).unwrap();
    let server = crate::util::start(cfg);
    let online = server.dataset();
    assert_eq!(offline.incident_count(), online.incident_count());
    let (since, until) = (offline.start(), offline.now());
    assert_eq!(offline.incidents_created_between(since, until), online.incidents_created_between(since, until));
    assert!(pagerduty_mock::dataset(&pagerduty_mock::MockConfig { days: 0, ..Default::default() }).is_err());
}
