//! The connector as the runner runs it: the built binary, a command, and the protocol
//! messages on stdin; the checks read its stdout as JSON lines.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const TOKEN: &str = "t0k3n-for-tests";

/// What one run printed.
struct Run {
    code: Option<i32>,
    messages: Vec<Value>,
    stderr: String,
}

impl Run {
    /// The messages of type `kind`.
    fn all(&self, kind: &str) -> Vec<&Value> {
        self.messages.iter().filter(|m| m["type"] == kind).collect()
    }
}

/// Runs `connector-{{slug}} COMMAND` with `stdin`.
fn run(command: &str, stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connector-{{slug}}"))
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the connector starts");
    // A command that reads nothing may exit before stdin is written: that is fine.
    let _ = child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes());
    let output = child.wait_with_output().expect("the connector runs");
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let messages = stdout.lines().map(|line| serde_json::from_str(line).expect("every line is JSON")).collect();
    Run { code: output.status.code(), messages, stderr: String::from_utf8_lossy(&output.stderr).into_owned() }
}

fn config_line(config: Value) -> String {
    format!("{}\n", json!({"type": "config", "protocol": 1, "config": config}))
}

fn sync_stdin(state: Value) -> String {
    let stream = json!({"_type": "Stream", "id": "example-account", "self": "https://api.example.com", "name": "x"});
    let sync =
        json!({"type": "sync", "stream": stream, "earliest_data_cutoff": "2026-01-01T00:00:00Z", "state": state});
    format!("{}{sync}\n", config_line(json!({"apiToken": TOKEN})))
}

#[test]
fn spec_names_the_connector_and_marks_the_token_secret() {
    let spec = run("spec", "");
    assert_eq!(spec.code, Some(0));
    let message = spec.all("spec")[0];
    assert_eq!(message["name"], "{{slug}}");
    assert_eq!(message["config_schema"]["properties"]["apiToken"]["writeOnly"], true);
}

#[test]
fn verify_answers_for_good_and_bad_configurations_and_exits_0() {
    let cases = [
        (json!({"apiToken": TOKEN}), json!({"type": "verification", "valid": true})),
        (json!({}), json!({"type": "verification", "valid": false, "errors": ["apiToken must be present"]})),
    ];
    for (config, answer) in cases {
        let verify = run("verify", &config_line(config));
        assert_eq!((verify.code, verify.messages), (Some(0), vec![answer]));
    }
    let spaced = run("verify", &config_line(json!({"apiToken": "t0k3n with a space"})));
    assert_eq!(spaced.messages[0]["valid"], false);
    assert!(!spaced.messages[0].to_string().contains("with a space"), "the token is never quoted");
}

#[test]
fn discover_emits_the_account_stream() {
    let discover = run("discover", &config_line(json!({"apiToken": TOKEN})));
    assert_eq!(discover.code, Some(0));
    assert_eq!(discover.all("stream")[0]["stream"]["id"], "example-account");
}

#[test]
fn sync_emits_pages_with_checkpoints_then_resumes_from_the_last_one() {
    let first = run("sync", &sync_stdin(Value::Null));
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let ids: Vec<&Value> = first.all("record").iter().map(|m| &m["record"]["id"]).collect();
    assert_eq!(ids, ["EX-5", "EX-4", "EX-3", "EX-2", "EX-1"]);
    let states = first.all("state");
    assert_eq!(states.len(), 3, "one checkpoint per page");
    let again = run("sync", &sync_stdin(states[2]["state"].clone()));
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.all("record").is_empty(), "nothing new since the last checkpoint");
}

#[test]
fn the_token_never_appears_in_any_output() {
    for command in ["verify", "discover", "sync"] {
        let output = run(command, &sync_stdin(Value::Null));
        let all = format!("{:?}{}", output.messages, output.stderr);
        assert!(!all.contains(TOKEN), "{command} printed the token");
    }
}

#[test]
fn closed_stdin_is_a_config_error_not_a_hang() {
    let sync = run("sync", "");
    assert_eq!(sync.code, Some(1));
    assert_eq!(sync.all("error")[0]["kind"], "config");
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let unknown = run("frobnicate", "");
    assert_eq!(unknown.code, Some(2));
    assert!(unknown.messages.is_empty() && !unknown.stderr.is_empty());
}
