//! Helpers: the binaries under test, the virtual environment with the real taps from
//! PyPI, and what these tests add to test-support's sandbox (fake taps are its scripts,
//! `runner.db` its store): syncs into `runner.db`, and the README's SQL run on it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;
pub use test_support::kit::failures;
pub use test_support::sandbox::{assert_failure, assert_success, workspace_bin, Sandbox};
pub use test_support::wait::{alive, wait_for};

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
    workspace_bin("runner").parent().expect("a binary has a directory").to_owned()
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

/// What these tests do in a sandbox: syncs into `runner.db`, SQL of their own on it.
pub trait AdapterSandbox {
    /// `runner sync CONNECTOR c.json 2024-01-01 --output runner.db --connection NAME EXTRA`.
    fn sync(&self, connector: &str, config: &Value, connection: &str, extra: &[&str]) -> Output;
    /// A query of the SQLite store, each row's columns as JSON values (for the README's
    /// queries; the store's rows are [`Sandbox::store`]'s).
    fn query(&self, sql: &str) -> Vec<Vec<Value>>;
}

impl AdapterSandbox for Sandbox {
    fn sync(&self, connector: &str, config: &Value, connection: &str, extra: &[&str]) -> Output {
        let config = self.write(&format!("{connection}.json"), &config.to_string());
        let mut args =
            vec!["sync", connector, &config, "2024-01-01", "--output", "runner.db", "--connection", connection];
        args.extend_from_slice(extra);
        self.runner(&args).output().unwrap()
    }

    fn query(&self, sql: &str) -> Vec<Vec<Value>> {
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
}

/// Runs `runner --json test-connector CONNECTOR CONFIG` in `sandbox`: the report and the
/// exit code. Each connector run may take 5 minutes instead of the kit's 60 s: a Python
/// source starts in seconds, several times per command, and CI's 2 cores are shared by
/// parallel tests.
pub fn kit(sandbox: &Sandbox, connector: &str, config: &Value) -> (Value, i32) {
    let config = sandbox.write("kit.json", &config.to_string());
    let args = ["--json", "test-connector", connector, &config, "--since", "2024-01-01", "--check-timeout", "300"];
    test_support::kit::report(&sandbox.runner(&args).output().unwrap())
}
