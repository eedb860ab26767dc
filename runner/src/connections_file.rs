//! The connections file (TOML) of `sync-all` and `connections apply`: parsing, and
//! validating every entry before anything starts. Paths in it (config files, outputs,
//! state files, connectors given as paths) are relative to the file's directory.
//!
//! ```toml
//! [defaults]
//! cutoff = "2026-01-01"
//! output = "runner.db"
//! every = "1h"               # workers only: how often each connection is due
//! retry_after = "1m"         # workers only: first retry after a failure (doubles, at most `every`)
//! [[connection]]
//! name = "pagerduty-eu"
//! connector = "pagerduty"
//! config = "pd-eu.json"      # or an inline table: config = { apiToken = "${env:PD_EU_TOKEN}" }
//! streams = ["account"]      # optional; default: every stream discover finds
//! cutoff = "2026-03-01"      # optional
//! output = "eu.db"           # optional (sync-all only)
//! state = "eu-state.json"    # optional, like --state FILE (sync-all only)
//! every = "15m"              # optional (workers only)
//! retry_after = "30s"        # optional (workers only; default 1m)
//! skip_invalid = true        # optional: keep invalid records apart and go on
//! ```
//!
//! `sync-all` ignores `every` and `retry_after`; `connections apply` refuses `output` and `state` (workers
//! store into the database they share) and needs an `every`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::resolve::{self, InputError};
use engine::{ConnectorProgram, StreamChoice};
use store::fleet::Registered;
use store::OutputSpec;

/// How soon a worker retries a failed sync when the file does not say (`retry_after`).
const DEFAULT_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionsFile {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    connection: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    cutoff: Option<String>,
    output: Option<String>,
    every: Option<String>,
    retry_after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    connector: String,
    config: ConfigSource,
    streams: Option<Vec<String>>,
    cutoff: Option<String>,
    output: Option<String>,
    state: Option<String>,
    every: Option<String>,
    retry_after: Option<String>,
    skip_invalid: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ConfigSource {
    Path(String),
    Inline(toml::Table),
}

/// One validated connection of the file.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Its unique name.
    pub name: String,
    /// The connector.
    pub connector: ConnectorProgram,
    /// Its configuration.
    pub config: Value,
    /// Its streams.
    pub streams: StreamChoice,
    /// Its cutoff.
    pub cutoff: chrono::DateTime<chrono::Utc>,
    /// Its output.
    pub output: OutputSpec,
    /// Its state file, if any.
    pub state_file: Option<PathBuf>,
    /// `skip_invalid = true` in the file.
    pub skip_invalid: bool,
}

/// What is wrong with a connections file.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionsError {
    /// Unreadable.
    #[error("cannot read connections file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, or an unknown key (the message has the line and column).
    #[error("connections file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error, with its line.
        message: String,
    },
    /// An entry that does not work.
    #[error("connections file {path}, connection `{name}`: {reason}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry's name.
        name: String,
        /// Why.
        reason: String,
    },
}

impl crate::failure::Classify for ConnectionsError {
    /// A connections file that cannot be used is bad input, whatever is wrong with it.
    fn failure_kind(&self) -> engine::FailureKind {
        engine::FailureKind::BadInput
    }
}

/// Reads and validates a connections file. `default_output` is used when neither the
/// entry nor `[defaults]` names an output.
///
/// # Errors
/// [`ConnectionsError`] for the first problem found; nothing has run yet.
pub fn load(path: &Path, default_output: &str) -> Result<Vec<Connection>, ConnectionsError> {
    let (file, base) = read(path)?;
    each_entry(path, &file, |entry| validate(entry, &file.defaults, &base, default_output))
}

/// Reads a connections file for `runner connections apply`: the connections as the
/// workers share them. Connectors are kept as written (a slug, or a path valid on the
/// workers); config files are read here; `"${env:NAME}"` values stay references.
///
/// # Errors
/// [`ConnectionsError`] for the first problem found; nothing has been applied yet.
pub fn load_for_workers(path: &Path) -> Result<Vec<Registered>, ConnectionsError> {
    let (file, base) = read(path)?;
    each_entry(path, &file, |entry| register(entry, &file.defaults, &base))
}

fn read(path: &Path) -> Result<(ConnectionsFile, PathBuf), ConnectionsError> {
    let limit = resolve::MAX_CONFIG_BYTES;
    let bytes =
        resolve::read_limited(path, limit).map_err(|source| ConnectionsError::Read { path: path.into(), source })?;
    let parse_error = |message: String| ConnectionsError::Parse { path: path.into(), message };
    let bytes = bytes.ok_or_else(|| parse_error(format!("it is larger than the limit of {limit} bytes")))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| parse_error(resolve::not_utf8(e)))?;
    let file: ConnectionsFile = toml::from_str(text).map_err(|e| parse_error(toml_error(text, &e)))?;
    if file.connection.is_empty() {
        let message = "it has no [[connection]] entry".to_owned();
        return Err(ConnectionsError::Parse { path: path.into(), message });
    }
    Ok((file, path.parent().map_or_else(PathBuf::new, Path::to_owned)))
}

