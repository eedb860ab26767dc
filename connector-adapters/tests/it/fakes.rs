//! The adapters through the runner with fake taps (shell scripts): what real taps rarely
//! do on demand (BATCH, garbage, a hang, echoing a secret, TRACE errors) and the exact
//! translation. They need no PyPI and always run.

use serde_json::{json, Value};

use crate::util::*;

/// The catalog of the fake Singer tap: one stream `orders` keyed by `id`.
const CATALOG: &str = r#"{"streams":[{"tap_stream_id":"orders","stream":"orders","key_properties":["id"],"schema":{"type":["null","object"],"properties":{"id":{"type":"integer"},"amount":{"type":["null","number"],"minimum":0,"exclusiveMinimum":true},"at":{"type":["null","string"],"format":"date-time"}}},"metadata":[]}]}"#;

/// A SCHEMA message equal to the catalog's.
const SCHEMA: &str = r#"{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"type":["null","object"],"properties":{"id":{"type":"integer"},"amount":{"type":["null","number"],"minimum":0,"exclusiveMinimum":true},"at":{"type":["null","string"],"format":"date-time"}}}}"#;

/// A fake Singer tap `tap-fake` in `sandbox`: discovery prints [`CATALOG`] (or runs
/// `discover` when given), a sync saves the catalog and state it was given beside itself
/// and then runs `sync`.
fn singer_tap(sandbox: &Sandbox, discover: Option<&str>, sync: &str) -> String {
    let discover = discover.map_or_else(|| format!("echo '{CATALOG}'"), str::to_owned);
    sandbox.script(
        "tap-fake",
        &format!(
            r#"#!/bin/sh
here=$(dirname "$0")
while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift ;;
    --catalog) catalog=$2; shift ;;
    --state) state=$2; shift ;;
    --discover) discover=1 ;;
  esac
  shift
done
if [ -n "$discover" ]; then
{discover}
exit 0
fi
cp "$catalog" "$here/catalog-seen.json"
if [ -n "$state" ]; then cp "$state" "$here/state-seen.json"; else rm -f "$here/state-seen.json"; fi
{sync}
"#
        ),
    )
}

fn singer_config(tap: &str) -> Value {
    json!({"tap": tap, "tapConfig": {"path": "x"}})
}

/// A fake tap whose sync prints [`SCHEMA`], then runs the shell lines `after`.
fn tap_after_schema(sandbox: &Sandbox, after: &str) -> String {
    singer_tap(sandbox, None, &format!("echo '{SCHEMA}'\n{after}"))
}

/// The output of a sync of the fake `tap` that must fail.
fn failing_sync(sandbox: &Sandbox, tap: &str) -> String {
    assert_failure("sync", &sandbox.sync("singer", &singer_config(tap), "fake", &[]))
}

#[test]
fn a_singer_stream_is_synced_translated_validated_and_resumed_from_the_singer_state() {
    let sandbox = Sandbox::new();
    let tap = tap_after_schema(
        &sandbox,
        r#"echo '{"type":"RECORD","stream":"orders","record":{"id":1,"amount":2.5,"at":"2024-03-01T10:00:00+01:00"},"time_extracted":"2024-03-02T00:00:00Z"}'
echo '{"type":"ACTIVATE_VERSION","stream":"orders","version":1}'
echo '{"type":"RECORD","stream":"orders","record":{"id":2,"amount":null,"at":null}}'
echo '{"type":"RECORD","stream":"other","record":{"id":3}}'
echo '{"type":"STATE","value":{"bookmarks":{"orders":{"id":2}}}}'
"#,
    );
    let config = singer_config(&tap);
    assert_success("first sync", &sandbox.sync("singer", &config, "fake", &[]));

    let records = sandbox.store().records_of("FakeOrders");
    assert_eq!(records.keys().collect::<Vec<_>>(), ["1", "2"], "the other stream's record is not ours");
    assert_eq!(
        records["1"],
        json!({"_type": "FakeOrders", "id": "1", "self": "singer://tap-fake/orders/1", "_source_id": 1,
            "amount": 2.5, "at": "2024-03-01T10:00:00+01:00"})
    );
    let extracted = sandbox.store().records().into_iter().find(|r| r.id == "1").unwrap().extracted_at;
    assert_eq!(extracted, "2024-03-02T00:00:00Z", "time_extracted is the extraction time");
    assert_eq!(sandbox.store().state("fake", "orders"), Some(json!({"bookmarks": {"orders": {"id": 2}}})));
    let catalog: Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path("catalog-seen.json")).unwrap()).unwrap();
    assert_eq!(catalog["streams"][0]["selected"], true);
    assert!(!sandbox.path("state-seen.json").exists(), "a first sync has no state");

    assert_success("second sync", &sandbox.sync("singer", &config, "fake", &[]));
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(sandbox.path("state-seen.json")).unwrap()).unwrap();
    assert_eq!(seen, json!({"bookmarks": {"orders": {"id": 2}}}), "the stored state goes back as --state, exactly");
}

