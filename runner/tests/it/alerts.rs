//! `--notify-url` and `--stale-after` of `sync` and `sync-all`, against a webhook receiver
//! in the test on loopback ([`webhook_receiver`](crate::util::webhook_receiver)): one POST per failed run with the fields a
//! program and Slack read, secrets masked, staleness from the database's history, and a
//! receiver that is down or never answers costing a warning, never the sync.

use serde_json::Value;
use test_support::http::{refused_url, Reply, Server};

use crate::util::{fake, stderr_of, webhook_receiver, Sandbox, HOOK_PATH};

const TOKEN: &str = "tok-SECRET-42";

/// A sync-all file of three connections of the fixture connector: `good` (ok), `denied`
/// (the source rejects the token) and `leaky` (puts the token everywhere, exits 1).
fn connections(sandbox: &Sandbox) -> String {
    let fake = fake();
    let entry = |name: &str, mode: &str| {
        format!(
            "[[connection]]\nname = \"{name}\"\nconnector = \"{fake}\"\nstreams = [\"s1\"]\n\
             config = {{ mode = \"{mode}\", token = \"{TOKEN}\" }}\n"
        )
    };
    let file = format!(
        "[defaults]\ncutoff = \"2026-01-01\"\noutput = \"runner.db\"\n\n{}\n{}\n{}",
        entry("good", "ok"),
        entry("denied", "error"),
        entry("leaky", "leak")
    );
    sandbox.write("connections.toml", &file)
}