/// A TOML error for people: as the toml crate renders it (the line quoted, the column
/// marked), unless that line is too long to quote; then only where and what.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    const MAX_QUOTED: usize = 1024;
    let rendered = error.to_string();
    if rendered.len() <= MAX_QUOTED {
        return rendered;
    }
    let Some(start) = error.span().map(|span| span.start.min(text.len())) else {
        return error.message().to_owned();
    };
    let before = &text.as_bytes()[..start];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = start - before.iter().rposition(|&b| b == b'\n').map_or(0, |newline| newline + 1) + 1;
    format!("TOML parse error at line {line}, column {column}: {}", error.message().trim_end())
}

/// Checks every entry with `check`, names unique, the first problem named with its entry.
fn each_entry<T>(
    path: &Path,
    file: &ConnectionsFile,
    check: impl Fn(&Entry) -> Result<T, InputError>,
) -> Result<Vec<T>, ConnectionsError> {
    let mut names = BTreeSet::new();
    file.connection
        .iter()
        .map(|entry| {
            let entry_error =
                |reason: String| ConnectionsError::Entry { path: path.into(), name: entry.name.clone(), reason };
            if !names.insert(entry.name.clone()) {
                return Err(entry_error("the name is used twice; connection names must be unique".into()));
            }
            check(entry).map_err(|e| entry_error(e.to_string()))
        })
        .collect()
}

fn register(entry: &Entry, defaults: &Defaults, base: &Path) -> Result<Registered, InputError> {
    for (key, given) in [("output", entry.output.is_some()), ("state", entry.state.is_some())] {
        if given {
            return Err(InputError::Usage(format!(
                "`{key}` is for sync-all: workers store into the database they share (--db)"
            )));
        }
    }
    let every = entry.every.as_ref().or(defaults.every.as_ref()).ok_or_else(|| {
        InputError::Usage("no schedule: set `every` (like \"15m\") in the connection or in [defaults]".to_owned())
    })?;
    let every = crate::human::parse_duration(every).map_err(|e| InputError::Usage(format!("every: {e}")))?;
    let retry_after = match entry.retry_after.as_ref().or(defaults.retry_after.as_ref()) {
        Some(text) => crate::human::parse_duration(text).map_err(|e| InputError::Usage(format!("retry_after: {e}")))?,
        None => DEFAULT_RETRY_AFTER,
    };
    let cutoff = cutoff_of(entry, defaults)?;
    resolve::cutoff(cutoff)?;
    Ok(Registered {
        name: entry.name.clone(),
        connector: entry.connector.clone(),
        config: config_of(entry, base)?,
        streams: entry.streams.clone(),
        cutoff: cutoff.clone(),
        every,
        retry_after,
        skip_invalid: entry.skip_invalid.unwrap_or(false),
    })
}

fn config_of(entry: &Entry, base: &Path) -> Result<Value, InputError> {
    Ok(match &entry.config {
        ConfigSource::Path(file) => resolve::config_file(&base.join(file))?,
        ConfigSource::Inline(table) => serde_json::to_value(table).expect("a TOML table is JSON"),
    })
}

fn cutoff_of<'a>(entry: &'a Entry, defaults: &'a Defaults) -> Result<&'a String, InputError> {
    entry
        .cutoff
        .as_ref()
        .or(defaults.cutoff.as_ref())
        .ok_or_else(|| InputError::Usage("no cutoff: set `cutoff` in the connection or in [defaults]".to_owned()))
}

