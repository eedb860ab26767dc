//! Rule: a million incidents are never materialised (the server keeps 4 bytes of each
//! and recomputes objects when served), and pages deep into them answer.

use crate::util::*;

const MILLION: u64 = 1_000_000;

#[test]
fn a_million_incidents_cost_four_bytes_each() {
    // A current-thread runtime builds the whole server on this thread, so its heap is
    // counted; the log index is built later, on a thread of its own.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = pagerduty_mock::MockConfig { incidents: MILLION, ..config() };
    let (server, peak) = peak_heap_of(|| runtime.block_on(pagerduty_mock::start(config)).expect("starts"));
    let index = 4 * MILLION as usize;
    assert!(peak >= index / 4, "{peak} bytes: the measurement missed the creation-time index");
    // The index, plus a fixed allowance for the catalog, the listener and the task.
    assert!(peak <= index + 1024 * 1024, "starting with a million incidents held {peak} bytes");
    assert_eq!(server.dataset().incident_count(), MILLION);
}

#[test]
fn pages_deep_into_a_million_incidents_answer() {
    let s = start(pagerduty_mock::MockConfig { incidents: MILLION, ..config() });
    let page = ok(&s, "/incidents?limit=100&offset=9900&total=true");
    assert_eq!(page["incidents"].as_array().unwrap().len(), 100);
    assert!(page["total"].as_u64().unwrap() > 200_000);
    let deep = ok(&s, "/incidents?date_range=all&limit=100&offset=9900&sort_by=incident_number:desc");
    assert_eq!(deep["incidents"][0]["incident_number"], MILLION - 9900);
    let capped = get(&s, "/incidents?limit=100&offset=9901");
    assert_eq!((capped.status, capped.error_code()), (400, Some(2002)));
}
