//! `runner-bench pagerduty`: the PagerDuty connector through the runner against the
//! simulator, in-process, sized to N incidents: how many requests a full sync needs, and
//! how long it takes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pagerduty_mock::{start_blocking, MockConfig, MockServer};
use serde::Serialize;

use super::PagerdutyArgs;
use crate::bins::{BinDir, Binary};
use crate::outputs::sqlite_records_by_type;
use crate::process::{check_success, own_peak_rss_kib, Running};
use crate::report::{rss_note, thousands, Machine, Table, MB};
use crate::workload::create;

/// What `pagerduty` prints.
#[derive(Debug, Serialize)]
pub struct PagerdutyReport {
    machine: Machine,
    days: u32,
    max_requests_per_minute: u32,
    syncs: Vec<PagerdutySync>,
    harness_peak_rss_mb: f64,
}

/// One full sync of a simulator with `incidents` incidents.
#[derive(Debug, Serialize)]
struct PagerdutySync {
    /// Incidents the simulator serves (ground truth).
    incidents: u64,
    /// Log entries the simulator serves since the cutoff (ground truth).
    log_entries: u64,
    /// Records stored, by `_type`.
    records_by_type: BTreeMap<String, u64>,
    /// All records stored.
    records: u64,
    /// API requests the simulator answered.
    requests: u64,
    /// Requests by path (IDs grouped as `{id}`).
    requests_by_path: BTreeMap<String, u64>,
    seconds: f64,
    records_per_second: f64,
    peak_rss_mb: f64,
}

/// One synced simulator per incident count.
pub fn run(bins: &BinDir, args: &PagerdutyArgs) -> Result<PagerdutyReport> {
    let runner = bins.require(Binary::Runner)?;
    let connector = bins.require(Binary::ConnectorPagerduty)?;
    let mut syncs = Vec::new();
    for &incidents in &args.incidents {
        let sync = sync_once(&runner, &connector, incidents, args)
            .with_context(|| format!("PagerDuty sync of {incidents} simulated incidents"))?;
        eprintln!("runner-bench: PagerDuty, {incidents} incidents: {:.3} s", sync.seconds);
        syncs.push(sync);
    }
    Ok(PagerdutyReport {
        machine: Machine::current(),
        days: args.days,
        max_requests_per_minute: args.max_requests_per_minute,
        syncs,
        harness_peak_rss_mb: own_peak_rss_kib() as f64 * 1024.0 / MB,
    })
}

fn sync_once(runner: &Path, connector: &Path, incidents: u64, args: &PagerdutyArgs) -> Result<PagerdutySync> {
    let server = start_blocking(MockConfig { incidents, days: args.days, ..MockConfig::default() })
        .context("cannot start the PagerDuty simulator")?;
    let truth = server.dataset();
    // A day before the simulated history starts: the sync covers all of it.
    let since = truth.start() - chrono::Duration::days(1);
    let until = truth.now() + chrono::Duration::seconds(1);
    let dir =
        tempfile::Builder::new().prefix("runner-bench-pd-").tempdir().context("cannot create a temporary directory")?;
    let config = write_config(dir.path(), &server, args.max_requests_per_minute)?;
    let db = dir.path().join("pd.db");
    let stderr = dir.path().join("runner.stderr");

    let mut command = Command::new(runner);
    command.arg("sync").arg(connector).arg(&config).arg(protocol::format_instant(since));
    command.arg("--output").arg(&db).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::null());
    command.stderr(create(&stderr)?);
    let started = Instant::now();
    let usage = Running::spawn("`runner sync connector-pagerduty`", &mut command)?.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    check_success("`runner sync connector-pagerduty`", &usage, &stderr)?;

    let records_by_type = sqlite_records_by_type(&db)?;
    let stored = records_by_type.get("Incident").copied().unwrap_or(0);
    if stored != truth.incident_count() {
        bail!("{stored} Incident records stored, the simulator serves {}", truth.incident_count());
    }
    let log_entries = truth.log_entry_count_between(since, until);
    let stored = records_by_type.get("IncidentLogEntry").copied().unwrap_or(0);
    if stored != log_entries {
        bail!("{stored} IncidentLogEntry records stored, the simulator serves {log_entries}");
    }
    let records: u64 = records_by_type.values().sum();
    let stats = server.stats();
    Ok(PagerdutySync {
        incidents: truth.incident_count(),
        log_entries,
        records,
        records_by_type,
        requests: stats.total,
        requests_by_path: stats.by_path.keys().map(|path| (path.clone(), stats.requests_to(path))).collect(),
        seconds,
        records_per_second: records as f64 / seconds,
        peak_rss_mb: usage.max_rss_kib as f64 * 1024.0 / MB,
    })
}

/// The connector's configuration, pointed at the simulator.
fn write_config(dir: &Path, server: &MockServer, max_requests_per_minute: u32) -> Result<PathBuf> {
    let path = dir.join("pd.json");
    let body = serde_json::json!({
        "apiToken": MockConfig::default().token,
        "apiBaseUrl": server.base_url(),
        "maxRequestsPerMinute": max_requests_per_minute,
    });
    std::fs::write(&path, body.to_string()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

impl fmt::Display for PagerdutyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "runner-bench pagerduty: connector-pagerduty → runner → SQLite against the simulator \
             (incidents over {} days, maxRequestsPerMinute {}); {}\n",
            self.days, self.max_requests_per_minute, self.machine
        )?;
        writeln!(f, "{}", self.summary())?;
        writeln!(f, "{}", rss_note(self.harness_peak_rss_mb))?;
        write!(f, "Requests by path:\n\n{}", self.requests_by_path())
    }
}

impl PagerdutyReport {
    fn summary(&self) -> Table {
        let mut table = Table::new([
            "incidents",
            "log entries",
            "records stored",
            "Incident",
            "IncidentLogEntry",
            "other records",
            "requests",
            "requests / 100 records",
            "wall s",
            "records/s",
            "peak RSS MB",
        ]);
        for sync in &self.syncs {
            let of_type = |t: &str| sync.records_by_type.get(t).copied().unwrap_or(0);
            let (incidents, entries) = (of_type("Incident"), of_type("IncidentLogEntry"));
            table.row(vec![
                thousands(sync.incidents as f64),
                thousands(sync.log_entries as f64),
                thousands(sync.records as f64),
                thousands(incidents as f64),
                thousands(entries as f64),
                thousands((sync.records - incidents - entries) as f64),
                thousands(sync.requests as f64),
                format!("{:.2}", sync.requests as f64 * 100.0 / sync.records.max(1) as f64),
                format!("{:.3}", sync.seconds),
                thousands(sync.records_per_second),
                format!("{:.1}", sync.peak_rss_mb),
            ]);
        }
        table
    }

    /// One row per path, one column per sync.
    fn requests_by_path(&self) -> Table {
        let headers = self.syncs.iter().map(|sync| format!("{} incidents", thousands(sync.incidents as f64)));
        let mut table = Table::new(std::iter::once("path".to_owned()).chain(headers));
        let paths: std::collections::BTreeSet<&String> =
            self.syncs.iter().flat_map(|sync| sync.requests_by_path.keys()).collect();
        for path in paths {
            let counts =
                self.syncs.iter().map(|sync| thousands(sync.requests_by_path.get(path).copied().unwrap_or(0) as f64));
            table.row(std::iter::once(path.clone()).chain(counts).collect());
        }
        table
    }
}
