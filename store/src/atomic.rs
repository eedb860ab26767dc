//! Crash-safe file replacement and directory syncing, shared by the `--state FILE` and the
//! JSON-lines `_state.json`: write a temporary file in the same directory, fsync it, rename
//! it over the target, fsync the directory. A crash leaves the old file or the new one,
//! never a torn one; a crash between the two leaves the temporary file behind, so the first
//! replacement of a file in a process removes those of processes that no longer run.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Replaces `path` with `bytes` atomically and durably.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    if first_replacement(path) {
        remove_abandoned_temporaries(path);
    }
    let tmp = dir.join(temp_name(path));
    let written = write_synced(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    sync_dir(dir)
}

/// Fsyncs a directory so that renames and newly created files in it survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A name no other writer in this process or another one uses at the same time.
fn temp_name(path: &Path) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}{}-{n}", temp_prefix(path), std::process::id())
}

/// `.<name>.tmp-`: what the temporary files of `path` start with, before the writer's pid.
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.tmp-")
}

/// Whether this process has not replaced `path` before (and now has).
fn first_replacement(path: &Path) -> bool {
    static REPLACED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let mut replaced = REPLACED.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    replaced.insert(path.to_owned())
}

/// Removes the temporary files of `path` whose writer no longer runs: it died between
/// creating one and renaming it (they never held the file's only copy). Best effort: a
/// file that cannot be listed or removed is left, and costs only its space. Pids are this
/// host's, as the connection guard's file locks are.
fn remove_abandoned_temporaries(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(entries) = fs::read_dir(parent_dir(path)) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(writer) = name.to_str().and_then(|name| name.strip_prefix(&prefix)) else { continue };
        let pid = writer.split_once('-').and_then(|(pid, _)| pid.parse::<i64>().ok());
        if pid.is_some_and(|pid| !super::process_exists(pid)) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        replace_file(&path, b"{\"a\":1}").unwrap();
        replace_file(&path, b"{\"a\":2}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{\"a\":2}");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn temporary_files_of_dead_writers_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        // pid_max is at most 2^22, so this writer cannot be running; this process is.
        let dead = dir.path().join(".state.json.tmp-99999999-3");
        let live = dir.path().join(format!(".state.json.tmp-{}-999", std::process::id()));
        let other = dir.path().join(".other.json.tmp-99999999-0");
        for file in [&dead, &live, &other] {
            fs::write(file, b"{").unwrap();
        }
        replace_file(&path, b"{}").unwrap();
        assert!(!dead.exists(), "a dead writer's temporary file is removed");
        assert!(live.exists() && other.exists(), "a live writer's, and another file's, are kept");
    }

    #[test]
    fn failure_names_the_cause_and_keeps_the_old_file() {
        // An old file whose replacement cannot be created: the temporary file's name
        // (`.<name>.tmp-<pid>-<n>`) is longer than NAME_MAX (255) although the file's own is
        // not, so creating it fails, whoever runs the test (root too).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s".repeat(250));
        fs::write(&path, b"old").unwrap();
        let err = replace_file(&path, b"new").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENAMETOOLONG), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old", "the old file is intact");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![path.file_name().unwrap().to_owned()]);
    }

    #[test]
    fn a_failed_rename_returns_its_own_error_and_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the temporary file is written, the rename fails.
        let target = dir.path().join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"x").unwrap();
        let err = replace_file(&target, b"new").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "rename's error, not the clean-up's: {err}");
        assert_eq!(fs::read(target.join("x")).unwrap(), b"x", "what was there is intact");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("taken")], "no temporary file is left");
    }
}
