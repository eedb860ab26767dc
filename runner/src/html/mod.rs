//! `runner report`: one self-contained HTML page of a database's history and data.
//!
//! [`gather`] reads everything through [`store::history`] (runs,
//! records per type, incident facts streamed into [`incidents::IncidentStats`]);
//! [`render`] turns it into a page: inline CSS with a light and a dark palette
//! (`prefers-color-scheme`), inline SVG charts ([`svg`], drawn by hand: each has a
//! `<title>`, a `<desc>` and a data table beside it), no script, no external resource, so
//! it opens anywhere, offline, and reads on a phone. The page is a [`maud`] template, which
//! escapes every text it interpolates by its type, so nothing that comes from the database
//! (connection names, stream ids, errors, record fields) can become markup; the charts'
//! own markup comes in through one function, [`chart`].

pub mod incidents;
mod svg;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{html, Markup, PreEscaped, Render, DOCTYPE};

use crate::human;
use incidents::{IncidentStats, ServiceStats, WEEKDAYS};
use store::atomic;
use store::history::{is_stale, History, HistoryError, Run, RunFilter, StreamStatus, TypeCount};
use store::RunOutcome;
use svg::{Bar, Row, Segment};
use Column::{Number, Text};

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
    let generated = data.generated_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let page = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { "Sync report: " (data.database) }
                // Our own constant, no data in it; escaped, its quoted font names would break.
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "Sync report" }
                    p class="muted" {
                        "Database " code { (data.database) } ", made " (generated) ". A stream is "
                        strong { "stale" } " when it has had no successful run in the last "
                        (human::age(data.stale_after)) ". Times are UTC."
                    }
                }
                main {
                    (overview(data))
                    (records(data))
                    @for (index, connection) in data.connections.iter().enumerate() {
                        (connection_section(index, connection, data.generated_at))
                    }
                }
                footer {
                    p class="muted" { "Made by " code { "runner report" } ". Self-contained: no script, no network." }
                }
            }
        }
        "\n"
    };
    page.into_string()
}

/// A chart drawn by [`svg`], as markup. Safe unescaped: svg.rs writes the markup itself
/// from numbers and class names of its own, and escapes every text it puts in (titles,
/// labels, tooltips; its unit test checks). The one place the page takes markup that
/// holds data as it is (the stylesheet, a constant, is the other unescaped text).
fn chart(svg: String) -> PreEscaped<String> {
    PreEscaped(svg)
}

/// A chart under its caption: its colour key (none when `key` is empty), the chart, then
/// what follows it (its data, mostly).
fn figure(title: &str, key: &[(&str, &str)], svg: String, after: Markup) -> Markup {
    html! {
        figure {
            figcaption { (title) }
            @if !key.is_empty() { (legend(key)) }
            (chart(svg))
            (after)
        }
    }
}

/// A column's header cell: text left-aligned, numbers right-aligned (class `n`).
#[derive(Clone, Copy)]
enum Column<'a> {
    Text(&'a str),
    Number(&'a str),
}

impl Render for Column<'_> {
    fn render(&self) -> Markup {
        match self {
            Column::Text(name) => html! { th scope="col" { (name) } },
            Column::Number(name) => html! { th scope="col" class="n" { (name) } },
        }
    }
}

/// A table's head row.
fn head(columns: &[Column]) -> Markup {
    html! { thead { tr { @for column in columns { (column) } } } }
}

/// A chart's colour key, as `(class, label)` pairs; hidden from screen readers, which
/// read the chart's text alternative instead.
fn legend(items: &[(&str, &str)]) -> Markup {
    html! {
        ul class="legend" aria-hidden="true" {
            @for (class, label) in items { li { span class=(format!("sw {class}")) {} (label) } }
        }
    }
}

/// A chart's numbers as a table, folded under "Data".
fn data_table(columns: &[Column], body: Markup) -> Markup {
    html! { details { summary { "Data" } div class="scroll" { table { (head(columns)) tbody { (body) } } } } }
}

fn badge(run: &Run) -> Markup {
    html! { span class=(format!("badge {}", run.state())) { (run.state()) } }
}

/// ` stale`, as a badge, after a stream's last success when it is stale.
fn stale_badge(stream: &StreamData) -> Markup {
    html! { @if stream.stale { " " span class="badge stale" { "stale" } } }
}

fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", human::age((now - at).to_std().unwrap_or(Duration::ZERO)))
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

