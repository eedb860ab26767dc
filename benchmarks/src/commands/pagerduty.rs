//! `runner-bench pagerduty`: the PagerDuty connector through the runner against the
//! simulator, in-process, sized to N incidents: how many requests a full sync needs, how
//! many were refused (429), and how long it takes next to the rate limit's bound
//! (requests ÷ requests allowed per second). With `--connections N`, N connections on the
//! same token sync the same account at once through `runner sync-all --jobs N`, sharing
//! the token's budget.

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
use crate::outputs::sqlite_records_by_connection;
use crate::process::{check_success, own_peak_rss_kib, Running};
use crate::report::{optional, rss_note, thousands, Machine, Table, MB};
use crate::workload::create;

/// Requests of a sync besides incident and log-entry pages: discover's one, and the six
/// small lists (users, teams, services, escalation policies, priorities, on-calls).
const SMALL_LIST_REQUESTS: u64 = 1 + 6;

/// What a sync may take beyond the rate limit's bound (start-up, the last answers): the
/// target is `slack x bound + TARGET_ALLOWANCE_SECONDS`.
const TARGET_ALLOWANCE_SECONDS: f64 = 2.0;

/// The target's slack over the bound: one connection paces itself alone; several on one
/// token learn of each other only from the headers, so they are allowed a little more.
fn target_slack(connections: u32) -> f64 {
    if connections > 1 {
        1.2
    } else {
        1.15
    }
}

/// What `pagerduty` prints.
#[derive(Debug, Serialize)]
pub struct PagerdutyReport {
    machine: Machine,
    days: u32,
    max_requests_per_minute: u32,
    max_concurrency: Option<u32>,
    latency_ms: u64,
    latency_jitter_ms: u64,
    rate_limit_rpm: Option<u32>,
    connections: u32,
    syncs: Vec<PagerdutySync>,
    harness_peak_rss_mb: f64,
}

/// One full sync (by every connection) of a simulator with `incidents` incidents.
#[derive(Debug, Serialize)]
struct PagerdutySync {
    /// Incidents the simulator serves (ground truth).
    incidents: u64,
    /// Log entries the simulator serves since the cutoff (ground truth).
    log_entries: u64,
    /// Records stored by one connection, by `_type` (every connection stores the same).
    records_by_type: BTreeMap<String, u64>,
    /// All records stored, every connection.
    records: u64,
    /// API requests the simulator answered, every connection.
    requests: u64,
    /// The fewest requests the syncs could make: a page per 100 incidents and per 100 log
    /// entries, plus the small lists, for each connection.
    minimal_requests: u64,
    /// Requests answered 429 (over the token's rate limit).
    rate_limited: u64,
    /// The most requests in progress at once, at the simulator.
    peak_concurrency: u64,
    /// Requests by path (IDs grouped as `{id}`).
    requests_by_path: BTreeMap<String, u64>,
    seconds: f64,
    /// `requests` at the rate limit (the simulator's, else the connector's ceiling): the
    /// least time they can take.
    bound_seconds: f64,
    /// The wall time aimed at: `1.15 x bound + 2 s` for one connection, `1.2 x bound + 2 s`
    /// for several sharing a token.
    target_seconds: f64,
    records_per_second: f64,
    peak_rss_mb: f64,
}

impl PagerdutySync {
    /// Wall time over the rate limit's bound.
    fn over_bound(&self) -> f64 {
        self.seconds / self.bound_seconds.max(f64::MIN_POSITIVE)
    }
}

/// One synced simulator per incident count.
pub fn run(bins: &BinDir, args: &PagerdutyArgs) -> Result<PagerdutyReport> {
    let runner = bins.require(Binary::Runner)?;
    let connector = bins.require(Binary::ConnectorPagerduty)?;
    let latency_jitter_ms = jitter(args);
    if latency_jitter_ms > args.latency_ms {
        bail!("--latency-jitter-ms {latency_jitter_ms} is more than --latency-ms {}", args.latency_ms);
    }
    let mut syncs = Vec::new();
    for &incidents in &args.incidents {
        let sync = sync_once(&runner, &connector, incidents, args)
            .with_context(|| format!("PagerDuty sync of {incidents} simulated incidents"))?;
        eprintln!(
            "runner-bench: PagerDuty, {incidents} incidents, {} connection(s): {} requests, {} answered 429, {:.3} s \
             ({:.2} x the rate limit's bound; target {:.1} s)",
            args.connections,
            sync.requests,
            sync.rate_limited,
            sync.seconds,
            sync.over_bound(),
            sync.target_seconds
        );
        syncs.push(sync);
    }
    Ok(PagerdutyReport {
        machine: Machine::current(),
        days: args.days,
        max_requests_per_minute: args.max_requests_per_minute,
        max_concurrency: args.max_concurrency,
        latency_ms: args.latency_ms,
        latency_jitter_ms,
        rate_limit_rpm: args.rate_limit_rpm,
        connections: args.connections,
        syncs,
        harness_peak_rss_mb: own_peak_rss_kib() as f64 * 1024.0 / MB,
    })
}

