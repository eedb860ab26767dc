//! The session on its own thread, so the database works while the runner reads and
//! validates the next records: a commit is handed over and the store loop goes on; the
//! server's time and the runner's overlap instead of adding up.
//!
//! Jobs run in the order given, one at a time. Handing over waits while the writer is
//! busy (a rendezvous channel), so at most two batches exist: the one being written and
//! the one being handed over. A failed commit is kept and reported by the next call;
//! after it, later commits of the run write only the run's end, never records or a state
//! that would claim a batch that was lost.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::session::{Commit, Fence, Session};
use super::target::Target;
use crate::engine::destination::DestinationError;

/// A job for the writer thread.
enum Job {
    /// A transaction; its error is kept for the next call.
    Commit(Box<Commit>),
    /// Anything else, answered through its own channel.
    Call(Box<dyn FnOnce(&mut Session) + Send>),
}

/// The writer thread and how to reach it.
pub struct Writer {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    failure: Arc<Mutex<Option<DestinationError>>>,
}

impl Writer {
    /// Opens a session on a new thread.
    ///
    /// # Errors
    /// As [`Session::open`].
    pub fn start(target: &Target, fence: Option<Fence>) -> Result<Writer, DestinationError> {
        let (jobs, inbox) = mpsc::sync_channel::<Job>(0);
        let (opened_tx, opened) = mpsc::sync_channel(1);
        let failure = Arc::new(Mutex::new(None));
        let (target, kept) = (target.clone(), Arc::clone(&failure));
        let thread = std::thread::Builder::new()
            .name("postgres-writer".into())
            .spawn(move || match Session::open(&target, fence) {
                Ok(session) => {
                    let _ = opened_tx.send(Ok(()));
                    work(session, &inbox, &kept);
                }
                Err(error) => {
                    let _ = opened_tx.send(Err(error));
                }
            })
            .map_err(|e| DestinationError::PostgresSetup {
                target: String::new(),
                reason: format!("no thread: {e}"),
            })?;
        let writer = Writer { jobs: Some(jobs), thread: Some(thread), failure };
        match opened.recv() {
            Ok(Ok(())) => Ok(writer),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(DestinationError::Misuse("the PostgreSQL writer thread ended while opening")),
        }
    }

    /// Runs `call` on the session, after every job before it, and returns its answer.
    ///
    /// # Errors
    /// A commit before it failed, or `call` did.
    pub fn call<R: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Session) -> Result<R, DestinationError> + Send + 'static,
    ) -> Result<R, DestinationError> {
        let (answer_tx, answer) = mpsc::sync_channel(1);
        self.send(Job::Call(Box::new(move |session| {
            let _ = answer_tx.send(call(session));
        })))?;
        let answer = answer.recv().map_err(|_| DestinationError::Misuse("the PostgreSQL writer thread ended"))?;
        self.reported()?;
        answer
    }

    /// Hands a commit over; waits only while the writer is busy with the previous job.
    ///
    /// # Errors
    /// An earlier commit failed (this one is then written only for its run's end).
    pub fn commit(&self, commit: Commit) -> Result<(), DestinationError> {
        self.reported()?;
        self.send(Job::Commit(Box::new(commit)))
    }

    /// Waits until every job handed over is done.
    ///
    /// # Errors
    /// A commit failed.
    pub fn wait(&self) -> Result<(), DestinationError> {
        self.call(|_| Ok(()))
    }

    fn send(&self, job: Job) -> Result<(), DestinationError> {
        let jobs = self.jobs.as_ref().ok_or(DestinationError::Misuse("the PostgreSQL writer is closed"))?;
        jobs.send(job).map_err(|_| DestinationError::Misuse("the PostgreSQL writer thread ended"))
    }

    /// The failure of a commit, once: later calls see nothing new.
    fn reported(&self) -> Result<(), DestinationError> {
        match self.failure.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once the job in progress is done.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: every job in order until the queue closes.
fn work(mut session: Session, inbox: &Receiver<Job>, failure: &Mutex<Option<DestinationError>>) {
    let mut records_lost = false;
    for job in inbox {
        match job {
            Job::Call(call) => call(&mut session),
            Job::Commit(commit) => {
                if let Err(error) = session.commit(&commit, records_lost) {
                    records_lost = true;
                    failure.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(error);
                } else if commit.summary.is_some() {
                    // A run's end closes it; the next run of this destination starts clean.
                    records_lost = false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::engine::destination::batch::Batch;
    use crate::engine::destination::{RunStart, ValidRecord};

    fn batch(records: &[(&str, &str)]) -> Batch {
        let mut batch = Batch::default();
        for (id, json) in records {
            batch.push_record(&ValidRecord { record_type: "Team", id, json, extracted_at: "2026-01-01T00:00:00Z" });
        }
        batch
    }

    /// A commit that fails (here: a text the server refuses as JSON) loses its batch and
    /// its state; a later commit handed over before anyone noticed must not store its
    /// records or state either, or the stored state would claim the lost batch.
    #[test]
    fn after_a_failed_commit_no_later_state_or_record_is_stored() {
        let Some(cluster) = throwaway_postgres::require("after_a_failed_commit_no_later_state") else { return };
        cluster.create_database("writer_failure").unwrap();
        let target = Target::parse(&cluster.url("writer_failure")).unwrap();
        let writer = Writer::start(&target, None).unwrap();
        let start = RunStart {
            connection: "c".into(),
            connector: "x".into(),
            stream_id: "s".into(),
            cutoff: Utc::now(),
            started_at: Utc::now(),
        };
        let run = writer.call(move |session| session.begin_run(&start)).unwrap();
        let commit = |batch, state| Commit { run: run.clone(), batch, state: Some(state), summary: None };
        writer.commit(commit(batch(&[("T1", "{}")]), json!(1))).unwrap();
        writer.commit(commit(batch(&[("T2", "{not json")]), json!(2))).unwrap();
        // The failure is reported by whichever call comes first after the writer met it:
        // this hand-over if the writer was quicker, else the wait. Either way, once.
        let handed_over = writer.commit(commit(batch(&[("T3", "{}")]), json!(3)));
        let error = handed_over.and_then(|()| writer.wait()).unwrap_err().to_string();
        assert!(error.contains("invalid input syntax for type json"), "{error}");
        assert_eq!(writer.wait().map_err(|e| e.to_string()), Ok(()), "a failure is reported once");
        let stored = |sql| cluster.psql("writer_failure", sql).unwrap();
        assert_eq!(stored("SELECT state::text FROM stream_state"), "1");
        assert_eq!(stored("SELECT string_agg(id, ',') FROM records"), "T1");
    }
}
