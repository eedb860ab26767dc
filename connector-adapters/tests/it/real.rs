//! The real taps from PyPI (`tap-jsonl`, built on the Meltano SDK, over small fixture
//! files; `source-faker`, offline fake data) through their adapters and the runner: the
//! conformance kit, a sync into SQLite with every record validated against the declared
//! schema, a second sync resuming from the stored state, and a tap killed mid-sync.
//! Outside CI they skip, loudly, when the taps cannot be installed.

use std::collections::BTreeMap;
use std::path::Path;

use connector_sdk::protocol::SchemaRegistry;
use serde_json::{json, Value};

use crate::util::*;

/// `runner discover CONNECTOR CONFIG --json`: the Streams.
fn discover(sandbox: &Sandbox, connector: &str, config: &Value) -> Vec<Value> {
    let path = sandbox.write("discover.json", &config.to_string());
    let output = sandbox.runner(&["--json", "discover", connector, &path]).output().unwrap();
    let stdout = assert_success("discover", &output);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["_type"] == "Stream")
        .collect()
}

/// Checks every stored record of `stream`'s declared type against the declaration.
fn validate_stored(sandbox: &Sandbox, stream: &Value) -> BTreeMap<String, Value> {
    let declared: BTreeMap<String, Value> = serde_json::from_value(stream["recordSchemas"].clone()).unwrap();
    let registry = SchemaRegistry::global().with_declared(&declared).unwrap();
    let record_type = declared.keys().next().unwrap().clone();
    let records = sandbox.store().records_of(&record_type);
    for record in records.values() {
        let verdict = registry.validate_record_json(&record.to_string()).verdict;
        assert!(verdict.is_ok(), "{record}: {verdict:?}");
    }
    records
}

fn jsonl_config(taps: &Path, path: &str) -> Value {
    json!({"tap": taps.join("tap-jsonl"), "tapConfig": {"path": path, "stream_name": "orders", "primary_keys": ["id"]}})
}

#[test]
fn tap_jsonl_passes_the_kit_syncs_validated_into_sqlite_and_resumes_from_its_state() {
    let Some(taps) = taps() else { return };
    let sandbox = Sandbox::new();
    let data = sandbox.write(
        "orders.jsonl",
        concat!(
            r#"{"id": 1, "name": "first", "at": "2024-03-01T10:00:00Z", "lines": [{"sku": "a", "qty": 2}], "meta": {"src": "web"}}"#,
            "\n",
            r#"{"id": 2, "name": null, "at": "2024-03-02T10:00:00+02:00", "lines": [], "meta": {"src": "shop"}}"#,
            "\n",
            r#"{"id": 3, "name": "third", "at": "2024-03-03T10:00:00Z", "lines": [{"sku": "b", "qty": 1}], "meta": null}"#,
            "\n"
        ),
    );
    let config = jsonl_config(&taps, &data);

    let (report, code) = kit(&sandbox, "singer", &config);
    assert_eq!(failures(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);

    let streams = discover(&sandbox, "singer", &config);
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["id"], "orders");
    assert!(streams[0]["recordSchemas"]["JsonlOrders"].is_object(), "{:#}", streams[0]);

    assert_success("sync", &sandbox.sync("singer", &config, "jsonl", &[]));
    let records = validate_stored(&sandbox, &streams[0]);
    assert_eq!(records.keys().collect::<Vec<_>>(), ["1", "2", "3"]);
    assert_eq!(records["1"]["self"], "singer://tap-jsonl/orders/1");
    assert_eq!(records["1"]["lines"], json!([{"sku": "a", "qty": 2}]));
    let state = sandbox.store().state("jsonl", "orders").expect("a stored state");
    let bookmark =
        state["bookmarks"]["orders"]["replication_key_value"].as_str().expect("a Singer bookmark").to_owned();

    let again = sandbox.sync("singer", &config, "jsonl", &["-v"]);
    let text = assert_success("second sync", &again);
    assert!(
        text.contains(&format!("Starting incremental sync with bookmark value: {bookmark}")),
        "the stored Singer state was handed back to the tap:\n{text}"
    );
    assert_eq!(validate_stored(&sandbox, &streams[0]).len(), 3);
}