fn overview(data: &ReportData) -> Markup {
    let streams: Vec<(&ConnectionData, &StreamData)> =
        data.connections.iter().flat_map(|c| c.streams.iter().map(move |s| (c, s))).collect();
    html! {
        section aria-labelledby="overview" {
            h2 id="overview" { "At a glance" }
            @if streams.is_empty() {
                p { "No sync run is recorded in this database yet." }
            } @else {
                (latest_runs(data, &streams))
            }
        }
    }
}

/// The overview's counts and its table of each stream's latest run.
fn latest_runs(data: &ReportData, streams: &[(&ConnectionData, &StreamData)]) -> Markup {
    let failing = streams.iter().filter(|(_, s)| s.status.latest.outcome == Some(RunOutcome::Failed)).count();
    let stale = streams.iter().filter(|(_, s)| s.stale).count();
    let connections = data.connections.iter().filter(|c| !c.streams.is_empty()).count();
    let columns = [
        Text("connection"),
        Text("stream"),
        Text("latest run"),
        Text("started"),
        Number("records"),
        Text("last success"),
        Number("runs"),
        Number("failures"),
        Text("error"),
    ];
    html! {
        p {
            (count(streams.len(), "stream")) " of " (count(connections, "connection")) ": "
            strong { (failing) " failing" } " (latest run failed), " strong { (stale) " stale" } "."
        }
        div class="scroll" {
            table {
                caption class="muted" { "The latest run of each stream" }
                (head(&columns))
                tbody {
                    @for (index, (connection, stream)) in streams.iter().enumerate() {
                        (latest_run_row(data, index, connection, stream))
                    }
                }
            }
        }
    }
}

fn latest_run_row(data: &ReportData, index: usize, connection: &ConnectionData, stream: &StreamData) -> Markup {
    let latest = &stream.status.latest;
    let section = data.connections.iter().position(|c| c.name == connection.name).unwrap_or(index);
    let last_success = match stream.status.last_success {
        Some(at) => ago(at, data.generated_at),
        None => "never".to_owned(),
    };
    html! {
        tr {
            th scope="row" { a href=(format!("#c{section}")) { (connection.name) } }
            td { (latest.stream_id) }
            td { (badge(latest)) }
            td { (time(latest.started_at)) }
            td class="n" { (latest.records) }
            td { (last_success) (stale_badge(stream)) }
            td class="n" { (stream.status.runs) }
            td class="n" { (stream.status.failures) }
            td { @if let Some(headline) = latest.headline() { (svg::shorten(headline, 120)) } }
        }
    }
}

/// `n noun`, with an `s` unless n is 1.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn records(data: &ReportData) -> Markup {
    html! {
        section aria-labelledby="records" {
            h2 id="records" { "Records stored per type" }
            @if data.records.is_empty() {
                p { "No records are stored." }
            } @else {
                (records_chart(&data.records))
            }
        }
    }
}

fn records_chart(records: &[TypeCount]) -> Markup {
    let total: u64 = records.iter().map(|r| r.count).sum();
    let rows: Vec<Row> = records
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
    let each: Vec<String> =
        records.iter().map(|r| format!("{} {}: {}", r.connection, r.record_type, r.count)).collect();
    let desc = format!("{total} records in all; {}", each.join("; "));
    let columns = [Text("connection"), Text("type"), Number("records")];
    let body = html! {
        @for r in records { tr { td { (r.connection) } td { (r.record_type) } td class="n" { (r.count) } } }
    };
    figure(title, &[], svg::horizontal_bars("records-chart", title, &desc, &rows), data_table(&columns, body))
}

fn connection_section(index: usize, connection: &ConnectionData, now: DateTime<Utc>) -> Markup {
    let id = format!("c{index}");
    html! {
        section aria-labelledby=(id) {
            h2 id=(id) { "Connection " (connection.name) }
            @for (s, stream) in connection.streams.iter().enumerate() {
                (stream_part(&format!("{id}s{s}"), &connection.name, stream, now))
            }
            @if let Some(stats) = &connection.incidents {
                (incident_part(&format!("{id}i"), &connection.name, stats))
            }
        }
    }
}

fn stream_part(id: &str, connection: &str, stream: &StreamData, now: DateTime<Utc>) -> Markup {
    let latest = &stream.status.latest;
    let last_success = match stream.status.last_success {
        Some(at) => format!("last success {} ({} UTC)", ago(at, now), time(at)),
        None => "never succeeded".to_owned(),
    };
    html! {
        h3 { "Stream " (latest.stream_id) " " span class="muted" { "(" (latest.connector) ")" } }
        p {
            "Latest run " (badge(latest)) " " (ago(latest.started_at, now)) "; " (last_success)
            (stale_badge(stream)) ". " (stream.status.runs) " runs recorded, " (stream.status.failures) " failed."
        }
        (runs_chart(id, connection, stream))
        @if !stream.failures.is_empty() {
            h4 { "Recent failures" }
            ul class="failures" { @for run in &stream.failures { (failure(run)) } }
        }
    }
}

