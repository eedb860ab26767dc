//! Reliability you can show (RELIABILITY.md): the runner killed at any instant, a full
//! disk, damaged stores, input nested deep or too large. The harnesses print their
//! figures (`cargo test -p runner --test it reliability -- --nocapture`).
//!
//! `RELIABILITY_LONG=1` runs the long mode (more kills, larger syncs); `RELIABILITY_SEED`
//! replays the random instants of a failed run (each harness prints its seed).
//!
//! Most of these syncs run `connector-bench`: deterministic ~1.4 KB Incident records
//! (ids `Q0000000000`, `Q0000000001`, ...), a state `{"emitted": n}` every few records,
//! resuming after record n. Its clean run into a fresh store is the reference every
//! damaged, killed or starved store must end up equal to.

/// Damaged stores: not a database, read-only, a torn line, a state that is not JSON.
mod damaged;
/// Input nested 100,000 levels deep, a gigabyte of config, a config that is not UTF-8.
mod deep;
/// A full disk: writes that fail with EFBIG (a file-size limit).
mod disk;
/// SIGKILL the runner or its connector at random instants, into every destination.
mod kill;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::destinations::Store;
use crate::util::{runner_bin, workspace_bin};

/// Whether the long mode is asked for (`RELIABILITY_LONG` set and not `0`).
pub fn long_mode() -> bool {
    std::env::var("RELIABILITY_LONG").is_ok_and(|value| !value.is_empty() && value != "0")
}

/// The seed of `test`'s random choices: `RELIABILITY_SEED`, or a new one; printed either way.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var("RELIABILITY_SEED") {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("RELIABILITY_SEED={text:?} is not a number")),
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64,
    };
    eprintln!("{test}: seed {seed} (replay with RELIABILITY_SEED={seed})");
    seed
}

/// A `connector-bench` sync: how many records, a checkpoint every how many.
#[derive(Debug, Clone, Copy)]
pub struct Bench {
    pub records: u64,
    pub checkpoint_every: u64,
}

/// `(type, id)` -> record, as a store holds them.
pub type Records = BTreeMap<(String, String), Value>;

/// What one clean run of a [`Bench`] stores.
pub struct Expected {
    pub records: Records,
    pub state: Option<Value>,
}

impl Bench {
    /// `runner sync connector-bench bench.json incidents 2026-01-01 --output STORE
    /// --connection conn -q --wait` in the store's directory, stdin and stdout closed, its
    /// stderr to [`Bench::stderr`] (`--wait`: a killed runner's PostgreSQL sessions end a
    /// moment after it).
    pub fn command(&self, store: &Store) -> Command {
        let bench = workspace_bin("connector-bench");
        let config = store.dir.path().join("bench.json");
        let config_json = json!({"records": self.records, "checkpointEvery": self.checkpoint_every});
        std::fs::write(&config, config_json.to_string()).unwrap();
        let stderr = std::fs::File::create(Bench::stderr_path(store)).unwrap();
        let mut command = Command::new(runner_bin());
        command
            .current_dir(store.dir.path())
            .args(["sync", bench.to_str().unwrap(), config.to_str().unwrap(), "incidents", "2026-01-01"])
            .args(["--output", store.output(), "--connection", "conn", "-q", "--wait"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        command
    }

    fn stderr_path(store: &Store) -> PathBuf {
        store.dir.path().join("runner.stderr")
    }

    /// What the last run started by [`Bench::command`] printed on stderr.
    pub fn stderr(store: &Store) -> String {
        std::fs::read_to_string(Bench::stderr_path(store)).unwrap_or_default()
    }

    /// Runs one clean sync into `store` and returns what it stored.
    pub fn clean_run(&self, store: &Store) -> Expected {
        let status = self.command(store).status().unwrap();
        assert!(status.success(), "the clean run failed ({status}): {}", Bench::stderr(store));
        let expected = Expected { records: store.records(), state: store.state("conn", "incidents") };
        assert_eq!(expected.records.len() as u64, self.records);
        assert_eq!(expected.state, Some(json!({"emitted": self.records})));
        expected
    }

    /// The `emitted` of the stored state (0 without one, or before the store exists).
    pub fn emitted(store: &Store) -> u64 {
        if !store.created() {
            return 0;
        }
        store.state("conn", "incidents").map_or(0, |state| {
            state["emitted"].as_u64().unwrap_or_else(|| panic!("a state the connector never sent: {state}"))
        })
    }

    /// Checks a store a run left in any state (killed, failed): it opens and is whole,
    /// every stored record is one the connector sent, byte for byte, and the state is
    /// never ahead of the records (every record before `emitted` is stored). Returns the
    /// number of records the state claims but the store lacks, after failing on any.
    pub fn check_consistent(&self, store: &Store, expected: &Expected) -> usize {
        if !store.created() {
            return 0;
        }
        store.assert_whole();
        let records = store.records();
        for (key, record) in &records {
            assert_eq!(Some(record), expected.records.get(key), "a stored record is not one the connector sent");
        }
        let emitted = Bench::emitted(store);
        assert!(emitted % self.checkpoint_every == 0 || emitted == self.records, "{emitted} is no checkpoint");
        let stored: BTreeSet<u64> = records.keys().map(|(_, id)| index_of(id)).collect();
        let lost = (0..emitted).filter(|i| !stored.contains(i)).count();
        assert_eq!(
            lost, 0,
            "the state (emitted {emitted}) is ahead of the records: {lost} records before it are missing"
        );
        lost
    }
}

/// The index of a connector-bench id (`Q0000001026` -> 1026).
fn index_of(id: &str) -> u64 {
    id.trim_start_matches('Q').parse().unwrap_or_else(|_| panic!("not a connector-bench id: {id}"))
}

/// Checks a store after a sync completed: what one clean run stores, no torn line, no
/// temporary file, and a history in which no run still claims to be running.
pub fn check_complete(store: &Store, expected: &Expected) {
    store.assert_whole();
    assert_eq!(store.torn_tails(), [], "a torn line outlived the next run");
    let records = store.records();
    assert_eq!(records.len(), expected.records.len(), "not the clean run's (type, id) set");
    assert!(records == expected.records, "not the clean run's records");
    assert_eq!(store.state("conn", "incidents"), expected.state);
    let runs = store.runs();
    assert_eq!(runs.last().map(|run| run.outcome.as_str()), Some("succeeded"), "{runs:?}");
    assert!(runs.iter().all(|run| run.outcome != "running"), "a killed run still claims to run: {runs:?}");
    assert_eq!(temporary_files(Path::new(store.output())), Vec::<String>::new(), "temporary files left behind");
}

/// Temporary files (`.<name>.tmp-*`) in a JSON-lines directory.
fn temporary_files(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).into_iter().flatten().flatten();
    names.map(|e| e.file_name().to_string_lossy().into_owned()).filter(|name| name.contains(".tmp-")).collect()
}