fn jitter(args: &PagerdutyArgs) -> u64 {
    args.latency_jitter_ms.unwrap_or(args.latency_ms / 4)
}

fn sync_once(runner: &Path, connector: &Path, incidents: u64, args: &PagerdutyArgs) -> Result<PagerdutySync> {
    let server = start_blocking(MockConfig {
        incidents,
        days: args.days,
        latency_ms: args.latency_ms,
        latency_jitter_ms: jitter(args),
        rate_limit_rpm: args.rate_limit_rpm,
        ..MockConfig::default()
    })
    .context("cannot start the PagerDuty simulator")?;
    let truth = server.dataset();
    // A day before the simulated history starts: the sync covers all of it.
    let since = truth.start() - chrono::Duration::days(1);
    let until = truth.now() + chrono::Duration::seconds(1);
    let dir =
        tempfile::Builder::new().prefix("runner-bench-pd-").tempdir().context("cannot create a temporary directory")?;
    let config = write_config(dir.path(), &server, args)?;
    let db = dir.path().join("pd.db");
    let stderr = dir.path().join("runner.stderr");

    let mut command = Command::new(runner);
    if args.connections == 1 {
        command.arg("sync").arg(connector).arg(&config).arg(protocol::format_instant(since));
    } else {
        let file = write_connections(dir.path(), connector, &config, args.connections, since)?;
        command.arg("sync-all").arg(file).arg("--jobs").arg(args.connections.to_string());
    }
    command.arg("--output").arg(&db).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::null());
    command.stderr(create(&stderr)?);
    let started = Instant::now();
    let usage = Running::spawn("`runner sync connector-pagerduty`", &mut command)?.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    check_success("`runner sync connector-pagerduty`", &usage, &stderr)?;

    let log_entries = truth.log_entry_count_between(since, until);
    let by_connection = sqlite_records_by_connection(&db)?;
    if by_connection.len() != args.connections as usize {
        bail!("records of {} connections stored, {} synced", by_connection.len(), args.connections);
    }
    for (connection, records_by_type) in &by_connection {
        let stored = |kind: &str| records_by_type.get(kind).copied().unwrap_or(0);
        if stored("Incident") != truth.incident_count() {
            bail!(
                "{connection}: {} Incident records stored, the simulator serves {}",
                stored("Incident"),
                truth.incident_count()
            );
        }
        if stored("IncidentLogEntry") != log_entries {
            bail!(
                "{connection}: {} IncidentLogEntry records stored, the simulator serves {log_entries}",
                stored("IncidentLogEntry")
            );
        }
    }
    let records: u64 = by_connection.values().flat_map(BTreeMap::values).sum();
    let stats = server.stats();
    let per_second = f64::from(args.rate_limit_rpm.unwrap_or(args.max_requests_per_minute)) / 60.0;
    let minimal = truth.incident_count().div_ceil(100) + log_entries.div_ceil(100) + SMALL_LIST_REQUESTS;
    Ok(PagerdutySync {
        incidents: truth.incident_count(),
        log_entries,
        records,
        records_by_type: by_connection.into_values().next().unwrap_or_default(),
        requests: stats.total,
        minimal_requests: minimal * u64::from(args.connections),
        rate_limited: stats.by_status.get("429").copied().unwrap_or(0),
        peak_concurrency: stats.peak_concurrency,
        requests_by_path: stats.by_path.keys().map(|path| (path.clone(), stats.requests_to(path))).collect(),
        seconds,
        bound_seconds: stats.total as f64 / per_second,
        target_seconds: target_slack(args.connections) * (stats.total as f64 / per_second) + TARGET_ALLOWANCE_SECONDS,
        records_per_second: records as f64 / seconds,
        peak_rss_mb: usage.max_rss_kib as f64 * 1024.0 / MB,
    })
}

