//! A full disk: the runner runs under a file-size limit (`RLIMIT_FSIZE`, as `ulimit -f`
//! sets it), so its writes to the store fail with EFBIG part way through a sync. Then:
//! a clear error naming the file, exit 1, the state never ahead of the records; a second
//! sync under the same limit advances nothing; once the limit is lifted, the next sync
//! resumes from the stored state and the store equals one clean run's.
//!
//! And a real full disk: as root (CI, and this project's machines), a tmpfs of a few MB
//! mounted under the store fills up part way through the sync (ENOSPC, SQLite's "database
//! or disk is full"); the same guarantees hold, and once the tmpfs is made larger the next
//! sync resumes with nothing lost. Without root those tests skip, loudly, and never in CI.
//! The runner catches SIGXFSZ, so the file-size limit cannot kill it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{check_complete, Bench, Expected};
use crate::destinations::{Kind, Store};

/// Bytes any one file of the runner may grow to: less than the sync writes (1.4 MB of
/// records), more than a new SQLite file's schema (ten 64 KiB pages, written to its log).
const LIMIT: u64 = 1024 * 1024;

const BENCH: Bench = Bench { records: 1_000, checkpoint_every: 50 };

#[test]
fn a_full_disk_under_sqlite_fails_clearly_advances_no_state_and_the_next_sync_resumes() {
    starve(Kind::Sqlite, "store.db");
}

#[test]
fn a_full_disk_under_json_lines_fails_clearly_advances_no_state_and_the_next_sync_resumes() {
    starve(Kind::JsonLines, "Incident.jsonl");
}

/// Runs a sync that cannot fit under [`LIMIT`]; returns its stderr.
fn starved_sync(store: &Store) -> String {
    let mut command = BENCH.command(store);
    // SAFETY: setrlimit(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: LIMIT, rlim_max: LIMIT };
            match libc::setrlimit(libc::RLIMIT_FSIZE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let status = command.status().unwrap();
    let stderr = Bench::stderr(store);
    assert_eq!(status.code(), Some(1), "a failed write is a failed sync, not a crash ({status}): {stderr}");
    stderr
}

fn starve(kind: Kind, written: &str) {
    let Some(clean) = Store::new(kind, &format!("disk_clean_{kind:?}")) else { return };
    let expected = BENCH.clean_run(&clean);
    let Some(store) = Store::new(kind, &format!("disk_{kind:?}")) else { return };

    let stderr = starved_sync(&store);
    let path = std::path::Path::new(store.output());
    let path = if kind == Kind::JsonLines { path.join(written) } else { path.to_owned() };
    assert!(stderr.contains(&format!("cannot write to {}", path.display())), "names the file: {stderr}");
    assert!(stderr.contains("File too large"), "says why: {stderr}");
    BENCH.check_consistent(&store, &expected);
    let emitted = Bench::emitted(&store);
    assert!(emitted < BENCH.records, "the sync cannot have finished under the limit");

    // Still starved: the sync fails again, and the state is still not ahead of the records.
    // A full JSON-lines file takes no record more, so the state stays; SQLite may move
    // committed pages from its WAL into the database file, which has room of its own.
    starved_sync(&store);
    BENCH.check_consistent(&store, &expected);
    let emitted_before = emitted;
    let emitted = Bench::emitted(&store);
    match kind {
        Kind::JsonLines => assert_eq!(emitted, emitted_before, "a full file took more records"),
        _ => assert!(emitted >= emitted_before && emitted < BENCH.records),
    }

    // Room again: the next sync starts from the stored state and completes.
    resume_with_room(&store, &expected, emitted);
    eprintln!(
        "disk {kind:?}: writes past {LIMIT} bytes failed twice with a clear error; the state stayed at {emitted} \
         of {} records, and the next sync resumed from it; records lost: 0",
        BENCH.records
    );
}

#[test]
fn a_real_full_disk_under_sqlite_fails_clearly_loses_nothing_and_the_next_sync_resumes() {
    fill_a_small_disk(Kind::Sqlite, "2m");
}

#[test]
fn a_real_full_disk_under_json_lines_fails_clearly_loses_nothing_and_the_next_sync_resumes() {
    fill_a_small_disk(Kind::JsonLines, "1m");
}

/// A tmpfs mounted on a directory, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`2m`) on `dir`; `None`, said loudly, when not root (CI
    /// runs as root, so there it fails instead).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(std::env::var_os("CI").is_none(), "CI runs as root: a real full disk must be tested there");
            eprintln!("SKIPPED: mounting a tmpfs for a real full disk needs root");
            return None;
        }
        mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], dir);
        Some(Tmpfs { dir: dir.to_owned() })
    }

    /// Room again: the same tmpfs, larger, its files kept.
    fn grow(&self, size: &str) {
        mount(&["-o", &format!("remount,size={size}")], &self.dir);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn mount(args: &[&str], dir: &Path) {
    let output = Command::new("mount").args(args).arg(dir).output().expect("mount runs");
    assert!(output.status.success(), "mount {args:?} {}: {}", dir.display(), String::from_utf8_lossy(&output.stderr));
}

fn fill_a_small_disk(kind: Kind, size: &str) {
    let Some(clean) = Store::new(kind, &format!("tmpfs_clean_{kind:?}")) else { return };
    let expected = BENCH.clean_run(&clean);
    let store = Store::local_in(kind, "disk");
    let Some(disk) = Tmpfs::mount(&store.dir.path().join("disk"), size) else { return };

    let status = BENCH.command(&store).status().unwrap();
    let stderr = Bench::stderr(&store);
    assert_eq!(status.code(), Some(1), "a full disk is a failed sync, not a crash ({status}): {stderr}");
    assert!(stderr.contains(&format!("{}", store.dir.path().join("disk").display())), "names the place: {stderr}");
    assert!(stderr.contains("No space left on device") || stderr.contains("disk is full"), "says why: {stderr}");

    // Room again; nothing runs now, so what is stored is what the failed sync left.
    disk.grow("64m");
    BENCH.check_consistent(&store, &expected);
    let emitted = Bench::emitted(&store);
    assert!(emitted < BENCH.records, "the sync cannot have finished on the small disk");
    resume_with_room(&store, &expected, emitted);
    eprintln!(
        "disk {kind:?}: a {size} tmpfs filled up with a clear error; the state stayed at {emitted} of {} records, \
         and the next sync, with room, resumed from it; records lost: 0",
        BENCH.records
    );
}

/// With room again, the next sync starts from the stored state (`emitted` records in)
/// and leaves the store equal to a clean run's.
fn resume_with_room(store: &Store, expected: &Expected, emitted: u64) {
    let status = BENCH.command(store).status().unwrap();
    assert!(status.success(), "{}", Bench::stderr(store));
    check_complete(store, expected);
    let resumed = store.runs().last().map(|run| run.records);
    assert_eq!(resumed, Some(BENCH.records - emitted), "the next sync resumes from the stored state");
}
