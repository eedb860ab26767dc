//! `runner report`: one self-contained HTML page of a database's history and data.
//!
//! [`gather`] reads everything through [`store::history`] (runs,
//! records per type, incident facts streamed into [`incidents::IncidentStats`]);
//! [`render`] turns it into a page: inline CSS with a light and a dark palette
//! (`prefers-color-scheme`), inline SVG charts ([`svg`], drawn by hand: each has a
//! `<title>`, a `<desc>` and a data table beside it), no script, no external resource, so
//! it opens anywhere, offline, and reads on a phone. Every text that comes from the
//! database (connection names, stream ids, errors, record fields) goes through [`escape`].

pub mod incidents;
mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::human;
use incidents::{IncidentStats, WEEKDAYS};
use store::atomic;
use store::history::{is_stale, History, HistoryError, Run, RunFilter, RunState, StreamStatus, TypeCount};
use svg::{Bar, Row, Segment};

/// Runs drawn on each stream's timeline, the newest.
pub const RUNS_SHOWN: u32 = 60;
/// Failures listed with their errors per stream, the newest.
const FAILURES_SHOWN: u32 = 5;
/// Services in the per-service charts, the noisiest.
const SERVICES_SHOWN: usize = 12;

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The database, as people see it (never a password).
    pub database: String,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// A stream whose last success is older than this is stale.
    pub stale_after: Duration,
    /// Every connection, by name.
    pub connections: Vec<ConnectionData>,
    /// Records stored per connection and type.
    pub records: Vec<TypeCount>,
}

/// One connection's part of the page.
#[derive(Debug, Clone)]
pub struct ConnectionData {
    /// Its name.
    pub name: String,
    /// Its streams, by id.
    pub streams: Vec<StreamData>,
    /// Its incidents, if it stores Incident records.
    pub incidents: Option<IncidentStats>,
}

/// One stream's runs.
#[derive(Debug, Clone)]
pub struct StreamData {
    /// The latest run, the last success, counts.
    pub status: StreamStatus,
    /// No success within the stale window.
    pub stale: bool,
    /// The newest [`RUNS_SHOWN`] runs, oldest first.
    pub runs: Vec<Run>,
    /// The newest failed runs, newest first.
    pub failures: Vec<Run>,
}

/// Reads what the page shows.
///
/// # Errors
/// The database cannot be read.
pub fn gather(history: &mut History, now: DateTime<Utc>, stale_after: Duration) -> Result<ReportData, HistoryError> {
    let statuses = history.latest(None)?;
    let mut runs = group(history.runs(&RunFilter { connection: None, failed_only: false, per_stream: RUNS_SHOWN })?);
    let mut failures =
        group(history.runs(&RunFilter { connection: None, failed_only: true, per_stream: FAILURES_SHOWN })?);
    let records = history.records_by_type()?;
    let mut incidents: BTreeMap<String, IncidentStats> = BTreeMap::new();
    incidents::each_incident(history, &mut |facts| incidents.entry(facts.connection.clone()).or_default().add(&facts))?;

    let mut connections: BTreeMap<String, ConnectionData> = BTreeMap::new();
    let connection = |name: &str| -> ConnectionData {
        ConnectionData { name: name.to_owned(), streams: Vec::new(), incidents: None }
    };
    for status in statuses {
        let key = (status.latest.connection.clone(), status.latest.stream_id.clone());
        let mut stream_runs = runs.remove(&key).unwrap_or_default();
        stream_runs.reverse();
        let stale = is_stale(status.last_success, now, stale_after);
        let data = StreamData { stale, runs: stream_runs, failures: failures.remove(&key).unwrap_or_default(), status };
        connections.entry(key.0.clone()).or_insert_with(|| connection(&key.0)).streams.push(data);
    }
    for count in &records {
        connections.entry(count.connection.clone()).or_insert_with(|| connection(&count.connection));
    }
    for (name, stats) in incidents {
        connections.entry(name.clone()).or_insert_with(|| connection(&name)).incidents = Some(stats);
    }
    Ok(ReportData {
        database: history.describe().to_owned(),
        generated_at: now,
        stale_after,
        connections: connections.into_values().collect(),
        records,
    })
}

