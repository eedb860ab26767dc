//! SQLite's WAL checkpoints on a thread of their own.
//!
//! (A *WAL checkpoint* is SQLite's copy of the write-ahead log into the database file; it
//! has nothing to do with a connector's checkpoints, its `state` messages.)
//!
//! In WAL mode every commit appends its pages to the log, and the log must be copied
//! into the database file now and then, or it grows without end. SQLite does that copy
//! inside the commit that crosses `wal_autocheckpoint`, on the committing thread: the
//! runner's writer thread spent about 40% of its time there, copying pages and waiting
//! for the two fsyncs (log, then file), while the store loop waited for it. Here the
//! writer only *asks*; a second connection, on a thread of its own, does the copy while
//! the writer appends the next batches:
//!
//! - After a commit that leaves [`WalLimits::copy_from`] frames or more in the log, the
//!   writer asks for a copy and goes on ([`WalCheckpointer::after_commit`]). Copies are
//!   `PASSIVE`: they never wait for readers or for the writer, and copy what they can.
//! - SQLite starts the log again from its beginning only when a write transaction begins
//!   with the whole log copied. A writer that never pauses never lets that happen, so
//!   after a commit that leaves [`WalLimits::catch_up_from`] frames or more, the writer
//!   waits for one copy of everything it committed; its next transaction then starts the
//!   log afresh. The log therefore stays under about `catch_up_from` frames plus one batch,
//!   as long as no reader holds an old snapshot (a reader's snapshot keeps its frames, as
//!   with SQLite's own checkpoints; the copy still never waits for it).
//! - A copy that fails (a full disk, say) loses nothing: the pages stay in the log, and
//!   the next copy or the last connection's close copies them. The writer reports the
//!   failure after its next commit, with the operating system's reason, so the sync fails
//!   as it did when SQLite copied inside the commit, instead of growing the log until
//!   its own writes fail too.

use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::explain;
use crate::DestinationError;

/// When the writer asks for a copy, and when it waits for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalLimits {
    /// Frames (pages) in the log from which a commit asks for a copy in the background.
    pub copy_from: u32,
    /// Frames in the log from which a commit waits for a full copy, so that the log
    /// starts again from its beginning.
    pub catch_up_from: u32,
}

impl WalLimits {
    /// The limits for a file of `page_size` bytes per page, given in bytes of log.
    pub fn in_pages(copy_from_bytes: i64, catch_up_from_bytes: i64, page_size: i64) -> WalLimits {
        let pages = |bytes: i64| u32::try_from(bytes / page_size.max(512)).unwrap_or(u32::MAX).max(1);
        WalLimits { copy_from: pages(copy_from_bytes), catch_up_from: pages(catch_up_from_bytes) }
    }
}

thread_local! {
    /// The frames in the log after this thread's last commit, told by SQLite's WAL hook.
    static FRAMES_AFTER_COMMIT: Cell<u32> = const { Cell::new(0) };
}

/// The WAL hook: remembers the size of the log after each commit. Registering it also
/// turns off SQLite's own checkpoints inside commits (`wal_autocheckpoint` is a WAL hook).
fn remember_frames(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    FRAMES_AFTER_COMMIT.with(|cell| cell.set(u32::try_from(frames).unwrap_or(0)));
    Ok(())
}

/// Where the copies stand, shared by the writer and the checkpointer thread.
#[derive(Debug, Default)]
struct Progress {
    /// The last copy asked for; copies are numbered from 1.
    asked: u64,
    /// The last copy started.
    started: u64,
    /// The last copy finished.
    finished: u64,
    /// The writer is gone: finish and close.
    closing: bool,
    /// Why a copy failed, until the writer reports it.
    failure: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The checkpointer thread of one writer connection.
#[derive(Debug)]
pub struct WalCheckpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    limits: WalLimits,
}

