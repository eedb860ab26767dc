//! The command line every SDK connector shares, and the dispatch to [`Connector`].
//!
//! Two ways in:
//! - **Runner mode** (no `--config`): the configuration, and for `sync` the sync
//!   request, arrive as protocol messages on stdin.
//! - **Debug mode** (`--config FILE`): a human passes the configuration file and, for
//!   `sync`, `--since`, `--stream` and `--state` as flags. Output is the same protocol
//!   lines, so what a human sees is exactly what the runner would read.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use protocol::codec::{LineReader, DEFAULT_MAX_LINE_BYTES};
use protocol::cutoff::parse_cutoff;
use protocol::message::{
    ConnectorMessage, ErrorMessage, RunnerMessage, Spec, Stream, SyncMessage, Verification, PROTOCOL_VERSION,
};
use protocol::secrets::Redactor;

use crate::{config, exit, Connector, ConnectorError, Emitter, SyncRequest, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(Parser)]
#[command(
    version,
    about = "A connector speaking protocol v1 of the connector toolkit.",
    long_about = "A connector speaking protocol v1 of the connector toolkit.\n\n\
        The runner calls it with a command and sends the configuration on stdin. To run it \
        by hand, pass --config FILE instead; it prints the same JSON lines the runner reads.",
    after_help = "Examples:\n  \
        CONNECTOR spec\n  \
        CONNECTOR verify --config config.json\n  \
        CONNECTOR discover --config config.json\n  \
        CONNECTOR sync --config config.json --since 2026-01-01 [--stream ID|JSON] [--state state.json]"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the connector's spec: name, version, configuration schema, record types.
    Spec,
    /// Check a configuration: prints one `verification` line; exits 0 whether or not it is valid.
    Verify(ConfigArgs),
    /// List the streams this configuration can sync.
    Discover(ConfigArgs),
    /// Emit the records of one stream (or every stream), newest first, back to a cutoff.
    Sync(SyncArgs),
}

#[derive(Args)]
struct ConfigArgs {
    /// Configuration file (JSON). Without it, a `config` message is read from stdin.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct SyncArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Earliest data to sync: YYYY-MM-DD or RFC 3339. Required with --config.
    #[arg(long, value_name = "DATE", requires = "config")]
    since: Option<String>,
    /// Stream to sync: its id, or the Stream record as JSON. Default: every discovered stream.
    #[arg(long, value_name = "ID|JSON", requires = "config")]
    stream: Option<String>,
    /// File holding the state to resume from (the `state` of a previous sync's last checkpoint).
    #[arg(long, value_name = "FILE", requires = "config")]
    state: Option<PathBuf>,
}

/// Runs the connector: parses the command line, dispatches, and returns the exit code
/// (0 success, 1 after an `error` message, 2 for a bad command line).
pub fn run<C: Connector>(connector: C) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let spec = connector.spec();
    let mut out = Emitter::stdout();
    let result = match cli.command {
        Command::Spec => out.message(&ConnectorMessage::Spec(spec)).map_err(ConnectorError::from),
        Command::Verify(args) => verify(&connector, &spec, &args, &mut out),
        Command::Discover(args) => {
            with_config::<C>(&spec, &args, &mut out, |config, out| connector.discover(config, out))
        }
        Command::Sync(args) => sync(&connector, &spec, &args, &mut out),
    };
    finish(result, &mut out)
}

/// Turns the outcome into the `error` message and exit code. A closed stdout ends the
/// command quietly with 0: nobody reads what would be said.
fn finish(result: Result<(), ConnectorError>, out: &mut Emitter) -> ExitCode {
    let result = result.and_then(|()| out.flush().map_err(ConnectorError::from));
    let error = match result {
        Ok(()) => return exit(EXIT_OK),
        Err(error) if error.is_stdout_closed() => return exit(EXIT_OK),
        Err(error) => error,
    };
    let message = out.redact(&error.message).into_owned();
    let _ = out.message(&ConnectorMessage::Error(ErrorMessage { message: message.clone(), kind: error.kind }));
    let _ = writeln!(io::stderr(), "error: {message}");
    exit(EXIT_FAILURE)
}

