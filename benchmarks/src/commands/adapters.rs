//! `runner-bench adapters`: what the Singer and Airbyte adapters cost. A real tap writing
//! its own output to a file, next to the same tap through its adapter
//! (`connector-singer`, `connector-airbyte`) and the runner into SQLite, every record
//! validated against its declared schema and checkpointed: records/s and the ratio.
//!
//! The taps are `tap-jsonl` (over a generated JSON-lines file) and `source-faker` (its
//! `users`), from the virtual environment the adapters' tests install
//! (`target/adapter-venv`, or `--taps DIR`). Discovery runs once, outside the timing; the
//! synced Stream is given to `runner sync` as JSON, as a scheduler holding it would.

use std::fmt;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use super::AdaptersArgs;
use crate::bins::{BinDir, Binary};
use crate::process::{check_success, Running};
use crate::report::{thousands, Machine, Table};

/// What `adapters` prints.
#[derive(Debug, Serialize)]
pub struct AdaptersReport {
    machine: Machine,
    runs: u32,
    taps: Vec<TapResult>,
}

/// One tap, alone and through its adapter.
#[derive(Debug, Serialize)]
pub struct TapResult {
    tap: String,
    records: u64,
    alone: Timing,
    through_runner: Timing,
    /// Median time through the adapter and the runner over median time alone.
    overhead_ratio: f64,
}

/// The median of several runs of one case.
#[derive(Debug, Serialize)]
pub struct Timing {
    median_seconds: f64,
    records_per_second: f64,
    /// CPU time (user + system) of the median run, over the process and its descendants.
    cpu_seconds: f64,
}

/// Measures tap-jsonl (and source-faker unless `--faker-records 0`), each alone and
/// through its adapter and the runner.
pub fn run(bins: &BinDir, args: &AdaptersArgs) -> Result<AdaptersReport> {
    let runner = bins.require(Binary::Runner)?;
    bins.require(Binary::ConnectorSinger)?;
    bins.require(Binary::ConnectorAirbyte)?;
    let taps = match &args.taps {
        Some(dir) => dir.clone(),
        None => bins.path().parent().context("the binaries' directory has no parent")?.join("adapter-venv/bin"),
    };
    for tap in ["tap-jsonl", "source-faker"] {
        if !taps.join(tap).is_file() {
            bail!(
                "`{tap}` not found in {}: install the taps with `python3 -m venv target/adapter-venv && \
                 target/adapter-venv/bin/pip install tap-jsonl==0.3.1 airbyte-source-faker==7.2.1` (or run \
                 `cargo test -p connector-adapters`, which does), or pass --taps DIR",
                taps.display()
            );
        }
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut results = vec![jsonl(dir.path(), &runner, &taps, args)?];
    if args.faker_records > 0 {
        results.push(faker(dir.path(), &runner, &taps, args)?);
    }
    Ok(AdaptersReport { machine: Machine::current(), runs: args.runs, taps: results })
}

/// tap-jsonl over `records` generated lines.
fn jsonl(dir: &Path, runner: &Path, taps: &Path, args: &AdaptersArgs) -> Result<TapResult> {
    let data = dir.join("orders.jsonl");
    let mut file = std::io::BufWriter::new(File::create(&data)?);
    for i in 0..args.records {
        writeln!(
            file,
            r#"{{"id": {i}, "customer": "customer-{}", "total": {}.{:02}, "placedAt": "2024-03-01T10:{:02}:00Z", "lines": [{{"sku": "sku-{}", "qty": {}}}]}}"#,
            i % 997,
            i % 500,
            i % 100,
            i % 60,
            i % 31,
            1 + i % 5
        )?;
    }
    file.flush()?;
    let tap = taps.join("tap-jsonl");
    let tap_config = json!({"path": data, "stream_name": "orders", "primary_keys": ["id"]});
    let tap_config_path = write_json(dir, "tap-config.json", &tap_config)?;
    let catalog = dir.join("catalog.json");
    let mut discover = Command::new(&tap);
    discover.arg("--config").arg(&tap_config_path).arg("--discover");
    discover.stdout(File::create(&catalog)?).stderr(Stdio::null());
    ensure!(discover.status()?.success(), "`tap-jsonl --discover` failed");

    let mut alone = Command::new(&tap);
    alone.arg("--config").arg(&tap_config_path).arg("--catalog").arg(&catalog);
    let config = json!({"tap": tap, "tapConfig": tap_config});
    measure(dir, runner, "tap-jsonl", "singer", &config, alone, args.records, args.runs)
}

/// source-faker's `users` stream, `faker_records` of them.
fn faker(dir: &Path, runner: &Path, taps: &Path, args: &AdaptersArgs) -> Result<TapResult> {
    let source = taps.join("source-faker");
    let source_config = json!({"count": args.faker_records, "seed": 1, "records_per_slice": 1000,
        "always_updated": false, "parallelism": 1});
    let source_config_path = write_json(dir, "faker-config.json", &source_config)?;
    let output = Command::new(&source)
        .arg("discover")
        .arg("--config")
        .arg(&source_config_path)
        .stderr(Stdio::null())
        .output()
        .context("cannot run source-faker discover")?;
    let catalog = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| message["type"] == "CATALOG")
        .context("`source-faker discover` printed no CATALOG")?;
    let users = catalog["catalog"]["streams"]
        .as_array()
        .and_then(|streams| streams.iter().find(|s| s["name"] == "users"))
        .context("source-faker has no users stream")?
        .clone();
    let configured = json!({"streams": [{"stream": users, "sync_mode": "incremental", "cursor_field": ["updated_at"],
        "destination_sync_mode": "append", "primary_key": [["id"]]}]});
    let catalog_path = write_json(dir, "faker-catalog.json", &configured)?;
    let mut alone = Command::new(&source);
    alone.arg("read").arg("--config").arg(&source_config_path).arg("--catalog").arg(&catalog_path);
    let config = json!({"source": source, "sourceConfig": source_config});
    measure(dir, runner, "source-faker (users)", "airbyte", &config, alone, args.faker_records, args.runs)
}

