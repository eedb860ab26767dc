//! Rule 1: records are validated and stored; SQLite upserts, keeps state per connection
//! and a history of runs.

use crate::util::{entries, fake, stderr_of, stdout_of, Sandbox};

#[test]
fn records_are_stored_exactly_as_sent_with_state_and_history() {
    let sandbox = Sandbox::new();
    sandbox.sync(r#"{"mode":"ok","count":3}"#, &[]).assert().success();
    let json = sandbox.strings("SELECT json FROM records WHERE connection = 'fake' AND type = 'Team' ORDER BY id");
    assert_eq!(json[0], r#"{"_type":"Team","id":"T-s1-1","self":"https://example.test/teams/1","name":"Team 1"}"#);
    assert_eq!(json.len(), 3);
    let state = sandbox.strings("SELECT state FROM stream_state WHERE connection = 'fake' AND stream_id = 's1'");
    assert_eq!(state, [r#"{"cursor":3}"#]);
    let runs = sandbox.strings("SELECT outcome || ' ' || records || ' ' || records_by_type FROM sync_runs");
    assert_eq!(runs, [r#"succeeded 3 {"Team":3}"#]);

    // A second sync upserts: still one row per (connection, type, id), two runs.
    sandbox.sync(r#"{"mode":"ok","count":3}"#, &[]).assert().success();
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 3);
    assert_eq!(sandbox.count("SELECT count(*) FROM sync_runs WHERE outcome = 'succeeded'"), 2);
}

#[test]
fn connections_keep_separate_records_and_state() {
    let sandbox = Sandbox::new();
    sandbox.sync(r#"{"mode":"ok","count":2}"#, &["--connection", "eu"]).assert().success();
    sandbox.sync(r#"{"mode":"ok","count":4}"#, &["--connection", "us"]).assert().success();
    let states = sandbox.strings("SELECT connection || '=' || state FROM stream_state ORDER BY connection");
    assert_eq!(states, [r#"eu={"cursor":2}"#, r#"us={"cursor":4}"#]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records WHERE connection = 'us'"), 4);
}

#[test]
fn sync_without_a_stream_discovers_and_syncs_every_stream_in_parallel() {
    // A rendezvous: each stream's connector leaves a marker and waits for the other's, so
    // only syncs running at the same time can both succeed (one after the other, the first
    // gives up after 30 s and fails, saying so).
    let sandbox = Sandbox::new();
    let config = sandbox.config(r#"{"mode":"rendezvous","meet":"s1 s2","count":2,"streams":2}"#);
    let output = sandbox.runner(&["sync", &fake(), &config, "2026-01-01", "--jobs", "2"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(entries(sandbox.dir.path()).iter().filter(|name| name.starts_with("arrived-")).count(), 2);
    let streams = sandbox.strings("SELECT stream_id FROM stream_state ORDER BY stream_id");
    assert_eq!(streams, ["s1", "s2"]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 4);
    let table = stdout_of(&output);
    assert!(table.contains("s1") && table.contains("s2") && table.contains("fake/s2: Team 2"), "{table}");
}

#[test]
fn a_stream_record_can_be_given_as_json() {
    let sandbox = Sandbox::new();
    let config = sandbox.config(r#"{"mode":"ok","count":1}"#);
    let stream = r#"{"_type":"Stream","id":"custom","self":"https://example.test/c","name":"Custom"}"#;
    sandbox.runner(&["sync-stream", &fake(), &config, stream, "2026-01-01T00:00:00Z"]).assert().success();
    assert_eq!(sandbox.strings("SELECT id FROM records"), ["T-custom-1"]);
}

#[test]
fn skip_invalid_keeps_rejected_records_with_their_errors() {
    let sandbox = Sandbox::new();
    sandbox.sync(r#"{"mode":"invalid"}"#, &["--skip-invalid"]).assert().success();
    assert_eq!(sandbox.count("SELECT count(*) FROM records"), 3);
    let rejected = sandbox.strings("SELECT id || ' line ' || line || ': ' || errors FROM rejected_records");
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].starts_with("bad-1 line 4: ") && rejected[0].contains("/self"), "{rejected:?}");
    assert_eq!(sandbox.count("SELECT rejected FROM sync_runs"), 1);
}

#[test]
fn messages_of_unknown_types_are_ignored_and_every_record_stored() {
    // PROTOCOL.md: a runner MUST ignore message types it does not know. `future` sends a
    // `heartbeat`, a `some-future-thing` and a `checkpoint` (with a state inside) between
    // its records.
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"future","count":4}"#, &["-v"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let ids = sandbox.strings("SELECT id FROM records ORDER BY id");
    assert_eq!(ids, ["T-s1-1", "T-s1-2", "T-s1-3", "T-s1-4"]);
    assert_eq!(sandbox.strings("SELECT state FROM stream_state"), [r#"{"cursor":4}"#], "only `state` is a checkpoint");
    let runs = sandbox.strings("SELECT outcome || ' ' || records || ' ' || checkpoints FROM sync_runs");
    assert_eq!(runs, ["succeeded 4 1"]);
    let stderr = stderr_of(&output);
    for (line, kind) in [(3, "heartbeat"), (4, "some-future-thing"), (5, "checkpoint")] {
        let note = format!("debug: ignoring a \"{kind}\" message on line {line} during sync");
        assert!(stderr.contains(&note), "-v notes what it ignores: {stderr}");
    }
}
