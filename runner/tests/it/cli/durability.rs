//! Rule 2: a checkpoint is stored only after its records; a crash loses nothing before it
//! and the next sync resumes from it.

use crate::util::{stderr_of, Sandbox};

#[test]
fn a_crash_after_500_records_and_a_checkpoint_loses_none_and_the_next_sync_resumes() {
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"crash","count":500}"#, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let checkpointed = sandbox
        .count("SELECT count(*) FROM records WHERE CAST(substr(id, 6) AS INTEGER) <= 500 AND connection = 'fake'");
    assert_eq!(checkpointed, 500);
    assert_eq!(sandbox.strings("SELECT state FROM stream_state"), [r#"{"cursor":500}"#]);
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs"), ["failed"]);

    let output = sandbox.sync(r#"{"mode":"ok","count":1}"#, &[]).output().unwrap();
    assert!(output.status.success());
    assert!(stderr_of(&output).contains(r#"info: starting from state {"cursor":500}"#), "{output:?}");
}

#[test]
fn a_state_file_is_read_and_written_instead_of_the_database() {
    let sandbox = Sandbox::new();
    let state = sandbox.write("state.json", r#"{"s1":{"cursor":42}}"#);
    let output = sandbox.sync(r#"{"mode":"ok","count":2}"#, &["--state", &state]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(stderr_of(&output).contains(r#"starting from state {"cursor":42}"#), "{output:?}");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved, serde_json::json!({"s1": {"cursor": 2}}));
}