/// Runs by (connection, stream), in the order given.
fn group(runs: Vec<Run>) -> BTreeMap<(String, String), Vec<Run>> {
    let mut grouped: BTreeMap<(String, String), Vec<Run>> = BTreeMap::new();
    for run in runs {
        grouped.entry((run.connection.clone(), run.stream_id.clone())).or_default().push(run);
    }
    grouped
}

/// Writes `page` to `path`, replacing it atomically (a reader never sees half a page).
///
/// # Errors
/// The directory cannot be written.
pub fn write_atomically(path: &Path, page: &str) -> std::io::Result<()> {
    atomic::replace_file(path, page.as_bytes())
}

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The stylesheet: two palettes, readable contrast in both, narrow screens in mind.
const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--card:#f6f8fa;--line:#d1d9e0;
--ok:#1a7f37;--failed:#cf222e;--interrupted:#9a6700;--running:#0969da;--high:#bc4c00;--low:#0969da;--other:#818b98;
--mtta:#8250df;--mttr:#0969da;--heat:#cf222e;--records:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#151b23;--line:#3d444d;
--ok:#3fb950;--failed:#f85149;--interrupted:#d29922;--running:#4493f8;--high:#f0883e;--low:#4493f8;--other:#9198a1;
--mtta:#ab7df8;--mttr:#4493f8;--heat:#f85149;--records:#4493f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 16px}
header{padding-top:16px}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line)}
h3{font-size:1.1rem;margin:1.5rem 0 .5rem}h4{font-size:1rem;margin:1rem 0 .25rem}
.muted{color:var(--muted)}
figure{margin:.75rem 0;padding:12px;background:var(--card);border:1px solid var(--line);border-radius:8px}
figcaption{font-weight:600;margin-bottom:.25rem}
svg.chart{display:block;width:100%;height:auto}
svg text{fill:var(--fg);font-size:12px;font-family:inherit}svg text.axis{fill:var(--muted)}
svg .grid{stroke:var(--line);stroke-width:1}svg .baseline{stroke:var(--muted);stroke-width:1}
.ok{fill:var(--ok)}.failed{fill:var(--failed)}.interrupted{fill:var(--interrupted)}.running{fill:var(--running)}
.high{fill:var(--high)}.low{fill:var(--low)}.other{fill:var(--other)}.mtta{fill:var(--mtta)}.mttr{fill:var(--mttr)}
.records{fill:var(--records)}.heat{fill:var(--heat)}.heat0{fill:var(--line);fill-opacity:.35}
.legend{list-style:none;padding:0;margin:.25rem 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.9rem}
.sw{display:inline-block;width:.8em;height:.8em;margin-right:.35em;border-radius:2px;vertical-align:-.05em}
.sw.ok{background:var(--ok)}.sw.failed{background:var(--failed)}.sw.interrupted{background:var(--interrupted)}
.sw.running{background:var(--running)}.sw.high{background:var(--high)}.sw.low{background:var(--low)}
.sw.other{background:var(--other)}.sw.mtta{background:var(--mtta)}.sw.mttr{background:var(--mttr)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85rem;font-weight:600;border:1px solid currentColor}
.badge.succeeded{color:var(--ok)}.badge.failed,.badge.stale{color:var(--failed)}.badge.interrupted{color:var(--interrupted)}
.badge.running{color:var(--running)}
pre{white-space:pre-wrap;word-break:break-word;background:var(--card);border:1px solid var(--line);padding:8px;
border-radius:6px;font-size:.85rem;max-height:20em;overflow:auto}
details summary{cursor:pointer}
ul.failures{padding-left:1.2rem}
@media (max-width:600px){body{font-size:15px}th,td{padding:3px 5px}h1{font-size:1.3rem}}
"#;

