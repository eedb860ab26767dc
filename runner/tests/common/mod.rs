//! Helpers shared by the integration tests that run the real `runner` binary on real
//! connectors (`kit.rs`, `new.rs`): where the repository is, a `runner` command, the
//! conformance kit's JSON report, and a clear failure when a language is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("runner/ has a parent").to_owned()
}

/// `runner` with `args`, run in `dir`.
pub fn runner(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::cargo_bin("runner").expect("the runner binary is built");
    command.current_dir(dir).args(args).env("NO_COLOR", "1");
    command
}

/// Runs `runner --json test-connector ARGS` in `dir`: the report and the exit code.
pub fn kit(dir: &Path, args: &[&str]) -> (Value, i32) {
    let mut all = vec!["--json", "test-connector"];
    all.extend_from_slice(args);
    let output = runner(dir, &all).output().expect("runner starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("not one JSON document ({e}):\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&output.stderr))
    });
    (report, output.status.code().unwrap_or(-1))
}

/// Check `name` of a kit `report`.
pub fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// Fails the test, saying what to install, when `tool` cannot run (CI installs it).
pub fn require(tool: &str, install: &str) {
    let works = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(works, "`{tool}` is required by this test but cannot be run: install {install} (CI must install it)");
}