/// The CSS class that colours a run's outcome.
fn outcome_class(outcome: Option<RunOutcome>) -> &'static str {
    match outcome {
        Some(RunOutcome::Succeeded) => "ok",
        Some(RunOutcome::Failed) => "failed",
        Some(RunOutcome::Interrupted) => "interrupted",
        None => "running",
    }
}

/// A run as a bar of its records, coloured by outcome, its tooltip saying what happened.
fn run_bar(run: &Run) -> Bar {
    let duration = run.duration().map_or_else(|| "still running".to_owned(), human::duration);
    let mut tip =
        format!("run {} at {} UTC: {}, {} records, {duration}", run.id, time(run.started_at), run.state(), run.records);
    if let Some(headline) = run.headline() {
        tip.push_str(&format!(": {}", svg::shorten(headline, 200)));
    }
    Bar {
        segments: vec![Segment { class: outcome_class(run.outcome), value: run.records as f64, tip }],
        label: run.started_at.format("%m-%d").to_string(),
    }
}

fn runs_chart(id: &str, connection: &str, stream: &StreamData) -> Markup {
    let latest = &stream.status.latest;
    let bars: Vec<Bar> = stream.runs.iter().map(run_bar).collect();
    let title = format!("Runs of {connection} / {}: records per run, coloured by outcome", latest.stream_id);
    let count = |outcome| stream.runs.iter().filter(|r| r.outcome == outcome).count();
    let desc = format!(
        "The last {} runs, oldest first: {} succeeded, {} failed, {} interrupted, {} running; {} records in the latest.",
        stream.runs.len(),
        count(Some(RunOutcome::Succeeded)),
        count(Some(RunOutcome::Failed)),
        count(Some(RunOutcome::Interrupted)),
        count(None),
        latest.records
    );
    let outcomes = [("ok", "succeeded"), ("failed", "failed"), ("interrupted", "interrupted"), ("running", "running")];
    let columns = [Text("run"), Text("started (UTC)"), Text("outcome"), Number("records"), Text("duration")];
    let body = html! {
        @for run in stream.runs.iter().rev() {
            tr {
                td { (run.id) }
                td { (time(run.started_at)) }
                td { (run.state()) }
                td class="n" { (run.records) }
                td { (run.duration().map_or_else(|| "-".to_owned(), human::duration)) }
            }
        }
    };
    let svg = svg::vertical_bars(&format!("{id}-runs"), &title, &desc, &bars, "records", true);
    figure(&title, &outcomes, svg, data_table(&columns, body))
}

