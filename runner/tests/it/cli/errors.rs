//! Rule 3: clear errors naming the connector, the command and the cause; exit codes.

use crate::util::{fake, stderr_of, Sandbox};

/// Runs a sync in `mode` and returns (exit code, stderr).
fn failing_sync(config: &str, extra: &[&str]) -> (Option<i32>, String) {
    let sandbox = Sandbox::new();
    let output = sandbox.sync(config, extra).output().unwrap();
    (output.status.code(), stderr_of(&output))
}

#[test]
fn a_crash_shows_the_exit_status_and_the_stderr_tail() {
    let (code, stderr) = failing_sync(r#"{"mode":"crash","count":2}"#, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("(sync) exited with status 3 after"), "{stderr}");
    assert!(stderr.contains("(7 records stored)"), "{stderr}");
    assert!(stderr.contains("---- stderr ----\npanic: lost connection to the source\n"), "{stderr}");
}

#[test]
fn a_garbage_line_is_named_with_its_number_and_a_snippet() {
    let (code, stderr) = failing_sync(r#"{"mode":"garbage","count":2}"#, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("broke the protocol: line 5 is not a valid protocol message"), "{stderr}");
    assert!(stderr.contains("the line starts with: this is not json"), "{stderr}");
}

#[test]
fn an_invalid_record_names_type_id_field_and_reason() {
    let (code, stderr) = failing_sync(r#"{"mode":"invalid"}"#, &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("sent an invalid record on line 4: record Team `bad-1` does not match its schema: at /self:")
    );
    assert!(stderr.contains("hint: --skip-invalid"), "{stderr}");
}

#[test]
fn an_unknown_type_is_an_error_even_with_skip_invalid() {
    let (code, stderr) = failing_sync(r#"{"mode":"unknown"}"#, &["--skip-invalid"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("has unknown _type \"Gizmo\""), "{stderr}");
}

#[test]
fn an_oversized_line_is_refused() {
    let (code, stderr) = failing_sync(r#"{"mode":"oversized","count":1}"#, &["--max-message-bytes", "1000"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 4 is longer than the limit of 1000 bytes"), "{stderr}");
    assert!(stderr.contains("hint: raise --max-message-bytes"), "{stderr}");
}

#[test]
fn an_error_message_is_reported_with_its_kind() {
    let (code, stderr) = failing_sync(r#"{"mode":"error"}"#, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("(sync) failed (auth error): the source rejected the token; it exited with status 1"));
    assert!(stderr.contains("GET /teams: 401"), "{stderr}");
}

// The limits below are 1 s: the fixture answers spec and discover, and writes its records
// and checkpoint, with shell builtins only, so each connector run has sent what it sends
// long before that, however loaded the machine is. The connector under test is silent from
// its start, so when the limit fires does not change what is checked.

#[test]
fn an_idle_connector_is_stopped() {
    assert_silent_connector_stopped_by(
        &["--idle-timeout", "1"],
        "sent no message for 1 s (--idle-timeout) and was stopped",
    );
}

#[test]
fn a_run_longer_than_the_timeout_is_stopped() {
    assert_silent_connector_stopped_by(&["--timeout", "1"], "ran longer than 1 s (--timeout) and was stopped");
}

/// A sync connector that never sends anything, stopped by a limit: exit 1, the reason on
/// stderr and in the run's history, the run failed, nothing stored.
fn assert_silent_connector_stopped_by(limit: &[&str], reason: &str) {
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"silent"}"#, limit).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr_of(&output);
    assert!(stderr.contains(&format!("(sync) {reason} after")), "{stderr}");
    let runs = sandbox.strings("SELECT outcome || ': ' || error FROM sync_runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].starts_with("failed: ") && runs[0].contains(reason), "{runs:?}");
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 0);
    assert_eq!(sandbox.count("SELECT count(*) FROM stream_state"), 0);
}

#[test]
fn checkpointed_records_stay_when_a_limit_stops_the_connector() {
    // The fixture writes its records and checkpoint before it starts any process, then
    // hangs: the idle limit can only count from its last message.
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"hang","count":2}"#, &["--idle-timeout", "1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = stderr_of(&output);
    assert!(stderr.contains("sent no message for 1 s (--idle-timeout) and was stopped"), "{stderr}");
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs"), ["failed"]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 2, "checkpointed records stay");
    assert_eq!(sandbox.strings("SELECT state FROM stream_state"), [r#"{"cursor":2}"#]);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let sandbox = Sandbox::new();
    let config = sandbox.config(r#"{"mode":"ok"}"#);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["spec".into(), "no-such-thing".into()],
            "connector `no-such-thing` not found: looked for connector-no-such-thing beside the runner",
        ),
        (vec!["spec".into(), sandbox.config("{}")], "is not executable"),
        (vec!["verify".into(), fake(), "missing.json".into()], "cannot read config file missing.json: No such file"),
        (
            vec!["sync".into(), fake(), config.clone(), "last tuesday".into()],
            "invalid date \"last tuesday\": expected YYYY-MM-DD",
        ),
        (
            vec!["sync".into(), fake(), config.clone(), "nope".into(), "2026-01-01".into()],
            "has no stream `nope` (discover found: `s1`)",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = sandbox.runner(&args).output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.matches(expected).count(), 1, "said once: {args:?}: {stderr}");
        assert_eq!(stderr.matches("error: ").count(), 1, "one error: {args:?}: {stderr}");
        assert!(stderr.matches("(os error").count() <= 1, "an OS reason is said once: {args:?}: {stderr}");
    }
    let not_json = sandbox.write("bad.json", "{\"token\": \"tok-abcdef\",");
    let output = sandbox.runner(&["verify", &fake(), &not_json]).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("is not a JSON object: invalid JSON") && !stderr.contains("tok-abcdef"), "{stderr}");
}

#[test]
fn a_connector_of_another_protocol_version_is_refused() {
    let sandbox = Sandbox::new();
    let fake = fake();
    let output = sandbox.runner(&["spec", &fake]).env("FAKE_PROTOCOL", "2").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("speaks protocol 2, this runner speaks 1"), "{stderr}");
    let sync = sandbox.sync(r#"{"mode":"ok"}"#, &[]).env("FAKE_PROTOCOL", "2").output().unwrap();
    assert_eq!(sync.status.code(), Some(1));
    assert!(stderr_of(&sync).contains("speaks protocol 2"), "{sync:?}");
    assert!(!sandbox.path("runner.db").exists(), "nothing is stored after a refused spec");
}
