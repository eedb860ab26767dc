//! `runner report` in a real browser: the demo's database (the simulated PagerDuty account,
//! synced twice) plus a connection whose run failed, with markup in its name and error;
//! the report opened by headless Chromium (installed from Debian's packages by CI; where
//! it is missing this test says so and skips, never under CI). Checked: a screenshot that
//! is not blank, each chart's title and the numbers SQL computes from the same database
//! in the DOM Chromium rendered, data shown as text and never as markup, and no error
//! in the browser's console.

use std::path::Path;

use rusqlite::Connection;

use crate::util::{chromium, fake, png_colours, run_chromium, runner, stdout_of, workspace_bin};

/// The name of the connection that fails: markup that must stay text.
const BROKEN: &str = "broken <b>&amp;</b>";

/// What SQL says about the database, for comparison with the page.
struct Expected {
    incidents: i64,
    types: Vec<(String, String, i64)>,
    /// Service, incidents, mean time to resolve in hours: the noisiest service.
    noisiest: (String, i64, f64),
    /// Mean time to acknowledge of that service, in minutes.
    noisiest_mtta_minutes: f64,
    stream: String,
}

fn expected(db: &Path) -> Expected {
    let db = Connection::open(db).unwrap();
    let incidents = db.query_row(
        "SELECT count(*) FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident'",
        [],
        |r| r.get(0),
    );
    let mut statement = db.prepare("SELECT connection, type, count(*) FROM records GROUP BY 1, 2").unwrap();
    let types =
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    let service = "coalesce(json_extract(json, '$.service.summary'), json_extract(json, '$.service.id'))";
    let noisiest = db
        .query_row(
            &format!(
                "SELECT {service} AS s, count(*) AS n, avg(CASE WHEN json_extract(json, '$.resolvedAt') IS NOT NULL \
                 THEN (julianday(json_extract(json, '$.resolvedAt')) - julianday(json_extract(json, '$.createdAt'))) * 24 END) \
                 FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' GROUP BY s ORDER BY n DESC, s LIMIT 1"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let noisiest_mtta_minutes = db
        .query_row(
            &format!(
                "SELECT avg((a.at - julianday(json_extract(i.json, '$.createdAt'))) * 1440) FROM records i JOIN \
                 (SELECT json_extract(json, '$.incident.id') AS incident, min(julianday(json_extract(json, '$.createdAt'))) AS at \
                  FROM records WHERE connection = 'pagerduty-demo' AND type = 'IncidentLogEntry' \
                  AND json_extract(json, '$.logType') = 'acknowledge_log_entry' GROUP BY 1) a ON a.incident = i.id \
                 WHERE i.connection = 'pagerduty-demo' AND i.type = 'Incident' AND {} = ?1",
                service.replace("json,", "i.json,")
            ),
            [&noisiest.0],
            |r| r.get(0),
        )
        .unwrap();
    let stream = db
        .query_row("SELECT stream_id FROM sync_runs WHERE connection = 'pagerduty-demo' LIMIT 1", [], |r| r.get(0))
        .unwrap();
    Expected { incidents: incidents.unwrap(), types, noisiest, noisiest_mtta_minutes, stream }
}

/// The text of the cells of the first table row whose header cell is `name` (escaped as
/// the DOM serialises it).
fn row_cells<'a>(dom: &'a str, name: &str) -> Vec<&'a str> {
    let start = dom.find(&format!("<th scope=\"row\">{name}</th>")).unwrap_or_else(|| panic!("no row {name}"));
    let row = &dom[start..dom[start..].find("</tr>").map_or(dom.len(), |end| start + end)];
    row.split("<td class=\"n\">").skip(1).map(|cell| cell.split('<').next().unwrap_or("")).collect()
}

fn close(text: &str, expected: f64, what: &str) {
    let value: f64 = text.parse().unwrap_or_else(|_| panic!("{what}: {text:?} is not a number"));
    assert!((value - expected).abs() <= 0.051, "{what}: the page says {value}, SQL says {expected:.3}");
}

