//! How long the registry takes to start and to validate one record of each type, on the
//! runner's hot path (`validate_record_json`, a tape of the text).
//!
//!     cargo run -p protocol --release --example validation_speed [ROUNDS [TYPE...]]
//!
//! Records are the valid fixtures of `schemas/examples/records/valid.jsonl`; each is
//! validated ROUNDS times (default 20,000), seven times over, and the fastest run is
//! printed (the one least disturbed by other work on the machine), in nanoseconds per
//! record, by type. A measurement to compare two builds on one machine,
//! not a test: nothing here asserts a time. Run it before and after a change to the schemas
//! or the registry (for instance with the other build's `schemas/` and `registry.rs`
//! checked out) and compare the types both have.
//!
//! On a busy machine, time is a poor measure. Instructions are not: run one type under
//! `valgrind --tool=cachegrind --cache-sim=no` with two ROUNDS, and the difference of the
//! two "I refs" totals, divided by seven times the difference of the ROUNDS, is the
//! instructions one record costs.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use protocol::SchemaRegistry;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().map_or(20_000, |n| n.parse().expect("ROUNDS is a whole number"));
    let only: Vec<String> = args.collect();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/examples/records/valid.jsonl");
    let text = std::fs::read_to_string(fixtures).expect("read the valid record fixtures");

    let started = Instant::now();
    let registry = SchemaRegistry::new().expect("the embedded schemas compile");
    let startup = started.elapsed();
    println!("registry: {} record types compiled in {:.1} ms", registry.record_types().count(), ms(startup));

    // The first fixture of each type this build knows (an older build knows fewer).
    let mut by_type: BTreeMap<String, &str> = BTreeMap::new();
    for line in text.lines() {
        let record_type = registry.validate_record_json(line).record_type.expect("every fixture has a _type");
        let wanted = only.is_empty() || only.contains(&record_type);
        if wanted && registry.record_schema(&record_type).is_some() {
            by_type.entry(record_type).or_insert(line);
        }
    }
    println!("{:<22} {:>6} {:>10}", "type", "bytes", "ns/record");
    for (record_type, line) in &by_type {
        assert_eq!(registry.validate_record_json(line).verdict, Ok(()), "{record_type} fixture is valid");
        let fastest = (0..7)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..rounds {
                    black_box(registry.validate_record_json(black_box(line)));
                }
                start.elapsed()
            })
            .min()
            .expect("seven runs");
        let per_record = fastest.as_nanos() as f64 / f64::from(rounds);
        println!("{record_type:<22} {:>6} {per_record:>10.0}", line.len());
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
