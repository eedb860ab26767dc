//! The `--state FILE`: a JSON object keyed by stream id, and [`WithStateFile`], which
//! routes a destination's states to it.
//!
//! The file has no connection level (`{"<stream id>": <state>, ...}`, the format users
//! write by hand), so one state file serves one connection; give `sync-all` none, or one
//! per connection.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::{Map, Value};

use super::{atomic, Destination, DestinationError, RejectedRecord, RunStart, RunSummary, ValidRecord};

/// Reads and writes the `--state FILE`: a JSON object keyed by stream id.
///
/// Written atomically (temporary file in the same directory, fsync, rename), so a crash
/// leaves either the old or the new file, never a torn one. Saves from parallel runs in
/// one process are serialised, so none overwrites another's stream.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// A state file at `path` (created on first save).
    pub fn new(path: impl AsRef<Path>) -> Self {
        StateFile { path: path.as_ref().to_owned() }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stream's state; a missing file is an empty object.
    ///
    /// # Errors
    /// The file cannot be read, or is not a JSON object ([`DestinationError::CorruptState`]).
    pub fn load(&self) -> Result<Map<String, Value>, DestinationError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(err) => return Err(DestinationError::open("state file", &self.path, err)),
        };
        serde_json::from_slice(&bytes)
            .map_err(|source| DestinationError::CorruptState { place: self.path.display().to_string(), source })
    }

    /// One stream's state; `None` when the file or the stream's entry is missing or null.
    ///
    /// # Errors
    /// As [`StateFile::load`].
    pub fn load_stream(&self, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        Ok(self.load()?.remove(stream_id).filter(|state| !state.is_null()))
    }

    /// Replaces the whole file with `states`.
    ///
    /// # Errors
    /// Writing failed; the old file is then unchanged.
    pub fn save(&self, states: &Map<String, Value>) -> Result<(), DestinationError> {
        let lock = path_lock(&self.path);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.write(states)
    }

    /// Sets one stream's state, keeping the others (read, modify, replace atomically).
    ///
    /// # Errors
    /// The file is corrupt or writing failed; the old file is then unchanged.
    pub fn save_stream(&self, stream_id: &str, state: &Value) -> Result<(), DestinationError> {
        self.update(|states| {
            states.insert(stream_id.to_owned(), state.clone());
            Ok(())
        })
    }

    /// Reads the file, lets `change` edit it, and replaces it atomically, holding this
    /// path's lock throughout so parallel updates in this process are not lost.
    pub(crate) fn update(
        &self,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<(), DestinationError>,
    ) -> Result<(), DestinationError> {
        let lock = path_lock(&self.path);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut states = self.load()?;
        change(&mut states)?;
        self.write(&states)
    }

    fn write(&self, states: &Map<String, Value>) -> Result<(), DestinationError> {
        let mut bytes = serde_json::to_vec_pretty(states).map_err(|err| DestinationError::write(&self.path, err))?;
        bytes.push(b'\n');
        atomic::replace_file(&self.path, &bytes).map_err(|err| DestinationError::write(&self.path, err))
    }
}

/// One lock per state file path in this process, so parallel runs' read-modify-write
/// saves do not lose each other's streams.
fn path_lock(path: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let key = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    locks.entry(key).or_default().clone()
}

/// A destination whose states live in a [`StateFile`]: records go to the inner
/// destination, which makes them durable before the file is replaced.
pub(crate) struct WithStateFile {
    inner: Box<dyn Destination>,
    file: StateFile,
    stream_id: Option<String>,
}

impl WithStateFile {
    pub(crate) fn new(inner: Box<dyn Destination>, file: StateFile) -> Self {
        WithStateFile { inner, file, stream_id: None }
    }
}

impl Destination for WithStateFile {
    fn describe(&self) -> String {
        format!("{} (state in {})", self.inner.describe(), self.file.path().display())
    }

    fn load_state(&mut self, _connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        self.file.load_stream(stream_id)
    }

    fn begin_run(&mut self, run: &RunStart) -> Result<(), DestinationError> {
        self.stream_id = Some(run.stream_id.clone());
        self.inner.begin_run(run)
    }

    fn write_record(&mut self, record: &ValidRecord<'_>) -> Result<(), DestinationError> {
        self.inner.write_record(record)
    }

    fn use_schemas(&mut self, schemas: std::sync::Arc<dyn crate::typed::RecordSchemas>) {
        self.inner.use_schemas(schemas);
    }

    fn write_rejected(&mut self, record: &RejectedRecord<'_>) -> Result<(), DestinationError> {
        self.inner.write_rejected(record)
    }

    fn flush(&mut self) -> Result<(), DestinationError> {
        self.inner.flush()
    }