#[test]
fn each_failed_run_is_one_post_with_its_error_and_never_a_secret() {
    let sandbox = Sandbox::new();
    let receiver = webhook_receiver();
    let file = connections(&sandbox);
    let output =
        sandbox.runner(&["sync-all", &file, "--notify-url", &receiver.url(HOOK_PATH), "--jobs", "1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let requests = receiver.requests();
    let mut by_connection: Vec<(String, Value)> =
        requests.iter().map(|r| (r.json()["connection"].as_str().unwrap_or("?").to_owned(), r.json())).collect();
    by_connection.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_connection.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(), ["denied", "leaky"], "{requests:#?}");
    for request in &requests {
        let line = (request.method.as_str(), request.target.as_str(), request.version.as_str());
        assert_eq!(line, ("POST", HOOK_PATH, "HTTP/1.1"));
        assert_eq!(request.header("content-type"), Some("application/json"), "{request:?}");
        assert!(!request.text().contains(TOKEN), "the secret was sent: {}", request.text());
    }
    let denied = &by_connection[0].1;
    assert_eq!(denied["kind"], "run_failed");
    assert_eq!((denied["stream"].as_str(), denied["outcome"].as_str()), (Some("s1"), Some("failed")));
    assert_eq!(denied["connector"].as_str(), Some(fake().as_str()));
    assert_eq!(denied["records"], 3);
    let text = denied["text"].as_str().unwrap();
    assert!(text.starts_with(":x: runner: the sync of `denied` (stream `s1`) failed on "), "{text}");
    assert!(
        text.contains("(sync) failed (auth error): the source rejected the token; it exited with status 1"),
        "{text}"
    );
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(denied["error"].as_str().unwrap().contains("GET /teams: 401"), "the stderr tail: {denied}");
    for field in ["duration_ms", "host", "at"] {
        assert!(!denied[field].is_null(), "{field} missing: {denied}");
    }
    let leaky = by_connection[1].1["error"].as_str().unwrap();
    assert!(leaky.contains("Authorization: Token token=***"), "the masked stderr: {leaky}");
    // The URL's path may be a token too: the runner never prints it.
    let all = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(!all.contains("SECRET-PATH") && !all.contains(TOKEN), "{all}");
}

#[test]
fn a_connection_without_a_recent_success_raises_a_stale_alert() {
    let sandbox = Sandbox::new();
    let receiver = webhook_receiver();
    sandbox.sync(r#"{"mode":"ok"}"#, &["--connection", "pd", "-q"]).assert().success();
    // The last success, three days ago.
    sandbox
        .db()
        .execute(
            "UPDATE sync_runs SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days', '-1 seconds'), \
             finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days')",
            [],
        )
        .unwrap();
    let notify = ["--connection", "pd", "-q", "--notify-url", &receiver.url(HOOK_PATH), "--stale-after", "2d"];
    sandbox.sync(r#"{"mode":"error"}"#, &notify).assert().code(1);
    let kinds: Vec<String> =
        receiver.requests().iter().map(|r| r.json()["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["run_failed", "stale"]);
    let stale = &receiver.requests()[1].json();
    assert_eq!((stale["connection"].as_str(), stale["stream"].as_str()), (Some("pd"), Some("s1")));
    assert_eq!(stale["stale_after_s"], 2 * 86_400);
    let text = stale["text"].as_str().unwrap();
    assert!(
        text.starts_with(":warning: runner: `pd` (stream `s1`) is stale: its last success was 3 d ago ("),
        "{text}"
    );
    assert!(text.ends_with("), more than 2 d ago"), "{text}");

    // Within the threshold, a failure is only a failure.
    let notify = ["--connection", "pd", "-q", "--notify-url", &receiver.url(HOOK_PATH), "--stale-after", "4d"];
    sandbox.sync(r#"{"mode":"error"}"#, &notify).assert().code(1);
    assert_eq!(receiver.requests().len(), 3, "one more POST, the failure");
    assert_eq!(receiver.requests()[2].json()["kind"], "run_failed");
}

/// `sync` of stream s2 of a connection whose stream s1 last succeeded three days ago: the
/// sync succeeds and one stale alert goes to `url`.
fn sync_with_a_stale_sibling(sandbox: &Sandbox, url: &str) -> std::process::Output {
    let config = sandbox.config(r#"{"mode":"ok","streams":2}"#);
    let fake = fake();
    // Bounded by finish(): a runner that waited for the receiver forever fails the test.
    let sync = |stream: &str, extra: &[&str]| {
        let args =
            [&["sync", fake.as_str(), config.as_str(), stream, "2026-01-01", "--connection", "two", "-q"], extra];
        let mut command = std::process::Command::new(crate::util::runner_bin());
        command.current_dir(sandbox.dir.path()).args(args.concat()).stdin(std::process::Stdio::null());
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        crate::util::finish(command.spawn().unwrap())
    };
    assert!(sync("s1", &[]).status.success());
    let aged = sandbox
        .db()
        .execute(
            "UPDATE sync_runs SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days', '-1 seconds'), \
             finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days') WHERE stream_id = 's1'",
            [],
        )
        .unwrap();
    assert_eq!(aged, 1);
    sync("s2", &["--notify-url", url, "--stale-after", "1d"])
}

#[test]
fn a_stale_stream_is_reported_after_a_successful_sync_of_another() {
    let sandbox = Sandbox::new();
    let receiver = webhook_receiver();
    let output = sync_with_a_stale_sibling(&sandbox, &receiver.url(HOOK_PATH));
    assert!(output.status.success(), "{output:?}");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(
        (requests[0].json()["kind"].as_str(), requests[0].json()["stream"].as_str()),
        (Some("stale"), Some("s1"))
    );
}

#[test]
fn a_dead_receiver_fails_nothing() {
    let sandbox = Sandbox::new();
    let url = format!("{}/hook", refused_url());
    let output = sync_with_a_stale_sibling(&sandbox, &url);
    assert!(output.status.success(), "the sync succeeds: {output:?}");
    let stderr = stderr_of(&output);
    let receiver = url.trim_end_matches("/hook");
    assert!(
        stderr.starts_with(&format!("warning: alert about `two` not delivered to {receiver}: cannot connect")),
        "{stderr}"
    );
    assert!(!stderr.contains("/hook"), "never the URL's path: {stderr}");
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs WHERE stream_id = 's2'"), ["succeeded"]);
}

#[test]
fn a_receiver_that_never_answers_costs_the_alert_budget_not_the_sync() {
    let sandbox = Sandbox::new();
    let receiver = Server::always(Reply::hang());
    let output = sync_with_a_stale_sibling(&sandbox, &receiver.url(HOOK_PATH));
    assert!(output.status.success(), "the sync succeeds: {output:?}");
    let stderr = stderr_of(&output);
    assert!(stderr.contains("warning: alert about `two` not delivered to http://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains(": no answer within "), "the timeout, said: {stderr}");
    assert_eq!(receiver.requests().len(), 1, "the alert was sent, only never answered");
    assert_eq!(sandbox.strings("SELECT outcome FROM sync_runs WHERE stream_id = 's2'"), ["succeeded"]);
}

#[test]
fn a_bad_url_is_refused_before_anything_runs() {
    let sandbox = Sandbox::new();
    let output = sandbox.sync(r#"{"mode":"ok"}"#, &["--notify-url", "ftp://example.test/x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(stderr_of(&output), "error: --notify-url is not an http:// or https:// URL: the scheme is `ftp`\n");
    assert!(!sandbox.path("runner.db").exists(), "nothing ran");
    let output = sandbox.sync(r#"{"mode":"ok"}"#, &["--stale-after", "1d"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "--stale-after needs --notify-url: {output:?}");
}
