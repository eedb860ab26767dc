//! `runner schema diff`: the fixture connector whose records drift on purpose
//! (`tests/fixtures/drifting-connector.sh`, every kind of finding) sampled through the
//! engine and read back from each store (SQLite, JSON lines, PostgreSQL); the real
//! PagerDuty connector against its simulator; and bad input.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{runner, stderr_of, stdout_of, workspace_bin, Sandbox};

/// The drifting fixture, made executable (git may lose the mode).
fn drifting() -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drifting-connector.sh");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `runner --json schema diff ARGS` in `dir`: the document and the exit code.
fn diff_json(dir: &Path, args: &[&str]) -> (Value, i32) {
    let mut all = vec!["--json", "-q", "schema", "diff"];
    all.extend_from_slice(args);
    let output = runner(dir, &all).output().unwrap();
    let stdout = stdout_of(&output);
    let document = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{stdout}\nstderr:\n{}", stderr_of(&output)));
    (document, output.status.code().unwrap_or(-1))
}

fn of_type<'a>(document: &'a Value, record_type: &str) -> &'a Value {
    let types = document["types"].as_array().unwrap();
    types.iter().find(|t| t["type"] == record_type).unwrap_or_else(|| panic!("no {record_type} in {document:#}"))
}

/// `(path, the other fields asked for)` of each finding of a kind.
fn findings(of: &Value, kind: &str, fields: &[&str]) -> Vec<String> {
    of[kind]
        .as_array()
        .unwrap_or_else(|| panic!("no {kind} in {of:#}"))
        .iter()
        .map(|f| {
            let mut parts = vec![f["path"].as_str().unwrap().to_owned()];
            parts.extend(fields.iter().map(|field| match &f[*field] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }));
            parts.join(" ")
        })
        .collect()
}

/// Every finding the fixture causes, whichever way its records were obtained.
fn assert_every_kind_of_finding(document: &Value) {
    assert_eq!(document["drifted"], true);
    assert_eq!(document["records"], 5);
    let team = of_type(document, "Team");
    assert_eq!(team["records"], 2);
    assert_eq!(findings(team, "unnamed_fields", &["count", "types", "allowed"]), ["colour 1 [\"string\"] true"]);
    assert_eq!(team["unnamed_fields"][0]["example"], serde_json::json!({"record": "T2", "path": "colour"}));
    assert!(findings(team, "never_seen", &["of"]).contains(&"description 2".to_owned()));
    assert_eq!(team["missing_required"], serde_json::json!([]));
    assert_eq!(team["type_mismatches"], serde_json::json!([]));

    let incident = of_type(document, "Incident");
    assert_eq!(incident["records"], 3);
    assert_eq!(findings(incident, "unnamed_fields", &["count"]), ["service.colour 1"]);
    assert_eq!(findings(incident, "missing_required", &["count", "of"]), ["service.id 1 3", "title 1 3"]);
    assert_eq!(incident["missing_required"][0]["example"], serde_json::json!({"record": "Q3", "path": "service.id"}));
    assert_eq!(
        findings(incident, "type_mismatches", &["expected", "found", "count"]),
        ["assignees[].summary string or null integer 1", "number integer string 1", "urgency string null 1"]
    );
    assert_eq!(
        incident["type_mismatches"][0]["example"],
        serde_json::json!({"record": "Q1", "path": "assignees[1].summary"})
    );
    let never = findings(incident, "never_seen", &["of"]);
    for expected in ["conferenceBridge 3", "teams 3", "service.htmlUrl 3", "assignees[].htmlUrl 2"] {
        assert!(never.contains(&expected.to_owned()), "{expected} not in {never:?}");
    }
    assert!(!never.iter().any(|n| n.starts_with("title ") || n.starts_with("service.id ")), "{never:?}");
}

