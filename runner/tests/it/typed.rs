//! Typed tables through the real binary: a PagerDuty sync against the simulator queried
//! without JSON functions, and a connector whose declared type changes between syncs
//! keeping every value. The projection's rules are the store's unit tests
//! (`store/src/typed/`, `store/src/sqlite/typed.rs`).

use std::path::Path;

use pagerduty_mock::{start_blocking, MockConfig};

use crate::util::{assert_success, workspace_bin, Sandbox};

fn strings(db: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn.prepare(sql).unwrap();
    let rows = statement.query_map([], |row| row.get::<_, String>(0));
    rows.unwrap().collect::<Result<_, _>>().unwrap()
}

/// A sync of a simulated account of 300 incidents into `output` (the sandbox's
/// `runner.db` when `None`).
fn pagerduty_sync(sandbox: &Sandbox, output: Option<&str>) {
    workspace_bin("connector-pagerduty");
    let mock = start_blocking(MockConfig { incidents: 300, days: 30, ..MockConfig::default() }).unwrap();
    let body = serde_json::json!({"apiToken": MockConfig::default().token, "apiBaseUrl": mock.base_url});
    let config = sandbox.write("pd.json", &body.to_string());
    let mut args = vec!["sync", "pagerduty", &config, "2000-01-01"];
    args.extend(output.iter().flat_map(|output| ["--output", output]));
    assert_success("sync", &sandbox.runner(&args).output().unwrap());
}

#[test]
fn a_pagerduty_sync_is_queried_by_status_and_joined_on_service_id() {
    let sandbox = Sandbox::new();
    pagerduty_sync(&sandbox, None);
    let db = sandbox.path("runner.db");

    let by_status = strings(&db, "SELECT status || ' ' || count(*) FROM incident GROUP BY status ORDER BY status");
    let from_json = strings(
        &db,
        "SELECT json_extract(json, '$.status') || ' ' || count(*) FROM records WHERE type = 'Incident' \
         GROUP BY json_extract(json, '$.status') ORDER BY json_extract(json, '$.status')",
    );
    assert!(!by_status.is_empty());
    assert_eq!(by_status, from_json);
    let joined = strings(
        &db,
        "SELECT CAST(count(*) AS TEXT) FROM incident i JOIN service s ON s.connection = i.connection AND s.id = i.service_id",
    );
    assert_eq!(joined, ["300"], "every incident's service is found by service_id");
    let resolved_this_month = strings(
        &db,
        "SELECT CAST(count(*) AS TEXT) FROM incident WHERE resolved_at >= datetime('now', '-30 days') \
         AND julianday(resolved_at) >= julianday(created_at)",
    );
    assert!(resolved_this_month[0].parse::<u32>().unwrap() > 0, "times are text SQLite's date functions read");
    let tables = strings(&db, "SELECT table_name FROM typed_tables ORDER BY 1");
    assert!(tables.contains(&"incident_log_entry".to_owned()) && tables.contains(&"on_call".to_owned()), "{tables:?}");
}

#[test]
fn a_pagerduty_sync_into_postgres_has_timestamptz_and_joins_on_service_id() {
    let Some(cluster) = throwaway_postgres::require("typed_pagerduty_postgres") else { return };
    cluster.create_database("typed_pagerduty").unwrap();
    let sandbox = Sandbox::new();
    pagerduty_sync(&sandbox, Some(&cluster.url("typed_pagerduty")));
    let psql = |sql: &str| cluster.psql("typed_pagerduty", sql).unwrap();
    let by_status = psql(
        "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM \
         (SELECT status, count(*) AS n FROM incident GROUP BY status) s",
    );
    let from_json = psql(
        "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM \
         (SELECT json->>'status' AS status, count(*) AS n FROM records WHERE type = 'Incident' GROUP BY 1) s",
    );
    assert_eq!(by_status, from_json);
    assert_eq!(
        psql("SELECT count(*) FROM incident i JOIN service s ON s.connection = i.connection AND s.id = i.service_id"),
        "300"
    );
    let created = psql(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'incident' AND column_name = 'created_at'",
    );
    assert_eq!(created, "timestamp with time zone");
    let same_instant = "SELECT count(*) FROM incident i JOIN records r ON r.type = 'Incident' \
         AND r.connection = i.connection AND r.id = i.id WHERE i.created_at = (r.json->>'createdAt')::timestamptz";
    assert_eq!(psql(same_instant), "300");
    let listed = tables_json(&sandbox, &cluster.url("typed_pagerduty"));
    let incident = listed["tables"].as_array().unwrap().iter().find(|t| t["table"] == "incident").unwrap();
    assert_eq!(incident["rows"], 300);
    let created = incident["columns"].as_array().unwrap().iter().find(|c| c["name"] == "created_at").unwrap();
    assert_eq!((created["type"].as_str(), created["sql_type"].as_str()), (Some("timestamp"), Some("timestamptz")));
}

