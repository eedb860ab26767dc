//! Damaged stores: a SQLite file that is not a database or cannot be written, a JSON-lines
//! file with a torn last line, a stored state that is not JSON. Each is a clear error that
//! names the file and changes nothing, or a repair that keeps what it cuts; never a panic,
//! never silent data loss.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::{check_complete, Bench};
use crate::destinations::{Kind, Store};
use crate::util::{shell_connector as connector, stderr_of};

/// Runs a sync that must fail with exit 1; returns its stderr.
fn failing(store: &Store, connector: &Path, extra: &[&str]) -> String {
    let output = store.sync(connector, &json!({}), extra);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_sqlite_file_that_is_not_a_database_is_refused_and_left_as_it_was() {
    let Some(store) = Store::new(Kind::Sqlite, "damaged_not_a_database") else { return };
    let garbage: Vec<u8> = b"this was a database once\n".iter().copied().cycle().take(64 * 1024).collect();
    std::fs::write(store.output(), &garbage).unwrap();
    let ok = connector(store.dir.path(), "ok", "team 1 a; state 1");
    let stderr = failing(&store, &ok, &[]);
    let expected = format!("cannot open SQLite database {}: file is not a database", store.output());
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(std::fs::read(store.output()).unwrap(), garbage, "the file is left as it was");
}

/// Makes a file read-only for the runner, root included (`chattr +i`), until dropped.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn new(path: &Path) -> ReadOnly {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // Root writes any file whatever its mode; an immutable one it does not.
            crate::util::succeed("chattr +i", Command::new("chattr").arg("+i").arg(path));
        }
        ReadOnly(path.to_owned())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: as above.
        if unsafe { libc::geteuid() } == 0 {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        }
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o644));
    }
}

#[test]
fn a_read_only_sqlite_file_is_refused_and_the_next_sync_resumes_once_writable() {
    let Some(store) = Store::new(Kind::Sqlite, "damaged_read_only") else { return };
    let pages = r#"case "$sync" in
*'"state":1'*) team 2 b; state 2 ;;
*) team 1 a; state 1 ;;
esac"#;
    let pages = connector(store.dir.path(), "pages", pages);
    assert!(store.sync(&pages, &json!({}), &[]).status.success());
    let before = store.everything();

    let read_only = ReadOnly::new(Path::new(store.output()));
    let stderr = failing(&store, &pages, &[]);
    assert!(stderr.contains(store.output()) && stderr.contains("readonly"), "{stderr}");
    drop(read_only);
    assert_eq!(store.everything(), before, "a store that cannot be written is left as it was");

    assert!(store.sync(&pages, &json!({}), &[]).status.success());
    assert_eq!(store.records().len(), 2);
    assert_eq!(store.state("conn", "s1"), Some(json!(2)));
}

#[test]
fn a_torn_json_lines_file_is_cut_on_the_next_open_and_the_cut_bytes_are_kept() {
    let (first, full) = (Bench { records: 300, checkpoint_every: 50 }, Bench { records: 600, checkpoint_every: 50 });
    let Some(clean) = Store::new(Kind::JsonLines, "damaged_torn_clean") else { return };
    let expected = full.clean_run(&clean);
    let Some(store) = Store::new(Kind::JsonLines, "damaged_torn") else { return };
    first.clean_run(&store);
    // A run that died mid-line, after its last checkpoint, leaves half a record behind.
    let file = Path::new(store.output()).join("Incident.jsonl");
    let length = std::fs::metadata(&file).unwrap().len();
    let torn = br#"{"_type":"Incident","id":"Q0000000300","self":"https://api.pag"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, torn))
        .unwrap();
    assert_eq!(store.torn_tails(), [("Incident.jsonl".to_owned(), torn.len())]);

    let status = full.command(&store).status().unwrap();
    assert!(status.success(), "{}", Bench::stderr(&store));
    check_complete(&store, &expected);
    let kept = Path::new(store.output()).join(format!("_torn/Incident.jsonl.at-{length}"));
    assert_eq!(std::fs::read(&kept).unwrap(), torn, "the cut bytes are kept");
    let runs = std::fs::read_to_string(Path::new(store.output()).join("_runs.jsonl")).unwrap();
    let last: Value = serde_json::from_str(runs.lines().last().unwrap()).unwrap();
    let repair = last["repairs"][0].as_str().unwrap_or_default();
    assert!(repair.contains(&format!("cut a torn last line of {} bytes off Incident.jsonl", torn.len())), "{last}");
}

/// A stored state that is not JSON: the sync is refused with a hint, the store unchanged.
fn corrupt_state_is_refused(store: &Store, place: &str, corrupt: impl FnOnce(), extra: &[&str]) {
    let ok = connector(store.dir.path(), "ok", "team 1 a; state 1");
    assert!(store.sync(&ok, &json!({}), extra).status.success());
    corrupt();
    let before = store.everything();
    let next = connector(store.dir.path(), "next", "team 2 b; state 2");
    let stderr = failing(store, &next, extra);
    assert!(stderr.contains(&format!("the stored state in {place} is not valid JSON")), "{stderr}");
    assert!(stderr.contains("hint: the runner replaces states atomically"), "{stderr}");
    assert_eq!(store.everything(), before, "nothing was written");
}

#[test]
fn a_state_file_that_is_not_json_is_refused_and_nothing_is_written() {
    let Some(store) = Store::new(Kind::Sqlite, "damaged_state_file") else { return };
    let state = store.dir.path().join("state.json");
    let path = state.to_str().unwrap().to_owned();
    corrupt_state_is_refused(&store, &path, || std::fs::write(&state, "{\"s1\": 1,").unwrap(), &["--state", &path]);
}

#[test]
fn a_json_lines_state_that_is_not_json_is_refused_and_nothing_is_written() {
    let Some(store) = Store::new(Kind::JsonLines, "damaged_jsonl_state") else { return };
    let state = Path::new(store.output()).join("_state.json");
    // The runner names the state by its canonical path (the directory is made by the first sync).
    let place = std::fs::canonicalize(store.dir.path()).unwrap().join("out/_state.json");
    corrupt_state_is_refused(&store, &place.display().to_string(), || std::fs::write(&state, "not json").unwrap(), &[]);
}

#[test]
fn a_sqlite_state_that_is_not_json_is_refused_and_nothing_is_written() {
    let Some(store) = Store::new(Kind::Sqlite, "damaged_sqlite_state") else { return };
    let corrupt = || {
        let db = rusqlite::Connection::open(store.output()).unwrap();
        db.execute("UPDATE stream_state SET state = '{not json'", []).unwrap();
    };
    corrupt_state_is_refused(&store, store.output(), corrupt, &[]);
}
