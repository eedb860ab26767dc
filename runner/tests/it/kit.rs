//! The conformance kit, end to end: the real `runner test-connector` binary against the
//! PagerDuty connector on the simulator, the Python, Node and shell connectors, and every
//! broken fixture in `connectors/broken/` (each must fail the right check); plus `runner
//! sync` of the three language connectors into real SQLite files.
//!
//! Python 3 and Node are required: a missing one fails the test with what to install.

mod language_connectors {
    use serde_json::Value;

    use crate::util::{self, check, kit, require, status, workspace_root};

    /// Every check passes, except the secrets check, skipped: these configs hold no secret.
    fn assert_passes(report: &Value, code: i32) {
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(report["failed"], 0, "{report:#}");
        assert_eq!(status(report, "secrets.not_leaked"), "skip", "{report:#}");
        assert_eq!(report["skipped"], 1, "{report:#}");
    }

    #[test]
    fn the_shell_connector_passes() {
        let (report, code) = kit(
            &workspace_root(),
            &["./connectors/shell/hello-shell", "connectors/shell/config.json", "--since", "2026-01-01"],
        );
        assert_passes(&report, code);
        assert!(check(&report, "sync.records_valid")["reason"].as_str().unwrap().contains("Incident: 2"), "{report:#}");
    }

    #[test]
    fn the_python_connector_passes_and_its_rerun_is_incremental() {
        require("python3", "Python 3.9 or newer");
        let (report, code) = kit(
            &workspace_root().join("connectors/python"),
            &["./csv-incidents", "examples/config.json", "--since", "2026-01-01"],
        );
        assert_passes(&report, code);
        let incremental = check(&report, "sync.incremental")["reason"].as_str().unwrap().to_owned();
        assert!(incremental.contains("0 of the first sync's 5 again (0%)"), "{incremental}");
    }

    #[test]
    fn the_node_connector_passes() {
        require("node", "Node.js 18 or newer");
        let (report, code) = kit(
            &workspace_root().join("connectors/node"),
            &["./statuspage-json", "examples/config.json", "--since", "2026-01-01"],
        );
        assert_passes(&report, code);
        assert!(check(&report, "sync.records_valid")["reason"].as_str().unwrap().contains("Incident: 3"), "{report:#}");
    }

    #[test]
    fn the_human_report_is_a_table_without_colours_under_no_color() {
        let output = util::runner(
            &workspace_root(),
            &[
                "test-connector",
                "./connectors/shell/hello-shell",
                "connectors/shell/config.json",
                "--since",
                "2026-01-01",
            ],
        )
        .output()
        .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.starts_with("check "), "{text}");
        assert!(text.contains("sync.records_valid") && text.contains("PASS"), "{text}");
        assert!(text.contains("19 passed, 0 failed, 1 skipped"), "{text}");
        assert!(!text.contains('\x1b'), "no escape codes: {text:?}");
        assert_eq!(output.status.code(), Some(0));
    }
}

mod sync_into_sqlite {
    use std::path::Path;

    use crate::util::{require, runner, workspace_root};