#[test]
fn a_record_that_does_not_fit_the_discovered_schema_is_rejected_and_a_changed_schema_is_warned_about() {
    let sandbox = Sandbox::new();
    let tap = singer_tap(
        &sandbox,
        None,
        r#"echo '{"type":"SCHEMA","stream":"orders","key_properties":["id"],"schema":{"properties":{"id":{"type":"integer"}}}}'
echo '{"type":"RECORD","stream":"orders","record":{"id":1,"amount":0}}'
echo '{"type":"STATE","value":{}}'
"#,
    );
    let text = failing_sync(&sandbox, &tap);
    assert!(text.contains("FakeOrders") && text.contains("/amount"), "names the type and the field:\n{text}");
    let logs = sandbox.store().logs();
    let warned = logs.iter().any(|log| log.level == "warn" && log.message.contains("differs from the one discovered"));
    assert!(warned, "{logs:?}");
}

#[test]
fn a_batch_message_is_refused_clearly() {
    let sandbox = Sandbox::new();
    let tap = tap_after_schema(
        &sandbox,
        r#"echo '{"type":"BATCH","stream":"orders","encoding":{"format":"jsonl"},"manifest":["file:///tmp/x.jsonl"]}'"#,
    );
    let text = failing_sync(&sandbox, &tap);
    assert!(text.contains("sent a BATCH message (line 2)") && text.contains("remove `batch_config`"), "{text}");
}

#[test]
fn a_garbage_line_fails_the_sync_naming_its_number_and_start() {
    let sandbox = Sandbox::new();
    let tap = tap_after_schema(&sandbox, "echo\necho 'Traceback (most recent call last):'\nsleep 5\n");
    let text = failing_sync(&sandbox, &tap);
    assert!(
        text.contains("wrote something that is not a Singer message on line 3: not JSON")
            && text.contains("Traceback (most"),
        "{text}"
    );
}

#[test]
fn a_tap_exiting_non_zero_fails_with_the_end_of_its_stderr_and_keeps_what_it_checkpointed() {
    let sandbox = Sandbox::new();
    let tap = tap_after_schema(
        &sandbox,
        r#"echo '{"type":"RECORD","stream":"orders","record":{"id":1}}'
echo '{"type":"STATE","value":{"done":1}}'
echo 'KeyError: quota exhausted' >&2
exit 3
"#,
    );
    let text = failing_sync(&sandbox, &tap);
    assert!(text.contains("exited with status 3") && text.contains("KeyError: quota exhausted"), "{text}");
    assert_eq!(sandbox.store().records_of("FakeOrders").len(), 1, "what came before the STATE is stored");
    assert_eq!(sandbox.store().state("fake", "orders"), Some(json!({"done": 1})));
}

