//! Destination throughput: writes 200,000 records of ~1.3 KB to SQLite and to a JSON-lines
//! directory through [`runner::destination::open`] and prints records/s and MB/s (median
//! of 3 runs). Needs in runner/Cargo.toml:
//!
//! ```toml
//! [[bench]]
//! name = "destinations"
//! harness = false
//! ```
//!
//! Run with `cargo bench -p runner --bench destinations`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use runner::destination::{open, OutputSpec, RunOutcome, RunStart, RunSummary, ValidRecord};
use serde_json::json;

const RECORDS: usize = 200_000;
/// Records between checkpoints; `BENCH_CHECKPOINT_EVERY` overrides it.
const CHECKPOINT_EVERY: usize = 1_000;
const ROUNDS: usize = 3;

/// A PagerDuty-like Incident of about 1.3 KB with nested objects.
fn incident(i: usize) -> String {
    let reference = |kind: &str, id: String| {
        json!({"id": id, "type": kind, "summary": format!("{kind} {id} summary text"),
               "self": format!("https://api.pagerduty.com/{kind}s/{id}"),
               "htmlUrl": format!("https://acme.pagerduty.com/{kind}s/{id}")})
    };
    json!({
        "_type": "Incident", "id": format!("Q{i:09}"), "number": i,
        "self": format!("https://api.pagerduty.com/incidents/Q{i:09}"),
        "htmlUrl": format!("https://acme.pagerduty.com/incidents/Q{i:09}"),
        "title": "Checkout latency above 2s for more than five minutes in eu-west-1",
        "summary": format!("[#{i}] Checkout latency above 2s for more than five minutes in eu-west-1"),
        "status": "resolved", "urgency": "high", "createdAt": "2026-02-03T14:15:22Z",
        "updatedAt": "2026-02-03T15:01:09Z", "resolvedAt": "2026-02-03T15:01:09Z",
        "service": reference("service", format!("PSVC{:04}", i % 50)),
        "escalationPolicy": reference("escalation_policy", format!("PEP{:04}", i % 10)),
        "assignments": [{"at": "2026-02-03T14:15:22Z", "assignee": reference("user", format!("PUSR{:04}", i % 200))}],
        "teams": [reference("team", format!("PTEAM{:03}", i % 7))],
        "priority": {"id": "P1ABC", "name": "P1", "color": "a8171c"},
        "incidentKey": format!("{:032x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
    })
    .to_string()
}

/// Builds the `--output` for a kind inside a fresh temporary directory.
type SpecIn = fn(&std::path::Path) -> OutputSpec;

fn checkpoint_every() -> usize {
    std::env::var("BENCH_CHECKPOINT_EVERY")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(CHECKPOINT_EVERY)
}

fn run(spec: &OutputSpec, records: &[String], every: usize) -> Duration {
    let started = Instant::now();
    let mut dest = open(spec, None).expect("open destination");
    let run = RunStart {
        connection: "bench".into(),
        connector: "bench".into(),
        stream_id: "account".into(),
        cutoff: Utc::now(),
        started_at: Utc::now(),
    };
    dest.begin_run(&run).expect("begin");
    for (i, json) in records.iter().enumerate() {
        let id = &json[json.find("\"Q").map_or(0, |at| at + 1)..][..10];
        let record = ValidRecord { record_type: "Incident", id, json, extracted_at: "2026-02-03T15:02:00Z" };
        dest.write_record(&record).expect("write");
        if i % every == every - 1 {
            dest.checkpoint(Some(&json!({ "after": i }))).expect("checkpoint");
        }
    }
    let summary = RunSummary {
        outcome: RunOutcome::Succeeded,
        finished_at: Utc::now(),
        records_by_type: BTreeMap::from([("Incident".to_owned(), records.len() as u64)]),
        rejected: 0,
        checkpoints: (records.len() / every) as u64,
        error: None,
        logs: Vec::new(),
    };
    dest.finish_run(&summary).expect("finish");
    started.elapsed()
}

fn main() {
    let every = checkpoint_every();
    let records: Vec<String> = (0..RECORDS).map(incident).collect();
    let bytes: usize = records.iter().map(|json| json.len() + 1).sum();
    println!("{RECORDS} records, {:.0} bytes each on average", bytes as f64 / RECORDS as f64);
    let kinds: [(&str, SpecIn); 2] = [
        ("SQLite (new file)", |dir| OutputSpec::Sqlite(dir.join("bench.db"))),
        ("JSON lines", |dir| OutputSpec::JsonLines(dir.join("out"))),
    ];
    for (name, spec) in kinds {
        let mut times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let dir = tempfile::tempdir().expect("temporary directory");
                run(&spec(dir.path()), &records, every)
            })
            .collect();
        times.sort();
        let median = times[ROUNDS / 2].as_secs_f64();
        println!(
            "{name:18} {:>9.0} records/s {:>7.1} MB/s (median of {ROUNDS}, checkpoint every {every})",
            RECORDS as f64 / median,
            bytes as f64 / median / 1e6
        );
    }
}