#[test]
fn the_report_renders_in_a_browser_with_every_chart_and_the_databases_numbers() {
    for sibling in ["pagerduty-mock", "connector-pagerduty"] {
        workspace_bin(sibling);
    }
    let Some(chromium) = chromium("the_report_renders_in_a_browser") else { return };
    let dir = tempfile::tempdir().unwrap();

    // The demo syncs the simulated account and writes the report beside the database.
    let demo = runner(dir.path(), &["demo", "--incidents", "400", "--output", "demo.db"]).output().unwrap();
    let stdout = stdout_of(&demo);
    assert!(demo.status.success(), "{demo:?}");
    let written = dir.path().canonicalize().unwrap().join("report.html");
    assert!(stdout.contains(&format!("Pictures of it all: {}\n", written.display())), "{stdout}");
    assert!(written.is_file());

    // A failed run, with markup in the connection's name and in its error.
    let config = dir.path().join("broken.json");
    std::fs::write(&config, r#"{"mode":"error"}"#).unwrap();
    let args = ["sync", &fake(), config.to_str().unwrap(), "s1", "2026-01-01", "--output", "demo.db"];
    let failed = runner(dir.path(), &args).args(["--connection", BROKEN, "-q"]).output().unwrap();
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");

    let page = dir.path().join("report.html");
    let made = runner(dir.path(), &["report", "--db", "demo.db", "-o", "report.html"]).output().unwrap();
    assert!(made.status.success(), "{made:?}");
    assert_eq!(stdout_of(&made), format!("report written to {}\n", written.display()));
    let expected = expected(&dir.path().join("demo.db"));

    // A real browser renders it: a screenshot with the colours of charts, not a blank page.
    let screenshot = dir.path().join("shot.png");
    let (_, stderr) = run_chromium(
        &chromium,
        &page,
        &["--window-size=1200,2400", "--hide-scrollbars", &format!("--screenshot={}", screenshot.display())],
    );
    let colours = png_colours(&screenshot, 64);
    assert!(colours >= 16, "the screenshot has {colours} colours: blank or unstyled");
    let (dom, dom_stderr) = run_chromium(&chromium, &page, &["--dump-dom"]);
    for log in [&stderr, &dom_stderr] {
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect();
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    }

    // Each chart, by its title.
    let broken = "broken &lt;b&gt;&amp;amp;&lt;/b&gt;";
    let titles = [
        "Records stored per type".to_owned(),
        format!("Runs of pagerduty-demo / {}: records per run, coloured by outcome", expected.stream),
        format!("Runs of {broken} / s1: records per run, coloured by outcome"),
        "Incidents per week by urgency (pagerduty-demo)".to_owned(),
        "Mean time to acknowledge and to resolve by service (pagerduty-demo)".to_owned(),
        "Busiest hours of the week, UTC (pagerduty-demo)".to_owned(),
        "Noisiest services (pagerduty-demo)".to_owned(),
    ];
    for title in &titles {
        assert!(dom.contains(&format!("<figcaption>{title}</figcaption>")), "no chart {title}");
        assert!(dom.contains(&format!("-t\">{title}</title>")), "the chart {title} has no SVG title");
    }
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), titles.len());

    // The numbers, as SQL computes them from the same database.
    assert!(dom.contains(&format!("<p>{} incidents stored,", expected.incidents)), "incident count");
    for (connection, record_type, count) in &expected.types {
        let connection = connection.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let cells = format!("<tr><td>{connection}</td><td>{record_type}</td><td class=\"n\">{count}</td></tr>");
        assert!(dom.contains(&cells), "records of {connection}/{record_type}: {count}");
    }
    let (service, incidents, mttr_hours) = &expected.noisiest;
    let cells = row_cells(&dom, service);
    assert_eq!(cells[0], incidents.to_string(), "incidents of {service}");
    close(cells[1], expected.noisiest_mtta_minutes, "mean time to acknowledge");
    close(cells[2], *mttr_hours, "mean time to resolve");

    // The failure: its error as text, the stream failing and stale (it never succeeded).
    assert!(dom.contains("failed (auth error): the source rejected the token"), "the failure's error");
    assert!(!dom.contains("<b>&amp;</b>") && !dom.contains("<b>"), "markup from the data was rendered");
    assert!(dom.contains("<span class=\"badge stale\">stale</span>"), "the stale badge");
    assert!(dom.contains("2 streams of 2 connections: <strong>1 failing</strong>"), "the overview's counts");
}

#[test]
fn report_refuses_a_directory_and_names_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = runner(dir.path(), &["report", "--db", "missing.db"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: no SQLite database at missing.db"));
    assert!(!dir.path().join("report.html").exists() && !dir.path().join("missing.db").exists());
}
