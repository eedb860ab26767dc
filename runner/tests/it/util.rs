//! Every helper of the runner's integration tests: the runner binary and its siblings,
//! the fixture connector, a sandbox directory with SQLite queries, the conformance kit's
//! JSON report, commands that must succeed, a clear failure when a tool is missing, and
//! waiting for events (a file, a checkpoint, a process group gone) with a bound that only
//! guards against a hang.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use test_support::http::{Reply, Server};
pub use test_support::kit::{check, failed, status};
pub use test_support::sandbox::{assert_success, runner_bin, stderr_of, stdout_of, workspace_bin, workspace_root};
pub use test_support::wait::{alive, wait_for};
pub use test_support::PATIENCE;

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

/// The fixture connector, made executable (git may lose the mode).
pub fn fake() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-connector.sh");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    if mode & 0o111 != 0o111 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.to_str().unwrap().to_owned()
}

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

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0, "kill({pid}, {signal})");
}

/// Waits for `child` to exit and returns its output; kills it and fails the test if it is
/// still running after [`PATIENCE`].
pub fn finish(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(PATIENCE) {
        Ok(output) => output.expect("waiting for the runner"),
        Err(_) => {
            // SAFETY: as in `signal`; the child is not reaped yet (its waiter is blocked).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("the runner (pid {pid}) was still running after {PATIENCE:?}: killed");
        }
    }
}

/// Waits at most `timeout` for `child` to exit: its status, or `None` while it still runs.
/// Wakes the moment the child exits (a pidfd polled), not at the next tick of a loop.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let deadline = Instant::now() + timeout;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1; the
    // child is not reaped yet (only `child` can reap it), so its pid is still its own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: the descriptor was just opened and is owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut poll = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // Rounded up, so that the wait never ends before the deadline.
        let millis = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd, for the length given.
        match unsafe { libc::poll(&mut poll, 1, millis) } {
            0 => return child.try_wait().unwrap(),
            n if n > 0 => return Some(child.wait().unwrap()),
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => panic!("poll: {}", std::io::Error::last_os_error()),
        }
    }
}

/// A process as /proc tells it.
struct Process {
    pid: i32,
    state: String,
    ppid: i32,
    pgrp: i32,
    command: String,
}

/// Every process, read from /proc (processes that end meanwhile are left out).
fn processes() -> Vec<Process> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and ')'.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((_, after_comm)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(-1);
        let command = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let command = String::from_utf8_lossy(&command).replace('\0', " ").trim_end().to_owned();
        let state = fields.first().copied().unwrap_or("?").to_owned();
        all.push(Process { pid, state, ppid: number(1), pgrp: number(2), command });
    }
    all
}

/// The live (not zombie) processes of process group `pgid`, as `pid state command`.
pub fn group_members(pgid: i32) -> Vec<String> {
    let members = processes().into_iter().filter(|p| p.pgrp == pgid && p.state != "Z");
    members.map(|p| format!("{} {} {}", p.pid, p.state, p.command)).collect()
}

/// The live (not zombie) children of process `pid`, as (pid, command line).
pub fn children_of(pid: u32) -> Vec<(i32, String)> {
    let children = processes().into_iter().filter(|p| i64::from(p.ppid) == i64::from(pid) && p.state != "Z");
    children.map(|p| (p.pid, p.command)).collect()
}

/// Waits until no live process is left in group `pgid`; otherwise kills them and fails.
pub fn wait_until_group_gone(pgid: i32) {
    let deadline = Instant::now() + PATIENCE;
    while !group_members(pgid).is_empty() {
        if Instant::now() > deadline {
            let left = group_members(pgid);
            // SAFETY: as in `signal`; the group still has members, so its id is still theirs.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            panic!("the connector's process group {pgid} still had {left:?} after {PATIENCE:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills what is left of a connector's process group when a test fails before its end,
/// so a failing test leaves no process behind.
pub struct GroupGuard(pub i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if std::thread::panicking() && !group_members(self.0).is_empty() {
            // SAFETY: as in `signal`; the group still has members, so its id is still theirs.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
}

/// The lines every test connector starts with: its spec (a writeOnly `token`), one stream,
/// and for sync the sync message in `$sync`.
const PREAMBLE: &str = r#"#!/bin/sh
case "$1" in
spec) echo '{"type":"spec","protocol":1,"name":"store-test","version":"1","config_schema":{"type":"object","properties":{"token":{"type":"string","writeOnly":true}}},"record_types":["Team"]}'; exit 0 ;;
discover) cat >/dev/null; echo '{"type":"stream","stream":{"_type":"Stream","id":"s1","self":"https://x.test/s1","name":"S1"}}'; exit 0 ;;
esac
read -r config
read -r sync
team() { printf '{"type":"record","record":{"_type":"Team","id":"T%s","self":"https://x.test/T%s","name":"%s"}}\n' "$1" "$1" "$2"; }
state() { printf '{"type":"state","state":%s}\n' "$1"; }
"#;

/// A connector whose sync runs `body` (POSIX sh; `team ID NAME` and `state JSON` print
/// messages; `$sync` holds the sync message).
pub fn shell_connector(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{PREAMBLE}{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The path of the alert tests' webhook URL: a secret, as a webhook's path often is, so
/// the tests check that it is never printed.
pub const HOOK_PATH: &str = "/hook/SECRET-PATH";

/// A webhook receiver on loopback for the alert tests, answering every request `200 OK`
/// and recording it.
pub fn webhook_receiver() -> Server {
    Server::always(Reply::text(200, "ok"))
}

/// Headless Chromium, if installed (`/usr/bin/chromium`, else `chromium` or
/// `chromium-browser` on PATH). Where it is missing, says so loudly and returns `None`
/// so the test skips, except under CI (env `CI` set), where the test fails.
pub fn chromium(test: &str) -> Option<PathBuf> {
    let candidates = [PathBuf::from("/usr/bin/chromium"), PathBuf::from("chromium"), PathBuf::from("chromium-browser")];
    let found = candidates
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        let message = format!("{test}: Chromium is not installed (apt-get install chromium)");
        assert!(std::env::var_os("CI").is_none(), "{message}; CI must install it");
        eprintln!("\n*** SKIPPED: {message} ***\n");
    }
    found
}

/// Runs headless Chromium on `page` (a local file) with `args`, in a fresh profile and
/// with no network: returns its stdout and stderr.
pub fn run_chromium(chromium: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(chromium);
    command.args([
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--enable-logging=stderr",
        "--v=0",
        // Nothing resolves: the page may reach no host, and neither may the browser.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]);
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        command.arg("--no-sandbox");
    }
    command.arg(format!("--user-data-dir={}", profile.path().display()));
    command.args(args).arg(format!("file://{}", page.display()));
    command.stdin(Stdio::null());
    let output = finish(command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("chromium starts"));
    assert!(output.status.success(), "chromium failed: {}", stderr_of(&output));
    (stdout_of(&output), stderr_of(&output))
}

/// The distinct colours of a PNG's pixels (at most `cap`, counting stops there).
pub fn png_colours(path: &Path, cap: usize) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let bytes = &buffer[..info.buffer_size()];
    let pixel = info.color_type.samples() * if info.bit_depth == png::BitDepth::Sixteen { 2 } else { 1 };
    let mut colours = std::collections::HashSet::new();
    for chunk in bytes.chunks_exact(pixel) {
        colours.insert(chunk.to_vec());
        if colours.len() >= cap {
            break;
        }
    }
    colours.len()
}
