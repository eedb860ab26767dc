//! The PostgreSQL destination beyond what every destination shares (`destinations.rs`):
//! credentials as libpq users give them, the password never shown, every bad target
//! refused before the connector starts, the schema and the statement timeout of the URL,
//! a lost connection, several runners at once, `sync-all`, TLS, and the PagerDuty
//! connector end to end. On a throwaway cluster; skipped loudly where no server is
//! installed (never in CI).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;
use throwaway_postgres::Cluster;

use crate::destinations::{Kind, Store};
use crate::util::{runner, runner_bin, workspace_bin};
use crate::util::{shell_connector as connector, wait_for};

/// A fresh database for `test`, with its URL.
fn database(test: &str) -> Option<(&'static Cluster, String, String)> {
    let cluster = throwaway_postgres::require(test)?;
    let name = format!("pg_{test}");
    cluster.create_database(&name).unwrap();
    let url = cluster.url(&name);
    Some((cluster, name, url))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A connector that leaves a file behind whenever it is started, so a test can tell it never ran.
fn marking_connector(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let marker = dir.join("started");
    let script = format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.display());
    let path = dir.join("marking");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (path, marker)
}

#[test]
fn the_password_never_appears_in_any_output() {
    let Some((cluster, _, url)) = database("password") else { return };
    let dir = tempfile::tempdir().unwrap();
    let ok = connector(dir.path(), "ok", "team 1 a; state 1");
    std::fs::write(dir.path().join("c.json"), "{}").unwrap();
    let password = cluster.password();
    for extra in [&["--json"][..], &[][..], &["-v"][..]] {
        let mut args = vec!["sync", ok.to_str().unwrap(), "c.json", "s1", "2026-01-01", "--output", &url];
        args.extend_from_slice(extra);
        let output = runner(dir.path(), &args).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let all = text(&output.stdout) + &text(&output.stderr);
        assert!(!all.contains(password), "{all}");
    }
    let failing = connector(dir.path(), "failing", "exit 3");
    let output =
        runner(dir.path(), &["sync", failing.to_str().unwrap(), "c.json", "s1", "2026-01-01", "--output", &url])
            .output()
            .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(!text(&output.stderr).contains(password), "{}", text(&output.stderr));
    // Errors about the database show the URL masked.
    let wrong = url.replace(password, "not-the-password");
    let output = runner(dir.path(), &["sync", ok.to_str().unwrap(), "c.json", "s1", "2026-01-01", "--output", &wrong])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(stderr.contains("postgres://postgres:***@127.0.0.1:") && !stderr.contains("not-the-password"), "{stderr}");
}

#[test]
fn credentials_come_from_the_environment_and_the_password_file_as_with_libpq() {
    let Some((cluster, db, _)) = database("credentials") else { return };
    let dir = tempfile::tempdir().unwrap();
    let ok = connector(dir.path(), "ok", "team 1 a; state 1");
    std::fs::write(dir.path().join("c.json"), "{}").unwrap();
    let sync = |output: &str| {
        let mut command = runner(dir.path(), &["sync", ok.to_str().unwrap(), "c.json", "s1", "2026-01-01", "-q"]);
        command.args(["--output", output]).env_remove("PGPASSWORD").env("HOME", dir.path());
        command
    };
    // Everything from PG* variables.
    let output = sync("postgres://")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", cluster.port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db)
        .env("PGPASSWORD", cluster.password())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    // The password from ~/.pgpass (mode 0600), the rest from the URL.
    let pgpass = dir.path().join(".pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:{}:{db}:postgres:{}\n", cluster.port(), cluster.password())).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/{db}", cluster.port());
    let output = sync(&url).output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    std::fs::remove_file(&pgpass).unwrap();
    let output = sync(&url).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "without a password the server refuses");
    assert_eq!(cluster.psql(&db, "SELECT count(*) FROM sync_runs WHERE outcome = 'succeeded'").unwrap(), "2");
}