/// The whole page.
pub fn render(data: &ReportData) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let generated = data.generated_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>Sync report: {db}</title><style>{STYLE}</style></head><body>\
         <header><h1>Sync report</h1><p class=\"muted\">Database <code>{db}</code>, made {generated}. \
         A stream is <strong>stale</strong> when it has had no successful run in the last {stale}. \
         Times are UTC.</p></header><main>",
        db = escape(&data.database),
        stale = human::age(data.stale_after),
    );
    overview(&mut out, data);
    records(&mut out, data);
    for (index, connection) in data.connections.iter().enumerate() {
        connection_section(&mut out, index, connection, data.generated_at);
    }
    out.push_str(
        "</main><footer><p class=\"muted\">Made by <code>runner report</code>. Self-contained: no script, no \
         network.</p></footer></body></html>\n",
    );
    out
}

fn badge(state: RunState) -> String {
    let class = if state == RunState::Succeeded { "succeeded" } else { state.as_str() };
    format!("<span class=\"badge {class}\">{}</span>", state.as_str())
}

fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", human::age((now - at).to_std().unwrap_or(Duration::ZERO)))
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

fn overview(out: &mut String, data: &ReportData) {
    out.push_str("<section aria-labelledby=\"overview\"><h2 id=\"overview\">At a glance</h2>");
    let streams: Vec<(&ConnectionData, &StreamData)> =
        data.connections.iter().flat_map(|c| c.streams.iter().map(move |s| (c, s))).collect();
    if streams.is_empty() {
        out.push_str("<p>No sync run is recorded in this database yet.</p></section>");
        return;
    }
    let failing = streams.iter().filter(|(_, s)| s.status.latest.state == RunState::Failed).count();
    let stale = streams.iter().filter(|(_, s)| s.stale).count();
    let _ = write!(
        out,
        "<p>{} of {}: <strong>{failing} failing</strong> (latest run failed), \
         <strong>{stale} stale</strong>.</p><div class=\"scroll\"><table><caption class=\"muted\">The latest run \
         of each stream</caption><thead><tr><th scope=\"col\">connection</th><th scope=\"col\">stream</th>\
         <th scope=\"col\">latest run</th><th scope=\"col\">started</th><th scope=\"col\" class=\"n\">records</th>\
         <th scope=\"col\">last success</th><th scope=\"col\" class=\"n\">runs</th><th scope=\"col\" class=\"n\">\
         failures</th><th scope=\"col\">error</th></tr></thead><tbody>",
        count(streams.len(), "stream"),
        count(data.connections.iter().filter(|c| !c.streams.is_empty()).count(), "connection"),
    );
    for (index, (connection, stream)) in streams.iter().enumerate() {
        let latest = &stream.status.latest;
        let last_success = match stream.status.last_success {
            Some(at) => ago(at, data.generated_at),
            None => "never".to_owned(),
        };
        let stale = if stream.stale { " <span class=\"badge stale\">stale</span>" } else { "" };
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><a href=\"#c{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td>{last_success}{stale}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            data.connections.iter().position(|c| c.name == connection.name).unwrap_or(index),
            escape(&connection.name),
            escape(&latest.stream_id),
            badge(latest.state),
            time(latest.started_at),
            latest.records,
            stream.status.runs,
            stream.status.failures,
            latest.headline().map(|h| escape(&svg::shorten(h, 120))).unwrap_or_default(),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// `n noun`, with an `s` unless n is 1.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn records(out: &mut String, data: &ReportData) {
    out.push_str("<section aria-labelledby=\"records\"><h2 id=\"records\">Records stored per type</h2>");
    if data.records.is_empty() {
        out.push_str("<p>No records are stored.</p></section>");
        return;
    }
    let total: u64 = data.records.iter().map(|r| r.count).sum();
    let rows: Vec<Row> = data
        .records
        .iter()
        .map(|r| Row {
            label: format!("{} · {}", r.connection, r.record_type),
            bars: vec![Segment {
                class: "records",
                value: r.count as f64,
                tip: format!("{} records of type {} in connection {}", r.count, r.record_type, r.connection),
            }],
            value_text: vec![r.count.to_string()],
        })
        .collect();
    let title = "Records stored per type";
    let desc = format!(
        "{total} records in all; {}",
        data.records
            .iter()
            .map(|r| format!("{} {}: {}", r.connection, r.record_type, r.count))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let _ = write!(
        out,
        "<figure><figcaption>{title}</figcaption>{}<details><summary>Data</summary><div class=\"scroll\"><table>\
         <thead><tr><th scope=\"col\">connection</th><th scope=\"col\">type</th><th scope=\"col\" class=\"n\">records</th>\
         </tr></thead><tbody>",
        svg::horizontal_bars("records-chart", title, &desc, &rows)
    );
    for r in &data.records {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&r.connection),
            escape(&r.record_type),
            r.count
        );
    }
    let _ = write!(out, "</tbody></table></div></details></figure></section>");
}