/// A connector declaring `AcmeGadget` with the schema of `step` (1, 2, 3) and sending
/// that step's record.
const GADGETS: &str = r#"#!/bin/sh
case "$STEP" in
1) props='"size":{"type":"integer"},"code":{"type":"string"}'; record='{"_type":"AcmeGadget","id":"G1","size":1,"code":"a"}' ;;
2) props='"size":{"type":"number"},"code":{"type":"string"},"color":{"type":"string"}'; record='{"_type":"AcmeGadget","id":"G2","size":2.5,"code":"b","color":"red"}' ;;
*) props='"size":{"type":"string"},"code":{"type":"string"},"color":{"type":"string"}'; record='{"_type":"AcmeGadget","id":"G3","size":"large","code":"c","color":"blue"}' ;;
esac
schema='{"type":"object","required":["_type","id"],"properties":{"_type":{"const":"AcmeGadget"},"id":{"type":"string"},'"$props"'}}'
case "$1" in
spec) echo '{"type":"spec","protocol":1,"name":"gadgets","version":"1","config_schema":{"type":"object"},"record_types":["AcmeGadget"],"record_schemas":{"AcmeGadget":'"$schema"'}}'; exit 0 ;;
discover) cat >/dev/null; echo '{"type":"stream","stream":{"_type":"Stream","id":"s1","self":"https://x.test/s1","name":"S1"}}'; exit 0 ;;
esac
read -r config
read -r sync
echo '{"type":"record","record":'"$record"'}'
echo '{"type":"state","state":{"step":'"${STEP:-3}"'}}'
"#;

/// Three syncs of the gadgets connector: a property gained and a type widened, then a
/// type changed incompatibly.
pub fn three_changing_syncs(sandbox: &Sandbox) -> String {
    let connector = sandbox.script("gadgets.sh", GADGETS);
    let config = sandbox.write("c.json", "{}");
    for step in ["1", "2", "3"] {
        let output =
            sandbox.runner(&["-q", "sync", &connector, &config, "s1", "2026-01-01"]).env("STEP", step).output();
        assert_success(&format!("sync {step}"), &output.unwrap());
    }
    connector
}

#[test]
fn a_declared_type_that_gains_widens_and_changes_keeps_every_value() {
    let sandbox = Sandbox::new();
    three_changing_syncs(&sandbox);
    let db = sandbox.path("runner.db");
    let rows = strings(
        &db,
        "SELECT id || ' ' || coalesce(size, '-') || ' ' || coalesce(code, '-') || ' ' || coalesce(color, '-') \
         FROM acme_gadget ORDER BY id",
    );
    assert_eq!(rows, ["G1 1 a -", "G2 2.5 b red", "G3 large c blue"]);
    let types = strings(&db, "SELECT name || ' ' || type FROM pragma_table_info('acme_gadget') ORDER BY cid");
    assert_eq!(types, ["connection TEXT", "id TEXT", "code TEXT", "color TEXT", "size TEXT"]);
    let origin = strings(&db, "SELECT origin FROM typed_tables WHERE type = 'AcmeGadget'");
    assert!(origin[0].starts_with("declared by connector ") && origin[0].ends_with("gadgets.sh"), "{origin:?}");

    // `runner tables` shows the final columns; a rebuild gives the same table.
    let listed = tables_json(&sandbox, "runner.db");
    let gadget = listed["tables"].as_array().unwrap().iter().find(|t| t["record_type"] == "AcmeGadget").unwrap();
    let columns: Vec<String> =
        gadget["columns"].as_array().unwrap().iter().map(|c| format!("{} {}", c["name"], c["type"])).collect();
    assert_eq!(
        columns,
        [r#""connection" "text""#, r#""id" "text""#, r#""code" "text""#, r#""color" "text""#, r#""size" "text""#]
    );
    assert_eq!(gadget["rows"], 3);
    let text = assert_success("tables", &sandbox.runner(&["tables"]).output().unwrap());
    assert!(text.contains("acme_gadget (AcmeGadget, 3 rows, schema: declared by connector "), "{text}");
    let rebuilt = assert_success("rebuild", &sandbox.runner(&["tables", "rebuild", "AcmeGadget"]).output().unwrap());
    assert!(rebuilt.contains("rebuilt 1 typed table(s)"), "{rebuilt}");
    let again = strings(
        &db,
        "SELECT id || ' ' || coalesce(size, '-') || ' ' || coalesce(code, '-') || ' ' || coalesce(color, '-') \
         FROM acme_gadget ORDER BY id",
    );
    assert_eq!(again, rows);
    assert_eq!(tables_json(&sandbox, "runner.db"), listed, "the same table, listed the same");
    let unknown = sandbox.runner(&["tables", "rebuild", "Nope"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2), "a type without a typed table is bad input");
    let said = crate::util::stderr_of(&unknown);
    assert!(said.contains("`Nope` has no typed table") && said.contains("it has: AcmeGadget"), "{said}");
}

/// `runner --json tables --db DB`.
fn tables_json(sandbox: &Sandbox, db: &str) -> serde_json::Value {
    let output = sandbox.runner(&["--json", "tables", "--db", db]).output().unwrap();
    serde_json::from_str(&assert_success("tables", &output)).unwrap()
}

#[test]
fn typed_tables_off_is_a_pure_raw_load() {
    let sandbox = Sandbox::new();
    let connector = sandbox.script("gadgets.sh", GADGETS);
    let config = sandbox.write("c.json", "{}");
    let output = sandbox
        .runner(&["-q", "sync", &connector, &config, "s1", "2026-01-01"])
        .env("RUNNER_TYPED_TABLES", "off")
        .output()
        .unwrap();
    assert_success("sync", &output);
    let db = sandbox.path("runner.db");
    assert_eq!(strings(&db, "SELECT id FROM records"), ["G3"]);
    assert_eq!(
        strings(&db, "SELECT name FROM sqlite_master WHERE name IN ('typed_tables', 'acme_gadget')"),
        Vec::<String>::new()
    );
}