/// One failed run: when, and its error folded under its headline.
fn failure(run: &Run) -> Markup {
    let none = "(no error was recorded)";
    html! {
        li {
            time datetime=(run.started_at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (time(run.started_at)) " UTC" }
            ", run " (run.id) ": "
            details { summary { (run.headline().unwrap_or(none)) } pre { (run.error.as_deref().unwrap_or(none)) } }
        }
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

fn incident_part(id: &str, connection: &str, stats: &IncidentStats) -> Markup {
    let services = stats.noisiest(SERVICES_SHOWN);
    html! {
        h3 { "Incidents" }
        p { (stats.total) " incidents stored, " (stats.open) " not resolved." }
        (weekly_chart(id, connection, stats))
        (service_means_chart(id, connection, &services))
        (busiest_hours_chart(id, connection, stats))
        (noisiest_chart(id, connection, &services))
    }
}

/// Incidents per week by urgency.
fn weekly_chart(id: &str, connection: &str, stats: &IncidentStats) -> Markup {
    let weeks = stats.all_weeks();
    let bars: Vec<Bar> = weeks
        .iter()
        .map(|(week, counts)| Bar {
            segments: counts
                .iter()
                .zip(["high", "low", "other"])
                .map(|(n, class)| Segment {
                    class,
                    value: *n as f64,
                    tip: format!("week of {week}: {n} {class}-urgency incidents"),
                })
                .collect(),
            label: week.format("%m-%d").to_string(),
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
    let urgencies = [("high", "high urgency"), ("low", "low urgency"), ("other", "other")];
    let columns = [Text("week of"), Number("high"), Number("low"), Number("other"), Number("total")];
    let body = html! {
        @for (week, [high, low, other]) in &weeks {
            tr {
                td { (week) }
                td class="n" { (high) }
                td class="n" { (low) }
                td class="n" { (other) }
                td class="n" { (high + low + other) }
            }
        }
    };
    let svg = svg::vertical_bars(&format!("{id}-weeks"), &title, &desc, &bars, "incidents", false);
    figure(&title, &urgencies, svg, data_table(&columns, body))
}

/// Mean time to acknowledge and to resolve, by service; its table shown unfolded.
fn service_means_chart(id: &str, connection: &str, services: &[(&str, &ServiceStats)]) -> Markup {
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
    let columns = [
        Text("service"),
        Number("incidents"),
        Number("mean time to acknowledge (min)"),
        Number("mean time to resolve (h)"),
    ];
    let data = html! {
        details open {
            summary { "Data" }
            div class="scroll" {
                table class="services" {
                    (head(&columns))
                    tbody {
                        @for (name, s) in services {
                            tr {
                                th scope="row" { (name) }
                                td class="n" { (s.incidents) }
                                td class="n" { (s.mtta().map_or_else(|| "-".to_owned(), minutes)) }
                                td class="n" { (s.mttr().map_or_else(|| "-".to_owned(), hours)) }
                            }
                        }
                    }
                }
            }
        }
    };
    let key = [("mtta", "to acknowledge"), ("mttr", "to resolve")];
    figure(&title, &key, svg::horizontal_bars(&format!("{id}-mttx"), &title, &desc, &rows), data)
}

/// Incidents created per weekday and hour, as a heat map.
fn busiest_hours_chart(id: &str, connection: &str, stats: &IncidentStats) -> Markup {
    let busiest = stats.busiest_hours(3);
    let hour_labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let values: Vec<Vec<u64>> = stats.hours.iter().map(|day| day.to_vec()).collect();
    let title = format!("Busiest hours of the week, UTC ({connection})");
    let said: Vec<String> =
        busiest.iter().map(|(d, h, n)| format!("{} {h:02}:00 ({n} incidents)", WEEKDAYS[*d])).collect();
    let desc = format!("Incidents created per weekday and hour (UTC). The busiest: {}.", said.join(", "));
    let tip = |d: usize, h: usize, n: u64| format!("{} {h:02}:00-{h:02}:59 UTC: {n} incidents", WEEKDAYS[d]);
    let columns: Vec<Column> = std::iter::once(Text("day")).chain(hour_labels.iter().map(|h| Number(h))).collect();
    let body = html! {
        @for (day, counts) in WEEKDAYS.iter().zip(&stats.hours) {
            tr { th scope="row" { (day) } @for n in counts { td class="n" { (n) } } }
        }
    };
    let svg = svg::heat_map(&format!("{id}-hours"), &title, &desc, &WEEKDAYS, &hour_labels, &values, &tip);
    figure(&title, &[], svg, html! { p { "Busiest: " (said.join(", ")) "." } (data_table(&columns, body)) })
}

/// Incidents per service, the noisiest.
fn noisiest_chart(id: &str, connection: &str, services: &[(&str, &ServiceStats)]) -> Markup {
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
    figure(&title, &[], svg::horizontal_bars(&format!("{id}-noisy"), &title, &desc, &rows), html! {})
}

#[cfg(test)]
mod tests {
    use super::incidents::IncidentFacts;
    use super::*;

    fn run(id: i64, connection: &str, outcome: RunOutcome, error: Option<&str>) -> Run {
        Run {
            id,
            connection: connection.into(),
            connector: "x".into(),
            stream_id: "s<1>".into(),
            started_at: DateTime::from_timestamp(1_772_000_000 + id * 3600, 0).unwrap(),
            finished_at: DateTime::from_timestamp(1_772_000_010 + id * 3600, 0),
            outcome: Some(outcome),
            records: 4,
            records_by_type: BTreeMap::new(),
            rejected: 0,
            error: error.map(str::to_owned),
            format_drift: Vec::new(),
        }
    }

    fn data() -> ReportData {
        let evil = "<img src=x onerror=alert(1)>";
        let failed = run(2, evil, RunOutcome::Failed, Some("connector `x` <b>failed</b>\n---- stderr ----\n&lt;"));
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
                    runs: vec![run(1, evil, RunOutcome::Succeeded, None), failed.clone()],
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
