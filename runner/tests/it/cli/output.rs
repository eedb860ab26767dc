//! Outputs other than SQLite, the summary (rule 9) and `--json`.

use crate::util::{fake, stderr_of, stdout_of, Sandbox};

#[test]
fn a_directory_output_gets_one_jsonl_file_per_type_with_the_records_as_sent() {
    let sandbox = Sandbox::new();
    sandbox.sync(r#"{"mode":"ok","count":2}"#, &["--output", "out"]).assert().success();
    let lines = std::fs::read_to_string(sandbox.path("out/Team.jsonl")).unwrap();
    assert_eq!(
        lines.lines().next().unwrap(),
        r#"{"_type":"Team","id":"T-s1-1","self":"https://example.test/teams/1","name":"Team 1"}"#
    );
    assert_eq!(lines.lines().count(), 2);
}

#[test]
fn stdout_output_carries_only_records_and_the_summary_goes_to_stderr() {
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"ok","count":2}"#, &["--output", "-", "--json"]).output().unwrap();
    assert!(output.status.success());
    let stdout = stdout_of(&output);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.lines().all(|line| line.starts_with(r#"{"_type":"Team""#)), "{stdout}");
    assert!(stderr_of(&output).contains(r#""outcome":"succeeded""#));
}

#[test]
fn the_summary_lists_records_by_type_and_the_json_summary_is_one_document() {
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"ok","count":3}"#, &[]).output().unwrap();
    let table = stdout_of(&output);
    assert!(table.starts_with("connection  stream  outcome    records  rejected  duration  state\n"), "{table}");
    assert!(table.contains("fake        s1      succeeded  3        0"), "{table}");
    assert!(table.trim_end().ends_with("records by type\n  fake/s1: Team 3"), "{table}");
    assert!(!stderr_of(&output).contains('\u{1b}'), "no progress or colours when not a terminal");

    let output = sandbox.sync(r#"{"mode":"crash","count":3}"#, &["--json"]).output().unwrap();
    let summary: serde_json::Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(summary["outcome"], "failed");
    let stream = &summary["connections"][0]["streams"][0];
    assert_eq!(stream["records_by_type"]["Team"], 8);
    assert_eq!(stream["state_saved"], true);
    assert!(stream["error"].as_str().unwrap().contains("exited with status 3"));
}

#[test]
fn a_closed_stdout_ends_the_sync_quietly() {
    let sandbox = Sandbox::new();
    let config = sandbox.config(r#"{"mode":"ok","count":20000}"#);
    let script = format!(
        "{{ '{}' sync '{}' '{}' s1 2026-01-01 --output - ; echo $? > rc; }} | head -n 1",
        crate::util::runner_bin().display(),
        fake(),
        config
    );
    let output =
        std::process::Command::new("/bin/sh").arg("-c").arg(script).current_dir(sandbox.dir.path()).output().unwrap();
    assert_eq!(stdout_of(&output).lines().count(), 1);
    assert_eq!(std::fs::read_to_string(sandbox.path("rc")).unwrap().trim(), "0", "{}", stderr_of(&output));
    assert!(!stderr_of(&output).contains("error"), "{}", stderr_of(&output));
}
