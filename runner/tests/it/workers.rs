//! Many runners on many machines: `runner connections apply|list` and `runner worker` on
//! a throwaway PostgreSQL cluster, with the resumable fixture `paged-connector.py`:
//! schedules, `${env:NAME}` resolved only in the worker, SIGTERM releasing leases at once,
//! a paused worker unable to write after another took over, and the single-machine guard.
//! (The chaos test is `chaos.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use throwaway_postgres::Cluster;

use crate::util::{finish, require, runner, runner_bin, signal, wait_for, workspace_root};

/// A fresh database and a directory for one test.
pub struct Fleet {
    pub cluster: &'static Cluster,
    pub db: String,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Fleet {
    pub fn new(test: &str) -> Option<Fleet> {
        require("python3", "Python 3");
        let cluster = throwaway_postgres::require(test)?;
        let db = format!("w_{test}");
        cluster.create_database(&db).unwrap();
        let url = cluster.url(&db);
        Some(Fleet { cluster, db, url, dir: tempfile::tempdir().unwrap() })
    }

    pub fn sql(&self, query: &str) -> String {
        self.cluster.psql(&self.db, query).unwrap()
    }

    /// Writes `connections.toml` with `entries` (each `(name, config)`), every `every`.
    pub fn write_connections(&self, every: &str, entries: &[(&str, Value)]) -> PathBuf {
        let mut toml = format!("[defaults]\ncutoff = \"2026-01-01\"\nevery = \"{every}\"\n");
        for (name, config) in entries {
            toml.push_str(&format!(
                "\n[[connection]]\nname = \"{name}\"\nconnector = \"{}\"\nconfig = {}\n",
                paged_connector().display(),
                toml_inline(config)
            ));
        }
        let file = self.dir.path().join("connections.toml");
        std::fs::write(&file, toml).unwrap();
        file
    }

    pub fn apply(&self, file: &Path, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["connections", "apply", file.to_str().unwrap(), "--db", &self.url];
        args.extend_from_slice(extra);
        runner(self.dir.path(), &args).output().unwrap()
    }

    /// `runner worker --db URL ARGS`, its database URL given in the environment.
    pub fn worker(&self, args: &[&str]) -> Command {
        let mut command = Command::new(runner_bin());
        command.current_dir(self.dir.path()).arg("worker").args(args).env("RUNNER_DB", &self.url).stdin(Stdio::null());
        command
    }

    /// A worker whose stderr goes to `worker.err` (read it as often as needed), and that file.
    pub fn spawn_logged_worker(&self, args: &[&str]) -> (Child, PathBuf) {
        let log = self.dir.path().join("worker.err");
        let stderr = Stdio::from(std::fs::File::create(&log).unwrap());
        (self.worker(args).stdout(Stdio::null()).stderr(stderr).spawn().unwrap(), log)
    }

    pub fn spawn_worker(&self, args: &[&str]) -> Child {
        self.worker(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// The connection's lease: (holder, epoch), `None` when nobody holds it.
    pub fn lease(&self, name: &str) -> Option<(String, i64)> {
        let row = self.sql(&format!(
            "SELECT coalesce(leased_by, '') || '|' || epoch FROM connections WHERE name = '{name}' AND lease_until > now()"
        ));
        let (holder, epoch) = row.split_once('|')?;
        Some((holder.to_owned(), epoch.parse().unwrap()))
    }
}

/// The fixture connector: resumable pages of Team records.
pub fn paged_connector() -> PathBuf {
    workspace_root().join("runner/tests/fixtures/paged-connector.py")
}

/// A JSON object as a TOML inline table (strings, numbers and booleans only).
fn toml_inline(value: &Value) -> String {
    let fields: Vec<String> = value.as_object().unwrap().iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{{ {} }}", fields.join(", "))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn apply_upserts_and_prunes_and_keeps_env_references_unresolved() {
    let Some(fleet) = Fleet::new("apply") else { return };
    let config = json!({"records": 3, "token": "${env:PAGED_TOKEN}"});
    let file = fleet.write_connections("1h", &[("a", config.clone()), ("b", config.clone())]);
    let output = fleet.apply(&file, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("2 connection(s) added, 0 updated"), "{}", text(&output.stdout));
    assert_eq!(fleet.sql("SELECT config ->> 'token' FROM connections WHERE name = 'a'"), "${env:PAGED_TOKEN}");
    assert_eq!(fleet.sql("SELECT extract(epoch FROM every)::int FROM connections WHERE name = 'b'"), "3600");

    let file = fleet.write_connections("15m", &[("a", json!({"records": 3, "token": "clear-text-tok"}))]);
    let output = fleet.apply(&file, &["--prune"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("0 connection(s) added, 1 updated, 1 disabled"), "{}", text(&output.stdout));
    assert!(text(&output.stderr).contains("`token` looks like a secret and is stored in the database as written"));
    assert_eq!(
        fleet.sql("SELECT string_agg(name || '=' || enabled, ',' ORDER BY name) FROM connections"),
        "a=true,b=false"
    );

    let listed = runner(fleet.dir.path(), &["connections", "list", "--db", &fleet.url, "--json"]).output().unwrap();
    let lines: Vec<Value> = text(&listed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (&lines[0]["name"], &lines[0]["every_seconds"], &lines[0]["last_run"]),
        (&json!("a"), &json!(900), &Value::Null)
    );

    let bad = fleet.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[connection]]\nname = \"x\"\nconnector = \"pagerduty\"\nconfig = {}\ncutoff = \"2026-01-01\"\n",
    )
    .unwrap();
    let output = fleet.apply(&bad, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no schedule: set `every`"), "{}", text(&output.stderr));
}

#[test]
fn a_worker_syncs_what_is_due_resolves_env_references_and_never_stores_them() {
    let Some(fleet) = Fleet::new("until_idle") else { return };
    let marker = fleet.dir.path().to_str().unwrap().to_owned();
    let config = |n| json!({"records": n, "page": 2, "token": "${env:PAGED_TOKEN}", "marker": marker});
    let file = fleet.write_connections("1h", &[("one", config(3)), ("two", config(5)), ("three", config(4))]);
    assert!(fleet.apply(&file, &[]).status.success());
    let output =
        fleet.worker(&["--until-idle", "--jobs", "2"]).env("PAGED_TOKEN", "s3cret-from-the-env").output().unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let received = std::fs::read_to_string(fleet.dir.path().join("received.token")).unwrap();
    assert_eq!(received, "s3cret-from-the-env", "the connector got the value, not the reference");
    let per_connection = "SELECT string_agg(connection || '=' || n, ',' ORDER BY connection) FROM \
                          (SELECT connection, count(*) AS n FROM records GROUP BY connection) c";
    assert_eq!(fleet.sql(per_connection), "one=3,three=4,two=5");
    let everything = fleet.sql(
        "SELECT string_agg(t::text, ' ') FROM (SELECT json::text AS t FROM records UNION ALL SELECT state::text \
         FROM stream_state UNION ALL SELECT coalesce(error, '') FROM sync_runs UNION ALL SELECT message FROM run_logs \
         UNION ALL SELECT config::text FROM connections) x",
    );
    assert!(!everything.contains("s3cret-from-the-env") && everything.contains("Team 1 ***"), "{everything}");
    assert!(!stdout.contains("s3cret-from-the-env") && !stderr.contains("s3cret-from-the-env"));
    let due = "SELECT count(*) FROM connections WHERE next_due > now() + interval '50 minutes' AND leased_by IS NULL";
    assert_eq!(fleet.sql(due), "3", "each is due again an hour later, and released");
    assert_eq!(fleet.sql("SELECT count(*) FROM sync_runs WHERE outcome <> 'succeeded'"), "0");

    // Nothing is due now: a second worker exits at once, syncing nothing.
    let again = fleet.worker(&["--until-idle"]).env("PAGED_TOKEN", "x").output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(fleet.sql("SELECT count(*) FROM sync_runs"), "3");
}

#[test]
fn a_missing_env_variable_fails_that_connection_without_starting_its_connector() {
    let Some(fleet) = Fleet::new("missing_env") else { return };
    let file = fleet.write_connections("1h", &[("lonely", json!({"token": "${env:PAGED_UNSET_TOKEN}"}))]);
    assert!(fleet.apply(&file, &[]).status.success());
    let output = fleet.worker(&["--until-idle"]).env_remove("PAGED_UNSET_TOKEN").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "a failed sync fails an --until-idle worker");
    assert!(
        text(&output.stderr).contains("PAGED_UNSET_TOKEN is not set in this worker's environment"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(fleet.sql("SELECT count(*) FROM sync_runs"), "0", "the connector never started");
}

#[test]
fn sigterm_stops_the_sync_keeps_its_checkpoint_and_releases_the_lease_at_once() {
    let Some(fleet) = Fleet::new("sigterm") else { return };
    let go = fleet.dir.path().join("go");
    let config = json!({"records": 6, "page": 2, "marker": fleet.dir.path().to_str().unwrap(), "wait_for": go.to_str().unwrap()});
    let file = fleet.write_connections("1h", &[("held", config)]);
    assert!(fleet.apply(&file, &[]).status.success());
    let worker = fleet.spawn_worker(&["--lease-ttl", "60s"]);
    wait_for("the first page", || fleet.dir.path().join("started-s1").exists().then_some(()));
    wait_for("the first checkpoint", || (fleet.sql("SELECT count(*) FROM stream_state") == "1").then_some(()));
    assert!(fleet.lease("held").is_some());
    signal(worker.id(), libc::SIGTERM);
    let output = finish(worker);
    assert_eq!(output.status.code(), Some(143), "{}", text(&output.stderr));
    // Released when the worker exited, not when the 60 s lease would have run out.
    assert_eq!(fleet.lease("held"), None);
    assert_eq!(fleet.sql("SELECT state::text FROM stream_state"), r#"{"cursor":2}"#);
    assert_eq!(fleet.sql("SELECT outcome FROM sync_runs"), "interrupted");
    std::fs::write(&go, "").unwrap();
    let output = fleet.worker(&["--until-idle"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "another worker takes it at once: {}", text(&output.stderr));
    assert_eq!(fleet.sql("SELECT state::text FROM stream_state"), r#"{"cursor":6}"#);
    assert_eq!(fleet.sql("SELECT count(*) FROM records"), "6");
}

#[test]
fn a_paused_worker_cannot_write_after_another_took_over() {
    let Some(fleet) = Fleet::new("zombie") else { return };
    let go = fleet.dir.path().join("go");
    let config = json!({"records": 8, "page": 2, "marker": fleet.dir.path().to_str().unwrap(), "wait_for": go.to_str().unwrap()});
    let file = fleet.write_connections("1h", &[("contended", config)]);
    assert!(fleet.apply(&file, &[]).status.success());
    let zombie = fleet.spawn_worker(&["--lease-ttl", "2s"]);
    wait_for("the first checkpoint", || (fleet.sql("SELECT count(*) FROM checkpoint_log") == "1").then_some(()));
    let (_, first_epoch) = fleet.lease("contended").expect("the first worker holds it");
    signal(zombie.id(), libc::SIGSTOP);
    wait_for("the paused worker's lease to run out", || fleet.lease("contended").is_none().then_some(()));
    // The connector of the paused worker goes on (it is not paused): let it.
    std::fs::write(&go, "").unwrap();
    let output = fleet.worker(&["--until-idle", "--lease-ttl", "2s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let final_state = fleet.sql("SELECT state::text || ' by run ' || run_id FROM stream_state");
    signal(zombie.id(), libc::SIGCONT);
    // Awake again, the first worker reads its connector's pages and tries to commit them.
    let first_run = "SELECT outcome || ': ' || coalesce(error, '') FROM sync_runs ORDER BY id LIMIT 1";
    let ended =
        wait_for("the paused worker's run to end", || Some(fleet.sql(first_run)).filter(|r| !r.starts_with("running")));
    assert!(ended.contains("lease"), "{ended}");
    signal(zombie.id(), libc::SIGTERM);
    let zombie_output = finish(zombie);
    assert_eq!(
        fleet.sql("SELECT state::text || ' by run ' || run_id FROM stream_state"),
        final_state,
        "the zombie wrote nothing"
    );
    let epochs: Vec<i64> = fleet
        .sql("SELECT string_agg(epoch::text, ',' ORDER BY id) FROM checkpoint_log")
        .split(',')
        .map(|e| e.parse().unwrap())
        .collect();
    assert!(epochs.windows(2).all(|w| w[0] <= w[1]), "epochs never go back in commit order: {epochs:?}");
    assert!(epochs.last().unwrap() > &first_epoch, "{epochs:?}");
    assert_eq!(fleet.sql("SELECT count(*) FROM records"), "8");
    assert_eq!(
        fleet.sql("SELECT count(*) FROM sync_runs WHERE outcome = 'running'"),
        "0",
        "{}",
        text(&zombie_output.stderr)
    );
}

#[test]
fn a_failed_sync_is_retried_sooner_each_time_later_and_alerts_once_per_failure() {
    let Some(fleet) = Fleet::new("retry") else { return };
    let fixed = fleet.dir.path().join("fixed");
    let config = json!({"records": 3, "fail_unless": fixed.to_str().unwrap()});
    let file = fleet.write_connections("30d", &[("flaky", config)]);
    let toml =
        std::fs::read_to_string(&file).unwrap().replace("every = \"30d\"", "every = \"30d\"\nretry_after = \"1h\"");
    std::fs::write(&file, toml).unwrap();
    assert!(fleet.apply(&file, &[]).status.success());
    let receiver = crate::util::webhook_receiver();
    // Whole minutes from the end of the last run to the next due time, and the count of
    // failures in a row. (Minutes: the few milliseconds between the two do not show.)
    let backoff = "SELECT round(extract(epoch FROM c.next_due - r.finished_at) / 60)::int || ' min/' || c.failures \
                   FROM connections c, LATERAL (SELECT finished_at FROM sync_runs ORDER BY id DESC LIMIT 1) r";
    // Rather than wait an hour: the retry is due now.
    let due_now = || assert_eq!(fleet.sql("UPDATE connections SET next_due = now() RETURNING name"), "flaky");

    let output =
        fleet.worker(&["--until-idle", "--notify-url", &receiver.url(crate::util::HOOK_PATH)]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "a failed sync fails an --until-idle worker");
    assert!(text(&output.stderr).contains("the source is down"), "{}", text(&output.stderr));
    assert_eq!(fleet.sql(backoff), "60 min/1", "retried after retry_after");
    let alerts = receiver.requests();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0].json();
    assert_eq!((alert["kind"].as_str(), alert["connection"].as_str()), (Some("run_failed"), Some("flaky")));

    due_now();
    assert_eq!(fleet.worker(&["--until-idle"]).output().unwrap().status.code(), Some(1));
    assert_eq!(fleet.sql(backoff), "120 min/2", "then twice as long");
    let listed = runner(fleet.dir.path(), &["connections", "list", "--db", &fleet.url]).output().unwrap();
    assert!(text(&listed.stdout).contains("(2 failures in a row)"), "{}", text(&listed.stdout));

    std::fs::write(&fixed, "").unwrap();
    due_now();
    assert_eq!(fleet.worker(&["--until-idle"]).output().unwrap().status.code(), Some(0));
    assert_eq!(fleet.sql(backoff), "43200 min/0", "a success resets the count; next due `every` later");
    assert_eq!(fleet.sql("SELECT count(*) FROM records"), "3");
}

#[test]
fn a_silent_connector_is_stopped_by_the_idle_timeout_and_its_lease_released() {
    let Some(fleet) = Fleet::new("idle") else { return };
    // After its first page the fixture waits, silent, for a file that never comes.
    let never = fleet.dir.path().join("never");
    let quiet = json!({"records": 8, "page": 4, "wait_for": never.to_str().unwrap()});
    assert!(fleet.apply(&fleet.write_connections("1h", &[("quiet", quiet)]), &[]).status.success());
    let output = finish(fleet.spawn_worker(&["--until-idle", "--idle-timeout", "1"]));
    assert_eq!(output.status.code(), Some(1), "a sync failed: {}", text(&output.stderr));
    let run = fleet.sql("SELECT outcome || ': ' || error FROM sync_runs");
    assert!(run.starts_with("failed: ") && run.contains("--idle-timeout"), "{run}");
    assert_eq!(fleet.lease("quiet"), None, "released at once, not held until a TTL runs out");
    let cursor = fleet.sql("SELECT state ->> 'cursor' FROM stream_state WHERE connection = 'quiet'");
    assert_eq!(cursor, "4", "the first page's checkpoint stays");
}

#[test]
fn a_worker_outlives_the_loss_of_its_database_sessions() {
    let Some(fleet) = Fleet::new("reconnect") else { return };
    let file = fleet.write_connections("1h", &[("first", json!({"records": 2}))]);
    assert!(fleet.apply(&file, &[]).status.success());
    let (mut worker, log) = fleet.spawn_logged_worker(&["--lease-ttl", "3s"]);
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    let succeeded =
        |name: &str| format!("SELECT count(*) FROM sync_runs WHERE connection = '{name}' AND outcome = 'succeeded'");
    let end_sessions = || {
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            fleet.db
        );
        assert_ne!(fleet.cluster.psql("postgres", &sql).unwrap(), "0");
    };
    let allow_connections = |allow: bool| {
        let sql = format!("ALTER DATABASE {} ALLOW_CONNECTIONS {allow}", fleet.db);
        fleet.cluster.psql("postgres", &sql).unwrap();
    };
    wait_for("the first sync", || (fleet.sql(&succeeded("first")) == "1").then_some(()));

    // Every session of the worker (claims, heartbeats) ends, as in a failover: each is
    // opened again by the call that found it gone, with no outage to report.
    end_sessions();
    let file = fleet.write_connections("1h", &[("first", json!({"records": 2})), ("second", json!({"records": 3}))]);
    assert!(fleet.apply(&file, &[]).status.success());
    wait_for("the same worker to sync a new connection", || (fleet.sql(&succeeded("second")) == "1").then_some(()));
    assert!(!stderr().contains("(retrying)"), "{}", stderr());

    // A database that refuses sessions for a while (a restart): said, then its return.
    allow_connections(false);
    end_sessions();
    wait_for("the worker to report the outage", || stderr().contains("(retrying)").then_some(()));
    allow_connections(true);
    let more = [("first", json!({"records": 2})), ("second", json!({"records": 3})), ("third", json!({"records": 1}))];
    assert!(fleet.apply(&fleet.write_connections("1h", &more), &[]).status.success());
    wait_for("a sync after the outage", || (fleet.sql(&succeeded("third")) == "1").then_some(()));
    // Whichever session saw the outage says its end at its next call: the heartbeat's
    // comes up to a third of the TTL after the claims resumed, so wait for the word.
    wait_for("the worker to say the database answers again", || {
        stderr().contains("the database answers again").then_some(())
    });
    signal(worker.id(), libc::SIGTERM);
    assert_eq!(worker.wait().unwrap().code(), Some(143), "{}", stderr());
}

#[test]
fn an_idle_worker_is_woken_by_the_database_not_by_its_poll() {
    let Some(fleet) = Fleet::new("wake") else { return };
    // Nothing is due and its safety-net poll is an hour away: only a notification wakes it.
    let (mut worker, log) = fleet.spawn_logged_worker(&["--poll", "1h"]);
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    let listening =
        format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE 'LISTEN %'", fleet.db);
    wait_for("the worker to listen", || (fleet.sql(&listening) == "1").then_some(()));

    let file = fleet.write_connections("1h", &[("woken", json!({"records": 2}))]);
    assert!(fleet.apply(&file, &[]).status.success());
    let succeeded = "SELECT count(*) FROM sync_runs WHERE connection = 'woken' AND outcome = 'succeeded'";
    wait_for("the idle worker to sync what was applied", || (fleet.sql(succeeded) == "1").then_some(()));
    signal(worker.id(), libc::SIGTERM);
    assert_eq!(worker.wait().unwrap().code(), Some(143), "{}", stderr());
}
