//! Turning what the user typed into things the runner can use: a connector argument into
//! an executable, a config path into a JSON object, a cutoff into an instant, a stream
//! argument into an id or a Stream record. Every failure here is bad input (exit 2).

use std::env;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use protocol::{parse_cutoff, CutoffError, Stream};

use engine::{ConnectorProgram, StreamChoice};
use store::OutputError;
use store::OutputSpec;

/// Bad input: a missing connector, an unreadable config, a bad date, a bad stream.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A slug that matches nothing.
    #[error(
        "connector `{slug}` not found: looked for {file} beside the runner ({dir}) and on PATH\n\
         hint: build it (cargo build -p {file}) or pass the path to an executable"
    )]
    ConnectorNotFound {
        /// What the user typed.
        slug: String,
        /// `connector-<slug>`.
        file: String,
        /// The runner's directory.
        dir: String,
    },
    /// A path that does not exist.
    #[error("connector `{0}` not found: no such file")]
    NoSuchConnector(String),
    /// A file that cannot be executed.
    #[error("connector `{path}` is not executable\nhint: chmod +x {path}")]
    NotExecutable {
        /// The path.
        path: String,
    },
    /// The config file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    UnreadableConfig {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is larger than [`MAX_CONFIG_BYTES`].
    #[error(
        "config file {path} is larger than the limit of {limit} bytes\n\
         hint: a configuration holds settings and credentials; keep data in files the connector reads"
    )]
    ConfigTooLarge {
        /// The path.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// The config file is not a JSON object.
    #[error("config file {path} is not a JSON object: {reason}")]
    BadConfig {
        /// The path.
        path: PathBuf,
        /// Why (a serde_json error: line and column, never the content).
        reason: String,
    },
    /// The cutoff.
    #[error("bad earliest-data cutoff: {0}")]
    Cutoff(#[from] CutoffError),
    /// The stream argument starts with `{` but is not a Stream record.
    #[error("the stream argument is not a Stream record: {0}\nhint: pass a stream id, or {{\"_type\":\"Stream\",\"id\":..,\"self\":..,\"name\":..}}")]
    BadStream(String),
    /// An `--output` that cannot be used (a malformed PostgreSQL URL).
    #[error("bad --output: {0}")]
    Output(OutputError),
    /// A positional argument count that matches no form of `sync`.
    #[error("{0}")]
    Usage(String),
}

impl crate::failure::Classify for InputError {
    fn failure_kind(&self) -> engine::FailureKind {
        engine::FailureKind::BadInput
    }
}

/// Resolves a connector argument: a path if it contains `/` or names an existing file,
/// otherwise a slug looked up as `connector-<slug>` beside the runner, then on PATH.
///
/// # Errors
/// [`InputError`] naming where it looked, or saying the file is not executable.
pub fn connector(arg: &str) -> Result<ConnectorProgram, InputError> {
    let as_path = Path::new(arg);
    if arg.contains('/') || as_path.is_file() {
        if !as_path.exists() {
            return Err(InputError::NoSuchConnector(arg.to_owned()));
        }
        return executable(arg, as_path.to_owned());
    }
    let file = format!("connector-{arg}");
    let beside = runner_dir();
    let on_path = env::var_os("PATH").map(|path| env::split_paths(&path).collect::<Vec<_>>()).unwrap_or_default();
    let found = beside.iter().chain(on_path.iter()).map(|dir| dir.join(&file)).find(|candidate| candidate.is_file());
    match found {
        Some(program) => executable(arg, program),
        None => Err(InputError::ConnectorNotFound {
            slug: arg.to_owned(),
            file,
            dir: beside.map_or_else(|| "?".to_owned(), |dir| dir.display().to_string()),
        }),
    }
}

fn executable(display: &str, path: PathBuf) -> Result<ConnectorProgram, InputError> {
    let mode = fs::metadata(&path).map(|meta| meta.permissions().mode()).unwrap_or(0);
    if mode & 0o111 == 0 || path.is_dir() {
        return Err(InputError::NotExecutable { path: path.display().to_string() });
    }
    Ok(ConnectorProgram { display: display.to_owned(), path })
}

/// The largest configuration file read: the config travels to the connector as one
/// protocol line, bounded by the same default as every line.
pub const MAX_CONFIG_BYTES: usize = protocol::DEFAULT_MAX_LINE_BYTES;

/// Reads a configuration file: a JSON object, UTF-8, at most [`MAX_CONFIG_BYTES`].
///
/// # Errors
/// [`InputError`] when it cannot be read, is too large, or is not a JSON object. The
/// message never quotes the file's content (it holds secrets).
pub fn config_file(path: &Path) -> Result<Value, InputError> {
    let unreadable = |source| InputError::UnreadableConfig { path: path.into(), source };
    let Some(bytes) = read_limited(path, MAX_CONFIG_BYTES).map_err(unreadable)? else {
        return Err(InputError::ConfigTooLarge { path: path.into(), limit: MAX_CONFIG_BYTES });
    };
    let bad = |reason: String| InputError::BadConfig { path: path.into(), reason };
    let text = std::str::from_utf8(&bytes).map_err(|e| bad(not_utf8(e)))?;
    let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON ({e})")))?;
    if !value.is_object() {
        return Err(bad("expected an object {...}".into()));
    }
    Ok(value)
}

/// The bytes of the file at `path`, or `None` when it holds more than `limit`. Reads at
/// most one byte past the limit, so a huge file (or an endless one, such as a device) is
/// refused without being read.
///
/// # Errors
/// The file cannot be opened or read.
pub(crate) fn read_limited(path: &Path, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

/// Why a file's text is not UTF-8, for people (its content is never quoted).
pub(crate) fn not_utf8(error: std::str::Utf8Error) -> String {
    format!("it is not UTF-8 text (the first bad byte is at offset {})", error.valid_up_to())
}

/// Parses the earliest-data cutoff (`YYYY-MM-DD` or RFC 3339).
///
/// # Errors
/// [`InputError::Cutoff`] quoting the input and the accepted forms.
pub fn cutoff(arg: &str) -> Result<DateTime<Utc>, InputError> {
    Ok(parse_cutoff(arg)?)
}

/// Classifies an `--output`: a PostgreSQL URL, a SQLite file, `-`, or a directory.
///
/// # Errors
/// [`InputError::Output`] for a PostgreSQL URL that cannot be used.
pub fn output(arg: &str) -> Result<OutputSpec, InputError> {
    OutputSpec::parse(arg).map_err(InputError::Output)
}

/// Parses a `<stream>` argument: a Stream record if it starts with `{`, else an id.
///
/// # Errors
/// [`InputError::BadStream`] for JSON that is not a valid Stream record.
pub fn stream(arg: &str) -> Result<StreamChoice, InputError> {
    if !arg.trim_start().starts_with('{') {
        return Ok(StreamChoice::Ids(vec![arg.to_owned()]));
    }
    let value: Value = serde_json::from_str(arg).map_err(|e| InputError::BadStream(e.to_string()))?;
    protocol::SchemaRegistry::global().validate_record(&value).map_err(|e| InputError::BadStream(e.to_string()))?;
    let stream: Stream = serde_json::from_value(value).map_err(|e| InputError::BadStream(e.to_string()))?;
    if stream.record_type != "Stream" {
        return Err(InputError::BadStream(format!("_type is \"{}\", expected \"Stream\"", stream.record_type)));
    }
    Ok(StreamChoice::Record(stream))
}

/// The directory of the running `runner` executable, where sibling binaries are looked
/// for first (`connector-<slug>`, `pagerduty-mock`).
pub fn runner_dir() -> Option<PathBuf> {
    env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_slug_names_both_places() {
        let err = connector("surely-not-a-connector").unwrap_err().to_string();
        assert!(err.starts_with("connector `surely-not-a-connector` not found: looked for connector-surely-not-a-connector beside the runner ("), "{err}");
        assert!(err.contains("and on PATH"), "{err}");
    }

    #[test]
    fn paths_are_checked_for_existence_and_mode() {
        assert!(matches!(connector("./nope/x.sh"), Err(InputError::NoSuchConnector(_))));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.sh");
        fs::write(&file, "#!/bin/sh\n").unwrap();
        let arg = file.to_str().unwrap();
        assert!(matches!(connector(arg), Err(InputError::NotExecutable { .. })));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(connector(arg).unwrap().path, file);
    }

    #[test]
    fn configs_must_be_json_objects_and_errors_do_not_quote_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        fs::write(&file, "{\"apiToken\": \"s3cret-token\",").unwrap();
        let err = config_file(&file).unwrap_err().to_string();
        assert!(err.contains("is not a JSON object: invalid JSON") && !err.contains("s3cret"), "{err}");
        fs::write(&file, "[1]").unwrap();
        assert!(config_file(&file).unwrap_err().to_string().contains("expected an object"));
        assert!(matches!(config_file(&dir.path().join("missing.json")), Err(InputError::UnreadableConfig { .. })));
    }

    #[test]
    fn stream_arguments_are_ids_or_records() {
        assert_eq!(stream("acme").unwrap(), StreamChoice::Ids(vec!["acme".into()]));
        let record = r#"{"_type":"Stream","id":"a","self":"https://x.test","name":"A"}"#;
        assert!(matches!(stream(record).unwrap(), StreamChoice::Record(s) if s.id == "a"));
        assert!(stream(r#"{"_type":"Stream","id":"a"}"#).is_err());
    }
}
