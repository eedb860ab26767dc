//! Helpers: the binaries under test, the virtual environment with the real taps from
//! PyPI, a sandbox directory with fake taps (shell scripts) and SQLite queries.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;
use tempfile::TempDir;

/// The taps the tests install, pinned: `connector-adapters/tests/taps.txt`, a pip
/// requirements file that `.ci/run` installs from too.
pub const REQUIREMENTS: &str = include_str!("../taps.txt");

/// The packages of [`REQUIREMENTS`], e.g. `tap-jsonl==0.3.1`.
pub fn packages() -> Vec<&'static str> {
    REQUIREMENTS.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
}

/// The file a complete install leaves in the environment, holding [`REQUIREMENTS`]: an
/// environment with other pins (or a half-done install) is installed again.
pub const MARKER: &str = "installed-taps.txt";

/// The directory of the binaries under test (target/debug), with the runner in it.
pub fn bin_dir() -> PathBuf {
    let own = PathBuf::from(env!("CARGO_BIN_EXE_connector-singer"));
    let dir = own.parent().expect("a binary has a directory").to_owned();
    assert!(
        dir.join("runner").is_file(),
        "{} is missing: run `cargo build -p runner` first (`cargo test --workspace` builds it)",
        dir.join("runner").display()
    );
    dir
}

/// The virtual environment's `bin/` with `tap-jsonl` and `source-faker`, created once for
/// every test binary and process (a file lock guards the creation; a marker naming the
/// pinned packages says it is complete). `None`, after a loud SKIP on stderr, when it
/// cannot be made outside CI; under CI (`CI` set) that fails the test.
pub fn taps() -> Option<PathBuf> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match VENV.get_or_init(make_venv) {
        Ok(bin) => Some(bin.clone()),
        Err(why) if std::env::var_os("CI").is_some() => panic!("CI: the taps could not be installed: {why}"),
        Err(why) => {
            eprintln!("\n{0}\nSKIP: the real taps (PyPI: {1}) could not be installed, so this test does not run:\n{why}\n{0}\n", "=".repeat(78), packages().join(", "));
            None
        }
    }
}

fn make_venv() -> Result<PathBuf, String> {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().ok_or("no target directory")?.to_owned();
    let venv = target.join("adapter-venv");
    let marker = venv.join(MARKER);
    let lock_path = target.join("adapter-venv.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!("cannot lock {}: {}", lock_path.display(), std::io::Error::last_os_error()));
    }
    let bin = venv.join("bin");
    if fs::read_to_string(&marker).is_ok_and(|installed| installed == REQUIREMENTS) {
        return Ok(bin);
    }
    let run = |what: &str, command: &mut Command| -> Result<(), String> {
        let output = command.output().map_err(|e| format!("{what}: cannot start: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "{what} failed ({}):\n{}",
            output.status,
            stderr.lines().rev().take(15).collect::<Vec<_>>().join("\n")
        ))
    };
    eprintln!("installing {} into {} (once)", packages().join(", "), venv.display());
    run("python3 -m venv", Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(
        "pip install",
        Command::new(bin.join("pip")).args(["install", "--quiet", "--disable-pip-version-check"]).args(packages()),
    )?;
    fs::write(&marker, REQUIREMENTS).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(bin)
}

/// A temporary working directory for one test.
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

    /// Writes `name` and returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Writes an executable script.
    pub fn script(&self, name: &str, text: &str) -> String {
        let path = self.write(name, text);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// `runner ARGS` in the sandbox, without colours.
    pub fn runner(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin_dir().join("runner"));
        command.current_dir(self.dir.path()).args(args).env("NO_COLOR", "1");
        command
    }

    /// `runner sync CONNECTOR c.json 2024-01-01 --output runner.db --connection NAME EXTRA`.
    pub fn sync(&self, connector: &str, config: &Value, connection: &str, extra: &[&str]) -> Output {
        let config = self.write(&format!("{connection}.json"), &config.to_string());
        let mut args =
            vec!["sync", connector, &config, "2024-01-01", "--output", "runner.db", "--connection", connection];
        args.extend_from_slice(extra);
        self.runner(&args).output().unwrap()
    }

    /// A query of the SQLite store, each row's columns as JSON values.
    pub fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        let db = rusqlite::Connection::open(self.path("runner.db")).unwrap();
        let mut statement = db.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let columns = statement.column_count();
        let rows = statement
            .query_map([], |row| {
                (0..columns)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                            rusqlite::types::ValueRef::Real(x) => Value::from(x),
                            rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                                Value::from(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })
                    .collect()
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// The stored records of `record_type` as JSON, by id.
    pub fn records(&self, record_type: &str) -> std::collections::BTreeMap<String, Value> {
        self.query(&format!("SELECT id, json FROM records WHERE type = '{record_type}'"))
            .into_iter()
            .map(|row| (row[0].as_str().unwrap().to_owned(), serde_json::from_str(row[1].as_str().unwrap()).unwrap()))
            .collect()
    }

    /// The stored state of `stream` of `connection`.
    pub fn state(&self, connection: &str, stream: &str) -> Option<Value> {
        let rows = self.query(&format!(
            "SELECT state FROM stream_state WHERE connection = '{connection}' AND stream_id = '{stream}'"
        ));
        rows.first().map(|row| serde_json::from_str(row[0].as_str().unwrap()).unwrap())
    }

    /// Every file's text in the sandbox and the database's whole content, for leak checks.
    pub fn everything_stored(&self) -> String {
        let mut text = String::new();
        for table in ["records", "stream_state", "sync_runs", "run_logs"] {
            for row in self.query(&format!("SELECT * FROM {table}")) {
                text.push_str(&Value::from(row).to_string());
                text.push('\n');
            }
        }
        text
    }
}

/// Runs `runner --json test-connector CONNECTOR CONFIG` in `sandbox`: the report and the
/// exit code. Each connector run may take 5 minutes instead of the kit's 60 s: a Python
/// source starts in seconds, several times per command, and CI's 2 cores are shared by
/// parallel tests.
pub fn kit(sandbox: &Sandbox, connector: &str, config: &Value) -> (Value, i32) {
    let config = sandbox.write("kit.json", &config.to_string());
    let output = sandbox
        .runner(&["--json", "test-connector", connector, &config, "--since", "2024-01-01", "--check-timeout", "300"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("not one JSON document ({e}):\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&output.stderr))
    });
    (report, output.status.code().unwrap_or(-1))
}

/// The names of the failed checks of a kit report, with their details.
pub fn failed_checks(report: &Value) -> Vec<String> {
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    checks.iter().filter(|c| c["status"] == "fail").map(|c| format!("{}: {}", c["name"], c["detail"])).collect()
}

/// Fails with the output unless the command succeeded; returns stdout and stderr.
pub fn assert_ok(what: &str, output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{what} failed ({}):\n{stdout}\n--- stderr ---\n{stderr}", output.status);
    format!("{stdout}{stderr}")
}

/// Fails unless the command failed; returns stdout and stderr.
pub fn assert_failed(what: &str, output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "{what} should have failed:\n{stdout}\n--- stderr ---\n{stderr}");
    format!("{stdout}{stderr}")
}
