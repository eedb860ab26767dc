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
    // A new connection is refused once the listener is gone.
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut refused = false;
    for _ in 0..50 {
        if fresh.get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "server still answers after drop");
}

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
