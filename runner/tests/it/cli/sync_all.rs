//! Rule 8: `sync-all` runs a file of connections in parallel, each with its own state; a
//! failing one does not stop the others.

use crate::util::{fake, stderr_of, stdout_of, Sandbox};

#[test]
fn connections_run_in_parallel_and_one_failure_does_not_stop_the_others() {
    // `eu` and `us` meet: each leaves a marker and waits for the other's, so both succeed
    // only if they run at the same time (`broken` fails at once and frees its job).
    let sandbox = Sandbox::new();
    sandbox.write("eu.json", r#"{"mode":"rendezvous","me":"eu","meet":"eu us","count":2}"#);
    let toml = format!(
        r#"
[defaults]
cutoff = "2026-01-01"

[[connection]]
name = "eu"
connector = "{fake}"
config = "eu.json"

[[connection]]
name = "broken"
connector = "{fake}"
config = {{ mode = "crash", count = 1 }}

[[connection]]
name = "us"
connector = "{fake}"
config = {{ mode = "rendezvous", me = "us", meet = "eu us", count = 3 }}
streams = ["s1"]
cutoff = "2026-02-01"
"#,
        fake = fake()
    );
    let file = sandbox.write("connections.toml", &toml);
    let output = sandbox.runner(&["sync-all", &file, "--jobs", "2"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let states = sandbox.strings("SELECT connection || '=' || state FROM stream_state ORDER BY connection");
    let expected = [r#"broken={"cursor":1}"#, r#"eu={"cursor":2}"#, r#"us={"cursor":3}"#];
    assert_eq!(states, expected, "{}", stderr_of(&output));
    assert_eq!(sandbox.count("SELECT count(*) FROM records WHERE connection = 'us'"), 3);
    let table = stdout_of(&output);
    for row in ["eu          s1      succeeded", "broken      s1      failed", "us          s1      succeeded"] {
        assert!(table.contains(row), "{table}");
    }
    assert!(stderr_of(&output).contains("error: connector"), "{}", stderr_of(&output));

    // Each connection's own cutoff, recorded and handed to its connector.
    let cutoffs = sandbox.strings("SELECT connection || ' ' || cutoff FROM sync_runs ORDER BY connection");
    assert_eq!(cutoffs, ["broken 2026-01-01T00:00:00Z", "eu 2026-01-01T00:00:00Z", "us 2026-02-01T00:00:00Z"]);
    let received = sandbox.strings(
        "SELECT connection || ': ' || message FROM run_logs JOIN sync_runs ON sync_runs.id = run_logs.run_id \
         WHERE message LIKE 'starting from%' ORDER BY connection",
    );
    assert_eq!(
        received,
        [
            "broken: starting from state null with cutoff 2026-01-01T00:00:00Z",
            "eu: starting from state null with cutoff 2026-01-01T00:00:00Z",
            "us: starting from state null with cutoff 2026-02-01T00:00:00Z",
        ]
    );
}

#[test]
fn a_bad_file_is_refused_before_anything_runs() {
    let sandbox = Sandbox::new();
    let toml = format!(
        "[[connection]]\nname = \"a\"\nconnector = \"{}\"\nconfig = {{}}\ncutoff = \"2026-01-01\"\nstream = [\"s1\"]\n",
        fake()
    );
    let file = sandbox.write("connections.toml", &toml);
    let output = sandbox.runner(&["sync-all", &file]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("unknown field `stream`") && stderr.contains("line 6"), "{stderr}");
    assert!(!sandbox.path("runner.db").exists(), "nothing ran");
}
