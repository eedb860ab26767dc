//! The JSON-lines directory destination.
//!
//! Layout of `<dir>`:
//! - `<Type>.jsonl`: one record per line, the record object byte for byte as the connector
//!   sent it (so `jq .id out/Incident.jsonl` works). Appended; a re-sync appends again
//!   (no upsert: deduplicate by `id` downstream, the last line wins).
//! - `_rejected.jsonl`: `{"connection","stream_id","line","type","id","errors","record"}`,
//!   `record` being the raw record (or its text as a JSON string if it was not JSON).
//! - `_state.json`: `{"<connection>": {"<stream id>": <state>}}`, replaced atomically
//!   (temporary file, fsync, rename) only after the record files are flushed and fsynced.
//! - `_runs.jsonl`: one line per finished run (outcome, counts, error, logs). A run killed
//!   before it finished leaves no line.
//!
//! Like the databases, the directory is written on a thread of its own ([`Batched`] over
//! [`JsonlStore`]): the store loop hands a batch over and goes on reading and validating
//! while the lines are appended and, at a checkpoint, fsynced.
//!
//! All runs in one process writing the same directory share one buffered writer per file
//! (a process-wide registry keyed by the canonical path), taken a whole line at a time, so
//! lines never interleave. If the process dies mid-line, the torn tail is cut off the next
//! time the file is opened (it was never covered by a checkpoint): its bytes are first
//! kept in `_torn/<file>.at-<offset>`, and the run that repaired it says so in its
//! `_runs.jsonl` line (`repairs`), so nothing is lost silently (RELIABILITY.md).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::guard::{self, ConnectionGuard};
use crate::history::HistoryError;
use crate::writer::{Batched, Commit, Store, Writer};
use crate::{
    atomic, Destination, DestinationError, Output, OutputError, OutputSpec, RejectedRecord, RunStart, RunSummary,
    StateFile, Tuning,
};

const REJECTED_FILE: &str = "_rejected.jsonl";
const RUNS_FILE: &str = "_runs.jsonl";
const STATE_FILE: &str = "_state.json";
/// Where the torn tails cut off the files are kept.
const TORN_DIR: &str = "_torn";

/// One run's handle on a JSON-lines directory: batches written on the directory's writer
/// thread.
pub type JsonlDestination = Batched<JsonlStore>;

/// Opens (creating if needed) the directory, sharing its files with other runs of this
/// process, and starts the thread that writes to it.
///
/// # Errors
/// The directory cannot be created.
pub fn open(dir: &Path, tuning: &Tuning) -> Result<JsonlDestination, DestinationError> {
    let store = JsonlStore::open(dir, tuning)?;
    let described = format!("directory {}", store.shared.dir.display());
    let writer = Writer::start("jsonl-writer", move || Ok(store))?;
    Ok(Batched::new(described, writer, tuning))
}

/// One run's files in a JSON-lines directory, on the writer thread.
pub struct JsonlStore {
    shared: Arc<SharedDir>,
    state: StateFile,
    /// This run's handles, by `_type`, so the shared map is locked once per type.
    by_type: HashMap<String, RunFile>,
    rejected: Option<RunFile>,
}

/// A shared file as one run sees it.
struct RunFile {
    file: Arc<Mutex<LineFile>>,
    /// Written by this run since its last checkpoint.
    dirty: bool,
}

/// What all runs into one directory share.
struct SharedDir {
    dir: PathBuf,
    buffer_bytes: usize,
    files: Mutex<HashMap<String, Arc<Mutex<LineFile>>>>,
    /// Torn tails cut since a run last recorded them (told in the next `_runs.jsonl` line).
    repairs: Mutex<Vec<String>>,
}

struct LineFile {
    path: PathBuf,
    writer: BufWriter<File>,
    /// Created by this process and not yet made durable in the directory (fsync of the dir).
    created: bool,
    /// Bytes appended since the kernel was last asked to start writing back.
    unflushed: usize,
}

/// Bytes appended between requests to start writeback early (see [`LineFile::append`]).
const WRITEBACK_EVERY: usize = 8 * 1024 * 1024;

impl JsonlStore {
    fn open(dir: &Path, tuning: &Tuning) -> Result<Self, DestinationError> {
        let shared = SharedDir::get(dir, tuning.buffer_bytes)?;
        let state = StateFile::new(shared.dir.join(STATE_FILE));
        Ok(JsonlStore { shared, state, by_type: HashMap::new(), rejected: None })
    }

