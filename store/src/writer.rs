//! A database destination's connection on its own thread, so the database works while
//! the runner reads and validates the next records: a commit is handed over and the store
//! loop goes on; the database's time and the runner's overlap instead of adding up. Both
//! SQLite and PostgreSQL are written this way ([`Batched`] over their [`Store`]).
//!
//! Jobs run in the order given, one at a time. Handing over waits while the writer is
//! busy (a rendezvous channel), so at most two batches exist: the one being written and
//! the one being handed over. A written batch goes back, emptied, to be filled again:
//! its buffers keep their size, so a long sync allocates nothing per batch, and memory
//! does not creep up with the allocator's fragments of ever-regrown buffers. A failed commit is kept and reported by the next call;
//! after it, later commits of the run write only the run's end, never records or a state
//! that would claim a batch that was lost.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde_json::Value;

use super::batch::Batch;
use super::typed::RecordSchemas;
use super::{Destination, DestinationError, RejectedRecord, RunStart, RunSummary, Tuning, ValidRecord};

/// What a database says over its one connection, on the writer thread.
pub trait Store: Send + 'static {
    /// The run being written: what every commit names.
    type Run: Clone + Send + 'static;

    /// The state stored for (`connection`, `stream_id`), if any.
    ///
    /// # Errors
    /// The database cannot be read, or holds a state that is not JSON.
    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError>;

    /// Records the start of a run.
    ///
    /// # Errors
    /// The database cannot be written.
    fn begin_run(&mut self, run: &RunStart) -> Result<Self::Run, DestinationError>;

    /// Writes one transaction. With `records_lost` (an earlier commit of the run failed),
    /// only the run's end is written: records or a state would claim the lost batch.
    ///
    /// # Errors
    /// The transaction failed; nothing of it is stored.
    fn commit(&mut self, commit: &Commit<Self::Run>, records_lost: bool) -> Result<(), DestinationError>;

    /// Takes the schemas of the run's record types (see [`Destination::use_schemas`]).
    fn use_schemas(&mut self, _schemas: Arc<dyn RecordSchemas>) {}
}

/// One transaction: the batch, then the state and the run's end if given.
#[derive(Debug)]
pub struct Commit<R> {
    /// For whom.
    pub run: R,
    /// The records and rejected records since the last commit.
    pub batch: Batch,
    /// The checkpoint that covers them, if this commit is one.
    pub state: Option<Value>,
    /// The run's end, if this is its last commit.
    pub summary: Option<RunSummary>,
}

/// A job for the writer thread.
enum Job<S: Store> {
    /// A transaction; its error is kept for the next call.
    Commit(Box<Commit<S::Run>>),
    /// Anything else, answered through its own channel.
    Call(Box<dyn FnOnce(&mut S) + Send>),
}

/// The writer thread and how to reach it.
pub struct Writer<S: Store> {
    jobs: Option<SyncSender<Job<S>>>,
    thread: Option<JoinHandle<()>>,
    failure: Arc<Mutex<Option<DestinationError>>>,
    /// Written batches, emptied, for the next ones to reuse.
    written: Receiver<Batch>,
}

