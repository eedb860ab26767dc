//! The runner's memory stays flat whatever the volume (ARCHITECTURE.md: at most 8 chunks
//! of stdout in flight). Not a benchmark: one sync of far more data than the bound, and the
//! runner's own peak RSS (`VmHWM`, sampled while it runs), measured by the benchmarks'
//! `process::Running`, the workspace's one measurement of it.

use std::fs::File;
use std::process::{Command, Stdio};

use std::time::Duration;

use benchmarks::process::Running;

use crate::util::{runner_bin, workspace_bin};

/// Records synced: ~1.37 KB each, about 205 MB in all.
const RECORDS: u64 = 150_000;
/// The bound on the peak RSS: the runner peaks at about 26 MiB here (debug build, stdout
/// destination, whatever the volume); keeping every record would take more than the
/// records' 205 MB.
const PEAK_RSS_BOUND_KIB: u64 = 128 * 1024;

#[test]
fn a_large_sync_keeps_the_runners_memory_under_a_bound_far_below_its_volume() {
    let connector = workspace_bin("connector-bench");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let config_json = format!(r#"{{"records":{RECORDS},"checkpointEvery":10000,"apiToken":"tok-memory-test"}}"#);
    std::fs::write(&config, config_json).unwrap();
    let stderr_path = dir.path().join("stderr");

    let mut command = Command::new(runner_bin());
    command
        .current_dir(dir.path())
        .args(["sync", connector.to_str().unwrap(), config.to_str().unwrap(), "2026-01-01", "--output", "-", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap());
    // The runner's own high-water mark, not `ru_maxrss`: that one includes connector-bench
    // and, on some kernels, starts at this (large) test process's RSS.
    let running = Running::spawn("`runner sync`", &mut command).unwrap();
    let (usage, runner_peak_kib) = running.wait_sampling_own_peak(Duration::from_millis(10)).unwrap();

    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(usage.status.success(), "{:?}: {stderr}", usage.status);
    let summary: serde_json::Value = serde_json::from_str(&stderr).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(summary["records"], RECORDS, "{summary}");
    assert!(runner_peak_kib > 0, "the runner's memory was never sampled");
    assert!(
        runner_peak_kib < PEAK_RSS_BOUND_KIB,
        "the runner peaked at {runner_peak_kib} KiB for {RECORDS} records, bound {PEAK_RSS_BOUND_KIB} KiB"
    );
}