#[test]
fn a_tap_killed_mid_sync_loses_nothing_before_its_last_state_and_the_resumed_sync_completes() {
    let Some(taps) = taps() else { return };
    let sandbox = Sandbox::new();
    // The Meltano SDK emits a STATE after every 10,000 records: 25,000 give one mid-sync.
    let lines: String = (0..25_000).map(|i| format!("{{\"id\": {i}, \"name\": \"order {i}\"}}\n")).collect();
    let data = sandbox.write("orders.jsonl", &lines);
    // The tap as a wrapper that dies (status 137, as if killed) after 15,000 lines of its
    // sync: past the STATE on line 10,002, before the next. Deterministic, no sleeps.
    let real = taps.join("tap-jsonl");
    let dying = sandbox.script(
        "tap-jsonl-dying",
        &format!(
            "#!/bin/sh\ncase \" $* \" in *\" --catalog \"*) \"{0}\" \"$@\" | head -n 15000; exit 137 ;; esac\nexec \"{0}\" \"$@\"\n",
            real.display()
        ),
    );
    let mut config = jsonl_config(&taps, &data);
    config["tap"] = json!(dying);
    config["typePrefix"] = json!("Jsonl");

    let killed = sandbox.sync("singer", &config, "killed", &[]);
    let text = assert_failure("the killed sync", &killed);
    assert!(text.contains("exited with status 137"), "{text}");
    let state = sandbox.store().state("killed", "orders").expect("the checkpoint before the kill is stored");
    assert!(state["bookmarks"]["orders"].is_object(), "the Singer state itself: {state}");
    let stored = sandbox.store().records_of("JsonlOrders");
    let missing: Vec<usize> = (0..10_000).filter(|i| !stored.contains_key(&i.to_string())).collect();
    assert!(
        missing.is_empty(),
        "records before the last STATE lost: {} of them, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    config["tap"] = json!(real);
    assert_success("the resumed sync", &sandbox.sync("singer", &config, "killed", &[]));
    let stored = sandbox.store().records_of("JsonlOrders");
    assert_eq!(stored.len(), 25_000, "the resumed sync completes the store");
    assert_eq!(stored["24999"]["name"], "order 24999");
}

fn faker_config(taps: &Path) -> Value {
    json!({"source": taps.join("source-faker"),
        "sourceConfig": {"count": 10, "seed": 1, "records_per_slice": 5, "always_updated": false, "parallelism": 1}})
}

#[test]
fn source_faker_passes_the_kit_syncs_validated_into_sqlite_and_resumes_from_its_state() {
    let Some(taps) = taps() else { return };
    let sandbox = Sandbox::new();
    let config = faker_config(&taps);

    let (report, code) = kit(&sandbox, "airbyte", &config);
    assert_eq!(failures(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);

    let streams = discover(&sandbox, "airbyte", &config);
    let ids: Vec<&str> = streams.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["products", "users", "purchases"]);
    let users = streams.iter().find(|s| s["id"] == "users").unwrap().to_string();

    let path = sandbox.write("faker.json", &config.to_string());
    let sync = |extra: &[&str]| {
        let mut args =
            vec!["sync", "airbyte", &path, &users, "2024-01-01", "--output", "runner.db", "--connection", "faker"];
        args.extend_from_slice(extra);
        sandbox.runner(&args).output().unwrap()
    };
    assert_success("sync", &sync(&[]));
    let records = validate_stored(&sandbox, streams.iter().find(|s| s["id"] == "users").unwrap());
    assert_eq!(records.len(), 10);
    assert_eq!(records["1"]["self"], "airbyte://source-faker/users/1");
    let state = sandbox.store().state("faker", "users").expect("a stored state");
    assert_eq!(state["type"], "STREAM", "the Airbyte per-stream state itself: {state}");
    assert_eq!(state["stream"]["stream_state"]["loop_offset"], 10);

    // With always_updated false, a source resumed from its state has nothing more to send.
    let again = sync(&["--json"]);
    let summary: Value = serde_json::from_str(assert_success("second sync", &again).lines().next().unwrap()).unwrap();
    assert_eq!(summary["records"], 0, "resumed from the stored state: {summary:#}");
    assert_eq!(sandbox.store().records_of("FakerUsers").len(), 10);
}

#[test]
fn source_faker_with_its_default_configuration_syncs_purchases_and_reports_the_created_at_drift() {
    let Some(taps) = taps() else { return };
    let sandbox = Sandbox::new();
    // Its own defaults: source-faker 7.2.1 declares `created_at` of purchases a
    // `date-time` and sends it without an offset.
    let config = json!({"source": taps.join("source-faker"), "sourceConfig": {}});
    let output = sandbox.sync("airbyte", &config, "faker", &["--json"]);
    let summary: Value = serde_json::from_str(assert_success("sync", &output).lines().next().unwrap()).unwrap();
    let streams = summary["connections"][0]["streams"].as_array().unwrap();
    let purchases = streams.iter().find(|s| s["stream"] == "purchases").expect("purchases synced");
    assert_eq!(purchases["outcome"], "succeeded", "{summary:#}");
    let drift = &purchases["format_drift"][0];
    assert_eq!(
        (&drift["type"], &drift["field"], &drift["format"]),
        (&json!("FakerPurchases"), &json!("/created_at"), &json!("date-time"))
    );
    assert_eq!(drift["count"], purchases["records"], "every purchase: {summary:#}");
    assert_eq!(sandbox.store().records_of("FakerPurchases").len() as u64, purchases["records"].as_u64().unwrap());

    let enforced = json!({"source": taps.join("source-faker"), "sourceConfig": {}, "formats": "enforce"});
    let path = sandbox.write("enforce.json", &enforced.to_string());
    let mut output = sandbox.runner(&["sync", "airbyte", &path, "purchases", "2024-01-01", "--output", "enforce.db"]);
    let text = assert_failure("enforced", &output.output().unwrap());
    assert!(text.contains("at /created_at") && text.contains(r#"the adapter's "formats" option decides"#), "{text}");
}
