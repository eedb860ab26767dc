//! One sync of a connection at a time per store, on one machine or many: two `runner sync`
//! of the same connection into one SQLite file, JSON-lines directory or PostgreSQL
//! database never interleave. The second refuses at once, naming who holds it since
//! when, or waits with `--wait`: it tries again every [`RETRY`] until the holder is done.
//!
//! - SQLite and JSON lines: an exclusive `flock` on a lock file per connection
//!   (`<file>.locks/` beside the database, `_locks/` in the directory), holding the
//!   holder's pid and start time. The kernel drops it when the holder dies, however.
//! - PostgreSQL: a session-level advisory lock per connection, on a session of its own
//!   named after the holder; it ends with the session. A connection a worker holds a
//!   lease on is refused too.
//!
//! Workers do not take it: their leases, fenced by epoch, guard them (`engine::fleet`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::postgres::{Database, Target};
use super::DestinationError;

/// How long a waiting sync pauses between attempts at a busy guard. Trying again (rather
/// than blocking in the kernel or the server) keeps a waiting sync stoppable by Ctrl-C.
pub const RETRY: Duration = Duration::from_millis(200);

/// The advisory lock space of the runner's connection guards (the first of the two keys).
const ADVISORY_SPACE: i32 = 0x5255_4e31; // "RUN1"

/// Held while a connection syncs; released when dropped.
pub enum ConnectionGuard {
    /// Nothing to guard (stdout).
    None,
    /// A locked file.
    File(File),
    /// A database session holding the advisory lock.
    Postgres(Box<Database>),
}

/// Locks `connection` with an exclusive `flock` on its file in `dir` (a local store's
/// guard). While another process holds it, `busy(holder)` decides: `true` to try again
/// (it has paused, or waited for something), `false` to give up.
///
/// # Errors
/// [`DestinationError::Busy`] when `busy` gave up, or an error when the lock cannot be taken.
pub(crate) fn lock_file(
    dir: &Path,
    connection: &str,
    busy: &mut dyn FnMut(&str) -> bool,
) -> Result<ConnectionGuard, DestinationError> {
    std::fs::create_dir_all(dir).map_err(|e| DestinationError::open("directory", dir, e))?;
    let path = dir.join(format!("{}.lock", file_name(connection)));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| DestinationError::open("lock file", &path, e))?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(DestinationError::open("lock file", &path, error));
        }
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let _ = file.rewind();
        let holder = holder_of(&holder, &path);
        if !busy(&holder) {
            return Err(DestinationError::Busy { connection: connection.to_owned(), holder });
        }
    }
    let me = format!("pid {} since {}", std::process::id(), Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
    let written = file.set_len(0).and_then(|()| file.write_all(me.as_bytes()));
    written.map_err(|e| DestinationError::write(&path, e))?;
    Ok(ConnectionGuard::File(file))
}

fn holder_of(text: &str, path: &Path) -> String {
    let text = text.trim();
    if text.is_empty() {
        format!("another process (lock file {})", path.display())
    } else {
        text.to_owned()
    }
}

/// A connection's name as a file name: letters, digits, `-` and `_` as they are, every
/// other byte as `%XX`, so no two names share a file.
fn file_name(connection: &str) -> String {
    connection
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// Locks `connection` with a session-level advisory lock in `target` (a shared
/// database's guard); refuses a connection a worker holds a lease on. `busy` as for
/// [`lock_file`].
///
/// # Errors
/// As [`lock_file`]; the database refused.
pub(crate) fn lock_postgres(
    target: &Target,
    connection: &str,
    busy: &mut dyn FnMut(&str) -> bool,
) -> Result<ConnectionGuard, DestinationError> {
    let database = Database::open(target)?;
    let s = &database.schema;
    let name = format!(
        "runner pid {} on {} since {}",
        std::process::id(),
        super::host_name(),
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let leased = format!("SELECT leased_by, leased_since FROM {s}.connections WHERE name = $1 AND lease_until > now()");
    let lock = "SELECT pg_try_advisory_lock($1, hashtext($2))";
    // Advisory locks are per database, but pg_locks shows every database of the cluster:
    // a runner syncing a connection of the same name into another database is not the holder.
    let holder = "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                  WHERE l.locktype = 'advisory' AND l.classid::int4 = $1 AND l.objid::int4 = hashtext($2) AND l.granted \
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1";
    let (client, runtime) = (&database.client, &database.runtime);
    let named = runtime.block_on(client.execute("SELECT set_config('application_name', $1, false)", &[&name]));
    named.map_err(database.error("name the session in"))?;
    loop {
        // Who holds it, if anyone: a worker's lease, or another runner's advisory lock.
        let attempt = runtime.block_on(async {
            if let Some(row) = client.query_opt(&leased, &[&connection]).await? {
                let (worker, since): (String, DateTime<Utc>) = (row.get(0), row.get(1));
                return Ok(Some(format!("worker {worker} since {}", since.to_rfc3339_opts(SecondsFormat::Secs, true))));
            }
            let locked: bool = client.query_one(lock, &[&ADVISORY_SPACE, &connection]).await?.get(0);
            if locked {
                return Ok(None);
            }
            let row = client.query_opt(holder, &[&ADVISORY_SPACE, &connection]).await?;
            Ok(Some(row.map_or_else(|| "another runner".to_owned(), |row| row.get::<_, String>(0))))
        });
        match attempt.map_err(database.error("lock the connection in"))? {
            None => return Ok(ConnectionGuard::Postgres(Box::new(database))),
            Some(holder) if !busy(&holder) => {
                return Err(DestinationError::Busy { connection: connection.to_owned(), holder })
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutputSpec;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_a_released_lock_is_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let spec = OutputSpec::sqlite(dir.path().join("runner.db"));
        let first = spec.lock("pd/eu", &mut |_| false).unwrap();
        // flock locks belong to the open file: a second open, even in this process, is refused.
        let error = spec.lock("pd/eu", &mut |_| false).err().expect("busy").to_string();
        assert!(
            error.starts_with(&format!("connection `pd/eu` is being synced by pid {} since ", std::process::id())),
            "{error}"
        );
        assert!(spec.lock("pd/us", &mut |_| false).is_ok(), "another connection is free");
        drop(first);
        assert!(spec.lock("pd/eu", &mut |_| false).is_ok(), "released with the guard");
        assert!(dir.path().join("runner.db.locks/pd%2Feu.lock").is_file());
    }

    #[test]
    fn a_waiting_holder_is_asked_at_each_attempt_and_gets_the_guard_once_it_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let spec = OutputSpec::json_lines(dir.path().join("out"));
        let mut first = Some(spec.lock("c", &mut |_| false).unwrap());
        let mut holders = Vec::new();
        let second = spec.lock("c", &mut |holder| {
            holders.push(holder.to_owned());
            // The holder finishes after the second attempt.
            if holders.len() == 2 {
                first.take();
            }
            true
        });
        assert!(second.is_ok());
        assert_eq!(holders.len(), 2);
        assert!(holders.iter().all(|h| h.starts_with(&format!("pid {} since ", std::process::id()))), "{holders:?}");
    }

    #[test]
    fn names_map_to_distinct_file_names() {
        assert_eq!(file_name("pagerduty-eu_1"), "pagerduty-eu_1");
        assert_eq!(file_name("a/b c"), "a%2Fb%20c");
        assert_ne!(file_name("a.b"), file_name("a%2Eb"));
    }
}