    /// `runner sync` of a connector in `dir` into a fresh SQLite file; the stored (type, id, title)s.
    fn sync(dir: &Path, connector: &str, config: &str) -> Vec<(String, String, String)> {
        let db_dir = tempfile::tempdir().unwrap();
        let db = db_dir.path().join("out.db");
        let output = runner(dir, &["sync", connector, config, "2026-01-01", "--output", db.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        assert!(output.status.success(), "sync failed: {}", String::from_utf8_lossy(&output.stderr));
        let store = test_support::store::Store::open(&db);
        // By type, then id: one type (see `ids`), so by id.
        let records = store.records().into_iter();
        let records = records.map(|r| (r.record_type, r.id, r.json["title"].as_str().expect("a title").to_owned()));
        let records = records.collect();
        assert_eq!(store.states().len(), 1, "one checkpoint stored");
        records
    }

    fn ids(records: &[(String, String, String)]) -> Vec<&str> {
        assert!(records.iter().all(|(t, _, title)| t == "Incident" && !title.is_empty()), "{records:?}");
        records.iter().map(|(_, id, _)| id.as_str()).collect()
    }

    #[test]
    fn the_shell_connector_stores_its_two_incidents() {
        let records = sync(&workspace_root(), "./connectors/shell/hello-shell", "connectors/shell/config.json");
        assert_eq!(ids(&records), ["hs-1", "hs-2"]);
    }

    #[test]
    fn the_python_connector_stores_every_csv_row() {
        require("python3", "Python 3.9 or newer");
        let records = sync(&workspace_root().join("connectors/python"), "./csv-incidents", "examples/config.json");
        assert_eq!(ids(&records), ["INC-1001", "INC-1002", "INC-1003", "INC-1004", "INC-1005"]);
        assert_eq!(records[3].2, "Login page shows \"500\" for SSO users", "CSV quoting survives");
    }

    #[test]
    fn the_node_connector_stores_the_incidents_after_the_cutoff() {
        require("node", "Node.js 18 or newer");
        let records = sync(&workspace_root().join("connectors/node"), "./statuspage-json", "examples/config.json");
        assert_eq!(ids(&records), ["cq0pbyy6bd5m", "p31zjtct2jer", "yh8jwzv9b7ks"]);
    }
}

mod pagerduty {
    use pagerduty_mock::{start_blocking, MockConfig};

    use crate::util::{check, check_count, kit, workspace_root};

    #[test]
    fn the_pagerduty_connector_passes_against_the_simulator() {
        crate::util::workspace_bin("connector-pagerduty");
        let mock = start_blocking(MockConfig { incidents: 300, days: 60, ..MockConfig::default() }).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("pagerduty.json");
        let token = MockConfig::default().token;
        std::fs::write(&config, serde_json::json!({"apiToken": token, "apiBaseUrl": mock.base_url}).to_string())
            .unwrap();
        let since = (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
        let (report, code) = kit(&workspace_root(), &["pagerduty", config.to_str().unwrap(), "--since", &since]);
        assert_eq!((code, &report["failed"], &report["skipped"]), (0, &0.into(), &0.into()), "{report:#}");
        assert_eq!(report["passed"], check_count(&report), "{report:#}");
        let records = check(&report, "sync.records_valid")["reason"].as_str().unwrap();
        assert!(records.contains("Incident: ") && records.contains("IncidentLogEntry: "), "{records}");
        assert!(check(&report, "sync.incremental")["reason"].as_str().unwrap().contains("again ("), "{report:#}");
        assert!(!report.to_string().contains(&token), "the token is never printed");
    }
}

mod broken_fixtures {
    use serde_json::Value;

    use crate::util::{check, check_count, failed, kit, workspace_root};

    /// Short limits: `hangs` and `ignores-sigterm` never end on their own.
    const LIMITS: [&str; 8] =
        ["--idle-timeout", "2", "--grace", "0.5", "--sigterm-grace", "1", "--check-timeout", "20"];

    /// Runs the kit on `connectors/broken/FIXTURE` and asserts that `expected` fails and
    /// that every other failed check is in `also`.
    fn fails(fixture: &str, expected: &str, also: &[&str]) -> Value {
        let connector = format!("./connectors/broken/{fixture}");
        let mut args = vec![connector.as_str(), "connectors/broken/config.json"];
        args.extend(LIMITS);
        let (report, code) = kit(&workspace_root(), &args);
        assert_eq!(code, 1, "{fixture}: the kit must exit 1: {report:#}");
        let failed = failed(&report);
        assert!(failed.iter().any(|name| name == expected), "{fixture}: {expected} must fail; failed: {failed:?}");
        let unexpected: Vec<_> = failed.iter().filter(|n| *n != expected && !also.contains(&n.as_str())).collect();
        assert!(unexpected.is_empty(), "{fixture}: unexpected failures {unexpected:?}: {report:#}");
        assert!(!report.to_string().contains("fixture-secret-4f9c2a71"), "{fixture}: secret printed: {report}");
        check(&report, expected).clone()
    }

    fn reason(check: &Value) -> &str {
        check["reason"].as_str().unwrap_or("")
    }

    #[test]
    fn the_well_behaved_control_passes_every_check() {
        let mut args = vec!["./connectors/broken/well-behaved", "connectors/broken/config.json"];
        args.extend(LIMITS);
        let (report, code) = kit(&workspace_root(), &args);
        assert_eq!((code, &report["passed"]), (0, &check_count(&report).into()), "{report:#}");
    }

    #[test]
    fn garbage_output_fails_protocol_lines_at_line_2() {
        let check = fails("garbage-output", "sync.protocol_lines", &[]);
        assert_eq!(check["line"], 2);
        assert!(reason(&check).contains("Fetched page 1 of 3"), "{check}");
    }

    #[test]
    fn an_invalid_record_fails_records_valid_naming_it() {
        let check = fails("invalid-record", "sync.records_valid", &[]);
        assert_eq!(check["line"], 1);
        assert!(reason(&check).contains("Incident `br-2`") && reason(&check).contains("\"title\""), "{check}");
    }

    #[test]
    fn a_crash_mid_sync_fails_exit_zero() {
        let check = fails("crash-mid-sync", "sync.exit_zero", &[]);
        assert!(reason(&check).contains("exited with status 3"), "{check}");
    }

    #[test]
    fn a_silent_verify_fails_the_verify_checks() {
        let check = fails(
            "verify-never-answers",
            "verify.valid_config",
            &["verify.empty_config_invalid", "verify.wrong_value_invalid"],
        );
        assert!(reason(&check).contains("exactly one verification message, got none"), "{check}");
    }

    #[test]
    fn a_leaked_secret_fails_the_secrets_check_with_where_it_was_seen() {
        let check = fails("leaks-secret", "secrets.not_leaked", &[]);
        assert_eq!(check["line"], 1);
        assert!(reason(&check).contains("sync stdout line 1, sync stderr line 1"), "{check}");
    }

    #[test]
    fn a_hanging_sync_fails_terminates() {
        let check = fails("hangs", "sync.terminates", &[]);
        assert!(reason(&check).contains("--idle-timeout"), "{check}");
    }

    #[test]
    fn ignoring_sigterm_fails_the_sigterm_check() {
        let check = fails("ignores-sigterm", "robust.sigterm", &["sync.terminates"]);
        assert!(reason(&check).contains("killed with SIGKILL"), "{check}");
    }
}

mod bad_input {
    use crate::util::{runner, workspace_root};

    #[test]
    fn a_missing_config_or_a_bad_date_exits_2() {
        let hello = "./connectors/shell/hello-shell";
        let missing = runner(&workspace_root(), &["test-connector", hello, "no-such-config.json"]).output().unwrap();
        assert_eq!(missing.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-config.json"));
        let args = ["test-connector", hello, "connectors/shell/config.json", "--since", "yesterday"];
        let bad_date = runner(&workspace_root(), &args).output().unwrap();
        assert_eq!(bad_date.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&bad_date.stderr).contains("\"yesterday\""));
    }
}

mod full_refresh {
    use test_support::sandbox::Sandbox;

    use crate::util::{check, kit};

    /// A connector whose every sync sends the same 20 records whatever its state; its
    /// Stream says `fullRefresh` when the config's `full` is true.
    const RESENDS_EVERYTHING: &str = r#"#!/bin/sh
case "$1" in
spec) echo '{"type":"spec","protocol":1,"name":"resend","version":"1","config_schema":{"type":"object"},"record_types":["Team"]}'; exit 0 ;;
verify) cat >/dev/null; echo '{"type":"verification","valid":true}'; exit 0 ;;
discover)
  case "$(cat)" in *'"full":true'*) full=',"fullRefresh":true' ;; *) full='' ;; esac
  echo '{"type":"stream","stream":{"_type":"Stream","id":"all","self":"https://x.test/all","name":"All"'"$full"'}}'; exit 0 ;;
