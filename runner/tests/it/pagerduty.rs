//! connector-pagerduty through the runner, against the simulator: what lands in SQLite
//! is exactly the account's data since the cutoff, every record validated, and the next
//! sync fetches only what changed.
//!
//! Needs the workspace's binaries beside the runner (`cargo test --workspace` builds them).

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use chrono::Duration;
use pagerduty_mock::{start_blocking, MockConfig};
use test_support::store::Store;

use crate::util::{runner_bin, workspace_bin};

fn runner() -> Command {
    workspace_bin("connector-pagerduty");
    let mut command = Command::new(runner_bin());
    command.env("NO_COLOR", "1");
    command
}

fn ids(db: &Path, record_type: &str) -> BTreeSet<String> {
    Store::open(db).records_of(record_type).into_keys().collect()
}

fn query_i64(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db).unwrap().query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn a_full_sync_stores_exactly_the_incidents_since_the_cutoff_then_an_incremental_sync_is_cheap() {
    let mock = start_blocking(MockConfig { incidents: 5000, days: 400, ..MockConfig::default() }).unwrap();
    let truth = mock.dataset();
    let cutoff = truth.now() - Duration::days(395);
    let expected = truth.incidents_created_between(cutoff, truth.now() + Duration::seconds(1));
    assert!(expected.len() > 4000, "the simulator spreads incidents over the whole range");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pd.json");
    let body = serde_json::json!({"apiToken": MockConfig::default().token, "apiBaseUrl": mock.base_url});
    std::fs::write(&config, body.to_string()).unwrap();
    let db = dir.path().join("pd.db");
    let cutoff_arg = protocol::format_instant(cutoff);
    let args = ["sync", "pagerduty", config.to_str().unwrap(), cutoff_arg.as_str(), "--output", db.to_str().unwrap()];

    runner().args(args).assert().success();

    let incidents = ids(&db, "Incident");
    let expected_ids: BTreeSet<String> = expected.iter().map(|i| i.id.clone()).collect();
    assert_eq!(incidents.len(), expected_ids.len(), "incident count");
    assert_eq!(incidents, expected_ids, "exactly the incidents created since the cutoff");
    let log_entries = ids(&db, "IncidentLogEntry");
    let missing: Vec<_> =
        expected.iter().flat_map(|i| &i.log_entry_ids).filter(|id| !log_entries.contains(*id)).take(5).collect();
    assert!(missing.is_empty(), "log entries of synced incidents missing: {missing:?}");
    for record_type in ["Actor", "Team", "Service", "EscalationPolicy", "Priority", "OnCall"] {
        assert!(!ids(&db, record_type).is_empty(), "no {record_type} records stored");
    }
    assert_eq!(query_i64(&db, "SELECT count(*) FROM sync_runs WHERE outcome = 'succeeded' AND rejected = 0"), 1);
    assert_eq!(query_i64(&db, "SELECT count(*) FROM stream_state WHERE connection = 'pagerduty'"), 1);

    // The stored state makes the next sync fetch only what is new or changed.
    let churn = mock.churn(3, 2);
    mock.reset_stats();
    runner().args(args).assert().success();
    let requests = mock.stats().total;
    assert!(requests <= 20, "an incremental sync made {requests} requests");
    let incidents = ids(&db, "Incident");
    assert!(churn.created.iter().all(|id| incidents.contains(id)), "new incidents stored");
    let resolved: i64 = churn
        .resolved
        .iter()
        .map(|id| {
            let sql = format!(
                "SELECT count(*) FROM records WHERE type = 'Incident' AND id = '{id}' \
                 AND json_extract(json, '$.status') = 'resolved'"
            );
            query_i64(&db, &sql)
        })
        .sum();
    assert_eq!(resolved, churn.resolved.len() as i64, "resolved incidents updated in place");
}
