//! `runner-bench scaling`: the runner into each destination at several volumes, to show
//! that throughput holds and memory stays flat as the volume grows.

use std::fmt;

use anyhow::Result;
use serde::Serialize;

use super::ScalingArgs;
use crate::bins::{BinDir, Binary};
use crate::cases::{Bench, Case, CaseResult, Destination};
use crate::process::own_peak_rss_kib;
use crate::report::{rss_note, thousands, Machine, Table, MB};
use crate::workload::Workload;

/// Checkpoints as often as in `pipeline`'s default, whatever the volume.
const CHECKPOINT_EVERY: u64 = 10_000;

/// What `scaling` prints.
#[derive(Debug, Serialize)]
pub struct ScalingReport {
    machine: Machine,
    runs: u32,
    checkpoint_every: u64,
    rows: Vec<ScalingRow>,
    harness_peak_rss_mb: f64,
}

/// One volume and destination.
#[derive(Debug, Serialize)]
struct ScalingRow {
    records: u64,
    record_bytes: u64,
    #[serde(flatten)]
    result: CaseResult,
}

/// Measures the runner into every destination at every volume.
pub fn run(bins: &BinDir, args: &ScalingArgs) -> Result<ScalingReport> {
    let runner = bins.require(Binary::Runner)?;
    let connector = bins.require(Binary::ConnectorBench)?;
    let cases = Destination::ALL.map(Case::Runner);
    let mut rows = Vec::new();
    for &records in &args.records {
        // A workload per volume: its temporary directory, and the outputs in it, go away
        // before the next (larger) one is written.
        let workload = Workload::prepare(connector.clone(), records, CHECKPOINT_EVERY)?;
        let results = Bench::new(&workload, runner.clone())?.measure(&cases, args.runs)?;
        let record_bytes = workload.stream.record_bytes;
        rows.extend(results.into_iter().map(|result| ScalingRow { records, record_bytes, result }));
    }
    Ok(ScalingReport {
        machine: Machine::current(),
        runs: args.runs,
        checkpoint_every: CHECKPOINT_EVERY,
        rows,
        harness_peak_rss_mb: own_peak_rss_kib() as f64 * 1024.0 / MB,
    })
}

impl fmt::Display for ScalingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "runner-bench scaling: the runner into each destination, a checkpoint every {}, median of {} runs; {}\n",
            thousands(self.checkpoint_every as f64),
            self.runs,
            self.machine
        )?;
        let mut table =
            Table::new(["records", "destination", "median s", "records/s", "MB/s", "peak RSS MB"]).text_columns(2);
        for row in &self.rows {
            let result = &row.result;
            let destination = match result.case {
                Case::Runner(destination) => destination.label(),
                other => other.label(),
            };
            table.row(vec![
                thousands(row.records as f64),
                destination.to_owned(),
                format!("{:.3}", result.median_seconds),
                thousands(result.records_per_second),
                format!("{:.1}", result.mb_per_second),
                format!("{:.1}", result.peak_rss_mb),
            ]);
        }
        writeln!(f, "{table}")?;
        write!(f, "{}", rss_note(self.harness_peak_rss_mb))
    }
}