/// The connector's configuration, pointed at the simulator.
fn write_config(dir: &Path, server: &MockServer, args: &PagerdutyArgs) -> Result<PathBuf> {
    let path = dir.join("pd.json");
    let mut body = serde_json::json!({
        "apiToken": MockConfig::default().token,
        "apiBaseUrl": server.base_url(),
        "maxRequestsPerMinute": args.max_requests_per_minute,
    });
    if let Some(concurrency) = args.max_concurrency {
        body["maxConcurrency"] = concurrency.into();
    }
    std::fs::write(&path, body.to_string()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A `sync-all` file of `count` connections of the same account and token.
fn write_connections(
    dir: &Path,
    connector: &Path,
    config: &Path,
    count: u32,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<PathBuf> {
    let path = dir.join("connections.toml");
    let quoted = |path: &Path| toml_string(&path.display().to_string());
    let mut text = format!("[defaults]\ncutoff = {}\n", toml_string(&protocol::format_instant(since)));
    for number in 1..=count {
        text.push_str(&format!(
            "\n[[connection]]\nname = \"pd-{number}\"\nconnector = {}\nconfig = {}\n",
            quoted(connector),
            quoted(config)
        ));
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl fmt::Display for PagerdutyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = self.rate_limit_rpm.map_or_else(|| "off".to_owned(), |rpm| format!("{rpm}/min per token"));
        let concurrency = self.max_concurrency.map_or_else(|| "default".to_owned(), |c| c.to_string());
        writeln!(
            f,
            "runner-bench pagerduty: {} connection(s) of connector-pagerduty → runner → SQLite against the simulator \
             (incidents over {} days, latency {} ± {} ms, rate limit {limit}; maxRequestsPerMinute {}, \
             maxConcurrency {concurrency}); {}\n",
            self.connections,
            self.days,
            self.latency_ms,
            self.latency_jitter_ms,
            self.max_requests_per_minute,
            self.machine
        )?;
        writeln!(f, "{}", self.summary())?;
        writeln!(
            f,
            "Minimal requests: a page per 100 incidents and per 100 log entries, plus discover and the six small \
             lists, per connection. Bound: the requests at the rate limit's pace ({}); a sync needing less than \
             a window's budget may beat it. Target: {} x bound + {TARGET_ALLOWANCE_SECONDS} s (MISSED when the wall \
             time is over it).\n",
            self.rate_limit_rpm.map_or_else(
                || format!("the connector's maxRequestsPerMinute, {}", self.max_requests_per_minute),
                |rpm| format!("the simulator's {rpm} per minute")
            ),
            target_slack(self.connections)
        )?;
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
            "requests",
            "minimal",
            "x minimal",
            "429s",
            "peak concurrency",
            "wall s",
            "bound s",
            "x bound",
            "target s",
            "records/s",
            "peak RSS MB",
        ]);
        for sync in &self.syncs {
            table.row(vec![
                thousands(sync.incidents as f64),
                thousands(sync.log_entries as f64),
                thousands(sync.records as f64),
                thousands(sync.requests as f64),
                thousands(sync.minimal_requests as f64),
                format!("{:.3}", sync.requests as f64 / sync.minimal_requests.max(1) as f64),
                thousands(sync.rate_limited as f64),
                thousands(sync.peak_concurrency as f64),
                format!("{:.1}", sync.seconds),
                format!("{:.1}", sync.bound_seconds),
                optional(Some(sync.over_bound()), 2),
                format!(
                    "{:.1}{}",
                    sync.target_seconds,
                    if sync.seconds <= sync.target_seconds { "" } else { " MISSED" }
                ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_connections_on_one_token_are_allowed_a_little_more_over_the_bound() {
        assert_eq!(target_slack(1), 1.15);
        assert_eq!(target_slack(2), 1.2);
        assert_eq!(target_slack(8), 1.2);
    }

    #[test]
    fn the_connections_file_names_each_connection_and_quotes_paths() {
        let dir = tempfile::tempdir().unwrap();
        let since = protocol::parse_cutoff("2025-01-01").unwrap();
        let path =
            write_connections(dir.path(), Path::new("/bin/connector \"pd\""), Path::new("/tmp/pd.json"), 2, since)
                .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let parsed: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(parsed["defaults"]["cutoff"].as_str(), Some("2025-01-01T00:00:00Z"));
        let connections = parsed["connection"].as_array().unwrap();
        let names: Vec<&str> = connections.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["pd-1", "pd-2"]);
        assert!(connections.iter().all(|c| c["connector"].as_str() == Some("/bin/connector \"pd\"")));
        assert!(connections.iter().all(|c| c["config"].as_str() == Some("/tmp/pd.json")));
    }
}
