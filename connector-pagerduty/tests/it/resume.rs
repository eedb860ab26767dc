//! A sync killed halfway resumes from its last checkpoint.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use chrono::Duration;
use pagerduty_mock::MockConfig;
use serde_json::{json, Value};

use crate::util::*;

#[test]
fn a_killed_sync_resumed_from_its_state_stores_the_same_records_with_fewer_pages() {
    let data = MockConfig { seed: 31, incidents: 1500, days: 400, ..Default::default() };
    let reference = start(data.clone());
    let server = start(data);
    let cutoff = server.dataset().now() - Duration::days(395);

    let uninterrupted = sync(&setup(&reference, json!({})), cutoff, None);
    assert_success(&uninterrupted);
    let expected = without_base(records(&lines(&uninterrupted)), &reference.base_url);
    let full_pages = reference.stats().requests_to("/incidents");

    // Run past the second checkpoint, into the middle of pages fetched in parallel, then
    // kill the connector: what it emitted after that checkpoint is not covered by it.
    let setup = setup(&server, json!({}));
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("connector-pagerduty"))
        .args(["sync", "--config"])
        .arg(&setup.config)
        .args(["--since", &protocol::format_instant(cutoff)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut partial = Vec::new();
    let mut checkpoint = None;
    let mut after = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let value: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if checkpoint.is_some() {
            after += 1;
            if after == 150 || value["type"] == "state" {
                break;
            }
        } else if value["type"] == "state" && states(&partial).len() == 1 {
            checkpoint = Some(value["state"].clone());
            continue;
        }
        partial.push(value);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let checkpoint = checkpoint.expect("a second checkpoint");
    assert_eq!(checkpoint["phase"], "backfill", "killed before the end: {checkpoint}");
    let pages_before = server.stats().requests_to("/incidents");
    server.reset_stats();

    let resumed = sync(&setup, cutoff, Some(&checkpoint));
    assert_success(&resumed);
    let resumed_lines = lines(&resumed);
    validate_all(&resumed_lines);

    let mut union = records(&partial);
    for (kind, records) in records(&resumed_lines) {
        union.entry(kind).or_default().extend(records);
    }
    let union = without_base(union, &server.base_url);
    for (kind, records) in &expected {
        assert_eq!(ids(&union, kind), ids(&expected, kind), "{kind}: ids differ");
        for (id, record) in records {
            assert_eq!(&union[kind][id], record, "{kind} {id}");
        }
    }
    let resumed_pages = server.stats().requests_to("/incidents");
    assert!(resumed_pages < full_pages, "resumed run fetched {resumed_pages} incident pages, a full one {full_pages}");
    assert!(pages_before + resumed_pages >= full_pages);
    assert_eq!(states(&resumed_lines).pop().unwrap()["phase"], "incremental");
}
