//! Rule 6: Ctrl-C / SIGTERM stop the connector's whole process group (SIGTERM, then
//! SIGKILL after the grace period; a second Ctrl-C kills at once), keep what is stored,
//! record the run as interrupted, exit 130/143. Processes a connector leaves holding its
//! pipes are killed too.
//!
//! Each test waits on events (a checkpoint stored, the fixture's `connector.pid` and
//! `signals` files, the runner's exit, the group's processes gone from /proc), never on
//! a clock; [`PATIENCE`](crate::util::PATIENCE) only bounds a hang.

use std::process::Command;

use crate::util::{
    alive, fake, finish, group_members, runner_bin, signal, stderr_of, wait_for, wait_until_group_gone, GroupGuard,
    Sandbox,
};

#[test]
fn sigterm_reaches_the_connectors_whole_group_keeps_the_data_and_exits_143() {
    // `hang`: the connector waits beside a child holding its stdout and stderr; both trap
    // SIGTERM, note it and exit.
    let sandbox = Sandbox::new();
    let runner = sandbox.spawn_sync(r#"{"mode":"hang","count":500}"#, &[]);
    sandbox.wait_for_checkpoint();
    let group = sandbox.wait_for_connector_pid();
    let _guard = GroupGuard(group);

    signal(runner.id(), libc::SIGTERM);
    let output = finish(runner);
    assert_eq!(output.status.code(), Some(143), "{output:?}");
    assert!(stderr_of(&output).contains("(sync) was interrupted by SIGTERM after"), "{output:?}");
    assert_eq!(sandbox.signals_seen(), ["child TERM", "connector TERM"], "SIGTERM went to the group");
    wait_until_group_gone(group);
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs"), ["interrupted"]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 500);
    assert_eq!(sandbox.strings("SELECT state FROM stream_state"), [r#"{"cursor":500}"#]);
}

#[test]
fn ctrl_c_kills_a_connector_that_ignores_sigterm_after_the_grace_period_and_exits_130() {
    // `ignore-term`: the connector notes SIGTERM and carries on; its child ignores SIGTERM
    // and holds no pipe, so only a SIGKILL to the group ends it.
    let sandbox = Sandbox::new();
    let runner = sandbox.spawn_sync(r#"{"mode":"ignore-term","count":500}"#, &["--grace", "3"]);
    sandbox.wait_for_checkpoint();
    let group = sandbox.wait_for_connector_pid();
    let _guard = GroupGuard(group);

    signal(runner.id(), libc::SIGINT);
    wait_for("the connector to see SIGTERM", || (sandbox.signals_seen() == ["connector TERM"]).then_some(()));
    // It handled SIGTERM and runs on: this is the grace period, not a kill.
    assert!(alive(group), "the connector is stopped gently first: {:?}", group_members(group));
    assert!(group_members(group).len() >= 2, "its child too: {:?}", group_members(group));

    let output = finish(runner);
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    wait_until_group_gone(group);
    assert_eq!(sandbox.signals_seen(), ["connector TERM"], "one SIGTERM, then SIGKILL");
    let runs = sandbox.strings("SELECT outcome || ': ' || error FROM sync_runs");
    assert_eq!(runs.len(), 1);
    assert!(runs[0].starts_with("interrupted: connector"), "{runs:?}");
    assert!(runs[0].contains("was interrupted by SIGINT"), "{runs:?}");
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 500);
}

#[test]
fn a_second_ctrl_c_kills_the_connector_at_once() {
    // A grace period of an hour: only the second request can end this test in time.
    let sandbox = Sandbox::new();
    let runner = sandbox.spawn_sync(r#"{"mode":"ignore-term","count":5}"#, &["--grace", "3600"]);
    sandbox.wait_for_checkpoint();
    let group = sandbox.wait_for_connector_pid();
    let _guard = GroupGuard(group);

    signal(runner.id(), libc::SIGINT);
    wait_for("the connector to see SIGTERM", || (sandbox.signals_seen() == ["connector TERM"]).then_some(()));
    assert!(alive(group), "the first Ctrl-C stops gently: {:?}", group_members(group));
    signal(runner.id(), libc::SIGINT);

    let output = finish(runner);
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    wait_until_group_gone(group);
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs"), ["interrupted"]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 5);
}

#[test]
fn a_child_left_holding_the_pipes_is_killed_and_the_sync_ends() {
    // `leave-child`: the connector exits 0 after its checkpoint, leaving a child that holds
    // its stdout and stderr open.
    let sandbox = Sandbox::new();
    let runner = sandbox.spawn_sync(r#"{"mode":"leave-child","count":3}"#, &[]);
    let group = sandbox.wait_for_connector_pid();
    let _guard = GroupGuard(group);

    let output = finish(runner);
    assert!(output.status.success(), "{output:?}");
    wait_until_group_gone(group);
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs"), ["succeeded"]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 3);
}

#[test]
fn a_run_whose_runner_was_killed_is_marked_failed_by_the_next_sync() {
    let sandbox = Sandbox::new();
    let mut child = sandbox.spawn_sync(r#"{"mode":"trickle","count":500}"#, &[]);
    sandbox.wait_for_checkpoint();
    signal(child.id(), libc::SIGKILL);
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

#[test]
fn a_runner_killed_by_sigkill_takes_its_connector_with_it() {
    // `hang`: left alone, the connector would wait two minutes for its child.
    let sandbox = Sandbox::new();
    let mut runner = sandbox.spawn_sync(r#"{"mode":"hang","count":5}"#, &[]);
    sandbox.wait_for_checkpoint();
    let connector = sandbox.wait_for_connector_pid();
    let _guard = GroupGuard(connector);

    signal(runner.id(), libc::SIGKILL);
    runner.wait().unwrap();
    wait_for("the kernel to kill the orphaned connector", || (!alive(connector)).then_some(()));
    assert!(sandbox.signals_seen().is_empty(), "SIGKILL, not a SIGTERM it could trap");
    // Only the connector gets that signal; what it started is not the runner's to reach.
    // SAFETY: as in `util::signal`; the group id is reserved while its members live.
    unsafe { libc::kill(-connector, libc::SIGKILL) };
    wait_until_group_gone(connector);
}