    fn write_record(&mut self, record_type: &str, json: &str) -> Result<(), DestinationError> {
        let run_file = self.record_file(record_type)?;
        run_file.dirty = true;
        lock(&run_file.file).append(json.as_bytes())
    }

    fn write_rejected(&mut self, run: &RunStart, record: &RejectedRecord<'_>) -> Result<(), DestinationError> {
        let line = rejected_line(run, record);
        let run_file = self.rejected_file()?;
        run_file.dirty = true;
        lock(&run_file.file).append(&line)
    }

    fn record_file(&mut self, record_type: &str) -> Result<&mut RunFile, DestinationError> {
        if !self.by_type.contains_key(record_type) {
            let name = file_name_for(record_type, &self.shared.dir)?;
            let file = self.shared.file(&name)?;
            self.by_type.insert(record_type.to_owned(), RunFile { file, dirty: false });
        }
        Ok(self.by_type.get_mut(record_type).expect("inserted above"))
    }

    fn rejected_file(&mut self) -> Result<&mut RunFile, DestinationError> {
        if self.rejected.is_none() {
            self.rejected = Some(RunFile { file: self.shared.file(REJECTED_FILE)?, dirty: false });
        }
        Ok(self.rejected.as_mut().expect("set above"))
    }

    /// Flushes and fsyncs every file this run wrote since its last checkpoint, and the
    /// directory if one of them is new.
    fn make_durable(&mut self) -> Result<(), DestinationError> {
        let mut new_files = false;
        for run_file in self.by_type.values_mut().chain(self.rejected.as_mut()) {
            if run_file.dirty {
                new_files |= lock(&run_file.file).sync()?;
                run_file.dirty = false;
            }
        }
        if new_files {
            atomic::sync_dir(&self.shared.dir).map_err(|err| DestinationError::write(&self.shared.dir, err))?;
        }
        Ok(())
    }

    fn save_state(&self, run: &RunStart, state: &Value) -> Result<(), DestinationError> {
        let path = self.state.path().to_owned();
        self.state.update(|all| {
            let streams = all.entry(run.connection.clone()).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(streams) = streams else {
                return Err(not_an_object(&path, streams));
            };
            streams.insert(run.stream_id.clone(), state.clone());
            Ok(())
        })
    }

    fn append_run_line(&self, run: &RunStart, summary: &RunSummary) -> Result<(), DestinationError> {
        let file = self.shared.file(RUNS_FILE)?;
        let mut line = run_line(run, summary);
        let repairs = std::mem::take(&mut *lock(&self.shared.repairs));
        if !repairs.is_empty() {
            line["repairs"] = json!(repairs);
        }
        let mut file = lock(&file);
        file.append(line.to_string().as_bytes())?;
        if file.sync()? {
            atomic::sync_dir(&self.shared.dir).map_err(|err| DestinationError::write(&self.shared.dir, err))?;
        }
        Ok(())
    }
}

impl Store for JsonlStore {
    type Run = RunStart;

    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        let Some(streams) = self.state.load()?.remove(connection) else { return Ok(None) };
        let Value::Object(mut streams) = streams else {
            return Err(not_an_object(self.state.path(), &streams));
        };
        Ok(streams.remove(stream_id).filter(|state| !state.is_null()))
    }

    fn begin_run(&mut self, run: &RunStart) -> Result<RunStart, DestinationError> {
        Ok(run.clone())
    }

    /// Appends the batch's lines and makes them durable (as a database commits a
    /// transaction), then saves the state or appends the run's line, if given.
    fn commit(&mut self, commit: &Commit<RunStart>, records_lost: bool) -> Result<(), DestinationError> {
        let run = &commit.run;
        if !records_lost {
            for record in commit.batch.records() {
                self.write_record(record.record_type, record.json)?;
            }
            for rejected in &commit.batch.rejected {
                self.write_rejected(run, &rejected.as_record())?;
            }
            self.make_durable()?;
            if let Some(state) = &commit.state {
                self.save_state(run, state)?;
            }
        }
        match &commit.summary {
            Some(summary) => self.append_run_line(run, summary),
            None => Ok(()),
        }
    }
}