#[test]
fn a_sample_of_a_drifting_connector_shows_every_kind_of_finding_and_exits_1() {
    let sandbox = Sandbox::new();
    let config = sandbox.config("{}");
    let (document, code) = diff_json(sandbox.dir.path(), &[&drifting(), &config, "--since", "2026-01-01"]);
    assert_eq!(code, 1, "drift exits 1: {document:#}");
    assert_every_kind_of_finding(&document);
    assert!(document["source"].as_str().unwrap().starts_with("a sample of `"), "{document}");
    assert_eq!(crate::util::entries(sandbox.dir.path()), ["c.json"], "the sample's store is thrown away");
}

#[test]
fn the_table_is_readable_at_a_glance() {
    let sandbox = Sandbox::new();
    let config = sandbox.config("{}");
    let output = runner(sandbox.dir.path(), &["schema", "diff", &drifting(), &config, "--since", "2026-01-01"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = stdout_of(&output);
    assert!(stdout.contains("Incident: 3 records, 1 unnamed, 2 missing required, 3 type mismatches, "), "{stdout}");
    let rows: Vec<Vec<&str>> =
        stdout.lines().map(|line| line.split("  ").filter(|c| !c.is_empty()).collect()).collect();
    let row = |path: &str| {
        rows.iter().find(|r| r.get(1).map(|c| c.trim()) == Some(path)).unwrap_or_else(|| panic!("{path}:\n{stdout}"))
    };
    assert_eq!(row("number")[0].trim(), "type mismatch");
    assert_eq!(row("number")[3].trim(), "string, expected integer; e.g. `Q2` at number");
    assert_eq!(row("title")[2].trim(), "1 of 3");
    assert_eq!(row("colour")[0].trim(), "unnamed field");
    assert!(stdout.ends_with(": drift in Incident, Team\n"), "{stdout}");
}

/// Syncs the fixture into `output` (invalid records kept), as a user would have.
fn sync_fixture(sandbox: &Sandbox, output: &str) {
    let config = sandbox.config("{}");
    let args = ["sync", &drifting(), &config, "2026-01-01", "--output", output, "--skip-invalid", "-q"];
    let status = runner(sandbox.dir.path(), &args).status().unwrap();
    assert!(status.success());
}

#[test]
fn stored_records_in_sqlite_and_json_lines_give_the_same_findings() {
    let sandbox = Sandbox::new();
    for store in ["stored.db", "stored"] {
        sync_fixture(&sandbox, store);
        let (document, code) = diff_json(sandbox.dir.path(), &["--db", store]);
        assert_eq!(code, 1, "{store}");
        assert_every_kind_of_finding(&document);
        assert_eq!(document["source"], *store);
    }
}

#[test]
fn stored_records_in_postgres_give_the_same_findings() {
    let Some(cluster) = throwaway_postgres::require("schema_diff_postgres") else { return };
    cluster.create_database("schema_diff").unwrap();
    let url = cluster.url("schema_diff");
    let sandbox = Sandbox::new();
    sync_fixture(&sandbox, &url);
    let (document, code) = diff_json(sandbox.dir.path(), &["--db", &url]);
    assert_eq!(code, 1);
    assert_every_kind_of_finding(&document);
    assert!(!document["source"].as_str().unwrap().contains(cluster.password()), "the password is never shown");
}

#[test]
fn a_stored_type_without_a_schema_and_unreadable_lines_are_reported() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("store");
    std::fs::create_dir(&dir).unwrap();
    let team = r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops"}"#;
    std::fs::write(dir.join("Team.jsonl"), format!("{team}\n\n")).unwrap();
    std::fs::write(dir.join("Gadget.jsonl"), "{\"_type\":\"Gadget\",\"id\":\"g\"}\nnot json\n").unwrap();
    let (document, code) = diff_json(sandbox.dir.path(), &["--db", "store"]);
    assert_eq!(code, 1, "a type without a schema is drift");
    assert_eq!(document["without_schema"], serde_json::json!([{"type": "Gadget", "records": 1}]));
    assert_eq!(document["unreadable"], 1);
    assert_eq!(of_type(&document, "Team")["unnamed_fields"], serde_json::json!([]));

    std::fs::remove_file(dir.join("Gadget.jsonl")).unwrap();
    let (document, code) = diff_json(sandbox.dir.path(), &["--db", "store"]);
    assert_eq!((code, &document["drifted"]), (0, &Value::Bool(false)), "no drift exits 0");
}

#[test]
fn the_pagerduty_connector_does_not_drift_from_the_shared_schemas() {
    workspace_bin("connector-pagerduty");
    let mock = pagerduty_mock::start_blocking(pagerduty_mock::MockConfig {
        incidents: 60,
        days: 30,
        ..pagerduty_mock::MockConfig::default()
    })
    .unwrap();
    let sandbox = Sandbox::new();
    let body =
        serde_json::json!({"apiToken": pagerduty_mock::MockConfig::default().token, "apiBaseUrl": mock.base_url});
    let config = sandbox.config(&body.to_string());
    let since = protocol::format_instant(mock.dataset().now() - chrono::Duration::days(31));
    let (document, code) = diff_json(sandbox.dir.path(), &["pagerduty", &config, "--since", &since]);
    assert_eq!(code, 0, "{document:#}");
    assert_eq!(document["drifted"], false);
    let incident = of_type(&document, "Incident");
    assert_eq!(incident["records"], 60);
    for kind in ["unnamed_fields", "missing_required", "type_mismatches"] {
        let types = document["types"].as_array().unwrap();
        assert!(types.iter().all(|t| t[kind] == serde_json::json!([])), "{kind}: {document:#}");
    }
}

fn runner_in(dir: &Path, args: &[&str]) -> std::process::Output {
    runner(dir, args).output().unwrap()
}

#[test]
fn bad_input_is_said_clearly_and_exits_2() {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    let config = sandbox.config("{}");
    let fixture = drifting();
    let cases: [(&[&str], &str); 7] = [
        (&["schema", "diff", "--db", "missing.db"], "error: no SQLite database at missing.db"),
        (&["schema", "diff", "--db", "nowhere/"], "error: --db nowhere/: no such SQLite file"),
        (&["schema", "diff", "--db", "-"], "error: --db -: stdout keeps no records to read"),
        (&["schema", "diff", &fixture, &config, "--since", "yesterday"], "error: bad earliest-data cutoff"),
        (&["schema", "diff", "./no-such-connector", &config], "error: connector `./no-such-connector` not found"),
        (&["schema", "diff", &fixture], "error: the following required arguments were not provided"),
        (&["schema", "diff", &fixture, &config, "--db", "x.db"], "error: the argument"),
    ];
    for (args, expected) in cases {
        let output = runner_in(dir, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(stderr_of(&output).starts_with(expected), "{args:?}: {}", stderr_of(&output));
    }
    assert!(!PathBuf::from(dir).join("missing.db").exists(), "reading creates nothing");
}

#[test]
fn a_connector_that_fails_fails_the_diff_with_its_error() {
    let sandbox = Sandbox::new();
    let config = sandbox.config(r#"{"mode":"error"}"#);
    let output = runner_in(sandbox.dir.path(), &["schema", "diff", &crate::util::fake(), &config, "-q"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr_of(&output);
    assert!(stderr.starts_with("error: the sample sync failed, so nothing was compared: connector `"), "{stderr}");
    assert!(stdout_of(&output).is_empty());
}

#[test]
fn a_sample_is_compared_with_the_types_its_connector_declares() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("widgets.json"), r#"{"invalid": "w2"}"#).unwrap();
    let connector = crate::declared::widget_connector();
    let (document, code) = diff_json(dir.path(), &[&connector, "widgets.json"]);
    assert_eq!(code, 1, "{document:#}");
    assert_eq!(document["without_schema"], serde_json::json!([]), "AcmeWidget has its declared schema: {document:#}");
    let widget = of_type(&document, "AcmeWidget");
    assert_eq!(widget["records"], 3);
    assert_eq!(findings(widget, "type_mismatches", &["expected", "found", "count"]), ["sprockets integer string 1"]);
    assert_eq!(widget["unnamed_fields"], serde_json::json!([]));
}
