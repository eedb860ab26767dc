//! Destination throughput alone (no connector, no validation): writes 200,000 of
//! connector-bench's ~1.4 KB records to SQLite and to a JSON-lines directory through
//! [`store::open`] and prints records/s and MB/s (median of 3 runs). The
//! whole pipeline is measured by `benchmarks/run.sh`. Needs in runner/Cargo.toml:
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

use benchmarks::incident::{self, Generator};
use chrono::Utc;
use serde_json::json;
use store::{open, OutputSpec, RunOutcome, RunStart, RunSummary, ValidRecord};

const RECORDS: usize = 200_000;
/// Records between checkpoints; `BENCH_CHECKPOINT_EVERY` overrides it.
const CHECKPOINT_EVERY: usize = 1_000;
const ROUNDS: usize = 3;

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
        let id = incident::id(i as u64);
        let record = ValidRecord { record_type: "Incident", id: &id, json, extracted_at: "2026-02-03T15:02:00Z" };
        dest.write_record(&record).expect("write");
        if i % every == every - 1 {
            dest.checkpoint(&json!({ "after": i })).expect("checkpoint");
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
    // The records connector-bench emits (benchmarks/src/incident.rs), without their envelope.
    let generator = Generator::new();
    let records: Vec<String> = (0..RECORDS as u64)
        .map(|i| {
            let mut json = Vec::new();
            generator.record_into(i, &mut json);
            String::from_utf8(json).expect("records are UTF-8")
        })
        .collect();
    let bytes: usize = records.iter().map(|json| json.len() + 1).sum();
    println!("{RECORDS} records, {:.0} bytes each on average", bytes as f64 / RECORDS as f64);
    let kinds: [(&str, SpecIn); 2] = [
        ("SQLite (new file)", |dir| OutputSpec::sqlite(dir.join("bench.db"))),
        ("JSON lines", |dir| OutputSpec::json_lines(dir.join("out"))),
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
