//! Rule: the binary prints `listening on http://127.0.0.1:PORT` first and serves.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagerduty-mock"))
        .args(["--port", "0", "--seed", "1", "--incidents", "500", "--days", "30", "--token", "T"])
        .args(["--now", "2026-03-01T00:00:00Z", "--rate-limit-rpm", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("first line names the address").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let resp = reqwest::blocking::Client::new()
        .get(format!("{url}/incidents?total=true&date_range=all"))
        .header("Authorization", "Token token=T")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["ratelimit-limit"], "100");
    let body: serde_json::Value = resp.json().unwrap();
    assert_eq!(body["total"], 500);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn binary_rejects_bad_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_pagerduty-mock")).args(["--fail-rate", "2"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fail_rate"));
}