/// Runs `alone` (stdout to a file) and `runner sync ADAPTER` (into a fresh SQLite file)
/// `runs` times each, alternating, and verifies every run's record count.
#[allow(clippy::too_many_arguments)]
fn measure(
    dir: &Path,
    runner: &Path,
    label: &str,
    adapter: &str,
    config: &Value,
    mut alone: Command,
    records: u64,
    runs: u32,
) -> Result<TapResult> {
    let config_path = write_json(dir, &format!("{adapter}.json"), config)?;
    let stream = discover_first(runner, adapter, &config_path, label)?;
    let (mut alone_runs, mut through_runs) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        eprintln!("adapters: {label}, run {run} of {runs}");
        let output = dir.join("alone.out");
        let stderr = dir.join("alone.err");
        alone.stdout(File::create(&output)?).stderr(File::create(&stderr)?);
        let started = Instant::now();
        let usage = Running::spawn(format!("{label} alone"), &mut alone)?.wait()?;
        alone_runs.push((started.elapsed(), usage.cpu));
        check_success(&format!("{label} alone"), &usage, &stderr)?;
        let emitted = count_records(&output)?;
        ensure!(emitted == records, "{label} alone wrote {emitted} records, expected {records}");

        let db = dir.join("adapters.db");
        let _ = fs::remove_file(&db);
        let stderr = dir.join("runner.err");
        let mut sync = Command::new(runner);
        sync.args(["sync", adapter])
            .arg(&config_path)
            .arg(&stream)
            .args(["2020-01-01", "--output"])
            .arg(&db)
            .stdout(Stdio::null())
            .stderr(File::create(&stderr)?);
        let started = Instant::now();
        let usage = Running::spawn(format!("`runner sync {adapter}`"), &mut sync)?.wait()?;
        through_runs.push((started.elapsed(), usage.cpu));
        check_success(&format!("`runner sync {adapter}` ({label})"), &usage, &stderr)?;
        let stored: u64 =
            rusqlite::Connection::open(&db)?.query_row("SELECT count(*) FROM records", [], |row| row.get(0))?;
        ensure!(stored == records, "`runner sync {adapter}` stored {stored} records of {label}, expected {records}");
    }
    let alone = timing(alone_runs, records);
    let through_runner = timing(through_runs, records);
    let overhead_ratio = through_runner.median_seconds / alone.median_seconds;
    Ok(TapResult { tap: label.to_owned(), records, alone, through_runner, overhead_ratio })
}

/// The first Stream `runner discover` lists, as JSON.
fn discover_first(runner: &Path, adapter: &str, config: &Path, label: &str) -> Result<String> {
    let output = Command::new(runner).args(["--json", "discover", adapter]).arg(config).output()?;
    ensure!(
        output.status.success(),
        "`runner discover {adapter}` ({label}) failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let wanted = if adapter == "airbyte" { "users" } else { "orders" };
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|stream| stream["id"] == wanted)
        .map(|stream| stream.to_string())
        .with_context(|| format!("`runner discover {adapter}` listed no stream `{wanted}`"))
}

/// RECORD lines in a tap's output file.
fn count_records(path: &Path) -> Result<u64> {
    let mut count = 0;
    for line in BufReader::new(File::open(path)?).lines() {
        if line?.contains(r#""type":"RECORD""#) {
            count += 1;
        }
    }
    Ok(count)
}

fn write_json(dir: &Path, name: &str, value: &Value) -> Result<PathBuf> {
    let path = dir.join(name);
    fs::write(&path, value.to_string()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The median run by wall time, with its CPU time.
fn timing(mut runs: Vec<(Duration, Duration)>, records: u64) -> Timing {
    runs.sort();
    let (wall, cpu) = runs[runs.len() / 2];
    let median_seconds = wall.as_secs_f64();
    Timing { median_seconds, records_per_second: records as f64 / median_seconds, cpu_seconds: cpu.as_secs_f64() }
}

impl fmt::Display for AdaptersReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runner-bench adapters: median of {} runs; {}\n", self.runs, self.machine)?;
        let mut table =
            Table::new(["tap", "case", "records", "median s", "records/s", "CPU s", "x alone"]).text_columns(2);
        for tap in &self.taps {
            for (case, timing, ratio) in [
                ("alone, to a file", &tap.alone, 1.0),
                ("adapter + runner into SQLite", &tap.through_runner, tap.overhead_ratio),
            ] {
                table.row(vec![
                    tap.tap.clone(),
                    case.to_owned(),
                    thousands(tap.records as f64),
                    format!("{:.2}", timing.median_seconds),
                    thousands(timing.records_per_second),
                    format!("{:.2}", timing.cpu_seconds),
                    format!("{ratio:.2}"),
                ]);
            }
        }
        writeln!(f, "{table}")
    }
}
