//! Embeds every JSON Schema under `../schemas/{protocol,records}` into the crate.
//!
//! The schema files are data shared with connectors in other languages, so they live
//! outside the crate; this script writes a table of `(name, include_str!(path))` pairs
//! that `registry.rs` includes. Adding a record type is adding a file: no code changes.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let schemas = manifest_dir.join("..").join("schemas");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("embedded_schemas.rs");

    let mut code = String::new();
    for (kind, dir) in [("RECORD_SCHEMAS", "records"), ("MESSAGE_SCHEMAS", "protocol")] {
        let dir = schemas.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        code.push_str(&format!("pub(crate) const {kind}: &[(&str, &str)] = &[\n"));
        for (name, path) in json_files(&dir) {
            println!("cargo:rerun-if-changed={}", path.display());
            code.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
        }
        code.push_str("];\n");
    }
    fs::write(out, code).expect("write embedded_schemas.rs");
}

/// `(file stem, path)` of every `*.json` file in `dir`, sorted so builds are reproducible.
fn json_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter_map(|path| {
            let stem = path.file_stem()?.to_str()?.to_owned();
            Some((stem, path))
        })
        .collect();
    files.sort();
    files
}