impl SharedDir {
    /// The directory's shared state, created on first use in this process.
    fn get(dir: &Path, buffer_bytes: usize) -> Result<Arc<SharedDir>, DestinationError> {
        static DIRS: OnceLock<Mutex<HashMap<PathBuf, Weak<SharedDir>>>> = OnceLock::new();
        fs::create_dir_all(dir).map_err(|err| DestinationError::open("directory", dir, err))?;
        let canonical = fs::canonicalize(dir).map_err(|err| DestinationError::open("directory", dir, err))?;
        let mut dirs = lock(DIRS.get_or_init(Default::default));
        if let Some(shared) = dirs.get(&canonical).and_then(Weak::upgrade) {
            return Ok(shared);
        }
        let shared = Arc::new(SharedDir {
            dir: canonical.clone(),
            buffer_bytes,
            files: Mutex::default(),
            repairs: Mutex::default(),
        });
        dirs.retain(|_, weak| weak.strong_count() > 0);
        dirs.insert(canonical, Arc::downgrade(&shared));
        Ok(shared)
    }

    /// The shared writer of `<dir>/<name>`, opened on first use.
    fn file(&self, name: &str) -> Result<Arc<Mutex<LineFile>>, DestinationError> {
        let mut files = lock(&self.files);
        if let Some(file) = files.get(name) {
            return Ok(file.clone());
        }
        let (file, repair) = LineFile::open(&self.dir.join(name), self.buffer_bytes)?;
        lock(&self.repairs).extend(repair);
        let file = Arc::new(Mutex::new(file));
        files.insert(name.to_owned(), file.clone());
        Ok(file)
    }
}

impl LineFile {
    /// Opens a file for appending, cutting a torn last line; returns what was repaired.
    fn open(path: &Path, buffer_bytes: usize) -> Result<(Self, Option<String>), DestinationError> {
        let open_error = |err: io::Error| DestinationError::open("JSON-lines file", path, err);
        let created = !path.exists();
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(open_error)?;
        let repair = cut_torn_tail(&mut file, path).map_err(open_error)?;
        let writer = BufWriter::with_capacity(buffer_bytes, file);
        Ok((LineFile { path: path.to_owned(), writer, created, unflushed: 0 }, repair))
    }

    /// Appends `bytes` and a newline.
    ///
    /// Every [`WRITEBACK_EVERY`] bytes, the kernel is asked to start writing the file to
    /// disk in the background: the fsync at the next checkpoint then finds most of the data
    /// already written instead of blocking the sync while it writes it all.
    fn append(&mut self, bytes: &[u8]) -> Result<(), DestinationError> {
        let written = self.writer.write_all(bytes).and_then(|()| self.writer.write_all(b"\n"));
        written.map_err(|err| DestinationError::write(&self.path, err))?;
        self.unflushed += bytes.len() + 1;
        if self.unflushed >= WRITEBACK_EVERY {
            self.unflushed = 0;
            self.writer.flush().map_err(|err| DestinationError::write(&self.path, err))?;
            start_writeback(self.writer.get_ref());
        }
        Ok(())
    }

    /// Flushes and fsyncs; returns whether the file is new, so the directory needs a sync.
    fn sync(&mut self) -> Result<bool, DestinationError> {
        let synced = self.writer.flush().and_then(|()| self.writer.get_ref().sync_data());
        synced.map_err(|err| DestinationError::write(&self.path, err))?;
        Ok(std::mem::take(&mut self.created))
    }
}

/// Asks the kernel to start writing the file's dirty pages, without waiting. Only a hint:
/// durability still comes from the fsync at each checkpoint.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor; offset 0 and length 0 mean the whole file.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

/// Cuts a last line without its newline: the process died while writing it, after the
/// last checkpoint, so the record will be sent again. The cut bytes are kept first (see
/// [`keep_torn_tail`]); returns what was done, for the run's history.
fn cut_torn_tail(file: &mut File, path: &Path) -> io::Result<Option<String>> {
    const CHUNK: u64 = 64 * 1024;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        file.seek(SeekFrom::Start(start))?;
        chunk.resize((end - start) as usize, 0);
        file.read_exact(&mut chunk)?;
        if let Some(newline) = chunk.iter().rposition(|&byte| byte == b'\n') {
            end = start + newline as u64 + 1;
            break;
        }
        end = start;
    }
    if end == len {
        return Ok(None);
    }
    let kept = keep_torn_tail(file, path, end)?;
    file.set_len(end)?;
    file.sync_data()?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    Ok(Some(format!(
        "cut a torn last line of {} bytes off {name} (a run died writing it; never checkpointed), kept in {}",
        len - end,
        kept.display()
    )))
}

