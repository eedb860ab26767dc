//! Rule: a burst of more than 10,000 incidents in one hour, inside one month, so the
//! offset cap is reachable in a single window and must be split to sync completely.

use chrono::Duration;

use crate::util::*;

#[test]
fn a_burst_beyond_the_offset_cap_can_be_synced_by_splitting_windows() {
    let s = start(pagerduty_mock::MockConfig { incidents: 2000, burst_incidents: 12_000, ..config() });
    let truth = s.dataset();
    let (hour, count) = scan_busiest_hour(&truth);
    assert!(count >= 12_000);
    assert!(hour >= now() - Duration::days(30));
    assert_eq!(truth.busiest_hour(), (hour, count));
    let month = range(now() - Duration::days(30), now());
    let whole = ok(&s, &format!("/incidents?{month}&total=true&limit=1"));
    assert_eq!(whole["total"].as_u64(), Some(scan_incidents(&truth, now() - Duration::days(30), now()).len() as u64));
    assert!(whole["total"].as_u64().unwrap() > 10_000);
    let capped = get(&s, &format!("/incidents?{month}&limit=100&offset=9950"));
    assert_eq!((capped.status, capped.error_code()), (400, Some(2002)));
    // Ten six-minute windows cover the burst hour, each below the cap.
    let mut seen = 0;
    for i in 0..10 {
        let (since, until) = (hour + Duration::minutes(6 * i), hour + Duration::minutes(6 * (i + 1)));
        let page = ok(&s, &format!("/incidents?{}&total=true&limit=1", range(since, until)));
        let total = page["total"].as_u64().unwrap();
        assert!(total < 10_000);
        assert_eq!(total, scan_incidents(&truth, since, until).len() as u64, "{since}");
        seen += total;
    }
    assert_eq!(seen, count);
}
