//! Rule: a million incidents start fast, in little memory, and pages answer quickly.

use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn a_million_incidents() {
    let t = Instant::now();
    let s = start(pagerduty_mock::MockConfig { incidents: 1_000_000, ..config() });
    let started = t.elapsed();
    // Release builds start in well under a second; debug builds are slower.
    assert!(started < Duration::from_secs(10), "start took {started:?}");
    let t = Instant::now();
    let page = ok(&s, "/incidents?limit=100&offset=9900&total=true");
    assert_eq!(page["incidents"].as_array().unwrap().len(), 100);
    assert!(page["total"].as_u64().unwrap() > 200_000);
    let deep = ok(&s, "/incidents?date_range=all&limit=100&offset=9900&sort_by=incident_number:desc");
    assert_eq!(deep["incidents"][0]["incident_number"], 1_000_000 - 9900);
    assert!(t.elapsed() < Duration::from_secs(5), "pages took {:?}", t.elapsed());
    let capped = get(&s, "/incidents?limit=100&offset=9901");
    assert_eq!((capped.status, capped.error_code()), (400, Some(2002)));
}