/// Copies the bytes of `file` from `offset` on to `<dir>/_torn/<name>.at-<offset>`,
/// durably, before they are cut. Returns the kept file's path relative to the directory.
fn keep_torn_tail(file: &mut File, path: &Path, offset: u64) -> io::Result<PathBuf> {
    let dir = atomic::parent_dir(path);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let kept = Path::new(TORN_DIR).join(format!("{name}.at-{offset}"));
    fs::create_dir_all(dir.join(TORN_DIR))?;
    let tmp = dir.join(TORN_DIR).join(format!(".{name}.at-{offset}.tmp"));
    let mut out = File::create(&tmp)?;
    file.seek(SeekFrom::Start(offset))?;
    io::copy(file, &mut out)?;
    out.sync_all()?;
    fs::rename(&tmp, dir.join(&kept))?;
    atomic::sync_dir(&dir.join(TORN_DIR))?;
    atomic::sync_dir(dir)?;
    Ok(kept)
}

/// Calls `visit` with the text of every record in `dir`: each line of every `<Type>.jsonl`,
/// then the `record` of each `_rejected.jsonl` line (a rejected text that was not JSON is
/// passed as its JSON string). Blank lines and a rejected line that cannot be read are
/// passed over; a re-synced record is visited once per line it has.
///
/// # Errors
/// A file cannot be read.
pub fn read_stored_records(dir: &Path, visit: &mut dyn FnMut(&str)) -> Result<(), DestinationError> {
    let read_error = |path: &Path, err: io::Error| DestinationError::open("JSON-lines store", path, err);
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|err| read_error(dir, err))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("_");
            name.ends_with(".jsonl") && !name.starts_with(['_', '.'])
        })
        .collect();
    files.sort();
    files.push(dir.join(REJECTED_FILE));
    for path in files {
        let rejected = path.ends_with(REJECTED_FILE);
        let file = match File::open(&path) {
            Err(err) if rejected && err.kind() == io::ErrorKind::NotFound => continue,
            other => other.map_err(|err| read_error(&path, err))?,
        };
        for line in io::BufRead::lines(io::BufReader::new(file)) {
            let line = line.map_err(|err| read_error(&path, err))?;
            if !rejected {
                if !line.trim().is_empty() {
                    visit(&line);
                }
            } else if let Ok(wrapper) = serde_json::from_str::<RejectedRecordOnly<'_>>(&line) {
                visit(wrapper.record.get());
            }
        }
    }
    Ok(())
}

/// The `record` of a `_rejected.jsonl` line.
#[derive(serde::Deserialize)]
struct RejectedRecordOnly<'a> {
    #[serde(borrow)]
    record: &'a RawValue,
}

/// `<Type>.jsonl`, refusing types that would escape the directory or clash with our files.
fn file_name_for(record_type: &str, dir: &Path) -> Result<String, DestinationError> {
    let reason = if record_type.is_empty() {
        Some("it is empty")
    } else if record_type.contains(['/', '\\', '\0']) {
        Some("it contains a path separator or NUL")
    } else if record_type.starts_with(['.', '_']) {
        Some("names starting with `.` or `_` are reserved")
    } else if record_type.len() > 200 {
        Some("it is longer than 200 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => {
            Err(DestinationError::BadTypeName { record_type: record_type.to_owned(), dir: dir.to_owned(), reason })
        }
        None => Ok(format!("{record_type}.jsonl")),
    }
}

/// The raw record if it is JSON, else its text as a JSON string.
#[derive(Serialize)]
#[serde(untagged)]
enum RawOrText<'a> {
    Raw(&'a RawValue),
    Text(&'a str),
}

#[derive(Serialize)]
struct RejectedLine<'a> {
    connection: &'a str,
    stream_id: &'a str,
    line: u64,
    #[serde(rename = "type")]
    record_type: Option<&'a str>,
    id: Option<&'a str>,
    errors: &'a str,
    record: RawOrText<'a>,
}