#[test]
fn secrets_never_reach_output_logs_errors_or_storage() {
    let sandbox = Sandbox::new();
    let (named, conventional) = ("sup3r-s3cret-pw", "t0ken-t0ken-t0ken");
    let tap = singer_tap(
        &sandbox,
        Some(&format!(r#"cat "$config" >&2; echo '{CATALOG}'"#)),
        &format!(
            r#"cat "$config" >&2
echo '{SCHEMA}'
echo "{{\"type\":\"RECORD\",\"stream\":\"orders\",\"record\":{{\"id\":1,\"note\":\"$(grep -o '{named}' "$config")\"}}}}"
echo '{{"type":"STATE","value":{{"done":1}}}}'
echo "cannot log in with {named} / {conventional}" >&2
exit 1
"#
        ),
    );
    let config =
        json!({"tap": tap, "tapConfig": {"db": {"db_pass": named}, "token": conventional}, "secretKeys": ["db_pass"]});
    let path = sandbox.write("secret.json", &config.to_string());
    let verify = sandbox.runner(&["-v", "verify", "singer", &path]).output().unwrap();
    let verified = assert_success("verify", &verify);
    let output =
        sandbox.runner(&["-v", "sync", "singer", &path, "2024-01-01", "--output", "runner.db"]).output().unwrap();
    let text = assert_failure("sync", &output);
    let stored = sandbox.store().everything();
    for secret in [named, conventional] {
        assert!(!verified.contains(secret), "{secret} in verify's output:\n{verified}");
        assert!(!text.contains(secret), "{secret} in the runner's output:\n{text}");
        assert!(!stored.contains(secret), "{secret} stored:\n{stored}");
    }
    assert!(text.contains("cannot log in with *** / ***"), "the error keeps the tap's words:\n{text}");
    assert_eq!(sandbox.store().records_of("FakeOrders")["1"]["note"], "***");
}

#[test]
fn a_hanging_tap_is_stopped_by_the_runners_timeout_does_not_survive_and_leaves_no_files() {
    let sandbox = Sandbox::new();
    let pid_file = sandbox.path("tap.pid");
    let tap = tap_after_schema(&sandbox, &format!("echo $$ > \"{}\"\nexec sleep 600\n", pid_file.display()));
    let config = sandbox.write("hang.json", &singer_config(&tap).to_string());
    let tmp = sandbox.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let started = std::time::Instant::now();
    let args =
        ["sync", "singer", &config, "2024-01-01", "--output", "runner.db", "--idle-timeout", "2", "--grace", "1"];
    let output = sandbox.runner(&args).env("TMPDIR", &tmp).output().unwrap();
    let text = assert_failure("sync", &output);
    assert!(started.elapsed().as_secs() < 60, "stopped by the idle timeout");
    assert!(text.to_lowercase().contains("idle") || text.contains("silent"), "{text}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    // The runner kills its connector's whole group before it exits; the tap was in it. A
    // SIGKILLed process takes a moment to go: wait for that, with a bound against a hang.
    wait_for(&format!("the tap (pid {pid}) to end with its adapter"), || (!alive(pid)).then_some(()));
    // The adapter passed SIGTERM on to its tap and returned normally, removing the private
    // directory that held the tap's configuration.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the adapter's temporary files are gone");
}

/// A fake Airbyte source `source-fake`: its spec marks `api_key` `airbyte_secret`; `read`
/// runs `read`.
fn airbyte_source(sandbox: &Sandbox, read: &str) -> String {
    sandbox.script(
        "source-fake",
        &format!(
            r#"#!/bin/sh
here=$(dirname "$0")
command=$1; shift
while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift ;;
    --catalog) catalog=$2; shift ;;
    --state) state=$2; shift ;;
  esac
  shift
done
case $command in
  spec) echo '{{"type":"SPEC","spec":{{"connectionSpecification":{{"type":"object","properties":{{"api_key":{{"type":"string","airbyte_secret":true}},"region":{{"type":"string"}}}}}}}}}}' ;;
  check) echo '{{"type":"CONNECTION_STATUS","connectionStatus":{{"status":"FAILED","message":"region unknown"}}}}' ;;
  discover) echo '{{"type":"CATALOG","catalog":{{"streams":[{{"name":"users","json_schema":{{"type":"object","properties":{{"id":{{"type":"integer"}},"seen":{{"type":"string","format":"date-time","airbyte_type":"timestamp_without_timezone"}}}}}},"supported_sync_modes":["full_refresh","incremental"],"default_cursor_field":["id"],"source_defined_primary_key":[["id"]]}}]}}}}' ;;
  read)
    cp "$catalog" "$here/catalog-seen.json"
    if [ -n "$state" ]; then cp "$state" "$here/state-seen.json"; fi
{read}
    ;;
esac
"#
        ),
    )
}