fn connection_section(out: &mut String, index: usize, connection: &ConnectionData, now: DateTime<Utc>) {
    let _ = write!(
        out,
        "<section aria-labelledby=\"c{index}\"><h2 id=\"c{index}\">Connection {}</h2>",
        escape(&connection.name)
    );
    for (s, stream) in connection.streams.iter().enumerate() {
        stream_part(out, &format!("c{index}s{s}"), &connection.name, stream, now);
    }
    if let Some(stats) = &connection.incidents {
        incident_part(out, &format!("c{index}i"), &connection.name, stats);
    }
    out.push_str("</section>");
}

fn stream_part(out: &mut String, id: &str, connection: &str, stream: &StreamData, now: DateTime<Utc>) {
    let latest = &stream.status.latest;
    let last_success = match stream.status.last_success {
        Some(at) => format!("last success {} ({} UTC)", ago(at, now), time(at)),
        None => "never succeeded".to_owned(),
    };
    let stale = if stream.stale { " <span class=\"badge stale\">stale</span>" } else { "" };
    let _ = write!(
        out,
        "<h3>Stream {} <span class=\"muted\">({})</span></h3><p>Latest run {} {}; {last_success}{stale}. \
         {} runs recorded, {} failed.</p>",
        escape(&latest.stream_id),
        escape(&latest.connector),
        badge(latest.state),
        ago(latest.started_at, now),
        stream.status.runs,
        stream.status.failures
    );
    let bars: Vec<Bar> = stream
        .runs
        .iter()
        .map(|run| {
            let class = match run.state {
                RunState::Succeeded => "ok",
                RunState::Failed => "failed",
                RunState::Interrupted => "interrupted",
                RunState::Running => "running",
            };
            let duration = run.duration().map_or_else(|| "still running".to_owned(), human::duration);
            let mut tip = format!(
                "run {} at {} UTC: {}, {} records, {duration}",
                run.id,
                time(run.started_at),
                run.state.as_str(),
                run.records
            );
            if let Some(headline) = run.headline() {
                tip.push_str(&format!(": {}", svg::shorten(headline, 200)));
            }
            Bar {
                segments: vec![Segment { class, value: run.records as f64, tip }],
                label: run.started_at.format("%m-%d").to_string(),
            }
        })
        .collect();
    let title = format!("Runs of {connection} / {}: records per run, coloured by outcome", latest.stream_id);
    let count = |state| stream.runs.iter().filter(|r| r.state == state).count();
    let desc = format!(
        "The last {} runs, oldest first: {} succeeded, {} failed, {} interrupted, {} running; {} records in the latest.",
        stream.runs.len(),
        count(RunState::Succeeded),
        count(RunState::Failed),
        count(RunState::Interrupted),
        count(RunState::Running),
        latest.records
    );
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption><ul class=\"legend\" aria-hidden=\"true\"><li><span class=\"sw ok\"></span>\
         succeeded</li><li><span class=\"sw failed\"></span>failed</li><li><span class=\"sw interrupted\"></span>\
         interrupted</li><li><span class=\"sw running\"></span>running</li></ul>{}<details><summary>Data</summary>\
         <div class=\"scroll\"><table><thead><tr><th scope=\"col\">run</th><th scope=\"col\">started (UTC)</th>\
         <th scope=\"col\">outcome</th><th scope=\"col\" class=\"n\">records</th><th scope=\"col\">duration</th></tr>\
         </thead><tbody>",
        escape(&title),
        svg::vertical_bars(&format!("{id}-runs"), &title, &desc, &bars, "records", true)
    );
    for run in stream.runs.iter().rev() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            run.id,
            time(run.started_at),
            run.state.as_str(),
            run.records,
            run.duration().map_or_else(|| "-".to_owned(), human::duration)
        );
    }
    out.push_str("</tbody></table></div></details></figure>");
    if !stream.failures.is_empty() {
        out.push_str("<h4>Recent failures</h4><ul class=\"failures\">");
        for run in &stream.failures {
            let error = run.error.as_deref().unwrap_or("(no error was recorded)");
            let _ = write!(
                out,
                "<li><time datetime=\"{}\">{} UTC</time>, run {}: <details><summary>{}</summary><pre>{}</pre></details></li>",
                run.started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                time(run.started_at),
                run.id,
                escape(run.headline().unwrap_or("(no error was recorded)")),
                escape(error)
            );
        }
        out.push_str("</ul>");
    }
}

