//! `runner-bench workers`: many latency-bound connections shared by 1, 2, 4… `runner
//! worker` processes through one PostgreSQL database, to show that adding workers divides
//! the wall time of a fleet.
//!
//! Each connection is connector-bench told to pause `--page-delay-ms` before each
//! checkpoint, as a connector waits for an API: one sync takes about `pages × delay`
//! whatever the machine, and the runner's CPU is not what is measured. With `W` workers of
//! `J` jobs each, `N` connections need at least `ceil(N / (W·J))` such syncs back to back:
//! that floor is printed beside each median so the overhead of claiming, leasing and
//! committing shows.
//!
//! Every run uses a fresh database of a throwaway cluster (`fsync=on`), applies the same
//! connections file, starts the workers together with `--until-idle`, waits for all of
//! them, and verifies that every connection synced once and every record is stored.

use std::fmt;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::json;

use super::WorkersArgs;
use crate::bins::{BinDir, Binary};
use crate::cases::{median, postgres};
use crate::process::{check_success, Running};
use crate::report::{thousands, Machine, Table};

/// What `workers` prints.
#[derive(Debug, Serialize)]
pub struct WorkersReport {
    machine: Machine,
    connections: u32,
    records_per_connection: u64,
    checkpoint_every: u64,
    page_delay_ms: u64,
    jobs: u16,
    runs: u32,
    /// How long one sync waits on its "API": pages × delay.
    sync_floor_seconds: f64,
    rows: Vec<WorkersRow>,
}

/// One number of workers.
#[derive(Debug, Serialize)]
struct WorkersRow {
    workers: u16,
    median_seconds: f64,
    /// `ceil(connections / (workers × jobs))` syncs back to back.
    floor_seconds: f64,
    records_per_second: f64,
    /// The median of one worker divided by this median.
    speedup: f64,
}

/// Measures every number of workers in `args.workers`, `args.runs` times each, round-robin.
pub fn run(bins: &BinDir, args: &WorkersArgs) -> Result<WorkersReport> {
    let runner = bins.require(Binary::Runner)?;
    let connector = bins.require(Binary::ConnectorBench)?;
    let cluster = postgres().map_err(|e| anyhow::anyhow!("`runner-bench workers` needs PostgreSQL: {e}"))?;
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let fleet = write_fleet(dir.path(), &connector, args)?;
    let mut seconds = vec![Vec::new(); args.workers.len()];
    for run in 0..args.runs {
        for (index, &workers) in args.workers.iter().enumerate() {
            let database = format!("workers_{workers}_{run}");
            cluster.create_database(&database).with_context(|| format!("cannot create database {database}"))?;
            let url = cluster.url(&database);
            let measured = measure(&runner, &fleet, &url, workers, args, dir.path());
            let verified = measured.and_then(|s| verify(cluster, &database, args).map(|()| s));
            let dropped = cluster.psql("postgres", &format!("DROP DATABASE \"{database}\" WITH (FORCE)"));
            seconds[index].push(verified?);
            dropped.with_context(|| format!("cannot drop database {database}"))?;
        }
    }
    Ok(report(args, seconds))
}

/// The connections file: `connections` copies of connector-bench, each due at once.
fn write_fleet(dir: &Path, connector: &Path, args: &WorkersArgs) -> Result<std::path::PathBuf> {
    let config = dir.join("bench.json");
    let settings = json!({
        "records": args.records,
        "checkpointEvery": args.checkpoint_every,
        "pageDelayMs": args.page_delay_ms,
    });
    fs::write(&config, settings.to_string()).with_context(|| format!("cannot write {}", config.display()))?;
    let mut toml = String::from("[defaults]\ncutoff = \"2026-01-01\"\nevery = \"1h\"\n");
    for i in 0..args.connections {
        toml.push_str(&format!(
            "\n[[connection]]\nname = \"bench-{i:03}\"\nconnector = {}\nconfig = {}\n",
            toml_string(connector),
            toml_string(&config)
        ));
    }
    let fleet = dir.join("fleet.toml");
    fs::write(&fleet, toml).with_context(|| format!("cannot write {}", fleet.display()))?;
    Ok(fleet)
}

/// A path as a TOML basic string (JSON escapes are valid TOML escapes).
fn toml_string(path: &Path) -> String {
    serde_json::Value::from(path.to_string_lossy()).to_string()
}

