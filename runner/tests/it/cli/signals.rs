//! Rule 6: Ctrl-C / SIGTERM stop the connector (SIGTERM, then SIGKILL after the grace
//! period), keep what is stored, record the run as interrupted, exit 130/143.

use std::process::{Child, Command, Stdio};

use crate::util::{fake, runner_bin, Sandbox};

/// Starts a sync in the background and waits (bounded) until its checkpoint is stored.
fn start_and_wait_for_checkpoint(sandbox: &Sandbox, mode: &str, extra: &[&str]) -> Child {
    let config = sandbox.config(&format!(r#"{{"mode":"{mode}","count":500}}"#));
    let mut child = Command::new(runner_bin())
        .current_dir(sandbox.dir.path())
        .args(["sync", &fake(), &config, "s1", "2026-01-01", "-q"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        let stored = sandbox.path("runner.db").exists()
            && rusqlite::Connection::open(sandbox.path("runner.db"))
                .and_then(|db| db.query_row("SELECT count(*) FROM stream_state", [], |row| row.get::<_, i64>(0)))
                .unwrap_or(0)
                == 1;
        if stored {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    panic!("the checkpoint never arrived: {output:?}");
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

#[test]
fn sigterm_stops_the_connector_keeps_the_data_and_exits_143() {
    let sandbox = Sandbox::new();
    let child = start_and_wait_for_checkpoint(&sandbox, "hang", &[]);
    signal(&child, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("(sync) was interrupted by SIGTERM after"), "{stderr}");
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs"), ["interrupted"]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 500);
    assert_eq!(sandbox.strings("SELECT state FROM stream_state"), [r#"{"cursor":500}"#]);
}

#[test]
fn ctrl_c_kills_a_connector_that_ignores_sigterm_after_the_grace_period_and_exits_130() {
    let sandbox = Sandbox::new();
    let child = start_and_wait_for_checkpoint(&sandbox, "ignore-term", &["--grace", "0.3"]);
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let runs = sandbox.strings("SELECT outcome || ': ' || error FROM sync_runs");
    assert_eq!(runs.len(), 1);
    assert!(runs[0].starts_with("interrupted: connector"), "{runs:?}");
    assert!(runs[0].contains("was interrupted by SIGINT"), "{runs:?}");
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 500);
}

#[test]
fn a_run_whose_runner_was_killed_is_marked_failed_by_the_next_sync() {
    let sandbox = Sandbox::new();
    let mut child = start_and_wait_for_checkpoint(&sandbox, "trickle", &[]);
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs"), ["running"], "nobody could record the end");

    let config = sandbox.config(r#"{"mode":"ok","count":3}"#);
    let output = Command::new(runner_bin())
        .current_dir(sandbox.dir.path())
        .args(["sync", &fake(), &config, "s1", "2026-01-01", "-q"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let runs = sandbox.strings("SELECT outcome || ': ' || coalesce(error, '') FROM sync_runs ORDER BY id");
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[0].starts_with(&format!("failed: the runner (pid {} on ", child.id())), "{runs:?}");
    assert!(runs[0].contains("killed"), "{runs:?}");
    assert_eq!(runs[1], "succeeded: ");
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 500, "the killed run's checkpoint stays");
}
