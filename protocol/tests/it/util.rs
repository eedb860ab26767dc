//! Helpers shared by the test modules.

use std::path::PathBuf;

use serde_json::Value;

/// The path of a file of the repository, given relative to the repository's root.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// A file of the repository, by its path relative to the repository's root.
pub fn repo_file(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The lines of a `schemas/examples/records/` fixture file, each parsed as JSON.
pub fn record_fixture(file: &str) -> Vec<Value> {
    let text = repo_file(&format!("schemas/examples/records/{file}"));
    let parse = |(index, line): (usize, &str)| {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", index + 1))
    };
    text.lines().enumerate().map(parse).collect()
}
