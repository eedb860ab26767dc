//! A connector's text is untrusted: its control characters (a colour, a window title, a
//! carriage return) reach no terminal raw, in any command, on stdout or stderr; they are
//! shown escaped (`\x1b`, `\x07`, `\r`); what is stored keeps the exact bytes.
//! The connector is `tests/fixtures/hostile-connector.sh`.

use std::process::Output;

use crate::util::{fixture, Sandbox};

/// The bytes a terminal would act on.
const RAW: [u8; 3] = [0x1b, 0x07, b'\r'];
/// How the fixture's sequence reads once escaped.
const ESCAPED: &str = r"\x1b[31mRED\x1b]0;TITLE\x07\rOVER";

/// Neither stream holds a raw control byte of the connector's; `escaped_in` (`"stdout"`,
/// `"stderr"` or `"both"`) holds the escaped form.
fn assert_escaped(what: &str, output: &Output, escaped_in: &str) {
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!bytes.iter().any(|b| RAW.contains(b)), "{what}: a raw control byte on {name}:\n{text:?}");
        if escaped_in == name || escaped_in == "both" {
            assert!(text.contains(ESCAPED), "{what}: no escaped sequence on {name}:\n{text}");
        }
    }
}

fn hostile() -> String {
    fixture("hostile-connector.sh")
}

/// A failed sync of the fixture into `runner.db`.
fn failed_sync(sandbox: &Sandbox, extra: &[&str]) -> Output {
    let config = sandbox.write("fail.json", r#"{"mode":"fail"}"#);
    let hostile = hostile();
    let mut args = vec!["sync", hostile.as_str(), config.as_str(), "s1", "2026-01-01"];
    args.extend_from_slice(extra);
    let output = sandbox.runner(&args).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    output
}

#[test]
fn sync_shows_the_connectors_log_error_and_stderr_escaped_and_stores_them_exact() {
    let sandbox = Sandbox::new();
    assert_escaped("sync", &failed_sync(&sandbox, &[]), "stderr");
    let verbose = failed_sync(&sandbox, &["-v"]);
    assert_escaped("sync -v", &verbose, "stderr");
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(stderr.contains(r"[hostile] stderr: \x1b[31mstderr RED\x1b]0;TITLE\x07\rOVER"), "{stderr}");
    assert!(stderr.contains(&format!("[hostile] info: log {ESCAPED}")), "{stderr}");
    assert_escaped("sync --json", &failed_sync(&sandbox, &["--json"]), "stderr");
    let raw = "\u{1b}[31mRED\u{1b}]0;TITLE\u{7}\rOVER";
    let errors = sandbox.strings("SELECT error FROM sync_runs");
    assert!(errors.iter().all(|e| e.contains(&format!("error {raw}"))), "stored exact: {errors:?}");
    let logs = sandbox.strings("SELECT message FROM run_logs WHERE level = 'info'");
    assert!(logs.iter().all(|m| m == &format!("log {raw}")), "stored exact: {logs:?}");
}

#[test]
fn runs_shows_a_stored_error_escaped_as_a_table_and_as_json() {
    let sandbox = Sandbox::new();
    failed_sync(&sandbox, &[]);
    let table = sandbox.runner(&["runs", "--db", "runner.db"]).output().unwrap();
    assert_escaped("runs", &table, "stdout");
    let json = sandbox.runner(&["runs", "--db", "runner.db", "--json"]).output().unwrap();
    assert_escaped("runs --json", &json, "none");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let error = value["streams"][0]["runs"][0]["error"].as_str().unwrap();
    assert!(error.contains("error \u{1b}[31mRED"), "JSON keeps the text exact, escaped the JSON way: {error:?}");
}

#[test]
fn sync_all_verify_discover_and_the_kit_show_the_connectors_text_escaped() {
    let sandbox = Sandbox::new();
    let toml = format!(
        "[[connection]]\nname = \"h\"\nconnector = \"{}\"\nconfig = {{ mode = \"fail\" }}\ncutoff = \"2026-01-01\"\n",
        hostile()
    );
    let file = sandbox.write("connections.toml", &toml);
    let all = sandbox.runner(&["sync-all", &file]).output().unwrap();
    assert_eq!(all.status.code(), Some(1));
    assert_escaped("sync-all", &all, "stderr");
    let ok = sandbox.write("ok.json", r#"{"mode":"ok"}"#);
    assert_escaped("verify", &sandbox.runner(&["verify", &hostile(), &ok]).output().unwrap(), "stdout");
    assert_escaped("discover", &sandbox.runner(&["discover", &hostile(), &ok]).output().unwrap(), "stdout");
    let fail = sandbox.write("fail.json", r#"{"mode":"fail"}"#);
    let kit = sandbox.runner(&["test-connector", &hostile(), &fail]).output().unwrap();
    assert_escaped("test-connector", &kit, "stdout");
    let kit_json = sandbox.runner(&["test-connector", &hostile(), &fail, "--json"]).output().unwrap();
    assert_escaped("test-connector --json", &kit_json, "none");
}

#[test]
fn schema_diff_shows_a_connectors_field_name_escaped() {
    let sandbox = Sandbox::new();
    let ok = sandbox.write("ok.json", r#"{"mode":"ok"}"#);
    let diff = sandbox.runner(&["schema", "diff", &hostile(), &ok, "--since", "2026-01-01"]).output().unwrap();
    // drift quotes an odd field name as a JSON string already (`["\u001b[31m…"]`).
    assert_escaped("schema diff", &diff, "stderr");
    assert!(String::from_utf8_lossy(&diff.stdout).contains(r#"["\u001b[31mRED"#));
    let mut json = sandbox.runner(&["schema", "diff", &hostile(), &ok, "--since", "2026-01-01", "--json"]);
    assert_escaped("schema diff --json", &json.output().unwrap(), "none");
}
