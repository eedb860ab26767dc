//! `runner runs` and `runner report`: what a database's history says, as a table, one JSON
//! document, or a self-contained HTML page ([`crate::html`]). Read through
//! [`store::history`]; nothing here writes to the database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{print, Settings, Status};
use crate::cli::{ReportArgs, RunsArgs};
use crate::console::Verbosity;
use crate::failure::CommandResult;
use crate::html;
use crate::human;
use crate::resolve;
use crate::untrusted::escape;
use store::history::{is_stale, Run, RunFilter, StreamStatus};
use store::RunOutcome;

/// Runs per (connection, stream) by default: the latest, or ten of one connection.
fn default_limit(connection: Option<&str>) -> u32 {
    if connection.is_some() {
        10
    } else {
        1
    }
}

/// One (connection, stream): how it stands and the runs shown for it.
struct StreamRows {
    status: StreamStatus,
    stale: bool,
    runs: Vec<Run>,
}

/// `runner runs`.
///
/// # Errors
/// A `--db` that is no database (bad input), or a database that cannot be read.
pub fn runs(settings: &Settings, request: &RunsArgs) -> CommandResult<Status> {
    let spec = resolve::output(&request.db)?;
    let mut history = spec.history()?;
    let now = Utc::now();
    let filter = RunFilter {
        connection: request.connection.clone(),
        failed_only: request.failed,
        per_stream: request.limit.unwrap_or_else(|| default_limit(request.connection.as_deref())),
    };
    let statuses = history.latest(request.connection.as_deref())?;
    let mut by_stream: BTreeMap<(String, String), Vec<Run>> = BTreeMap::new();
    for run in history.runs(&filter)? {
        by_stream.entry((run.connection.clone(), run.stream_id.clone())).or_default().push(run);
    }
    let streams: Vec<StreamRows> = statuses
        .into_iter()
        .filter_map(|status| {
            let key = (status.latest.connection.clone(), status.latest.stream_id.clone());
            let runs = by_stream.remove(&key)?;
            let stale = is_stale(status.last_success, now, request.stale_after);
            Some(StreamRows { status, stale, runs })
        })
        .collect();
    let text = if settings.json {
        format!("{}\n", to_json(history.describe(), &streams, now, request.stale_after))
    } else if settings.verbosity() > Verbosity::Quiet {
        table(history.describe(), &streams, now, request.stale_after, request)
    } else {
        String::new()
    };
    print(&text).context("writing the runs")?;
    Ok(Status::Success)
}

fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", human::age((now - at).to_std().unwrap_or(Duration::ZERO)))
}

fn table(
    database: &str,
    streams: &[StreamRows],
    now: DateTime<Utc>,
    stale_after: Duration,
    request: &RunsArgs,
) -> String {
    if streams.is_empty() {
        let what = match (&request.connection, request.failed) {
            (Some(name), true) => format!("no failed run of connection `{name}`"),
            (Some(name), false) => format!("no run of connection `{name}`"),
            (None, true) => "no failed run".to_owned(),
            (None, false) => "no run yet".to_owned(),
        };
        return format!("{what} in {database}\n");
    }
    let header = ["connection", "stream", "run", "started", "outcome", "records", "duration", "last success", "error"];
    let mut rows = vec![header.map(String::from)];
    for stream in streams {
        let last_success = match (stream.status.last_success, stream.stale) {
            (Some(at), false) => ago(at, now),
            (Some(at), true) => format!("{} STALE", ago(at, now)),
            (None, _) => "never STALE".to_owned(),
        };
        for run in &stream.runs {
            rows.push([
                run.connection.clone(),
                run.stream_id.clone(),
                run.id.to_string(),
                ago(run.started_at, now),
                run.state().to_owned(),
                run.records.to_string(),
                run.duration().map_or_else(|| "-".to_owned(), human::duration),
                last_success.clone(),
                run.headline().map_or_else(|| "-".to_owned(), |h| shorten(h, 160)),
            ]);
        }
    }
    let mut out = crate::table::columns(&rows);
    out.push_str(&format_drift(streams));
    let count = |outcome| streams.iter().filter(|s| s.status.latest.outcome == outcome).count();
    let stale = streams.iter().filter(|s| s.stale).count();
    let connections = streams.iter().map(|s| &s.status.latest.connection).collect::<BTreeSet<_>>();
    out.push_str(&format!(
        "\n{} of {} {}: {} failing, {} interrupted, {} running, {stale} stale (no success in the last {})\n",
        plural(streams.len(), "stream"),
        connections.len(),
        if connections.len() == 1 { "connection" } else { "connections" },
        count(Some(RunOutcome::Failed)),
        count(Some(RunOutcome::Interrupted)),
        count(None),
        human::age(stale_after),
    ));
    out
}

