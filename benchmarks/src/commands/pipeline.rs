//! `runner-bench pipeline`: every case on one workload, side by side.

use std::fmt;

use anyhow::Result;
use serde::Serialize;

use super::PipelineArgs;
use crate::bins::{BinDir, Binary};
use crate::cases::{Bench, Case, CaseResult};
use crate::process::own_peak_rss_kib;
use crate::report::{optional, rss_note, thousands, Machine, Table, MB};
use crate::workload::{StreamSize, Workload};

/// What `pipeline` prints.
#[derive(Debug, Serialize)]
pub struct PipelineReport {
    machine: Machine,
    records: u64,
    checkpoint_every: u64,
    runs: u32,
    stream: StreamSize,
    cases: Vec<CaseResult>,
    harness_peak_rss_mb: f64,
}

/// Measures every case of [`Case::PIPELINE`].
pub fn run(bins: &BinDir, args: &PipelineArgs) -> Result<PipelineReport> {
    let runner = bins.require(Binary::Runner)?;
    let workload = Workload::prepare(bins.require(Binary::ConnectorBench)?, args.records, args.checkpoint_every)?;
    let cases = Bench::new(&workload, runner)?.measure(&Case::PIPELINE, args.runs)?;
    Ok(PipelineReport {
        machine: Machine::current(),
        records: args.records,
        checkpoint_every: args.checkpoint_every,
        runs: args.runs,
        stream: workload.stream,
        cases,
        harness_peak_rss_mb: own_peak_rss_kib() as f64 * 1024.0 / MB,
    })
}

impl fmt::Display for PipelineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stream = &self.stream;
        writeln!(
            f,
            "runner-bench pipeline: N = {} records, {:.1} MB of record lines ({:.0} B each), a checkpoint every {}, \
             median of {} runs; {}\n",
            thousands(self.records as f64),
            stream.record_bytes as f64 / MB,
            stream.record_bytes as f64 / stream.record_lines.max(1) as f64,
            thousands(self.checkpoint_every as f64),
            self.runs,
            self.machine
        )?;
        writeln!(f, "{}", table(&self.cases))?;
        write!(f, "{}", rss_note(self.harness_peak_rss_mb))
    }
}

fn table(cases: &[CaseResult]) -> Table {
    let mut table = Table::new([
        "case",
        "median s",
        "records/s",
        "MB/s",
        "peak RSS MB",
        "CPU s",
        "consumer CPU s",
        "x reference",
        "x baseline",
    ]);
    for case in cases {
        let consumer_cpu = match case.consumer_cpu_seconds {
            Some(cpu) if case.consumer_cpu_estimated => format!("≈{cpu:.2}"),
            cpu => optional(cpu, 2),
        };
        table.row(vec![
            case.label.to_owned(),
            format!("{:.3}", case.median_seconds),
            thousands(case.records_per_second),
            format!("{:.1}", case.mb_per_second),
            format!("{:.1}", case.peak_rss_mb),
            format!("{:.2}", case.cpu_seconds),
            consumer_cpu,
            optional(case.x_reference, 2),
            optional(case.x_baseline, 2),
        ]);
    }
    table
}