#[test]
fn an_airbyte_source_is_synced_with_its_logs_and_its_per_stream_state_handed_back() {
    let sandbox = Sandbox::new();
    let source = airbyte_source(
        &sandbox,
        r#"echo '{"type":"LOG","log":{"level":"WARN","message":"slow region"}}'
echo '{"type":"LOG","log":{"level":"FATAL","message":"not really fatal"}}'
echo '{"type":"TRACE","trace":{"type":"ESTIMATE","estimate":{"name":"users","type":"STREAM","row_estimate":1}}}'
echo '{"type":"RECORD","record":{"stream":"users","data":{"id":7,"seen":"2024-01-01T10:00:00"},"emitted_at":1704103200000}}'
echo '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"id":7}}}}'
"#,
    );
    let config = json!({"source": source, "sourceConfig": {"api_key": "k3y-k3y-k3y", "region": "eu"}});
    assert_success("sync", &sandbox.sync("airbyte", &config, "fake", &[]));
    let store = sandbox.store();
    let records = store.records_of("FakeUsers");
    assert_eq!(records["7"]["self"], "airbyte://source-fake/users/7");
    assert_eq!(records["7"]["seen"], "2024-01-01T10:00:00", "a timestamp without timezone passes");
    assert_eq!(store.records()[0].extracted_at, "2024-01-01T10:00:00Z");
    let logs: Vec<(String, String)> = store.logs().into_iter().map(|log| (log.level, log.message)).collect();
    assert!(logs.contains(&("warn".into(), "slow region".into())), "{logs:?}");
    assert!(logs.contains(&("error".into(), "not really fatal".into())), "{logs:?}");
    let state =
        json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"id": 7}}});
    assert_eq!(store.state("fake", "users"), Some(state.clone()));
    let catalog: Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path("catalog-seen.json")).unwrap()).unwrap();
    assert_eq!(catalog["streams"][0]["sync_mode"], "incremental");

    assert_success("second sync", &sandbox.sync("airbyte", &config, "fake", &[]));
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(sandbox.path("state-seen.json")).unwrap()).unwrap();
    assert_eq!(seen, json!([state]), "handed back as Airbyte's list of state messages");
}

#[test]
fn an_airbyte_estimate_becomes_progress_counting_the_records_sent_so_far() {
    let sandbox = Sandbox::new();
    let record = |id: u32| {
        format!(
            r#"echo '{{"type":"RECORD","record":{{"stream":"users","data":{{"id":{id}}},"emitted_at":1704103200000}}}}'"#
        )
    };
    let estimate = r#"echo '{"type":"TRACE","trace":{"type":"ESTIMATE","estimate":{"name":"users","type":"STREAM","row_estimate":5}}}'"#;
    let source = airbyte_source(&sandbox, &[record(1), record(2), estimate.to_owned(), record(3)].join("\n"));
    let config = json!({"source": source, "sourceConfig": {"api_key": "k3y-k3y-k3y", "region": "eu"}});
    let config = sandbox.write("by-hand.json", &config.to_string());
    // By hand, as someone debugging the adapter would run it: the protocol lines on stdout.
    let output = std::process::Command::new(bin_dir().join("connector-airbyte"))
        .args(["sync", "--config", &config, "--since", "2024-01-01"])
        .output()
        .unwrap();
    let stdout = assert_success("connector-airbyte sync", &output);
    let messages: Vec<Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let kinds: Vec<&str> =
        messages.iter().filter_map(|m| m["type"].as_str()).filter(|k| ["record", "progress"].contains(k)).collect();
    assert_eq!(kinds, ["record", "record", "progress", "record"], "in the source's order: {stdout}");
    let progress = messages.iter().find(|m| m["type"] == "progress").unwrap();
    assert_eq!(progress["done"], 2, "{progress}");
    assert_eq!(progress["total"], 5, "{progress}");
    assert!(progress.get("unit").is_none_or(|unit| unit == "items"), "absent means items: {progress}");
}

#[test]
fn an_airbyte_trace_error_fails_the_sync_with_its_kind_and_its_secret_masked() {
    let sandbox = Sandbox::new();
    let source = airbyte_source(
        &sandbox,
        r#"echo "{\"type\":\"LOG\",\"log\":{\"level\":\"INFO\",\"message\":\"using $(grep -o 'k3y-[a-z0-9-]*' "$config")\"}}"
echo '{"type":"TRACE","trace":{"type":"ERROR","error":{"message":"Invalid region","failure_type":"config_error"}}}'
exit 1
"#,
    );
    let config = json!({"source": source, "sourceConfig": {"api_key": "k3y-k3y-k3y", "region": "mars"}});
    let path = sandbox.write("c.json", &config.to_string());
    let output = sandbox
        .runner(&["--json", "sync", "airbyte", &path, "2024-01-01", "--output", "runner.db", "--connection", "fake"])
        .output()
        .unwrap();
    let text = assert_failure("sync", &output);
    assert!(text.contains("the source failed: Invalid region"), "{text}");
    assert!(text.contains("failed (config error)"), "the kind is config:\n{text}");
    let stored = sandbox.store().everything();
    assert!(!text.contains("k3y-k3y-k3y") && !stored.contains("k3y-k3y-k3y"), "{text}\n{stored}");
    assert!(stored.contains("using ***"), "{stored}");

    let verify = sandbox.runner(&["verify", "airbyte", &path]).output().unwrap();
    let text = assert_failure("verify", &verify);
    assert!(text.contains("region unknown"), "{text}");
}

