//! spec, verify and discover.

use pagerduty_mock::MockConfig;
use protocol::SchemaRegistry;
use serde_json::{json, Value};

use crate::util::*;

fn verification(setup: &Setup) -> (Value, String) {
    let output = connector().args(["verify", "--config"]).arg(&setup.config).output().unwrap();
    assert!(output.status.success(), "verify answers, it does not fail");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines = stdout.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>();
    let verification = lines.into_iter().find(|l| l["type"] == "verification").expect("a verification line");
    (verification, stdout)
}

#[test]
fn verify_accepts_user_and_account_tokens_and_rejects_wrong_and_missing_ones() {
    let server = start(MockConfig { incidents: 10, days: 5, ..Default::default() });
    for token in [USER_TOKEN, ACCOUNT_TOKEN] {
        let (verdict, _) = verification(&setup(&server, json!({"apiToken": token})));
        assert_eq!(verdict, json!({"type": "verification", "valid": true}), "{token}");
    }

    let wrong = "wrong-token-123456";
    let (verdict, stdout) = verification(&setup(&server, json!({"apiToken": wrong})));
    assert_eq!(verdict["valid"], false);
    assert!(verdict["errors"][0].as_str().unwrap().contains("Authentication failed"), "{verdict}");
    assert!(!stdout.contains(wrong), "the token is never printed: {stdout}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(&path, json!({"apiBaseUrl": server.base_url}).to_string()).unwrap();
    let (verdict, _) = verification(&Setup { dir, config: path });
    assert_eq!(verdict["errors"], json!(["apiToken must be present"]));
}

#[test]
fn verify_describes_an_unreachable_host_and_unknown_keys() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(
        &path,
        json!({"apiToken": "some-token-42", "apiBaseUrl": format!("http://127.0.0.1:{port}")}).to_string(),
    )
    .unwrap();
    let (verdict, _) = verification(&Setup { dir, config: path });
    let error = verdict["errors"][0].as_str().unwrap();
    assert!(error.starts_with(&format!("cannot reach 127.0.0.1:{port}: ")), "{error}");

    let server = start(MockConfig { incidents: 10, days: 5, ..Default::default() });
    let (verdict, _) = verification(&setup(&server, json!({"apiTokn": "x"})));
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["errors"], json!(["unknown configuration key \"apiTokn\""]));
}

#[test]
fn spec_publishes_the_configuration_schema_and_discover_one_stream() {
    let output = connector().arg("spec").output().unwrap();
    let spec: Value = serde_json::from_slice(&output.stdout).unwrap();
    SchemaRegistry::global().validate_message(&spec).unwrap();
    assert_eq!(spec["config_schema"]["properties"]["apiToken"]["writeOnly"], true);
    assert_eq!(spec["config_schema"]["additionalProperties"], false);

    let server = start(MockConfig { incidents: 10, days: 5, ..Default::default() });
    let setup = setup(&server, json!({"apiToken": ACCOUNT_TOKEN}));
    let output = connector().args(["discover", "--config"]).arg(&setup.config).output().unwrap();
    assert_success(&output);
    let lines = lines(&output);
    assert_eq!(lines.len(), 1);
    let stream = &lines[0]["stream"];
    SchemaRegistry::global().validate_record(stream).unwrap();
    assert_eq!(stream["id"], "mock");
    assert_eq!(stream["self"], "https://mock.pagerduty.com");
}

#[test]
fn a_reader_that_stops_reading_ends_the_sync_quietly_with_zero() {
    // `connector-pagerduty sync --config c.json --since ... | head -n 1`: once head has its
    // line and exits, the connector's next write fails with EPIPE. Nobody is left to read
    // an error: it stops, says nothing, and exits 0.
    use std::io::{BufRead, BufReader};
    let server = start(MockConfig { incidents: 400, days: 30, ..Default::default() });
    let setup = setup(&server, json!({}));
    let since = (mock_now() - chrono::Duration::days(29)).to_rfc3339();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("connector-pagerduty"))
        .args(["sync", "--config"])
        .arg(&setup.config)
        .args(["--since", &since])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout); // the reader goes away, as head does
    let output = child.wait_with_output().unwrap();
    assert!(first.starts_with("{\"type\":"), "{first}");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "nothing to say to nobody");
}