fn rejected_line(run: &RunStart, record: &RejectedRecord<'_>) -> Vec<u8> {
    let raw = serde_json::from_str::<&RawValue>(record.json).map_or(RawOrText::Text(record.json), RawOrText::Raw);
    let line = RejectedLine {
        connection: &run.connection,
        stream_id: &run.stream_id,
        line: record.line,
        record_type: record.record_type,
        id: record.id,
        errors: record.errors,
        record: raw,
    };
    // Strings, numbers and already-valid JSON: serialising cannot fail.
    serde_json::to_vec(&line).unwrap_or_default()
}

fn run_line(run: &RunStart, summary: &RunSummary) -> Value {
    let time = |at: &chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let logs: Vec<Value> = summary
        .logs
        .iter()
        .map(|log| json!({"at": time(&log.at), "level": log.level, "message": log.message}))
        .collect();
    json!({
        "connection": run.connection,
        "connector": run.connector,
        "stream_id": run.stream_id,
        "cutoff": run.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true),
        "started_at": time(&run.started_at),
        "finished_at": time(&summary.finished_at),
        "outcome": summary.outcome.as_str(),
        "records": summary.records_by_type.values().sum::<u64>(),
        "records_by_type": summary.records_by_type,
        "rejected": summary.rejected,
        "checkpoints": summary.checkpoints,
        "error": summary.error,
        "logs": logs,
    })
}

fn not_an_object(path: &Path, value: &Value) -> DestinationError {
    let source = serde_json::from_value::<Map<String, Value>>(value.clone())
        .err()
        .unwrap_or_else(|| serde::de::Error::custom("expected an object of stream states"));
    DestinationError::CorruptState { place: path.display().to_string(), source }
}

/// A poisoned lock only means another run panicked mid-write; its buffered bytes are
/// still whole lines or a torn tail that the next open cuts.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads anything else as a directory of JSON lines (created on the first run that writes).
pub(crate) fn parse_output(text: &str) -> Option<Result<OutputSpec, OutputError>> {
    Some(Ok(OutputSpec::json_lines(text)))
}

/// A directory of `<Type>.jsonl` files as an `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLinesOutput {
    dir: PathBuf,
}

impl JsonLinesOutput {
    /// The directory at `dir`.
    pub fn new(dir: PathBuf) -> Self {
        JsonLinesOutput { dir }
    }
}

impl std::fmt::Display for JsonLinesOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.dir.display())
    }
}

