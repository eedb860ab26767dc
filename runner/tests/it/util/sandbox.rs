//! The runner's tests' sandbox: test-support's, plus the fixture connector's syncs and
//! files and SQL on the database.

use std::process::{Child, Stdio};

use assert_cmd::Command;

use super::{fake, runner_bin, wait_for};

/// test-support's sandbox (a temporary directory, `runner` run in it) with what the
/// runner's tests add: the fixture connector's config, syncs and files, and a database.
pub struct Sandbox(test_support::sandbox::Sandbox);

impl std::ops::Deref for Sandbox {
    type Target = test_support::sandbox::Sandbox;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox(test_support::sandbox::Sandbox::new())
    }

    /// Writes `c.json` and returns its path.
    pub fn config(&self, json: &str) -> String {
        self.write("c.json", json)
    }

    /// `runner sync fake c.json s1 2026-01-01 ARGS` with the given config.
    pub fn sync(&self, config: &str, extra: &[&str]) -> Command {
        let config = self.config(config);
        let fake = fake();
        let mut args = vec!["sync", fake.as_str(), config.as_str(), "s1", "2026-01-01"];
        args.extend_from_slice(extra);
        self.runner(&args)
    }

    /// `runner sync fake c.json s1 2026-01-01 -q ARGS` started in the background, stdin
    /// closed, stdout and stderr piped (read them with [`finish`]).
    pub fn spawn_sync(&self, config: &str, extra: &[&str]) -> Child {
        let mut command = std::process::Command::new(runner_bin());
        command.current_dir(self.dir.path()).args(["sync", &fake(), &self.config(config), "s1", "2026-01-01", "-q"]);
        command.args(extra).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.spawn().expect("runner starts")
    }

    /// Waits until the database holds a checkpoint. Read-only: the database is not created
    /// here before the runner creates it.
    pub fn wait_for_checkpoint(&self) {
        wait_for("a checkpoint in runner.db", || {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
            let states = rusqlite::Connection::open_with_flags(self.path("runner.db"), flags)
                .and_then(|db| db.query_row("SELECT count(*) FROM stream_state", [], |row| row.get::<_, i64>(0)));
            (states.unwrap_or(0) > 0).then_some(())
        });
    }

    /// Waits until the fixture connector has written `connector.pid` (its traps and child
    /// are in place) and returns that pid, which is also its process group's id.
    pub fn wait_for_connector_pid(&self) -> i32 {
        let path = self.path("connector.pid");
        wait_for("the fixture's connector.pid", || {
            let text = std::fs::read_to_string(&path).ok()?;
            text.strip_suffix('\n')?.parse().ok()
        })
    }

    /// The lines of the fixture's `signals` file (each a SIGTERM a trap saw), sorted.
    pub fn signals_seen(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.path("signals")).unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
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