esac
cat >/dev/null
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  printf '{"type":"record","record":{"_type":"Team","id":"T%s","self":"https://x.test/T%s","name":"Team %s"}}\n' $i $i $i
done
echo '{"type":"state","state":{"synced":true}}'
"#;

    fn incremental(full: bool) -> serde_json::Value {
        let sandbox = Sandbox::new();
        let connector = sandbox.script("resend", RESENDS_EVERYTHING);
        let config = sandbox.write("c.json", &format!(r#"{{"full":{full}}}"#));
        let (report, _) = kit(sandbox.dir.path(), &[&connector, &config, "--since", "2026-01-01"]);
        check(&report, "sync.incremental").clone()
    }

    #[test]
    fn a_full_refresh_stream_skips_the_incremental_check_with_the_reason() {
        let check = incremental(true);
        assert_eq!(check["status"], "skip", "{check}");
        assert_eq!(
            check["reason"],
            "stream `all` has no incremental mode (fullRefresh): every sync reads all of it again"
        );
    }

    #[test]
    fn a_stream_that_claims_to_be_incremental_and_resends_everything_still_fails() {
        let check = incremental(false);
        assert_eq!(check["status"], "fail", "{check}");
        assert!(check["reason"].as_str().unwrap().contains("20 of the first sync's 20 again (100%)"), "{check}");
    }
}