impl WalCheckpointer {
    /// Takes over the WAL checkpoints of `writer` (the connection that commits, on the
    /// calling thread): `copier`, a second connection to the same file, makes them on a
    /// new thread. The copy's fsyncs follow `copier`'s `synchronous` setting, which should
    /// be the writer's.
    ///
    /// # Errors
    /// No thread can be started.
    pub fn start(
        writer: &Connection,
        copier: Connection,
        limits: WalLimits,
    ) -> Result<WalCheckpointer, DestinationError> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("sqlite-wal-copy".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || copy_when_asked(&copier, &shared)
            })
            .map_err(|_| DestinationError::Misuse("no thread for SQLite's WAL checkpoints"))?;
        writer.wal_hook(Some(remember_frames));
        FRAMES_AFTER_COMMIT.with(|cell| cell.set(0));
        Ok(WalCheckpointer { shared, thread: Some(thread), limits })
    }

    /// Called by the writer after each commit: asks for a copy, or waits for one, as the
    /// log's size requires. Returns the frames the commit left in the log.
    ///
    /// # Errors
    /// A copy failed since the last call: why (said once).
    pub fn after_commit(&self) -> Result<u32, String> {
        // Taken, so that a commit that wrote nothing (and called no hook) reads 0.
        let frames = FRAMES_AFTER_COMMIT.with(|cell| cell.replace(0));
        if frames >= self.limits.catch_up_from {
            let copy = self.ask();
            self.wait_for(copy);
        } else if frames >= self.limits.copy_from {
            self.ask();
        }
        match self.shared.lock().failure.take() {
            Some(failure) => Err(failure),
            None => Ok(frames),
        }
    }

    /// Asks for a copy that starts after this call; returns its number.
    fn ask(&self) -> u64 {
        let mut progress = self.shared.lock();
        progress.asked = progress.asked.max(progress.started + 1);
        self.shared.changed.notify_all();
        progress.asked
    }

    fn wait_for(&self, copy: u64) {
        let mut progress = self.shared.lock();
        while progress.finished < copy {
            progress = self.shared.changed.wait(progress).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The checkpointer thread: one `PASSIVE` copy per request, until the writer is gone.
fn copy_when_asked(copier: &Connection, shared: &Shared) {
    loop {
        let copy = {
            let mut progress = shared.lock();
            while progress.asked == progress.started && !progress.closing {
                progress = shared.changed.wait(progress).unwrap_or_else(PoisonError::into_inner);
            }
            if progress.asked == progress.started {
                return;
            }
            progress.started = progress.asked;
            progress.started
        };
        // A failure loses nothing (see the module's documentation): the writer reports it.
        let copied = copier.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        let failure = copied.err().map(|err| explain(copier, &err));
        let mut progress = shared.lock();
        progress.finished = copy;
        if progress.failure.is_none() {
            progress.failure = failure;
        }
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: WalLimits = WalLimits { copy_from: 8, catch_up_from: 32 };

    use rusqlite::OpenFlags;
    use std::path::Path;

    /// A new WAL database with a table, and its checkpointer, whose connection is opened
    /// with `copier_flags`.
    fn database_with(dir: &Path, copier_flags: OpenFlags) -> (Connection, WalCheckpointer) {
        let path = dir.join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        let copier = Connection::open_with_flags(&path, copier_flags).unwrap();
        let checkpointer = WalCheckpointer::start(&conn, copier, LIMITS).unwrap();
        (conn, checkpointer)
    }

    fn database(dir: &Path) -> (Connection, WalCheckpointer) {
        database_with(dir, OpenFlags::default())
    }

    /// Commits six rows of 1000 bytes (about four 4 KiB pages); returns the frames left in the log.
    fn commit_rows(conn: &Connection, checkpointer: &WalCheckpointer) -> u32 {
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6) \
             INSERT INTO t SELECT printf('%.1000c', 'x') FROM n",
            [],
        )
        .unwrap();
        checkpointer.after_commit().unwrap()
    }

    #[test]
    fn the_log_is_copied_into_the_file_while_the_writer_goes_on_and_stays_near_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, checkpointer) = database(dir.path());
        let most = (0..300).map(|_| commit_rows(&conn, &checkpointer)).max().unwrap();
        // 300 commits of about four pages each: without the copies the log would hold 1200.
        assert!(most >= LIMITS.catch_up_from, "the test writes enough to reach the limit ({most})");
        assert!(most < LIMITS.catch_up_from + 16, "the log restarts once it reaches the limit: {most} frames");
        let copied = std::fs::metadata(dir.path().join("t.db")).unwrap().len();
        assert!(copied > 300 * 6 * 1000 * 9 / 10, "the rows are in the database file already ({copied} bytes)");
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, 1800);
    }

    #[test]
    fn a_reader_holding_a_snapshot_never_stalls_the_writer_and_the_log_restarts_once_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, checkpointer) = database(dir.path());
        commit_rows(&conn, &checkpointer);
        let reader = Connection::open(dir.path().join("t.db")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
        let pinned = (0..60).map(|_| commit_rows(&conn, &checkpointer)).max().unwrap();
        assert!(pinned > LIMITS.catch_up_from + 16, "the reader's snapshot keeps the log: {pinned} frames");
        let still: i64 = reader.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(still, seen, "the reader's snapshot is intact");
        reader.execute_batch("COMMIT").unwrap();
        let after: Vec<u32> = (0..3).map(|_| commit_rows(&conn, &checkpointer)).collect();
        assert!(after[2] < LIMITS.catch_up_from, "the log starts again once the reader is gone: {after:?}");
    }

    #[test]
    fn a_failed_copy_is_reported_after_the_next_commit_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, checkpointer) = database_with(dir.path(), OpenFlags::SQLITE_OPEN_READ_ONLY);
        let failure = (1..=20)
            .find_map(|committed| {
                conn.execute("INSERT INTO t VALUES (printf('%.4000c', 'x'))", []).unwrap();
                checkpointer.after_commit().err().map(|failure| (committed, failure))
            })
            .expect("a read-only connection cannot copy the log into the file");
        let (committed, failure) = failure;
        // Its write into the file fails (EBADF): SQLite says "disk I/O error", and the
        // failure carries the operating system's reason.
        assert!(failure.starts_with("disk I/O error: ") && failure.contains("(os error "), "{failure}");
        drop(checkpointer);
        drop(conn);
        let reopened = Connection::open(dir.path().join("t.db")).unwrap();
        let rows: i64 = reopened.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, committed, "every committed row is kept");
    }

    #[test]
    fn limits_in_bytes_become_pages_of_the_file() {
        let mib = 1024 * 1024;
        assert_eq!(WalLimits::in_pages(16 * mib, 64 * mib, 65536), WalLimits { copy_from: 256, catch_up_from: 1024 });
        assert_eq!(WalLimits::in_pages(16 * mib, 64 * mib, 4096), WalLimits { copy_from: 4096, catch_up_from: 16384 });
        assert_eq!(WalLimits::in_pages(1000, 1000, 0), WalLimits { copy_from: 1, catch_up_from: 1 }, "never 0");
    }
}