fn verify<C: Connector>(
    connector: &C,
    spec: &Spec,
    args: &ConfigArgs,
    out: &mut Emitter,
) -> Result<(), ConnectorError> {
    let raw = read_config(args)?;
    out.set_redactor(Redactor::from_config(&spec.config_schema, &raw));
    let verification = match config::check::<C::Config>(&spec.config_schema, &raw) {
        Ok(config) => connector.verify(&config, out)?,
        Err(problems) => Verification::invalid(problems),
    };
    let verification = Verification {
        valid: verification.valid,
        errors: verification.errors.iter().map(|e| out.redact(e).into_owned()).collect(),
    };
    Ok(out.message(&ConnectorMessage::Verification(verification))?)
}

/// Reads and checks the configuration, then runs `body` with it.
fn with_config<C: Connector>(
    spec: &Spec,
    args: &ConfigArgs,
    out: &mut Emitter,
    body: impl FnOnce(&C::Config, &mut Emitter) -> Result<(), ConnectorError>,
) -> Result<(), ConnectorError> {
    let raw = read_config(args)?;
    out.set_redactor(Redactor::from_config(&spec.config_schema, &raw));
    let config = config::check::<C::Config>(&spec.config_schema, &raw)
        .map_err(|problems| ConnectorError::config(format!("invalid configuration: {}", problems.join("; "))))?;
    body(&config, out)
}

fn sync<C: Connector>(connector: &C, spec: &Spec, args: &SyncArgs, out: &mut Emitter) -> Result<(), ConnectorError> {
    if args.config.config.is_none() {
        return with_config::<C>(spec, &args.config, out, |config, out| {
            let request = read_sync_request()?;
            connector.sync(config, &request, out)
        });
    }
    let since =
        args.since.as_deref().ok_or_else(|| ConnectorError::config("--since DATE is required with --config"))?;
    let cutoff = parse_cutoff(since).map_err(|e| ConnectorError::config(format!("--since: {e}")))?;
    let state = args.state.as_deref().map(read_json_file).transpose()?;
    with_config::<C>(spec, &args.config, out, |config, out| {
        let streams = match args.stream.as_deref() {
            Some(text) if text.trim_start().starts_with('{') => vec![parse_stream(text)?],
            selector => select_streams(discovered(connector, config)?, selector)?,
        };
        if streams.len() > 1 && state.is_some() {
            return Err(ConnectorError::config("--state needs --stream: this connector has several streams"));
        }
        for stream in streams {
            let request = SyncRequest { stream, earliest_data_cutoff: cutoff, state: state.clone() };
            connector.sync(config, &request, out)?;
        }
        Ok(())
    })
}

/// The streams `discover` emits, captured instead of printed.
fn discovered<C: Connector>(connector: &C, config: &C::Config) -> Result<Vec<Stream>, ConnectorError> {
    let (mut capture, captured) = Emitter::in_memory();
    connector.discover(config, &mut capture)?;
    capture.flush()?;
    let bytes = captured.bytes();
    let mut reader = LineReader::new(&bytes[..], DEFAULT_MAX_LINE_BYTES);
    let mut streams = Vec::new();
    while let Some((_, message)) = reader.next_message().map_err(|e| ConnectorError::internal(e.to_string()))? {
        if let ConnectorMessage::Stream(message) = message {
            streams.push(message.stream);
        }
    }
    Ok(streams)
}

fn select_streams(streams: Vec<Stream>, id: Option<&str>) -> Result<Vec<Stream>, ConnectorError> {
    let Some(id) = id else { return Ok(streams) };
    let known = streams.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
    streams
        .iter()
        .find(|s| s.id == id)
        .map(|s| vec![s.clone()])
        .ok_or_else(|| ConnectorError::config(format!("no stream with id \"{id}\" (discovered: {known})")))
}

fn parse_stream(text: &str) -> Result<Stream, ConnectorError> {
    serde_json::from_str(text).map_err(|e| ConnectorError::config(format!("--stream is not a Stream record: {e}")))
}