impl Output for JsonLinesOutput {
    fn kind(&self) -> &'static str {
        "directory of JSON lines"
    }

    fn open(&self, tuning: &Tuning) -> Result<Box<dyn Destination>, DestinationError> {
        Ok(Box::new(open(&self.dir, tuning)?))
    }

    /// A lock file per connection in `_locks/`.
    fn lock(&self, connection: &str, busy: &mut dyn FnMut(&str) -> bool) -> Result<ConnectionGuard, DestinationError> {
        guard::lock_file(&self.dir.join("_locks"), connection, busy)
    }

    /// The `<Type>.jsonl` and `_rejected.jsonl` files, read line by line. A directory that
    /// does not exist is an error (callers that can say more check it first).
    fn each_stored_record(&self, visit: &mut dyn FnMut(&str)) -> Result<String, HistoryError> {
        read_stored_records(&self.dir, visit)?;
        Ok(self.dir.display().to_string())
    }

    fn relative_to(&self, base: &Path) -> Option<OutputSpec> {
        Some(OutputSpec::json_lines(base.join(&self.dir)))
    }

    fn local_path(&self) -> Option<&Path> {
        Some(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{record, run_start, summary};
    use crate::{Destination, RunOutcome, StoredLog};

    fn open(dir: &Path) -> JsonlDestination {
        super::open(dir, &Tuning::default()).unwrap()
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn lines_are_byte_identical_to_the_records_one_file_per_type() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let incidents = [
            r#"{"_type":"Incident","id":"P1","title":"caf\u00e9"}"#,
            "{ \"_type\" : \"Incident\", \"id\":\"P2\", \"n\": 1.50e0, \"emoji\":\"\u{1F600}\" }",
        ];
        let mut dest = open(&out);
        dest.begin_run(&run_start("acme", "s")).unwrap();
        for (i, json) in incidents.iter().enumerate() {
            dest.write_record(&record("Incident", &format!("P{}", i + 1), json)).unwrap();
        }
        dest.write_record(&record("Team", "T1", r#"{"_type":"Team","id":"T1"}"#)).unwrap();
        dest.flush().unwrap();
        let expected: Vec<u8> = incidents.iter().flat_map(|json| [json.as_bytes(), b"\n"].concat()).collect();
        assert_eq!(fs::read(out.join("Incident.jsonl")).unwrap(), expected);
        assert_eq!(fs::read(out.join("Team.jsonl")).unwrap(), b"{\"_type\":\"Team\",\"id\":\"T1\"}\n");
    }

    #[test]
    fn state_is_written_only_at_checkpoints_keyed_by_connection_then_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut dest = open(dir.path());
        dest.begin_run(&run_start("acme", "account")).unwrap();
        dest.write_record(&record("Incident", "P1", "{}")).unwrap();
        dest.checkpoint(&json!({"page": 1})).unwrap();
        dest.flush().unwrap(); // the checkpoint is written on the writer thread: wait for it
        dest.write_record(&record("Incident", "P2", "{}")).unwrap();
        // The run dies here: the state stays at page 1 and covers the first record.
        std::mem::forget(dest);

        let mut other = open(dir.path());
        other.begin_run(&run_start("globex", "account")).unwrap();
        other.checkpoint(&json!({"page": 9})).unwrap();
        other.flush().unwrap();

        let mut reopened = open(dir.path());
        assert_eq!(reopened.load_state("acme", "account").unwrap(), Some(json!({"page": 1})));
        assert_eq!(reopened.load_state("globex", "account").unwrap(), Some(json!({"page": 9})));
        assert_eq!(reopened.load_state("acme", "other").unwrap(), None);
        let on_disk: Value = serde_json::from_slice(&fs::read(dir.path().join(STATE_FILE)).unwrap()).unwrap();
        assert_eq!(on_disk, json!({"acme": {"account": {"page": 1}}, "globex": {"account": {"page": 9}}}));
        assert!(lines(&dir.path().join("Incident.jsonl")).contains(&"{}".to_owned()));
    }

    #[test]
    fn lines_stay_whole_and_in_order_across_early_writeback() {
        let dir = tempfile::tempdir().unwrap();
        let mut dest = open(dir.path());
        dest.begin_run(&run_start("acme", "s")).unwrap();
        // Enough bytes for two early-writeback flushes, with lines straddling them.
        let padding = "x".repeat(4093);
        let count = 2 * WRITEBACK_EVERY / 4096 + 7;
        let jsons: Vec<String> = (0..count).map(|i| format!(r#"{{"id":"P{i}","p":"{padding}"}}"#)).collect();
        for (i, json) in jsons.iter().enumerate() {
            dest.write_record(&record("Incident", &format!("P{i}"), json)).unwrap();
        }
        dest.flush().unwrap();
        assert_eq!(lines(&dir.path().join("Incident.jsonl")), jsons);
    }

    #[test]
    fn a_torn_last_line_is_cut_when_the_file_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Incident.jsonl"), b"{\"id\":\"P1\"}\n{\"id\":\"P2\",\"ti").unwrap();
        let mut dest = open(dir.path());
        dest.begin_run(&run_start("acme", "s")).unwrap();
        dest.write_record(&record("Incident", "P2", r#"{"id":"P2"}"#)).unwrap();
        dest.flush().unwrap();
        assert_eq!(lines(&dir.path().join("Incident.jsonl")), [r#"{"id":"P1"}"#, r#"{"id":"P2"}"#]);
        // Nothing is lost silently: the cut bytes are kept, and the run's history says so.
        assert_eq!(fs::read(dir.path().join("_torn/Incident.jsonl.at-12")).unwrap(), b"{\"id\":\"P2\",\"ti");
        dest.finish_run(&summary(RunOutcome::Failed, &[("Incident", 1)])).unwrap();
        let run: Value = serde_json::from_str(&lines(&dir.path().join(RUNS_FILE))[0]).unwrap();
        let repairs = run["repairs"].as_array().unwrap();
        assert_eq!(repairs.len(), 1, "{run}");
        let repair = repairs[0].as_str().unwrap();
        assert!(repair.starts_with("cut a torn last line of 14 bytes off Incident.jsonl"), "{repair}");
        assert!(repair.ends_with("kept in _torn/Incident.jsonl.at-12"), "{repair}");
    }

    #[test]
    fn rejected_records_and_run_history_have_their_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut dest = open(dir.path());
        dest.begin_run(&run_start("acme", "s")).unwrap();
        let rejected =
            |json| RejectedRecord { record_type: Some("Incident"), id: None, json, errors: "at /id: missing", line: 3 };
        dest.write_rejected(&rejected(r#"{"_type":"Incident","x":[1, 2]}"#)).unwrap();
        dest.write_rejected(&rejected("not json")).unwrap();
        let mut done = summary(RunOutcome::Interrupted, &[("Incident", 4)]);
        done.rejected = 2;
        done.logs = vec![StoredLog { at: chrono::Utc::now(), level: "info".into(), message: "window 1".into() }];
        dest.finish_run(&done).unwrap();

        let rejected_lines = lines(&dir.path().join(REJECTED_FILE));
        assert_eq!(
            rejected_lines[0],
            r#"{"connection":"acme","stream_id":"s","line":3,"type":"Incident","id":null,"errors":"at /id: missing","record":{"_type":"Incident","x":[1, 2]}}"#
        );
        let second: Value = serde_json::from_str(&rejected_lines[1]).unwrap();
        assert_eq!(second["record"], json!("not json"));

        let runs = lines(&dir.path().join(RUNS_FILE));
        assert_eq!(runs.len(), 1);
        let run: Value = serde_json::from_str(&runs[0]).unwrap();
        assert_eq!(run["outcome"], "interrupted");
        assert_eq!(run["records"], 4);
        assert_eq!(run["records_by_type"], json!({"Incident": 4}));
        assert_eq!(run["rejected"], 2);
        assert_eq!(run["logs"][0]["message"], "window 1");
    }

    #[test]
    fn a_type_that_would_escape_the_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../evil", "", "_state", ".hidden"] {
            let mut dest = open(dir.path());
            dest.begin_run(&run_start("acme", "s")).unwrap();
            // Handed over with its batch; the writer's refusal comes back at the next call.
            dest.write_record(&record(bad, "P1", "{}")).unwrap();
            let err = dest.checkpoint(&json!({"page": 1})).and_then(|()| dest.flush()).unwrap_err();
            assert!(matches!(err, DestinationError::BadTypeName { .. }), "{bad}: {err}");
            assert_eq!(open(dir.path()).load_state("acme", "s").unwrap(), None, "no state claims the lost record");
        }
    }

    #[test]
    fn a_corrupt_state_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), b"{\"acme\": 3}").unwrap();
        let err = open(dir.path()).load_state("acme", "s").unwrap_err();
        assert!(matches!(err, DestinationError::CorruptState { .. }));
        assert!(err.to_string().contains(STATE_FILE), "{err}");
    }

    #[test]
    fn parallel_runs_share_writers_and_never_interleave_lines() {
        let dir = tempfile::tempdir().unwrap();
        // A tiny buffer forces many partial flushes while the threads race.
        let tuning = Tuning { buffer_bytes: 64, ..Tuning::default() };
        let padding = "x".repeat(300);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (dir, tuning, padding) = (dir.path(), &tuning, &padding);
                scope.spawn(move || {
                    let mut dest = super::open(dir, tuning).unwrap();
                    dest.begin_run(&run_start(&format!("c{t}"), "s")).unwrap();
                    for i in 0..1_000 {
                        let json = format!(r#"{{"id":"{t}-{i}","pad":"{padding}"}}"#);
                        dest.write_record(&record("Incident", "id", &json)).unwrap();
                        if i % 100 == 99 {
                            dest.checkpoint(&json!({ "i": i })).unwrap();
                        }
                    }
                    dest.finish_run(&summary(RunOutcome::Succeeded, &[("Incident", 1_000)])).unwrap();
                });
            }
        });
        let all = lines(&dir.path().join("Incident.jsonl"));
        assert_eq!(all.len(), 4_000);
        for line in &all {
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["pad"].as_str().unwrap().len(), 300);
        }
        assert_eq!(lines(&dir.path().join(RUNS_FILE)).len(), 4);
        let states = StateFile::new(dir.path().join(STATE_FILE)).load().unwrap();
        assert_eq!(states.len(), 4);
    }
}
