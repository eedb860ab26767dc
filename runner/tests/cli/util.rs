//! Shared helpers: the fixture connector, a sandbox directory, SQLite queries.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// The runner binary.
pub fn runner_bin() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("runner"))
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