/// Applies the fleet to `url`, runs `workers` workers at once until idle, and returns the
/// seconds from the first start to the last exit.
fn measure(runner: &Path, fleet: &Path, url: &str, workers: u16, args: &WorkersArgs, dir: &Path) -> Result<f64> {
    let apply_stderr = dir.join("apply.stderr");
    let mut apply = Command::new(runner);
    apply.args(["connections", "apply"]).arg(fleet).args(["--db", url]);
    apply.stdout(Stdio::null()).stderr(crate::workload::create(&apply_stderr)?);
    check_success(
        "`runner connections apply`",
        &Running::spawn("`runner connections apply`", &mut apply)?.wait()?,
        &apply_stderr,
    )?;

    let started = Instant::now();
    let mut running = Vec::new();
    for worker in 0..workers {
        let stderr = dir.join(format!("worker-{worker}.stderr"));
        let mut command = Command::new(runner);
        command.args(["worker", "--until-idle", "--db", url, "--jobs", &args.jobs.to_string()]);
        command.stdout(Stdio::null()).stderr(crate::workload::create(&stderr)?);
        running.push((Running::spawn(format!("`runner worker` {worker}"), &mut command)?, stderr));
    }
    let mut usages = Vec::new();
    for (child, stderr) in running {
        usages.push((child.wait()?, stderr));
    }
    let seconds = started.elapsed().as_secs_f64();
    for (worker, (usage, stderr)) in usages.iter().enumerate() {
        check_success(&format!("`runner worker` {worker}"), usage, stderr)?;
    }
    Ok(seconds)
}

/// Fails unless every connection synced exactly once and stored every record.
fn verify(cluster: &throwaway_postgres::Cluster, database: &str, args: &WorkersArgs) -> Result<()> {
    let count = |sql: &str| -> Result<u64> {
        let text = cluster.psql(database, sql).with_context(|| format!("cannot query {database}: {sql}"))?;
        text.parse().with_context(|| format!("not a count: {text}"))
    };
    let records = count("SELECT count(*) FROM records")?;
    let expected = u64::from(args.connections) * args.records;
    if records != expected {
        bail!("database {database} holds {records} records, expected {expected}: the workers lost or duplicated data");
    }
    let runs = count("SELECT count(*) FROM sync_runs WHERE outcome = 'succeeded'")?;
    if runs != u64::from(args.connections) {
        bail!("database {database} has {runs} successful runs, expected one per connection ({})", args.connections);
    }
    Ok(())
}

fn report(args: &WorkersArgs, seconds: Vec<Vec<f64>>) -> WorkersReport {
    let pages = args.records.div_ceil(args.checkpoint_every);
    let sync_floor = Duration::from_millis(pages * args.page_delay_ms).as_secs_f64();
    let medians: Vec<f64> = seconds.into_iter().map(median).collect();
    let total_records = f64::from(args.connections) * args.records as f64;
    let rows = args
        .workers
        .iter()
        .zip(&medians)
        .map(|(&workers, &median_seconds)| {
            let slots = u32::from(workers) * u32::from(args.jobs);
            WorkersRow {
                workers,
                median_seconds,
                floor_seconds: f64::from(args.connections.div_ceil(slots)) * sync_floor,
                records_per_second: total_records / median_seconds,
                speedup: medians[0] / median_seconds,
            }
        })
        .collect();
    WorkersReport {
        machine: Machine::current(),
        connections: args.connections,
        records_per_connection: args.records,
        checkpoint_every: args.checkpoint_every,
        page_delay_ms: args.page_delay_ms,
        jobs: args.jobs,
        runs: args.runs,
        sync_floor_seconds: sync_floor,
        rows,
    }
}

impl fmt::Display for WorkersReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "runner-bench workers: {} connections of {} records, a {} ms pause every {} records \
             ({:.2} s of waiting per sync), --jobs {} per worker, median of {} runs; {}\n",
            self.connections,
            thousands(self.records_per_connection as f64),
            self.page_delay_ms,
            thousands(self.checkpoint_every as f64),
            self.sync_floor_seconds,
            self.jobs,
            self.runs,
            self.machine
        )?;
        let mut table = Table::new(["workers", "median s", "floor s", "records/s", "speedup"]);
        for row in &self.rows {
            table.row(vec![
                row.workers.to_string(),
                format!("{:.2}", row.median_seconds),
                format!("{:.2}", row.floor_seconds),
                thousands(row.records_per_second),
                format!("{:.2}×", row.speedup),
            ]);
        }
        writeln!(f, "{table}")?;
        writeln!(
            f,
            "floor: ceil(connections ÷ (workers × jobs)) syncs back to back, each waiting {:.2} s; \
             speedup: the first row's median ÷ this row's.",
            self.sync_floor_seconds
        )
    }
}