/// Seconds as minutes with one decimal.
pub fn minutes(seconds: f64) -> String {
    format!("{:.1}", seconds / 60.0)
}

/// Seconds as hours with one decimal.
pub fn hours(seconds: f64) -> String {
    format!("{:.1}", seconds / 3600.0)
}

/// One service's bar of a mean time (`mean`, in seconds; drawn in minutes so both means
/// share an axis) and its text, shown in `unit`; `none` when there is no mean.
fn mean_bar(
    service: &str,
    class: &'static str,
    mean: Option<f64>,
    (show, unit): (fn(f64) -> String, &str),
    to: &str,
    incidents: u64,
    none: &str,
) -> (Segment, String) {
    let shown = mean.map(show);
    let tip =
        format!("{service}: mean time to {to} {} {unit} over {incidents} incidents", shown.as_deref().unwrap_or("-"));
    let bar = Segment { class, value: mean.unwrap_or(0.0) / 60.0, tip };
    (bar, shown.map_or_else(|| none.to_owned(), |m| format!("{m} {unit}")))
}

fn incident_part(out: &mut String, id: &str, connection: &str, stats: &IncidentStats) {
    let _ = write!(out, "<h3>Incidents</h3><p>{} incidents stored, {} not resolved.</p>", stats.total, stats.open);
    // Incidents per week by urgency.
    let weeks = stats.all_weeks();
    let bars: Vec<Bar> = weeks
        .iter()
        .map(|(week, counts)| {
            let names = ["high", "low", "other"];
            Bar {
                segments: counts
                    .iter()
                    .zip(names)
                    .map(|(n, class)| Segment {
                        class,
                        value: *n as f64,
                        tip: format!("week of {week}: {n} {class}-urgency incidents"),
                    })
                    .collect(),
                label: week.format("%m-%d").to_string(),
            }
        })
        .collect();
    let title = format!("Incidents per week by urgency ({connection})");
    let busiest_week = weeks.iter().max_by_key(|(week, c)| (c.iter().sum::<u64>(), std::cmp::Reverse(*week)));
    let desc = format!(
        "{} weeks; {}",
        weeks.len(),
        busiest_week.map_or_else(String::new, |(week, c)| format!(
            "the busiest, the week of {week}, had {} incidents",
            c.iter().sum::<u64>()
        ))
    );
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption><ul class=\"legend\" aria-hidden=\"true\"><li><span class=\"sw high\">\
         </span>high urgency</li><li><span class=\"sw low\"></span>low urgency</li><li><span class=\"sw other\"></span>\
         other</li></ul>{}<details><summary>Data</summary><div class=\"scroll\"><table><thead><tr>\
         <th scope=\"col\">week of</th><th scope=\"col\" class=\"n\">high</th><th scope=\"col\" class=\"n\">low</th>\
         <th scope=\"col\" class=\"n\">other</th><th scope=\"col\" class=\"n\">total</th></tr></thead><tbody>",
        escape(&title),
        svg::vertical_bars(&format!("{id}-weeks"), &title, &desc, &bars, "incidents", false)
    );
    for (week, [high, low, other]) in &weeks {
        let _ = write!(
            out,
            "<tr><td>{week}</td><td class=\"n\">{high}</td><td class=\"n\">{low}</td><td class=\"n\">{other}</td>\
             <td class=\"n\">{}</td></tr>",
            high + low + other
        );
    }
    out.push_str("</tbody></table></div></details></figure>");

    // Mean time to acknowledge and to resolve, by service.
    let services = stats.noisiest(SERVICES_SHOWN);
    let rows: Vec<Row> = services
        .iter()
        .map(|(name, s)| {
            let (mtta, mttr) = (s.mtta(), s.mttr());
            let (ack_bar, ack_text) =
                mean_bar(name, "mtta", mtta, (minutes, "min"), "acknowledge", s.acknowledged, "no ack");
            let (resolve_bar, resolve_text) =
                mean_bar(name, "mttr", mttr, (hours, "h"), "resolve", s.resolved, "none resolved");
            let (bars, texts) = (vec![ack_bar, resolve_bar], vec![ack_text, resolve_text]);
            Row { label: (*name).to_owned(), bars, value_text: texts }
        })
        .collect();
    let title = format!("Mean time to acknowledge and to resolve by service ({connection})");
    let desc = format!(
        "For the {} services with the most incidents, the mean time from an incident's creation to its first \
         acknowledgement (minutes) and to its resolution (hours); bars share one scale in minutes.",
        services.len()
    );
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption><ul class=\"legend\" aria-hidden=\"true\"><li><span class=\"sw mtta\">\
         </span>to acknowledge</li><li><span class=\"sw mttr\"></span>to resolve</li></ul>{}<details open>\
         <summary>Data</summary><div class=\"scroll\"><table class=\"services\"><thead><tr><th scope=\"col\">service</th>\
         <th scope=\"col\" class=\"n\">incidents</th><th scope=\"col\" class=\"n\">mean time to acknowledge (min)</th>\
         <th scope=\"col\" class=\"n\">mean time to resolve (h)</th></tr></thead><tbody>",
        escape(&title),
        svg::horizontal_bars(&format!("{id}-mttx"), &title, &desc, &rows)
    );
    for (name, s) in &services {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(name),
            s.incidents,
            s.mtta().map_or_else(|| "-".to_owned(), minutes),
            s.mttr().map_or_else(|| "-".to_owned(), hours)
        );
    }
    out.push_str("</tbody></table></div></details></figure>");

    // The busiest hours of the week.
    let busiest = stats.busiest_hours(3);
    let hour_labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let values: Vec<Vec<u64>> = stats.hours.iter().map(|day| day.to_vec()).collect();
    let title = format!("Busiest hours of the week, UTC ({connection})");
    let said: Vec<String> =
        busiest.iter().map(|(d, h, n)| format!("{} {h:02}:00 ({n} incidents)", WEEKDAYS[*d])).collect();
    let desc = format!("Incidents created per weekday and hour (UTC). The busiest: {}.", said.join(", "));
    let tip = |d: usize, h: usize, n: u64| format!("{} {h:02}:00-{h:02}:59 UTC: {n} incidents", WEEKDAYS[d]);
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption>{}<p>Busiest: {}.</p><details><summary>Data</summary><div class=\"scroll\">\
         <table><thead><tr><th scope=\"col\">day</th>",
        escape(&title),
        svg::heat_map(&format!("{id}-hours"), &title, &desc, &WEEKDAYS, &hour_labels, &values, &tip),
        escape(&said.join(", "))
    );
    for label in &hour_labels {
        let _ = write!(out, "<th scope=\"col\" class=\"n\">{label}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for (d, day) in stats.hours.iter().enumerate() {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", WEEKDAYS[d]);
        for n in day {
            let _ = write!(out, "<td class=\"n\">{n}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></details></figure>");

    // The noisiest services.
    let rows: Vec<Row> = services
        .iter()
        .map(|(name, s)| Row {
            label: (*name).to_owned(),
            bars: vec![Segment {
                class: "high",
                value: s.incidents as f64,
                tip: format!("{name}: {} incidents", s.incidents),
            }],
            value_text: vec![s.incidents.to_string()],
        })
        .collect();
    let title = format!("Noisiest services ({connection})");
    let desc = format!(
        "Incidents per service, the {} noisiest: {}.",
        services.len(),
        services.iter().map(|(n, s)| format!("{n} {}", s.incidents)).collect::<Vec<_>>().join(", ")
    );
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption>{}</figure>",
        escape(&title),
        svg::horizontal_bars(&format!("{id}-noisy"), &title, &desc, &rows)
    );
}

