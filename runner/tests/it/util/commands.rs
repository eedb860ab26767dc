//! Running the runner and other tools: the command in a directory, the kit's report, a
//! command that must succeed, a tool that must be installed.

use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::{assert_success, runner_bin};

/// `runner` with `args`, run in `dir`, without colours.
pub fn runner(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(runner_bin());
    command.current_dir(dir).args(args).env("NO_COLOR", "1");
    command
}

/// Runs `runner --json test-connector ARGS` in `dir`: the report and the exit code.
pub fn kit(dir: &Path, args: &[&str]) -> (Value, i32) {
    let mut all = vec!["--json", "test-connector"];
    all.extend_from_slice(args);
    test_support::kit::report(&runner(dir, &all).output().expect("runner starts"))
}

/// Fails the test, saying what to install, when `tool` cannot run (CI installs it).
pub fn require(tool: &str, install: &str) {
    let works = std::process::Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(works, "`{tool}` is required by this test but cannot be run: install {install} (CI must install it)");
}

/// Runs `command`, fails the test with its output unless it succeeds, returns its stdout
/// and stderr.
pub fn succeed(what: &str, command: &mut std::process::Command) -> String {
    let started = Instant::now();
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = assert_success(what, &output);
    eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    text
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}