/// The configuration object: from `--config FILE`, else from the first line of stdin.
fn read_config(args: &ConfigArgs) -> Result<Value, ConnectorError> {
    match &args.config {
        Some(path) => {
            let value = read_json_file(path)?;
            // Accept a saved `config` message as well as a bare configuration object.
            Ok(match value.get("type").and_then(Value::as_str) {
                Some("config") => value.get("config").cloned().unwrap_or(Value::Null),
                _ => value,
            })
        }
        None => match next_runner_message()? {
            RunnerMessage::Config(message) if message.protocol == PROTOCOL_VERSION => Ok(message.config),
            RunnerMessage::Config(message) => Err(ConnectorError::config(format!(
                "the runner speaks protocol {}, this connector speaks protocol {PROTOCOL_VERSION}",
                message.protocol
            ))),
            RunnerMessage::Sync(_) => Err(ConnectorError::config("expected a config message first on stdin, got sync")),
        },
    }
}

fn read_sync_request() -> Result<SyncRequest, ConnectorError> {
    let RunnerMessage::Sync(SyncMessage { stream, earliest_data_cutoff, state }) = next_runner_message()? else {
        return Err(ConnectorError::config("expected a sync message after the config message on stdin"));
    };
    let earliest_data_cutoff = parse_cutoff(&earliest_data_cutoff)
        .map_err(|e| ConnectorError::config(format!("earliest_data_cutoff: {e}")))?;
    Ok(SyncRequest { stream, earliest_data_cutoff, state: (!state.is_null()).then_some(state) })
}

/// Reads the next runner message from stdin. Stdin is read line by line, unbuffered
/// beyond the line, so the sync message is still there after the config message.
fn next_runner_message() -> Result<RunnerMessage, ConnectorError> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Err(ConnectorError::config(
            "no configuration: pass --config FILE to run by hand (the runner sends it on stdin)",
        ));
    }
    let mut lock = stdin.lock();
    let mut reader = LineReader::new(&mut lock, DEFAULT_MAX_LINE_BYTES);
    let line = reader.next_line().map_err(|e| ConnectorError::config(format!("stdin: {e}")))?.ok_or_else(|| {
        ConnectorError::config("stdin closed before a config message arrived (run by hand with --config FILE)")
    })?;
    serde_json::from_str(line.text).map_err(|e| ConnectorError::config(format!("stdin: not a runner message: {e}")))
}

fn read_json_file(path: &Path) -> Result<Value, ConnectorError> {
    let text =
        fs::read_to_string(path).map_err(|e| ConnectorError::config(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ConnectorError::config(format!("{} is not valid JSON: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams() -> Vec<Stream> {
        vec![Stream::new("a", "https://x.test/a", "A"), Stream::new("b", "https://x.test/b", "B")]
    }

    #[test]
    fn streams_are_selected_by_id_or_all() {
        assert_eq!(select_streams(streams(), None).unwrap().len(), 2);
        assert_eq!(select_streams(streams(), Some("b")).unwrap()[0].id, "b");
        let err = select_streams(streams(), Some("z")).unwrap_err();
        assert_eq!(err.message, "no stream with id \"z\" (discovered: a, b)");
    }

    #[test]
    fn a_stream_argument_must_be_a_stream_record() {
        assert_eq!(
            parse_stream(r#"{"_type":"Stream","id":"a","self":"https://x.test/a","name":"A"}"#).unwrap().id,
            "a"
        );
        assert!(parse_stream(r#"{"id":"a"}"#).unwrap_err().message.starts_with("--stream is not a Stream record"));
    }

    #[test]
    fn a_config_file_may_be_a_bare_object_or_a_saved_config_message() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("bare.json");
        fs::write(&bare, r#"{"apiToken":"t"}"#).unwrap();
        let wrapped = dir.path().join("wrapped.json");
        fs::write(&wrapped, r#"{"type":"config","protocol":1,"config":{"apiToken":"t"}}"#).unwrap();
        for path in [bare, wrapped] {
            let config = read_config(&ConfigArgs { config: Some(path) }).unwrap();
            assert_eq!(config, serde_json::json!({"apiToken": "t"}));
        }
    }

    #[test]
    fn unreadable_and_non_json_config_files_are_config_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = read_config(&ConfigArgs { config: Some(missing) }).unwrap_err();
        assert!(err.message.starts_with("cannot read ") && err.message.contains("missing.json"), "{err}");
        let garbage = dir.path().join("garbage.json");
        fs::write(&garbage, "apiToken = 1").unwrap();
        let err = read_config(&ConfigArgs { config: Some(garbage) }).unwrap_err();
        assert!(err.message.contains("garbage.json is not valid JSON"), "{err}");
        assert_eq!(err.kind, protocol::ErrorKind::Config);
    }
}