fn validate(entry: &Entry, defaults: &Defaults, base: &Path, default_output: &str) -> Result<Connection, InputError> {
    let connector_arg = if entry.connector.contains('/') {
        base.join(&entry.connector).to_string_lossy().into_owned()
    } else {
        entry.connector.clone()
    };
    let mut connector = resolve::connector(&connector_arg)?;
    connector.display.clone_from(&entry.connector);
    let config = config_of(entry, base)?;
    let cutoff = cutoff_of(entry, defaults)?;
    // An output written in the file is relative to the file; the command line's default
    // is relative to the working directory, like every path typed on a command line.
    let output = match entry.output.as_ref().or(defaults.output.as_ref()) {
        Some(in_file) => {
            let output = resolve::output(in_file)?;
            output.relative_to(base).unwrap_or(output)
        }
        None => resolve::output(default_output)?,
    };
    Ok(Connection {
        name: entry.name.clone(),
        connector,
        config,
        streams: entry.streams.clone().map_or(StreamChoice::All, StreamChoice::Ids),
        cutoff: resolve::cutoff(cutoff)?,
        output,
        state_file: entry.state.as_ref().map(|s| base.join(s)),
        skip_invalid: entry.skip_invalid.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Vec<Connection>, ConnectionsError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("connections.toml");
        std::fs::write(&file, text).unwrap();
        std::fs::write(dir.path().join("c.json"), "{\"k\": 1}").unwrap();
        load(&file, "runner.db")
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = load_text("[[connection]]\nname = \"a\"\nconnector = \"/bin/sh\"\nconfig = {}\ncolour = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour") && err.contains("line 5"), "{err}");
    }

    #[test]
    fn a_line_too_long_to_quote_is_named_by_line_and_column_only() {
        let entry = "[[connection]]\nname = \"a\"\nconnector = \"/bin/sh\"\nconfig = {}\n";
        let deep = format!("{entry}deep = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        let err = load_text(&deep).unwrap_err().to_string();
        assert!(err.len() < 300, "{err}");
        assert!(err.contains("TOML parse error at line 5, column ") && err.contains("recurs"), "{err}");
    }

    #[test]
    fn entries_get_defaults_and_paths_relative_to_the_file() {
        // The file is in a subdirectory, neither the working directory (runner/, where
        // none of these names exists) nor the temporary directory, which holds a decoy
        // `c.json`: every path must come out under `sub/`.
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir_all(sub.join("bin")).unwrap();
        std::fs::write(dir.path().join("c.json"), "{\"decoy\": true}").unwrap();
        std::fs::write(sub.join("c.json"), "{\"k\": 1}").unwrap();
        std::fs::write(sub.join("bin/conn"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(sub.join("bin/conn"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let file = sub.join("connections.toml");
        let text = "[defaults]\ncutoff = \"2026-01-01\"\noutput = \"all.db\"\n\
                    [[connection]]\nname = \"a\"\nconnector = \"./bin/conn\"\nconfig = \"c.json\"\n\
                    streams = [\"s1\"]\nstate = \"a-state.json\"\n\
                    [[connection]]\nname = \"b\"\nconnector = \"/bin/sh\"\nconfig = { token = \"t\" }\n\
                    output = \"out\"\ncutoff = \"2026-02-01\"\n";
        std::fs::write(&file, text).unwrap();

        let connections = load(&file, "runner.db").unwrap();
        let (a, b) = (&connections[0], &connections[1]);
        assert_eq!(a.config, serde_json::json!({"k": 1}));
        assert_eq!(
            (a.connector.display.as_str(), a.connector.path.as_path()),
            ("./bin/conn", sub.join("bin/conn").as_path())
        );
        assert_eq!(a.streams, StreamChoice::Ids(vec!["s1".into()]));
        assert_eq!(a.output, OutputSpec::sqlite(sub.join("all.db")));
        assert_eq!(a.state_file, Some(sub.join("a-state.json")));
        assert_eq!(a.cutoff.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(b.config, serde_json::json!({"token": "t"}));
        assert_eq!(b.connector.path, Path::new("/bin/sh"));
        assert_eq!(b.output, OutputSpec::json_lines(sub.join("out")));
        assert_eq!(b.state_file, None);
        assert_eq!(b.cutoff.to_rfc3339(), "2026-02-01T00:00:00+00:00");
    }

    #[test]
    fn the_command_lines_default_output_is_relative_to_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let file = dir.path().join("conf/connections.toml");
        let entry = "[[connection]]\nname = \"a\"\nconnector = \"/bin/sh\"\nconfig = {}\ncutoff = \"2026-01-01\"\n";
        std::fs::write(&file, entry).unwrap();
        let connections = load(&file, "mine.db").unwrap();
        assert_eq!(connections[0].output, OutputSpec::sqlite("mine.db"), "as typed, not conf/mine.db");
        let url = load(&file, "postgres://u@h/db").unwrap();
        assert!(url[0].output.shared_database().is_some(), "{:?}", url[0].output);
    }

    #[test]
    fn every_entry_is_checked_before_anything_runs() {
        let text = "[[connection]]\nname = \"a\"\nconnector = \"/bin/sh\"\nconfig = {}\n";
        assert!(load_text(text).unwrap_err().to_string().contains("connection `a`: no cutoff"));
        let text = "[[connection]]\nname = \"a\"\nconnector = \"/bin/sh\"\nconfig = \"missing.json\"\ncutoff = \"2026-01-01\"\n";
        assert!(load_text(text).unwrap_err().to_string().contains("cannot read config file"));
        let text = "[[connection]]\nname = \"a\"\nconnector = \"/bin/sh\"\nconfig = {}\ncutoff = \"soon\"\n";
        assert!(load_text(text).unwrap_err().to_string().contains("invalid date \"soon\""));
        let entry = "[[connection]]\nname = \"a\"\nconnector = \"/bin/sh\"\nconfig = {}\n";
        let twice = format!("[defaults]\ncutoff = \"2026-01-01\"\n{entry}{entry}");
        assert!(load_text(&twice).unwrap_err().to_string().contains("used twice"));
    }
}