#[test]
fn a_target_that_cannot_be_used_fails_before_the_connector_starts() {
    let Some((cluster, db, url)) = database("refusals") else { return };
    cluster.create_user("reader", "reader-pw").unwrap();
    let port = cluster.port();
    let cases = [
        (
            format!("postgres://postgres@127.0.0.1:{}/{db}", free_port()),
            1,
            "Connection refused",
            "is the server running",
        ),
        (
            url.replace(cluster.password(), "wrong"),
            1,
            "password authentication failed",
            "hint: check the user and password",
        ),
        (format!("{}/nope", url.rsplit_once('/').unwrap().0), 1, "database \"nope\" does not exist", "createdb"),
        (format!("postgres://reader:reader-pw@127.0.0.1:{port}/{db}"), 1, "permission denied", "grant the user CREATE"),
        (
            format!("postgres://postgres@127.0.0.1:{port}/{db}?sslmode=sometimes"),
            2,
            "sslmode `sometimes` is not one of",
            "",
        ),
        (format!("postgres://postgres@127.0.0.1:{port}/{db}?sslmode=require"), 1, "server does not support TLS", ""),
    ];
    for (output_url, code, cause, hint) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (connector, marker) = marking_connector(dir.path());
        std::fs::write(dir.path().join("c.json"), "{}").unwrap();
        let output = runner(dir.path(), &["sync", connector.to_str().unwrap(), "c.json", "s1", "2026-01-01"])
            .args(["--output", &output_url])
            .env_remove("PGPASSWORD")
            .env("HOME", dir.path())
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{output_url}: {stderr}");
        assert!(stderr.contains(cause) && stderr.contains(hint), "{output_url}: {stderr}");
        assert!(!marker.exists(), "{output_url}: the connector was started");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_tables_go_to_the_schema_named_in_the_url() {
    let Some((cluster, db, url)) = database("schema") else { return };
    let dir = tempfile::tempdir().unwrap();
    let ok = connector(dir.path(), "ok", "team 1 a; state 1");
    std::fs::write(dir.path().join("c.json"), "{}").unwrap();
    let in_schema = format!("{url}?options=-csearch_path%3Danalytics");
    let output =
        runner(dir.path(), &["sync", ok.to_str().unwrap(), "c.json", "s1", "2026-01-01", "--output", &in_schema])
            .output()
            .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(cluster.psql(&db, "SELECT count(*) FROM analytics.records").unwrap(), "1");
    assert_eq!(cluster.psql(&db, "SELECT to_regclass('public.records') IS NULL").unwrap(), "t");
    assert_eq!(cluster.psql(&db, "SELECT json ->> 'name' FROM analytics.records").unwrap(), "a");
}

#[test]
fn a_statement_timeout_fails_the_run_with_the_servers_reason() {
    let Some((cluster, db, url)) = database("timeout") else { return };
    let dir = tempfile::tempdir().unwrap();
    let ok = connector(dir.path(), "ok", "team 1 a; state 1");
    std::fs::write(dir.path().join("c.json"), "{}").unwrap();
    let sync = |output: &str| {
        runner(dir.path(), &["sync", ok.to_str().unwrap(), "c.json", "s1", "2026-01-01", "-q", "--output", output])
            .output()
            .unwrap()
    };
    assert!(sync(&url).status.success(), "creates the tables");
    // Another session holds the records table; the sync's upsert must wait, and times out.
    let mut holder = Command::new(throwaway_postgres::server_bin().unwrap().join("psql"))
        .args([
            "-X",
            "-q",
            "-d",
            &url,
            "-c",
            "BEGIN; LOCK TABLE records IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let locked = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                  WHERE c.relname = 'records' AND l.mode = 'AccessExclusiveLock' AND l.granted";
    wait_for("the other session's lock", || (cluster.psql(&db, locked).unwrap() == "1").then_some(()));
    let output = sync(&format!("{url}?options=-cstatement_timeout%3D300"));
    holder.kill().unwrap();
    holder.wait().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("canceling statement due to statement timeout (SQLSTATE 57014)"), "{stderr}");
    assert!(stderr.contains("hint: raise statement_timeout"), "{stderr}");
}

#[test]
fn a_connection_lost_mid_sync_fails_the_run_and_the_rerun_resumes() {
    let Some(store) = Store::new(Kind::Postgres, "pg_lost") else { return };
    let go = store.dir.path().join("go");
    let body = format!(
        r#"case "$sync" in
*'"state":{{"page":1}}'*) team 3 c; state '{{"page":2}}' ;;
*) team 1 a; state '{{"page":1}}'
   while [ ! -e '{go}' ]; do sleep 0.05; done
   team 2 b; state '{{"page":2}}' ;;
esac"#,
        go = go.display()
    );
    let connector = connector(store.dir.path(), "pages", &body);
    let config = store.dir.path().join("c.json");
    std::fs::write(&config, "{}").unwrap();
    let child = Command::new(runner_bin())
        .current_dir(store.dir.path())
        .args(["sync", connector.to_str().unwrap(), config.to_str().unwrap(), "s1", "2026-01-01"])
        .args(["--output", store.output(), "--connection", "conn"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first checkpoint", || store.has_state("conn", "s1").then_some(()));
    // The server ends the runner's session, as a restart or a network cut would.
    let (cluster, db) = (throwaway_postgres::Cluster::shared().unwrap(), "t_pg_lost");
    let terminate = "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity \
                     WHERE application_name = 'runner' AND datname = current_database()) t WHERE done";
    let terminated = cluster.psql(db, terminate).unwrap();
    assert_eq!(terminated, "1");
    std::fs::write(&go, "").unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not store its output: cannot write to PostgreSQL database"), "{stderr}");
    assert_eq!(store.state("conn", "s1"), Some(json!({"page": 1})), "nothing after the last commit is claimed");

    let output = store.sync(&connector, &json!({}), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let ids: Vec<String> = store.records().into_keys().map(|(_, id)| id).collect();
    assert_eq!(ids, ["T1", "T3"], "resumed from page 1");
    let outcomes: Vec<String> = store.runs().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["failed", "succeeded"], "the first run is marked failed by the next one");
}

#[test]
fn several_runners_write_their_connections_into_one_new_database_at_once() {
    let Some((cluster, db, url)) = database("concurrent") else { return };
    let dir = tempfile::tempdir().unwrap();
    let body = "i=1; while [ $i -le 300 ]; do team $i \"n$i\"; i=$((i + 1)); done; state 1";
    let many = connector(dir.path(), "many", body);
    std::fs::write(dir.path().join("c.json"), "{}").unwrap();
    let children: Vec<_> = (0..4)
        .map(|n| {
            Command::new(runner_bin())
                .current_dir(dir.path())
                .args(["sync", many.to_str().unwrap(), "c.json", "s1", "2026-01-01", "-q", "--output", &url])
                .args(["--connection", &format!("c{n}")])
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    let per_connection = "SELECT string_agg(connection || '=' || n, ',' ORDER BY connection) FROM \
                          (SELECT connection, count(*) AS n FROM records GROUP BY connection) c";
    assert_eq!(cluster.psql(&db, per_connection).unwrap(), "c0=300,c1=300,c2=300,c3=300");
}

#[test]
fn sync_all_writes_to_a_postgres_output_named_in_the_toml() {
    let Some((cluster, db, url)) = database("sync_all") else { return };
    let dir = tempfile::tempdir().unwrap();
    let ok = connector(dir.path(), "ok", "team 1 a; team 2 b; state 1");
    let toml = format!(
        "[defaults]\ncutoff = \"2026-01-01\"\noutput = \"{url}\"\n\n\
         [[connection]]\nname = \"one\"\nconnector = \"{c}\"\nconfig = {{}}\n\n\
         [[connection]]\nname = \"two\"\nconnector = \"{c}\"\nconfig = {{}}\n",
        c = ok.display()
    );
    std::fs::write(dir.path().join("connections.toml"), toml).unwrap();
    let output = runner(dir.path(), &["sync-all", "connections.toml"]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!text(&output.stdout).contains(cluster.password()));
    assert_eq!(cluster.psql(&db, "SELECT count(*) FROM records").unwrap(), "4");
}

#[test]
fn sslmode_is_honoured_with_rustls() {
    let Some(cluster) = throwaway_postgres::require_tls("sslmode") else { return };
    cluster.create_database("tls").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ok = connector(dir.path(), "ok", "team 1 a; state 1");
    std::fs::write(dir.path().join("c.json"), "{}").unwrap();
    let root = cluster.certificate().unwrap().display().to_string();
    let base = |host: &str| format!("postgres://postgres:{}@{host}:{}/tls", cluster.password(), cluster.port());
    let sync = |url: &str| {
        runner(dir.path(), &["sync", ok.to_str().unwrap(), "c.json", "s1", "2026-01-01", "-q", "--output", url])
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    for (url, works) in [
        (format!("{}?sslmode=require", base("127.0.0.1")), true),
        (format!("{}?sslmode=verify-ca&sslrootcert={root}", base("127.0.0.1")), true),
        (format!("{}?sslmode=verify-full&sslrootcert={root}", base("localhost")), true),
        // The certificate names localhost, not 127.0.0.1.
        (format!("{}?sslmode=verify-full&sslrootcert={root}", base("127.0.0.1")), false),
        // A private authority: not among the default roots, whether the name is checked or not.
        (format!("{}?sslmode=verify-full", base("localhost")), false),
        (format!("{}?sslmode=verify-ca", base("127.0.0.1")), false),
        (format!("{}?sslmode=disable", base("127.0.0.1")), true),
    ] {
        let output = sync(&url);
        assert_eq!(output.status.success(), works, "{url}: {}", text(&output.stderr));
        if !works {
            assert!(text(&output.stderr).contains("certificate"), "{url}: {}", text(&output.stderr));
        }
    }
    assert_eq!(cluster.psql("tls", "SELECT count(*) FROM sync_runs WHERE outcome = 'succeeded'").unwrap(), "4");
}

#[test]
fn the_pagerduty_connector_stores_exactly_the_simulators_incidents_in_postgres() {
    let Some((cluster, db, url)) = database("pagerduty") else { return };
    workspace_bin("connector-pagerduty");
    let mock =
        pagerduty_mock::start_blocking(pagerduty_mock::MockConfig { incidents: 800, days: 120, ..Default::default() })
            .unwrap();
    let truth = mock.dataset();
    let cutoff = truth.now() - chrono::Duration::days(100);
    let expected: std::collections::BTreeSet<String> = truth
        .incidents_created_between(cutoff, truth.now() + chrono::Duration::seconds(1))
        .into_iter()
        .map(|i| i.id)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"apiToken": pagerduty_mock::MockConfig::default().token, "apiBaseUrl": mock.base_url});
    std::fs::write(dir.path().join("pd.json"), config.to_string()).unwrap();
    let cutoff_arg = cutoff.to_rfc3339();
    let output =
        runner(dir.path(), &["sync", "pagerduty", "pd.json", &cutoff_arg, "-q", "--output", &url]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stored =
        cluster.psql(&db, "SELECT string_agg(id, ',' ORDER BY id) FROM records WHERE type = 'Incident'").unwrap();
    let stored: std::collections::BTreeSet<String> = stored.split(',').map(str::to_owned).collect();
    assert_eq!(stored, expected);
    let statuses =
        cluster.psql(&db, "SELECT count(DISTINCT json ->> 'status') FROM records WHERE type = 'Incident'").unwrap();
    assert!(statuses.parse::<u32>().unwrap() >= 2, "the JSON is queryable with ->>");
}

#[test]
fn the_demo_syncs_into_postgres_and_its_queries_work_there() {
    let Some((cluster, db, url)) = database("demo") else { return };
    workspace_bin("connector-pagerduty");
    workspace_bin("pagerduty-mock");
    let dir = tempfile::tempdir().unwrap();
    for run in 0..2 {
        let output = runner(dir.path(), &["demo", "--incidents", "200", "--output", &url]).output().unwrap();
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
        assert!(!stdout.contains(cluster.password()) && !text(&output.stderr).contains(cluster.password()));
        assert!(stdout.contains("Your data: postgres://postgres:***@127.0.0.1:"), "{stdout}");
        assert!(
            stdout.contains(&format!("Try these with `psql 'postgres://postgres@127.0.0.1:{}/{db}'`", cluster.port()))
        );
        if run == 1 {
            assert!(stdout.contains("rows an earlier demo left in postgres://postgres:***@"), "{stdout}");
        }
    }
    for query in runner::demo::database::POSTGRES_QUERIES {
        let rows = cluster.psql(&db, query.sql).unwrap();
        assert!(!rows.is_empty(), "{}: no rows", query.title);
    }
    let incidents = "SELECT count(*) FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident'";
    assert_eq!(cluster.psql(&db, incidents).unwrap(), "205", "200 incidents and the 5 the demo creates, once");
}
