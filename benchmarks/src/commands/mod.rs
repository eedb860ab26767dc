//! `runner-bench`'s command line and its subcommands.

mod adapters;
mod pagerduty;
mod pipeline;
mod scaling;
mod workers;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::bins::BinDir;
use crate::report::print_json;

/// Throughput benchmarks of the runner (see benchmarks/README.md).
#[derive(Debug, Parser)]
#[command(name = "runner-bench", version)]
pub struct Cli {
    /// Directory of `runner`, `connector-bench`, `connector-pagerduty` and the adapters (default: the
    /// directory of runner-bench itself, e.g. target/release).
    #[arg(long, global = true, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,

    /// Print one JSON document instead of markdown tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to run (default: `pipeline`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every case on one workload: cat, the baseline loop, the runner into stdout, JSON lines and SQLite.
    Pipeline(PipelineArgs),
    /// The runner into each destination at several volumes: records/s, MB/s and peak RSS.
    Scaling(ScalingArgs),
    /// The PagerDuty connector through the runner against the simulator: requests, 429s and time against the rate limit.
    Pagerduty(PagerdutyArgs),
    /// Latency-bound connections shared by 1, 2, 4… `runner worker`s through PostgreSQL.
    Workers(WorkersArgs),
    /// A Singer tap and an Airbyte source alone, and through their adapters and the runner into SQLite.
    Adapters(AdaptersArgs),
    /// The obvious single-threaded loop (stdin to stdout): parse, validate, write each record.
    Baseline,
}

/// `runner-bench pipeline`.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Records connector-bench emits.
    #[arg(long, default_value_t = PipelineArgs::DEFAULT.records, value_parser = records_parser())]
    pub records: u64,
    /// Runs of each case (the median is reported).
    #[arg(long, default_value_t = PipelineArgs::DEFAULT.runs, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// A checkpoint (`state` message) after this many records.
    #[arg(long, default_value_t = PipelineArgs::DEFAULT.checkpoint_every, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
}

impl PipelineArgs {
    /// The defaults, also used when no subcommand is given.
    pub const DEFAULT: PipelineArgs = PipelineArgs { records: 200_000, runs: 5, checkpoint_every: 10_000 };
}

/// `runner-bench scaling`.
#[derive(Debug, Args)]
pub struct ScalingArgs {
    /// Volumes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000, 1_000_000], value_parser = records_parser())]
    pub records: Vec<u64>,
    /// Runs of each destination at each volume (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
}

/// `runner-bench pagerduty`.
#[derive(Debug, Args)]
pub struct PagerdutyArgs {
    /// Incidents in the simulator, comma-separated: one sync for each.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000],
          value_parser = clap::value_parser!(u64).range(1..=pagerduty_mock::MAX_INCIDENTS))]
    pub incidents: Vec<u64>,
    /// Days of history the incidents are spread over.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// The connector's `maxRequestsPerMinute`: by default its maximum, so that the
    /// client-side ceiling (900 against the real API) does not dominate the time.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_requests_per_minute: u32,
    /// The connector's `maxConcurrency` (default: the connector's own default).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub max_concurrency: Option<u32>,
    /// Delay of every simulator answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Spread of that delay: each answer waits latency ± this (default: a quarter of the latency).
    #[arg(long)]
    pub latency_jitter_ms: Option<u64>,
    /// The simulator's rate limit per token and minute, with its `ratelimit-*` headers
    /// (PagerDuty's is 900); off by default.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_rpm: Option<u32>,
    /// Connections syncing the same account with the same token at once, through one
    /// `runner sync-all --jobs N` (1: `runner sync`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub connections: u32,
}

/// `runner-bench workers`.
#[derive(Debug, Args)]
pub struct WorkersArgs {
    /// Connections in the fleet (copies of connector-bench).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// Records each connection's sync emits.
    #[arg(long, default_value_t = 2_000, value_parser = records_parser())]
    pub records: u64,
    /// A checkpoint after this many records: one "page".
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// The connector's pause before each checkpoint, like an API's answer time.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub page_delay_ms: u64,
    /// Numbers of workers to compare, comma-separated; the first is the reference of the speedup.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4], value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: Vec<u16>,
    /// Each worker's `--jobs`.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Runs of each number of workers (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
}

/// `runner-bench adapters`.
#[derive(Debug, Args)]
pub struct AdaptersArgs {
    /// Records tap-jsonl reads (a generated JSON-lines file).
    #[arg(long, default_value_t = 50_000, value_parser = records_parser())]
    pub records: u64,
    /// Users source-faker generates; 0 leaves it out.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub faker_records: u64,
    /// Runs of each case (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Directory with `tap-jsonl` and `source-faker` (default: target/adapter-venv/bin,
    /// where the adapters' tests install them).
    #[arg(long, value_name = "DIR")]
    pub taps: Option<PathBuf>,
}

fn records_parser() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=crate::incident::MAX_RECORDS)
}

/// Runs the command line.
pub fn run(cli: Cli) -> Result<()> {
    let bins = || BinDir::new(cli.bin_dir.clone());
    match cli.command.unwrap_or(Command::Pipeline(PipelineArgs::DEFAULT)) {
        Command::Baseline => crate::baseline::run_stdio(),
        Command::Pipeline(args) => output(&pipeline::run(&bins()?, &args)?, cli.json),
        Command::Scaling(args) => output(&scaling::run(&bins()?, &args)?, cli.json),
        Command::Pagerduty(args) => output(&pagerduty::run(&bins()?, &args)?, cli.json),
        Command::Workers(args) => output(&workers::run(&bins()?, &args)?, cli.json),
        Command::Adapters(args) => output(&adapters::run(&bins()?, &args)?, cli.json),
    }
}

/// A report prints as markdown for people, or as one JSON document.
fn output<R: serde::Serialize + std::fmt::Display>(report: &R, json: bool) -> Result<()> {
    if json {
        print_json(report)
    } else {
        print!("{report}");
        Ok(())
    }
}