impl<S: Store> Writer<S> {
    /// Opens the store on a new thread named `name`.
    ///
    /// # Errors
    /// As `open`, or no thread could be started.
    pub fn start(
        name: &str,
        open: impl FnOnce() -> Result<S, DestinationError> + Send + 'static,
    ) -> Result<Writer<S>, DestinationError> {
        let (jobs, inbox) = mpsc::sync_channel::<Job<S>>(0);
        let (opened_tx, opened) = mpsc::sync_channel(1);
        let (recycle, written) = mpsc::sync_channel(1);
        let failure = Arc::new(Mutex::new(None));
        let kept = Arc::clone(&failure);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || match open() {
                Ok(store) => {
                    let _ = opened_tx.send(Ok(()));
                    work(store, &inbox, &kept, &recycle);
                }
                Err(error) => {
                    let _ = opened_tx.send(Err(error));
                }
            })
            .map_err(|_| DestinationError::Misuse("no thread for the database writer"))?;
        let writer = Writer { jobs: Some(jobs), thread: Some(thread), failure, written };
        match opened.recv() {
            Ok(Ok(())) => Ok(writer),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(DestinationError::Misuse("the database writer thread ended while opening")),
        }
    }

    /// Runs `call` on the store, after every job before it, and returns its answer.
    ///
    /// # Errors
    /// A commit before it failed, or `call` did.
    pub fn call<R: Send + 'static>(
        &self,
        call: impl FnOnce(&mut S) -> Result<R, DestinationError> + Send + 'static,
    ) -> Result<R, DestinationError> {
        let (answer_tx, answer) = mpsc::sync_channel(1);
        self.send(Job::Call(Box::new(move |store| {
            let _ = answer_tx.send(call(store));
        })))?;
        let answer = answer.recv().map_err(|_| DestinationError::Misuse("the database writer thread ended"))?;
        self.reported()?;
        answer
    }

    /// Hands a commit over; waits only while the writer is busy with the previous job.
    ///
    /// # Errors
    /// An earlier commit failed (this one is then written only for its run's end).
    pub fn commit(&self, commit: Commit<S::Run>) -> Result<(), DestinationError> {
        self.reported()?;
        self.send(Job::Commit(Box::new(commit)))
    }

    /// An empty batch to fill: a written one with its buffers, when one is back.
    pub fn empty_batch(&self) -> Batch {
        self.written.try_recv().unwrap_or_default()
    }

    /// Waits until every job handed over is done.
    ///
    /// # Errors
    /// A commit failed.
    pub fn wait(&self) -> Result<(), DestinationError> {
        self.call(|_| Ok(()))
    }

    fn send(&self, job: Job<S>) -> Result<(), DestinationError> {
        let jobs = self.jobs.as_ref().ok_or(DestinationError::Misuse("the database writer is closed"))?;
        jobs.send(job).map_err(|_| DestinationError::Misuse("the database writer thread ended"))
    }

    /// The failure of a commit, once: later calls see nothing new.
    fn reported(&self) -> Result<(), DestinationError> {
        match self.failure.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl<S: Store> Drop for Writer<S> {
    fn drop(&mut self) {
        // Closing the queue ends the thread once the job in progress is done.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: every job in order until the queue closes.
fn work<S: Store>(
    mut store: S,
    inbox: &Receiver<Job<S>>,
    failure: &Mutex<Option<DestinationError>>,
    recycle: &SyncSender<Batch>,
) {
    let mut records_lost = false;
    for job in inbox {
        match job {
            Job::Call(call) => call(&mut store),
            Job::Commit(commit) => {
                if let Err(error) = store.commit(&commit, records_lost) {
                    records_lost = true;
                    failure.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(error);
                } else if commit.summary.is_some() {
                    // A run's end closes it; the next run of this destination starts clean.
                    records_lost = false;
                }
                let mut batch = commit.batch;
                batch.clear();
                // One spare is enough: the store loop fills one batch while this one is written.
                let _ = recycle.try_send(batch);
            }
        }
    }
}

/// A destination that buffers records into batches and commits them on its [`Writer`]:
/// at each checkpoint (with the state, in one transaction), when the batch is full
/// ([`Batch::is_full`]), and at the run's end.
pub struct Batched<S: Store> {
    described: String,
    writer: Writer<S>,
    tuning: Tuning,
    run: Option<S::Run>,
    batch: Batch,
}

impl<S: Store> Batched<S> {
    /// A destination over `writer`, shown to people as `described`.
    pub fn new(described: String, writer: Writer<S>, tuning: &Tuning) -> Self {
        Batched { described, writer, tuning: tuning.clone(), run: None, batch: Batch::default() }
    }

    /// The writer, for what a database offers beyond [`Destination`].
    pub fn writer(&self) -> &Writer<S> {
        &self.writer
    }

    fn active_run(&self, operation: &'static str) -> Result<&S::Run, DestinationError> {
        self.run.as_ref().ok_or(DestinationError::Misuse(operation))
    }

    /// Hands the buffered records over, with `state` and `summary` if given, as one
    /// transaction.
    fn commit(&mut self, state: Option<&Value>, summary: Option<&RunSummary>) -> Result<(), DestinationError> {
        if self.batch.is_empty() && state.is_none() && summary.is_none() {
            return Ok(());
        }
        let run = self.active_run("write before begin_run")?.clone();
        let batch = std::mem::take(&mut self.batch);
        let handed = self.writer.commit(Commit { run, batch, state: state.cloned(), summary: summary.cloned() });
        // Taken only once the writer has taken this batch, which it does after giving the
        // previous one back: so two batches exist at most, never a third allocated while
        // the writer is still busy.
        self.batch = self.writer.empty_batch();
        handed
    }

    fn commit_if_full(&mut self) -> Result<(), DestinationError> {
        if self.batch.is_full(&self.tuning) {
            self.commit(None, None)?;
        }
        Ok(())
    }
}

impl<S: Store> Destination for Batched<S> {
    fn describe(&self) -> String {
        self.described.clone()
    }

    fn load_state(&mut self, connection: &str, stream_id: &str) -> Result<Option<Value>, DestinationError> {
        let (connection, stream_id) = (connection.to_owned(), stream_id.to_owned());
        self.writer.call(move |store| store.load_state(&connection, &stream_id))
    }

    fn begin_run(&mut self, run: &RunStart) -> Result<(), DestinationError> {
        if self.run.is_some() {
            return Err(DestinationError::Misuse("begin_run called twice"));
        }
        let start = run.clone();
        self.run = Some(self.writer.call(move |store| store.begin_run(&start))?);
        Ok(())
    }

    fn write_record(&mut self, record: &ValidRecord<'_>) -> Result<(), DestinationError> {
        self.active_run("write_record before begin_run")?;
        self.batch.push_record(record);
        self.commit_if_full()
    }

    fn write_rejected(&mut self, record: &RejectedRecord<'_>) -> Result<(), DestinationError> {
        self.active_run("write_rejected before begin_run")?;
        self.batch.push_rejected(record);
        self.commit_if_full()
    }

    fn flush(&mut self) -> Result<(), DestinationError> {
        self.active_run("flush before begin_run")?;
        self.commit(None, None)?;
        self.writer.wait()
    }

    /// Hands the checkpoint over: the records before it and the state are committed in
    /// one transaction on the writer thread, and a failure is reported by the next call.
    fn checkpoint(&mut self, state: &Value) -> Result<(), DestinationError> {
        self.active_run("checkpoint before begin_run")?;
        self.commit(Some(state), None)
    }

    fn finish_run(&mut self, summary: &RunSummary) -> Result<(), DestinationError> {
        self.active_run("finish_run before begin_run")?;
        self.commit(None, Some(summary))?;
        self.writer.wait()
    }

    fn use_schemas(&mut self, schemas: Arc<dyn RecordSchemas>) {
        // The writer thread owns the store; a failure to reach it shows at the next call.
        let _ = self.writer.call(move |store| {
            store.use_schemas(schemas);
            Ok(())
        });
    }
}