#[test]
fn the_runner_knows_the_secrets_of_taps_and_sources_not_only_the_adapter() {
    let sandbox = Sandbox::new();
    // A tap's `secretKeys` names secret keys to the runner: the spec says so.
    let spec: Value =
        serde_json::from_str(&assert_success("spec", &sandbox.runner(&["spec", "singer"]).output().unwrap())).unwrap();
    assert_eq!(spec["config_schema"]["properties"]["secretKeys"]["secretKeyNames"], true, "{spec:#}");
    // A source's airbyte_secret fields travel on each Stream as `configSecrets`.
    let secret = "k3y-echoed-everywhere";
    let source = airbyte_source(
        &sandbox,
        r#"key=$(grep -o 'k3y-[a-z-]*' "$config")
echo "{\"type\":\"LOG\",\"log\":{\"level\":\"INFO\",\"message\":\"using $key\"}}"
echo "stderr $key" >&2
echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"data\":{\"id\":1,\"note\":\"$key\"},\"emitted_at\":1}}"
echo "{\"type\":\"TRACE\",\"trace\":{\"type\":\"ERROR\",\"error\":{\"message\":\"refused $key\",\"failure_type\":\"config_error\"}}}"
exit 1
"#,
    );
    let config = json!({"source": source, "sourceConfig": {"api_key": secret, "region": "eu"}});
    let path = sandbox.write("c.json", &config.to_string());
    let discovered =
        assert_success("discover", &sandbox.runner(&["--json", "discover", "airbyte", &path]).output().unwrap());
    let stream: Value = serde_json::from_str(discovered.lines().next().unwrap()).unwrap();
    assert_eq!(stream["configSecrets"], json!(["/sourceConfig/api_key"]), "{stream:#}");
    let output =
        sandbox.runner(&["-v", "sync", "airbyte", &path, "2024-01-01", "--output", "runner.db"]).output().unwrap();
    let text = assert_failure("sync", &output);
    assert!(text.contains("refused ***"), "{text}");
    let stored = sandbox.store().everything();
    assert!(!text.contains(secret) && !stored.contains(secret), "{text}\n{stored}");
    let db = std::fs::read(sandbox.path("runner.db")).unwrap();
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "stored in SQLite");
}

#[test]
fn streams_say_full_refresh_from_the_singer_catalog_and_the_airbyte_sync_modes_and_the_kit_skips_them() {
    let sandbox = Sandbox::new();
    let discovered = |connector: &str, config: &Value| -> Value {
        let path = sandbox.write("d.json", &config.to_string());
        let output = sandbox.runner(&["--json", "discover", connector, &path]).output().unwrap();
        serde_json::from_str(assert_success("discover", &output).lines().next().unwrap()).unwrap()
    };
    // The fake catalog names no replication key: every sync reads everything.
    let tap = tap_after_schema(&sandbox, r#"echo '{"type":"STATE","value":{}}'"#);
    assert_eq!(discovered("singer", &singer_config(&tap))["fullRefresh"], true);
    let (report, _) = kit(&sandbox, "singer", &singer_config(&tap));
    let incremental = test_support::kit::check(&report, "sync.incremental");
    assert_eq!(incremental["status"], "skip", "{report:#}");
    assert!(incremental["reason"].as_str().unwrap().contains("has no incremental mode (fullRefresh)"), "{report:#}");
    // The fake source supports incremental: it says nothing.
    let source = airbyte_source(&sandbox, "");
    let stream = discovered("airbyte", &json!({"source": source}));
    assert!(stream.get("fullRefresh").is_none(), "{stream:#}");
}

/// A fake Airbyte source whose catalog declares `at` a `date-time` (and `n` an integer)
/// and whose `read` runs `read`.
fn source_with_formats(sandbox: &Sandbox, read: &str) -> String {
    sandbox.script(
        "source-dates",
        &format!(
            r#"#!/bin/sh
case $1 in
  spec) echo '{{"type":"SPEC","spec":{{"connectionSpecification":{{"type":"object"}}}}}}' ;;
  discover) echo '{{"type":"CATALOG","catalog":{{"streams":[{{"name":"events","json_schema":{{"type":"object","properties":{{"id":{{"type":"integer"}},"at":{{"type":"string","format":"date-time"}},"n":{{"type":"integer"}}}}}},"supported_sync_modes":["full_refresh"],"source_defined_primary_key":[["id"]]}}]}}}}' ;;
  read)
{read}
    ;;
esac
"#
        ),
    )
}