/// The format drift of the runs shown, a line per run, type and field, with the hint;
/// empty when none drifted.
fn format_drift(streams: &[StreamRows]) -> String {
    let lines: Vec<String> = streams
        .iter()
        .flat_map(|s| &s.runs)
        .flat_map(|run| run.format_drift.iter().map(move |line| (run, line)))
        .map(|(run, line)| {
            format!("  {}\n", escape(&format!("{}/{} run {}: {line}", run.connection, run.stream_id, run.id)))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("\nformat drift ({})\n{}", engine::format_drift::HINT, lines.concat())
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `text` cut to `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn to_json(database: &str, streams: &[StreamRows], now: DateTime<Utc>, stale_after: Duration) -> Value {
    let streams: Vec<Value> = streams
        .iter()
        .map(|s| {
            let latest = &s.status.latest;
            json!({
                "connection": latest.connection,
                "stream": latest.stream_id,
                "connector": latest.connector,
                "outcome": latest.state(),
                "last_success": s.status.last_success.map(time),
                "stale": s.stale,
                "runs_recorded": s.status.runs,
                "failures_recorded": s.status.failures,
                "runs": s.runs.iter().map(run_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "database": database,
        "now": time(now),
        "stale_after_s": stale_after.as_secs(),
        "streams": streams,
    })
}

fn run_json(run: &Run) -> Value {
    json!({
        "id": run.id,
        "started_at": time(run.started_at),
        "finished_at": run.finished_at.map(time),
        "outcome": run.state(),
        "records": run.records,
        "records_by_type": run.records_by_type,
        "rejected": run.rejected,
        "duration_ms": run.duration().map(|d| d.as_millis() as u64),
        "error": run.error,
        "format_drift": run.format_drift,
    })
}

/// `runner report`: reads the database, writes the page, prints its path.
///
/// # Errors
/// A `--db` that is no database (bad input), a database that cannot be read, or a file
/// that cannot be written.
pub fn report(settings: &Settings, request: &ReportArgs) -> CommandResult<Status> {
    let path = write_report(&request.db, &request.output, request.stale_after)?;
    if settings.json {
        print(&format!("{}\n", json!({ "report": path.display().to_string() })))?;
    } else if settings.verbosity() > Verbosity::Quiet {
        print(&format!("report written to {}\n", path.display()))?;
    }
    Ok(Status::Success)
}

/// Gathers the report of database `db` and writes it to `output`; returns the file's
/// absolute path. The demo calls it too.
///
/// # Errors
/// As [`report`].
pub fn write_report(db: &str, output: &std::path::Path, stale_after: Duration) -> CommandResult<PathBuf> {
    let spec = resolve::output(db)?;
    let mut history = spec.history()?;
    let data = html::gather(&mut history, Utc::now(), stale_after)?;
    let page = html::render(&data);
    html::write_atomically(output, &page).with_context(|| format!("cannot write the report {}", output.display()))?;
    Ok(std::path::absolute(output).unwrap_or_else(|_| output.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_with_an_ellipsis() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("ééé", 2), "é…");
    }
}
