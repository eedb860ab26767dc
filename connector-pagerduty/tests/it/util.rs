//! Shared helpers: simulator setup, a server that refuses everything (on test-support's
//! HTTP server), configuration files, running the binary, reading its protocol lines.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use assert_cmd::Command;
use chrono::{DateTime, Duration, DurationRound, Utc};
use pagerduty_mock::{MockConfig, MockServer, Stats};
use protocol::SchemaRegistry;
use serde_json::{json, Value};
use test_support::http::{Reply, Server};

pub const USER_TOKEN: &str = "mock-user-token";
pub const ACCOUNT_TOKEN: &str = "mock-account-token";

/// The simulators' "now", one instant for the whole test binary: two simulators started
/// with the same configuration serve the same records, whatever the clock does between
/// their starts. Two hours ago, so that data generated up to it never falls into the few
/// minutes an incremental sync looks back over.
pub fn mock_now() -> DateTime<Utc> {
    static NOW: OnceLock<DateTime<Utc>> = OnceLock::new();
    *NOW.get_or_init(|| (Utc::now() - Duration::hours(2)).duration_trunc(Duration::seconds(1)).unwrap())
}

/// A simulator on loopback; its `now` is [`mock_now`] unless `config` sets one.
pub fn start(config: MockConfig) -> MockServer {
    let now = config.now.or(Some(mock_now()));
    pagerduty_mock::start_blocking(MockConfig { now, ..config }).expect("simulator starts")
}

/// Requests `stats` counts as answered with `status`, whatever the path.
pub fn answered(stats: &Stats, status: u16) -> u64 {
    stats.by_status.get(&status.to_string()).copied().unwrap_or(0)
}

/// A loopback HTTP server that answers every request `429 Rate Limit Exceeded` with
/// `ratelimit-reset: 0`: a token whose budget other clients always use up first, which
/// no wait on our side can fix. Stops when dropped.
pub fn refusing_server() -> Server {
    let refusal = json!({"error": {"message": "Rate Limit Exceeded", "code": 2020}});
    Server::always(Reply::json(429, refusal).header("ratelimit-reset", "0"))
}

/// A temporary directory with a configuration file for a server.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

/// A configuration for `server`: the user-level token, plus or overridden by `extra`.
pub fn setup(server: &MockServer, extra: Value) -> Setup {
    setup_at(&server.base_url, extra)
}

/// A configuration for the API at `base_url`: the user-level token, plus or overridden by
/// `extra`.
pub fn setup_at(base_url: &str, extra: Value) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = json!({"apiToken": USER_TOKEN, "apiBaseUrl": base_url});
    config.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    Setup { dir, config: path }
}

pub fn connector() -> Command {
    Command::cargo_bin("connector-pagerduty").unwrap()
}

/// `connector-pagerduty sync --config C --since CUTOFF [--state S]`, every discovered stream.
pub fn sync(setup: &Setup, cutoff: DateTime<Utc>, state: Option<&Value>) -> Output {
    let mut command = connector();
    command.args(["sync", "--config"]).arg(&setup.config).args(["--since", &protocol::format_instant(cutoff)]);
    if let Some(state) = state {
        let path = setup.dir.path().join("state.json");
        std::fs::write(&path, state.to_string()).unwrap();
        command.arg("--state").arg(path);
    }
    command.output().unwrap()
}

/// The protocol lines of stdout, each checked against its message schema.
pub fn lines(output: &Output) -> Vec<Value> {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            SchemaRegistry::global().validate_message(&value).unwrap_or_else(|e| panic!("{e:?}: {line}"));
            value
        })
        .collect()
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "connector failed: {}\nstderr: {}\nlast lines: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout).lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
}

/// Records by `_type`, then by id (later duplicates replace earlier ones, as upserts do).
pub type Records = BTreeMap<String, HashMap<String, Value>>;

pub fn records(lines: &[Value]) -> Records {
    let mut out = Records::new();
    for line in lines.iter().filter(|l| l["type"] == "record") {
        let record = &line["record"];
        let kind = record["_type"].as_str().unwrap().to_owned();
        let id = record["id"].as_str().unwrap().to_owned();
        out.entry(kind).or_default().insert(id, record.clone());
    }
    out
}

/// Every record conforms to its shared schema.
pub fn validate_all(lines: &[Value]) {
    let registry = SchemaRegistry::global();
    for line in lines.iter().filter(|l| l["type"] == "record") {
        registry.validate_record(&line["record"]).unwrap_or_else(|e| panic!("{e}"));
    }
}

pub fn states(lines: &[Value]) -> Vec<Value> {
    lines.iter().filter(|l| l["type"] == "state").map(|l| l["state"].clone()).collect()
}

/// The `progress` messages, in order.
pub fn progress(lines: &[Value]) -> Vec<Value> {
    lines.iter().filter(|l| l["type"] == "progress").cloned().collect()
}

/// The text of the `log` messages of `level`.
pub fn logs(lines: &[Value], level: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["type"] == "log" && l["level"] == level)
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Spends `count` requests of the user token's budget, as another tool on the same key
/// would (on `/abilities`, which a sync never asks for, so its requests stay apart in the
/// stats). Returns how many were answered 200.
pub fn spend_budget(server: &MockServer, count: u32) -> u32 {
    let client = reqwest::blocking::Client::new();
    let mut served = 0;
    for _ in 0..count {
        let answer = client
            .get(format!("{}/abilities", server.base_url))
            .header("Authorization", format!("Token token={USER_TOKEN}"))
            .send()
            .expect("the simulator answers");
        served += u32::from(answer.status().is_success());
    }
    served
}

/// A simulator's `now` as an RFC 3339 instant.
pub fn instant(value: &Value) -> DateTime<Utc> {
    protocol::parse_cutoff(value.as_str().expect("an instant")).expect("RFC 3339")
}

pub fn ids(records: &Records, kind: &str) -> std::collections::BTreeSet<String> {
    records.get(kind).map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Far enough in the future to include every generated and churned item.
pub fn far_future() -> DateTime<Utc> {
    Utc::now() + Duration::days(1)
}

/// Records with the simulator's address replaced, to compare runs against two servers.
pub fn without_base(records: Records, base_url: &str) -> Records {
    let text = serde_json::to_string(&records).unwrap().replace(base_url, "BASE");
    serde_json::from_str(&text).unwrap()
}

/// The records of a sync of all of `server`'s data, which must succeed, each checked
/// against its schema, the simulator's address replaced as by [`without_base`].
pub fn full_sync_records(server: &MockServer) -> Records {
    let output = sync(&setup(server, json!({})), server.dataset().start(), None);
    assert_success(&output);
    let lines = lines(&output);
    validate_all(&lines);
    without_base(records(&lines), &server.base_url)
}

/// The same record types, and for each the same records.
pub fn assert_same_records(got: &Records, expected: &Records) {
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (kind, records) in expected {
        assert_eq!(&got[kind], records, "{kind} records differ");
    }
}