    fn checkpoint(&mut self, state: &Value) -> Result<(), DestinationError> {
        // Records first: the file must never be ahead of what is stored.
        self.inner.flush()?;
        let stream_id = self.stream_id.as_deref().ok_or(DestinationError::Misuse("checkpoint before begin_run"))?;
        self.file.save_stream(stream_id, state)
    }

    fn finish_run(&mut self, summary: &RunSummary) -> Result<(), DestinationError> {
        self.inner.finish_run(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_file_is_no_state() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("state.json"));
        assert!(file.load().unwrap().is_empty());
        assert_eq!(file.load_stream("acme").unwrap(), None);
    }

    #[test]
    fn save_stream_keeps_other_streams() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("state.json"));
        file.save_stream("a", &json!({"since": "2026-01-01"})).unwrap();
        file.save_stream("b", &json!({"since": "2026-02-01"})).unwrap();
        file.save_stream("a", &json!({"since": "2026-03-01"})).unwrap();
        let on_disk: Value = serde_json::from_slice(&fs::read(file.path()).unwrap()).unwrap();
        assert_eq!(on_disk, json!({"a": {"since": "2026-03-01"}, "b": {"since": "2026-02-01"}}));
    }

    #[test]
    fn corrupt_file_is_a_clear_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"a\": ").unwrap();
        let err = StateFile::new(&path).load_stream("a").unwrap_err();
        assert!(matches!(err, DestinationError::CorruptState { .. }));
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("not valid JSON"), "{message}");
    }

    #[test]
    fn a_non_object_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"[1, 2]").unwrap();
        assert!(matches!(StateFile::new(&path).load(), Err(DestinationError::CorruptState { .. })));
    }

    #[test]
    fn parallel_saves_lose_no_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::thread::scope(|scope| {
            for t in 0..4 {
                let path = &path;
                scope.spawn(move || {
                    for i in 0..20 {
                        StateFile::new(path).save_stream(&format!("s{t}"), &json!({ "i": i })).unwrap();
                    }
                });
            }
        });
        let states = StateFile::new(&path).load().unwrap();
        assert_eq!(states.len(), 4);
        assert!(states.values().all(|state| state == &json!({"i": 19})));
    }
}

#[cfg(test)]
mod routing_tests {
    use super::*;
    use crate::test_support::{record, run_start, summary};
    use crate::{open, OutputSpec, RunOutcome};
    use serde_json::json;

    #[test]
    fn sqlite_with_a_state_file_stores_records_in_the_database_and_state_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (db, state_path) = (dir.path().join("runner.db"), dir.path().join("state.json"));
        let mut dest = open(&OutputSpec::sqlite(db.clone()), Some(&state_path)).unwrap();
        assert!(dest.describe().contains("state.json"));
        dest.begin_run(&run_start("acme", "account")).unwrap();
        dest.write_record(&record("Incident", "P1", "{}")).unwrap();
        dest.checkpoint(&json!({"since": "2026-02-01"})).unwrap();
        // Killed before finishing: the file and the database agree.
        std::mem::forget(dest);

        let conn = rusqlite::Connection::open(&db).unwrap();
        let count = |sql| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT count(*) FROM records"), 1);
        assert_eq!(count("SELECT count(*) FROM stream_state"), 0);
        assert_eq!(count("PRAGMA synchronous"), 2, "FULL when the state is outside the database");
        let mut reopened = open(&OutputSpec::sqlite(db), Some(&state_path)).unwrap();
        assert_eq!(reopened.load_state("acme", "account").unwrap(), Some(json!({"since": "2026-02-01"})));
        let on_disk: Value = serde_json::from_slice(&fs::read(&state_path).unwrap()).unwrap();
        assert_eq!(on_disk, json!({"account": {"since": "2026-02-01"}}));
    }

    #[test]
    fn jsonl_with_a_state_file_writes_no_state_into_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (out, state_path) = (dir.path().join("out"), dir.path().join("state.json"));
        let mut dest = open(&OutputSpec::json_lines(out.clone()), Some(&state_path)).unwrap();
        dest.begin_run(&run_start("acme", "account")).unwrap();
        dest.write_record(&record("Incident", "P1", "{}")).unwrap();
        dest.checkpoint(&json!({"page": 2})).unwrap();
        dest.finish_run(&summary(RunOutcome::Succeeded, &[("Incident", 1)])).unwrap();
        assert_eq!(fs::read(out.join("Incident.jsonl")).unwrap(), b"{}\n");
        assert!(!out.join("_state.json").exists());
        assert_eq!(StateFile::new(&state_path).load_stream("account").unwrap(), Some(json!({"page": 2})));
    }

    #[test]
    fn a_checkpoint_before_begin_run_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut dest =
            open(&OutputSpec::json_lines(dir.path().join("out")), Some(&dir.path().join("state.json"))).unwrap();
        assert!(matches!(dest.checkpoint(&json!({})), Err(DestinationError::Misuse(_))));
    }
}