/// Two events whose `at` has no offset (a broken `date-time`), one whose `at` is right.
const EVENTS_WITHOUT_OFFSET: &str = r#"echo '{"type":"RECORD","record":{"stream":"events","data":{"id":1,"at":"2001-02-03T11:53:10.771720","n":1},"emitted_at":1}}'
echo '{"type":"RECORD","record":{"stream":"events","data":{"id":2,"at":"2001-02-04T11:53:10.771720","n":2},"emitted_at":1}}'
echo '{"type":"RECORD","record":{"stream":"events","data":{"id":3,"at":"2001-02-05T11:53:10Z","n":3},"emitted_at":1}}'
"#;

#[test]
fn a_record_breaking_only_a_format_of_a_sources_schema_is_stored_and_the_drift_reported_everywhere() {
    let sandbox = Sandbox::new();
    let source = source_with_formats(&sandbox, EVENTS_WITHOUT_OFFSET);
    let config = json!({"source": source});
    let output = sandbox.sync("airbyte", &config, "dates", &["--json"]);
    let stdout = assert_success("sync", &output);
    let summary: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let expected = json!([{"type": "DatesEvents", "field": "/at", "format": "date-time", "count": 2,
        "example": "\"2001-02-03T11:53:10.771720\""}]);
    assert_eq!(summary["connections"][0]["streams"][0]["format_drift"], expected, "{summary:#}");
    assert_eq!(sandbox.store().records_of("DatesEvents").len(), 3, "stored, not rejected");
    let line = r#"DatesEvents /at: 2 values are not a "date-time", e.g. "2001-02-03T11:53:10.771720""#;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(line) && stderr.contains(r#"the adapter's "formats": "enforce""#), "{stderr}");
    let logs = sandbox.store().logs();
    assert!(logs.iter().any(|log| log.level == "drift" && log.message == line), "{logs:?}");

    let table = assert_success("sync table", &sandbox.sync("airbyte", &config, "dates", &[]));
    assert!(table.contains(&format!("  dates/events: {line}")), "{table}");
    let runs = assert_success("runs", &sandbox.runner(&["runs", "--db", "runner.db"]).output().unwrap());
    assert!(runs.contains(&format!("dates/events run 2: {line}")) && runs.contains("\"formats\""), "{runs}");
    let runs =
        assert_success("runs --json", &sandbox.runner(&["runs", "--db", "runner.db", "--json"]).output().unwrap());
    let runs: Value = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs["streams"][0]["runs"][0]["format_drift"], json!([line]));
    let path = sandbox.write("diff.json", &config.to_string());
    let diff = sandbox.runner(&["schema", "diff", "airbyte", &path, "--since", "2024-01-01"]).output().unwrap();
    let diff = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert!(diff.contains("format drift (stored anyway") && diff.contains(&format!("  {line}")), "{diff}");
    let diff =
        sandbox.runner(&["--json", "schema", "diff", "airbyte", &path, "--since", "2024-01-01"]).output().unwrap();
    let diff: Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(diff["format_drift"], expected, "{diff:#}");
}

#[test]
fn enforced_formats_still_fail_naming_the_formats_option_and_structure_stays_strict() {
    let sandbox = Sandbox::new();
    let source = source_with_formats(&sandbox, EVENTS_WITHOUT_OFFSET);
    let text = assert_failure(
        "enforce",
        &sandbox.sync("airbyte", &json!({"source": source, "formats": "enforce"}), "dates", &[]),
    );
    assert!(text.contains("at /at: value is not a \"date-time\""), "{text}");
    assert!(text.contains(r#"the adapter's "formats" option decides"#), "{text}");
    let ignored = json!({"source": source, "formats": "ignore"});
    assert_success("ignore", &sandbox.sync("airbyte", &ignored, "ignored", &[]));
    let wrong_type = source_with_formats(
        &sandbox,
        r#"echo '{"type":"RECORD","record":{"stream":"events","data":{"id":1,"at":"2001-02-03T11:53:10","n":"one"},"emitted_at":1}}'"#,
    );
    let text = assert_failure("wrong type", &sandbox.sync("airbyte", &json!({"source": wrong_type}), "typed", &[]));
    assert!(text.contains("/n") && !text.contains(r#"the adapter's "formats" option decides"#), "{text}");
}