#[cfg(test)]
mod tests {
    use super::incidents::IncidentFacts;
    use super::*;

    fn run(id: i64, connection: &str, state: RunState, error: Option<&str>) -> Run {
        Run {
            id,
            connection: connection.into(),
            connector: "x".into(),
            stream_id: "s<1>".into(),
            started_at: DateTime::from_timestamp(1_772_000_000 + id * 3600, 0).unwrap(),
            finished_at: DateTime::from_timestamp(1_772_000_010 + id * 3600, 0),
            state,
            records: 4,
            records_by_type: BTreeMap::new(),
            rejected: 0,
            error: error.map(str::to_owned),
        }
    }

    fn data() -> ReportData {
        let evil = "<img src=x onerror=alert(1)>";
        let failed = run(2, evil, RunState::Failed, Some("connector `x` <b>failed</b>\n---- stderr ----\n&lt;"));
        let mut incidents = IncidentStats::default();
        incidents.add(&IncidentFacts {
            connection: evil.into(),
            created_at: DateTime::from_timestamp(1_772_000_000, 0),
            acknowledged_at: DateTime::from_timestamp(1_772_000_600, 0),
            resolved_at: DateTime::from_timestamp(1_772_007_200, 0),
            urgency: Some("high".into()),
            service: Some("<svc & co>".into()),
        });
        ReportData {
            database: "/tmp/<db>.db".into(),
            generated_at: DateTime::from_timestamp(1_772_100_000, 0).unwrap(),
            stale_after: Duration::from_secs(86_400),
            connections: vec![ConnectionData {
                name: evil.into(),
                streams: vec![StreamData {
                    status: StreamStatus { latest: failed.clone(), last_success: None, runs: 2, failures: 1 },
                    stale: true,
                    runs: vec![run(1, evil, RunState::Succeeded, None), failed.clone()],
                    failures: vec![failed],
                }],
                incidents: Some(incidents),
            }],
            records: vec![TypeCount { connection: evil.into(), record_type: "Incident".into(), count: 1 }],
        }
    }

