//! Every helper of the runner's integration tests: the runner binary and its siblings,
//! the fixture connector, a sandbox directory with SQLite queries, the conformance kit's
//! JSON report, commands that must succeed, and a clear failure when a tool is missing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// The runner binary.
pub fn runner_bin() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("runner"))
}

/// Fails the test unless the workspace binary `name` is built beside the runner, where
/// the runner finds it (`cargo test --workspace` and `cargo build --workspace` build it;
/// building it from a test with `cargo build -p` would unify features differently and
/// rebuild its dependencies).
pub fn require_sibling(name: &str) -> PathBuf {
    let path = runner_bin().with_file_name(name);
    assert!(path.is_file(), "{} is missing: build the workspace first (cargo build --workspace)", path.display());
    path
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("runner/ has a parent").to_owned()
}

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

/// The status of check `name` in `report`.
pub fn status<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["status"].as_str().unwrap_or("?")
}

/// The names of the failed checks.
pub fn failed(report: &Value) -> Vec<String> {
    let checks = report["checks"].as_array().map(Vec::as_slice).unwrap_or_default();
    checks.iter().filter(|c| c["status"] == "fail").filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
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
    let output: Output = command.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{what} failed ({}):\n{stdout}\n--- stderr ---\n{stderr}", output.status);
    eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    format!("{stdout}{stderr}")
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The fixture connector, made executable (git may lose the mode).
pub fn fake() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-connector.sh");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    if mode & 0o111 != 0o111 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.to_str().unwrap().to_owned()
}

/// A temporary working directory with a config file and a database in it.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `c.json` and returns its path.
    pub fn config(&self, json: &str) -> String {
        self.write("c.json", json)
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// `runner ARGS` in the sandbox.
    pub fn runner(&self, args: &[&str]) -> Command {
        let mut command = Command::new(runner_bin());
        command.current_dir(self.dir.path()).args(args);
        command
    }

    /// `runner sync fake c.json s1 2026-01-01 ARGS` with the given config.
    pub fn sync(&self, config: &str, extra: &[&str]) -> Command {
        let config = self.config(config);
        let fake = fake();
        let mut args = vec!["sync", fake.as_str(), config.as_str(), "s1", "2026-01-01"];
        args.extend_from_slice(extra);
        self.runner(&args)
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("runner.db")).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    pub fn strings(&self, sql: &str) -> Vec<String> {
        let db = self.db();
        let mut statement = db.prepare(sql).unwrap();
        statement.query_map([], |row| row.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
    }
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
