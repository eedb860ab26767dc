//! Requests in parallel: at most `maxConcurrency` in flight, answers in any order, and
//! still every checkpoint covers only records emitted before it; progress counted against
//! PagerDuty's totals.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};
use pagerduty_mock::{MockConfig, MockServer};
use serde_json::json;

use crate::util::*;

/// About 90 requests over three 180-day windows, answered in 5 to 35 ms: requests in
/// flight together come back in any order.
fn jittery() -> MockConfig {
    MockConfig { seed: 17, incidents: 1500, days: 400, latency_ms: 20, latency_jitter_ms: 15, ..Default::default() }
}

/// Every incident and log entry the simulator serves, with its creation time.
fn created(server: &MockServer) -> Vec<(String, DateTime<Utc>)> {
    let truth = server.dataset();
    let mut all: Vec<(String, DateTime<Utc>)> = truth.incidents().map(|i| (i.id, i.created_at)).collect();
    all.extend(truth.log_entries().map(|e| (e.id, e.created_at)));
    all
}

#[test]
fn requests_go_out_in_parallel_up_to_max_concurrency_and_each_checkpoint_follows_all_it_covers() {
    let server = start(jittery());
    let cutoff = server.dataset().now() - Duration::days(395);
    let output = sync(&setup(&server, json!({"maxConcurrency": 4})), cutoff, None);
    assert_success(&output);
    let lines = lines(&output);
    let peak = server.stats().peak_concurrency;
    assert!((2..=4).contains(&peak), "{peak} requests in flight at most");

    // A state claims every item created in [cursor, highWaterMark): each must be out
    // before it, however the answers arrived.
    let created = created(&server);
    let mut emitted: HashSet<String> = HashSet::new();
    let mut cursors = Vec::new();
    for line in &lines {
        match line["type"].as_str() {
            Some("record") => {
                emitted.insert(line["record"]["id"].as_str().unwrap().to_owned());
            }
            Some("state") => {
                let (cursor, mark) = (instant(&line["state"]["cursor"]), instant(&line["state"]["highWaterMark"]));
                let missing: Vec<&String> = created
                    .iter()
                    .filter(|(id, at)| *at >= cursor.max(cutoff) && *at < mark && !emitted.contains(id))
                    .map(|(id, _)| id)
                    .take(5)
                    .collect();
                assert!(missing.is_empty(), "state {} claims {missing:?}, not emitted before it", line["state"]);
                cursors.push(cursor);
            }
            _ => {}
        }
    }
    assert!(cursors.windows(2).all(|pair| pair[1] <= pair[0]), "the cursor only walks back: {cursors:?}");
    let distinct: BTreeSet<&DateTime<Utc>> = cursors.iter().collect();
    assert!(distinct.len() >= 3, "a checkpoint as each of the three windows completes: {cursors:?}");
    assert!(*cursors.last().unwrap() <= cutoff, "the last checkpoint reaches the cutoff");
}

#[test]
fn max_concurrency_1_sends_one_request_after_the_other_and_syncs_the_same() {
    let data =
        MockConfig { seed: 18, incidents: 300, days: 60, latency_ms: 5, latency_jitter_ms: 5, ..Default::default() };
    let parallel = start(data.clone());
    let serial = start(data);
    let expected = full_sync_records(&parallel);
    let output = sync(&setup(&serial, json!({"maxConcurrency": 1})), serial.dataset().start(), None);
    assert_success(&output);
    assert_same_records(&without_base(records(&lines(&output)), &serial.base_url), &expected);
    assert_eq!(serial.stats().peak_concurrency, 1);
    assert!(parallel.stats().peak_concurrency > 1);
}

#[test]
fn progress_counts_items_against_the_totals_pagerduty_announces() {
    let server = start(jittery());
    let output = sync(&setup(&server, json!({})), server.dataset().start(), None);
    assert_success(&output);
    let lines = lines(&output);
    let records = lines.iter().filter(|l| l["type"] == "record").count() as u64;
    let progress = progress(&lines);
    assert!(progress.len() >= 2, "{progress:?}");
    let done: Vec<u64> = progress.iter().map(|p| p["done"].as_u64().unwrap()).collect();
    assert!(done.windows(2).all(|pair| pair[0] <= pair[1]), "done never goes back: {done:?}");
    // Every item fetched is a record (no service filter), and all were announced.
    let last = progress.last().unwrap();
    assert_eq!((last["done"].as_u64(), last["total"].as_u64()), (Some(records), Some(records)), "{last}");
    // The totals come with the first pages, which go out before any other page: the
    // total is known, and right, long before the end.
    let first_total = lines.iter().position(|l| l["type"] == "progress" && l["total"].is_u64()).unwrap();
    assert_eq!(lines[first_total]["total"].as_u64(), Some(records), "{}", lines[first_total]);
    let records_before = lines[..first_total].iter().filter(|l| l["type"] == "record").count() as u64;
    assert!(records_before < records / 4, "the total was known after {records_before} of {records} records");
}
