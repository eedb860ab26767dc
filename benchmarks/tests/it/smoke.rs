//! runner-bench end to end with tiny volumes, to keep the harness working: every case runs
//! and is verified, and failures are loud. No timing is asserted: this is a benchmark.
//!
//! Needs the debug `runner` and `connector-pagerduty` beside runner-bench
//! (`cargo test --workspace` builds them; else `cargo build -p runner -p connector-pagerduty`).

use std::path::PathBuf;

use assert_cmd::Command;
use benchmarks::cases::{Case, Destination};
use serde_json::Value;

/// The directory of the binaries under test: target/debug.
fn bin_dir() -> PathBuf {
    let own = PathBuf::from(env!("CARGO_BIN_EXE_runner-bench"));
    let dir = own.parent().expect("runner-bench has a directory").to_owned();
    for binary in ["runner", "connector-pagerduty", "connector-bench"] {
        assert!(
            dir.join(binary).is_file(),
            "{} is missing: run `cargo build -p runner -p connector-pagerduty` first",
            dir.join(binary).display()
        );
    }
    dir
}

fn runner_bench(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runner-bench"));
    command.arg("--bin-dir").arg(bin_dir()).args(args);
    command
}

fn stdout_of(args: &[&str]) -> String {
    let output = runner_bench(args).output().expect("runner-bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "runner-bench {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn pipeline_measures_and_verifies_every_case() {
    let stdout = stdout_of(&["pipeline", "--records", "3000", "--runs", "1"]);
    assert!(stdout.contains("N = 3,000 records"), "{stdout}");
    for case in Case::PIPELINE {
        assert!(stdout.contains(&format!("| {}", case.label())), "no row for {}:\n{stdout}", case.label());
    }
}

#[test]
fn scaling_reports_every_destination_at_every_volume_as_json() {
    let stdout = stdout_of(&["scaling", "--records", "1000,2000", "--runs", "1", "--json"]);
    let report: Value = serde_json::from_str(&stdout).expect("one JSON document");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2 * Destination::ALL.len(), "{report:#}");
    for row in rows {
        assert!(row["records_per_second"].as_f64().is_some_and(|r| r > 0.0), "{row:#}");
        assert!(row["peak_rss_mb"].as_f64().is_some_and(|r| r > 0.0), "{row:#}");
    }
}

#[test]
fn pagerduty_syncs_the_simulator_and_counts_requests() {
    let stdout = stdout_of(&["pagerduty", "--incidents", "300"]);
    assert!(stdout.contains("| 300 "), "{stdout}");
    assert!(stdout.contains("/incidents") && stdout.contains("/log_entries"), "{stdout}");
    assert!(stdout.contains("| 429s ") && stdout.contains("| x bound ") && stdout.contains(" target s |"), "{stdout}");
}

#[test]
fn pagerduty_measures_connections_sharing_a_token_against_the_rate_limit_as_json() {
    let args = ["pagerduty", "--incidents", "300", "--connections", "2", "--latency-ms", "4"];
    let stdout = stdout_of(&[&args[..], &["--rate-limit-rpm", "6000", "--json"]].concat());
    let report: Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!((report["connections"].as_u64(), report["latency_jitter_ms"].as_u64()), (Some(2), Some(1)));
    let sync = &report["syncs"][0];
    assert_eq!(sync["records_by_type"]["Incident"], 300, "{sync:#}");
    let (requests, minimal) = (sync["requests"].as_u64().unwrap(), sync["minimal_requests"].as_u64().unwrap());
    assert!(requests >= minimal && minimal > 2 * 7, "{sync:#}");
    assert!(sync["rate_limited"].is_u64() && sync["peak_concurrency"].as_u64() > Some(0), "{sync:#}");
    let bound = sync["bound_seconds"].as_f64().unwrap();
    assert!((bound - requests as f64 / 100.0).abs() < 1e-9, "requests at 6000 a minute: {sync:#}");
    let target = sync["target_seconds"].as_f64().unwrap();
    assert!((target - (1.2 * bound + 2.0)).abs() < 1e-9, "two connections: 1.2 x bound + 2 s: {sync:#}");
}

#[test]
fn the_baseline_fails_loudly_on_an_invalid_record() {
    let mut record: Value = serde_json::from_str(&benchmarks::incident::record_message(7)).unwrap();
    record["record"]["createdAt"] = Value::from("yesterday");
    let assert = runner_bench(&["baseline"]).write_stdin(format!("{record}\n")).assert().failure();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("invalid record on line 1") && stderr.contains("/createdAt"), "{stderr}");
}

#[test]
fn a_missing_binary_is_named_with_how_to_build_it() {
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_runner-bench"))
        .arg("--bin-dir")
        .arg(empty.path())
        .args(["pipeline", "--records", "10"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("`runner` not found") && stderr.contains("cargo build -p runner"), "{stderr}");
}

#[test]
fn workers_share_a_fleet_and_every_record_is_verified() {
    // runner-bench starts its own cluster; this only decides whether there can be one.
    if throwaway_postgres::server_bin().is_none() && std::env::var_os("CI").is_none() {
        eprintln!("SKIPPED workers_share_a_fleet_and_every_record_is_verified: no PostgreSQL server is installed");
        return;
    }
    let stdout = stdout_of(&[
        "workers",
        "--connections",
        "5",
        "--records",
        "120",
        "--checkpoint-every",
        "40",
        "--page-delay-ms",
        "0",
        "--workers",
        "1,2",
        "--jobs",
        "2",
        "--runs",
        "1",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&stdout).expect("one JSON document");
    let rows = report["rows"].as_array().expect("rows");
    let workers: Vec<u64> = rows.iter().map(|row| row["workers"].as_u64().expect("workers")).collect();
    assert_eq!(workers, [1, 2], "{report:#}");
    assert_eq!(rows[0]["speedup"].as_f64(), Some(1.0), "the first row is the reference: {report:#}");
    // 5 connections of 120 records were verified in the database by runner-bench itself.
    assert!(rows.iter().all(|row| row["records_per_second"].as_f64().is_some_and(|r| r > 0.0)), "{report:#}");
}

#[test]
fn adapters_time_tap_jsonl_alone_and_through_its_adapter_and_verify_both() {
    // The taps are the ones connector-adapters' tests install (and .ci/run, before any
    // test); this test does not install them (one installer is enough), so outside CI it
    // skips, loudly, where they are not there yet.
    let taps = bin_dir().parent().expect("target/debug has a parent").join("adapter-venv/bin");
    if !taps.join("tap-jsonl").is_file() {
        assert!(std::env::var_os("CI").is_none(), "CI: no tap-jsonl in {} (.ci/run installs it)", taps.display());
        eprintln!(
            "SKIP adapters smoke test: no tap-jsonl in {} (`cargo test -p connector-adapters` installs it)",
            taps.display()
        );
        return;
    }
    let stdout = stdout_of(&["adapters", "--records", "500", "--faker-records", "0", "--runs", "1", "--json"]);
    let report: Value = serde_json::from_str(&stdout).expect("one JSON document");
    let tap = &report["taps"][0];
    assert_eq!((tap["tap"].as_str(), tap["records"].as_u64()), (Some("tap-jsonl"), Some(500)), "{report:#}");
    assert!(tap["overhead_ratio"].as_f64().is_some_and(|r| r > 0.0), "{report:#}");
    assert_eq!(report["taps"].as_array().map(Vec::len), Some(1), "--faker-records 0 leaves source-faker out");
}