    #[test]
    fn data_never_becomes_markup() {
        let page = render(&data());
        assert!(!page.contains("<img") && !page.contains("<b>") && !page.contains("<svc"), "{page}");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.contains("connector `x` &lt;b&gt;failed&lt;/b&gt;"));
        assert!(page.contains("&amp;lt;"), "an entity in the data is shown as typed");
        assert!(page.contains("&lt;svc &amp; co&gt;"));
        assert!(page.contains("/tmp/&lt;db&gt;.db"));
    }

    #[test]
    fn the_page_is_self_contained_and_has_every_chart() {
        let page = render(&data());
        for absent in ["<script", "http://", "https://", "<link", "@import", "url("] {
            let outside_svg_namespace = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!outside_svg_namespace.contains(absent), "the page holds {absent}");
        }
        for title in [
            "Records stored per type",
            "Runs of &lt;img src=x onerror=alert(1)&gt; / s&lt;1&gt;: records per run, coloured by outcome",
            "Incidents per week by urgency (&lt;img",
            "Mean time to acknowledge and to resolve by service (&lt;img",
            "Busiest hours of the week, UTC (&lt;img",
            "Noisiest services (&lt;img",
        ] {
            assert!(page.contains(&format!("<figcaption>{title}")), "no chart {title}");
        }
        assert_eq!(page.matches("<svg ").count(), 6);
        assert_eq!(page.matches("role=\"img\"").count(), 6);
        assert!(page.contains("prefers-color-scheme:dark") && page.contains("name=\"viewport\""));
        assert!(page.contains("<td class=\"n\">10.0</td><td class=\"n\">2.0</td>"), "MTTA 10 min, MTTR 2 h");
    }

    #[test]
    fn an_empty_database_says_so() {
        let empty = ReportData { connections: Vec::new(), records: Vec::new(), ..data() };
        let page = render(&empty);
        assert!(
            page.contains("No sync run is recorded in this database yet.") && page.contains("No records are stored.")
        );
    }
}
