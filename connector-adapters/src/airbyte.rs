//! `connector-airbyte`: an Airbyte source, run as a local executable, as a connector.
//!
//! `verify` and `discover` first run `source spec`: the fields its
//! `connectionSpecification` marks `airbyte_secret` are the secrets of `sourceConfig`
//! (masked in all the adapter writes). `discover` keeps that specification on each Stream
//! (`connectionSpecification`), so `sync` does not run `spec` again.
//! - `verify` runs `source check --config C`: CONNECTION_STATUS SUCCEEDED is valid,
//!   FAILED (or a TRACE error) invalid with the source's message.
//! - `discover` runs `source discover --config C`: one Stream per catalog stream,
//!   declaring its record type, with the Airbyte stream kept in `airbyteStream`.
//! - `sync` writes a configured catalog of that stream (incremental when the source
//!   supports it, with its default cursor and primary key) and runs
//!   `source read --config C --catalog K [--state S]`: RECORD → a record, STATE → a
//!   checkpoint holding the Airbyte state message itself (per-stream, global or legacy),
//!   handed back as the `--state` file on resume, LOG → a log line at its level, TRACE
//!   ERROR → the sync's error with its kind (config_error → config, transient_error →
//!   transient, system_error → internal), TRACE ESTIMATE → progress.

use std::ffi::OsString;

use connector_sdk::{
    Connector, ConnectorError, Emitter, ErrorKind, LogLevel, ProgressMessage, Redactor, Spec, SyncRequest, Verification,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::adapter::{self, Options, RecordWriter, Workdir};
use crate::child::TapProcess;
use crate::record::Shaper;
use crate::secrets;

/// The configuration of `connector-airbyte`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AirbyteConfig {
    /// The source: an executable on PATH (`source-faker`) or a path.
    pub source: String,
    /// The source's own configuration (its `--config` file).
    #[serde(default = "adapter::empty_object")]
    pub source_config: Value,
    /// Extra arguments before the command, for every run of the source.
    #[serde(default)]
    pub source_args: Vec<String>,
    /// The options every adapter takes.
    #[serde(flatten)]
    pub options: Options,
}

/// An Airbyte `TRACE` error's `failure_type` as the protocol's error kind.
pub fn error_kind(failure_type: Option<&str>) -> ErrorKind {
    match failure_type {
        Some("config_error") => ErrorKind::Config,
        Some("transient_error") => ErrorKind::Transient,
        _ => ErrorKind::Internal,
    }
}

/// An Airbyte log level as ours.
pub fn log_level(level: &str) -> LogLevel {
    match level.to_ascii_uppercase().as_str() {
        "FATAL" | "ERROR" => LogLevel::Error,
        "WARN" | "WARNING" => LogLevel::Warn,
        "INFO" => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

/// The `--state` file for resuming from `state`, the Airbyte state message a STATE carried:
/// per-stream and global states as the list Airbyte sources read, a legacy state as its data.
pub fn state_file(state: &Value) -> Value {
    match state.get("type").and_then(Value::as_str) {
        Some("STREAM" | "GLOBAL") => json!([state]),
        _ => state.get("data").cloned().unwrap_or_else(|| state.clone()),
    }
}

/// Whether an Airbyte stream has no incremental mode: its `supported_sync_modes` lack
/// `incremental`.
pub fn full_refresh(stream: &Value) -> bool {
    let modes = stream.get("supported_sync_modes").and_then(Value::as_array);
    !modes.is_some_and(|modes| modes.iter().any(|mode| mode == "incremental"))
}

/// A configured catalog reading `stream` alone: incremental when it can, with the
/// source's default cursor and primary key, appended.
pub fn configured_catalog(stream: &Value) -> Value {
    let incremental = !full_refresh(stream);
    json!({"streams": [{
        "stream": stream,
        "sync_mode": if incremental { "incremental" } else { "full_refresh" },
        "cursor_field": stream.get("default_cursor_field").cloned().unwrap_or_else(|| json!([])),
        "destination_sync_mode": "append",
        "primary_key": stream.get("source_defined_primary_key").cloned().unwrap_or_else(|| json!([])),
    }]})
}

/// The primary key of an Airbyte stream: a list of field paths.
fn primary_key(stream: &Value) -> Vec<Vec<String>> {
    let Some(Value::Array(paths)) = stream.get("source_defined_primary_key") else { return Vec::new() };
    paths
        .iter()
        .filter_map(Value::as_array)
        .map(|path| path.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
        .filter(|path| !path.is_empty())
        .collect()
}

/// A stream's id: `namespace.name`, or `name` without a namespace.
fn stream_id(stream: &Value) -> Option<String> {
    let name = stream.get("name")?.as_str()?;
    Some(match stream.get("namespace").and_then(Value::as_str) {
        Some(namespace) => format!("{namespace}.{name}"),
        None => name.to_owned(),
    })
}

/// What one run of the source ended with besides its exit status.
#[derive(Debug, Default)]
struct Trace {
    error: Option<ConnectorError>,
}

impl AirbyteConfig {
    fn spawn(&self, args: Vec<OsString>, redactor: Redactor) -> Result<TapProcess, ConnectorError> {
        adapter::spawn(&self.source, &self.source_args, args, redactor)
    }

    /// Runs `source spec` and returns its `connectionSpecification`.
    fn specification(&self, out: &mut Emitter) -> Result<Value, ConnectorError> {
        let by_name = self.options.redactor(&json!({}), &self.source_config);
        let mut specification = None;
        self.run(vec!["spec".into()], by_name, out, |kind, message, _, _| {
            if kind == "SPEC" {
                specification = message.get("spec").and_then(|s| s.get("connectionSpecification")).cloned();
            }
            Ok(())
        })?;
        specification.ok_or_else(|| {
            ConnectorError::internal(format!(
                "`{} spec` printed no SPEC message with a connectionSpecification",
                self.source
            ))
        })
    }

    /// A redactor for `sourceConfig` (the fields `specification` marks `airbyte_secret`,
    /// and `secretKeys`), set on `out` too.
    fn redactor(&self, specification: &Value, out: &mut Emitter) -> Redactor {
        let redactor = self.options.redactor(&secrets::airbyte_write_only(specification), &self.source_config);
        out.set_redactor(redactor.clone());
        redactor
    }

    /// Where the values `specification` marks `airbyte_secret` are in the adapter's
    /// configuration, as a Stream's `configSecrets`.
    fn secret_pointers(&self, specification: &Value) -> Vec<String> {
        let within = secrets::write_only_pointers(&secrets::airbyte_write_only(specification), &self.source_config);
        within.iter().map(|at| format!("/sourceConfig{at}")).collect()
    }

    /// Runs the source with `args`, passing LOG messages on, turning a TRACE error into the
    /// run's error, and every other message to `handle` (its type, the message, the line,
    /// the emitter).
    fn run(
        &self,
        args: Vec<OsString>,
        redactor: Redactor,
        out: &mut Emitter,
        mut handle: impl FnMut(&str, Map<String, Value>, u64, &mut Emitter) -> Result<(), ConnectorError>,
    ) -> Result<(), ConnectorError> {
        let mut source = self.spawn(args, redactor.clone())?;
        let mut trace = Trace::default();
        let outcome = (|| -> Result<(), ConnectorError> {
            while let Some((line, text)) = source.next_line()? {
                let text = redactor.redact(text).into_owned();
                let (kind, message) =
                    adapter::parse_message(source.program(), "Airbyte", line, &text, &Redactor::default())?;
                match kind.as_str() {
                    "LOG" => {
                        let log = message.get("log");
                        let level = log.and_then(|l| l.get("level")).and_then(Value::as_str).unwrap_or("INFO");
                        let text = log.and_then(|l| l.get("message")).and_then(Value::as_str).unwrap_or_default();
                        out.log(log_level(level), text)?;
                    }
                    "TRACE" => trace.note(&message, out)?,
                    _ => handle(&kind, message, line, out)?,
                }
            }
            Ok(())
        })();
        if let Err(error) = outcome {
            let tail = source.stderr_tail();
            let _ = source.kill();
            return Err(adapter::with_tail(error, &tail));
        }
        let finished = source.finish();
        match (trace.error, finished) {
            (Some(error), _) => Err(error),
            (None, Err(error)) => Err(error.into()),
            (None, Ok(())) => Ok(()),
        }
    }
}

impl Trace {
    fn note(&mut self, message: &Map<String, Value>, out: &mut Emitter) -> Result<(), ConnectorError> {
        let Some(trace) = message.get("trace") else { return Ok(()) };
        match trace.get("type").and_then(Value::as_str) {
            Some("ERROR") if self.error.is_none() => {
                let error = trace.get("error");
                let text = error.and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("(no message)");
                let failure = error.and_then(|e| e.get("failure_type")).and_then(Value::as_str);
                if let Some(internal) = error.and_then(|e| e.get("internal_message")).and_then(Value::as_str) {
                    out.log(LogLevel::Debug, format!("the source's internal message: {internal}"))?;
                }
                self.error = Some(ConnectorError::new(error_kind(failure), format!("the source failed: {text}")));
            }
            Some("ESTIMATE") => {
                let estimate = trace.get("estimate");
                if let Some(total) = estimate.and_then(|e| e.get("row_estimate")).and_then(Value::as_u64) {
                    out.progress(&ProgressMessage::items(out.records_emitted(), Some(total)))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The Airbyte adapter.
#[derive(Debug, Default)]
pub struct Airbyte;

impl Airbyte {
    fn shaper(config: &AirbyteConfig, id: &str, stream: &Value) -> Shaper {
        let type_name = crate::record::type_name(&config.options.prefix(&config.source), id);
        Shaper::new("airbyte", &config.source, id, type_name, primary_key(stream))
    }
}

impl Connector for Airbyte {
    type Config = AirbyteConfig;

    fn spec(&self) -> Spec {
        let keys = adapter::TapKeys {
            program: ("source", "The Airbyte source: an executable on PATH (source-faker) or a path"),
            config: (
                "sourceConfig",
                "The source's own configuration, written to a private file passed as --config; the fields its spec \
                 marks airbyte_secret are secrets",
            ),
            args: ("sourceArgs", "Extra arguments before the command, for every run of the source"),
        };
        adapter::spec(
            "airbyte",
            keys,
            "Runs an Airbyte source executable: one stream per catalog stream, each declaring its record type",
        )
    }

    fn verify(&self, config: &AirbyteConfig, out: &mut Emitter) -> Result<Verification, ConnectorError> {
        let checked = (|| -> Result<Verification, ConnectorError> {
            let specification = config.specification(out)?;
            let redactor = config.redactor(&specification, out);
            let workdir = Workdir::new("connector-airbyte-")?;
            let path = workdir.write_json("config.json", &config.source_config)?;
            let mut status = None;
            config.run(
                vec!["check".into(), "--config".into(), path.into()],
                redactor,
                out,
                |kind, message, _, _| {
                    if kind == "CONNECTION_STATUS" {
                        status = message.get("connectionStatus").cloned();
                    }
                    Ok(())
                },
            )?;
            let status = status.ok_or_else(|| {
                ConnectorError::internal(format!("`{} check` printed no CONNECTION_STATUS", config.source))
            })?;
            if status.get("status").and_then(Value::as_str) == Some("SUCCEEDED") {
                return Ok(Verification::valid());
            }
            let message = status.get("message").and_then(Value::as_str).unwrap_or("the check failed (no message)");
            Ok(Verification::invalid(vec![message.to_owned()]))
        })();
        Ok(checked.unwrap_or_else(|error| Verification::invalid(vec![error.message])))
    }

    fn discover(&self, config: &AirbyteConfig, out: &mut Emitter) -> Result<(), ConnectorError> {
        let specification = config.specification(out)?;
        let redactor = config.redactor(&specification, out);
        let workdir = Workdir::new("connector-airbyte-")?;
        let path = workdir.write_json("config.json", &config.source_config)?;
        let mut streams = Vec::new();
        config.run(vec!["discover".into(), "--config".into(), path.into()], redactor, out, |kind, message, _, _| {
            if kind == "CATALOG" {
                let catalog = message.get("catalog").and_then(|c| c.get("streams")).and_then(Value::as_array);
                streams.extend(catalog.into_iter().flatten().cloned());
            }
            Ok(())
        })?;
        if streams.is_empty() {
            return Err(ConnectorError::config(format!("`{} discover` found no streams", config.source)));
        }
        // The runner knows the airbyte_secret fields only from here: `spec` has no source.
        let secret_pointers = config.secret_pointers(&specification);
        for stream in streams {
            let Some(id) = stream_id(&stream) else {
                return Err(ConnectorError::internal(format!("a catalog stream of `{}` has no name", config.source)));
            };
            let shaper = Airbyte::shaper(config, &id, &stream);
            let name = format!("{id} ({})", config.source.rsplit('/').next().unwrap_or(&config.source));
            let schema = stream.get("json_schema").cloned().unwrap_or_else(|| json!({}));
            let full_refresh = full_refresh(&stream);
            let mut extra = Map::new();
            extra.insert("airbyteStream".into(), stream);
            extra.insert("connectionSpecification".into(), specification.clone());
            let mut declared = config.options.stream(&shaper, &id, name, &schema, extra);
            declared.config_secrets = secret_pointers.clone();
            declared.full_refresh = full_refresh;
            out.stream(&declared)?;
        }
        Ok(())
    }

    fn sync(&self, config: &AirbyteConfig, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
        // The source's spec as discover saw it saves a run of `source spec` (a Python
        // start-up, seconds for some sources); a Stream without it gets a fresh one.
        let specification = match request.stream.extra.get("connectionSpecification") {
            Some(specification) => specification.clone(),
            None => config.specification(out)?,
        };
        let redactor = config.redactor(&specification, out);
        let stream = request.stream.extra.get("airbyteStream").ok_or_else(|| {
            ConnectorError::config(format!(
                "the Stream `{}` has no airbyteStream: sync a Stream that connector-airbyte's discover emitted",
                request.stream.id
            ))
        })?;
        let name = stream.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut writer = RecordWriter::new(Airbyte::shaper(config, &request.stream.id, stream), redactor.clone());

        let workdir = Workdir::new("connector-airbyte-")?;
        let source_config = config.options.with_cutoff(&config.source_config, request.earliest_data_cutoff);
        let mut args: Vec<OsString> = vec![
            "read".into(),
            "--config".into(),
            workdir.write_json("config.json", &source_config)?.into(),
            "--catalog".into(),
            workdir.write_json("catalog.json", &configured_catalog(stream))?.into(),
        ];
        if let Some(state) = &request.state {
            args.extend(["--state".into(), workdir.write_json("state.json", &state_file(state))?.into()]);
        }
        let mut states = 0u64;
        config.run(args, redactor, out, |kind, mut message, line, out| match kind {
            "RECORD" => {
                let Some(Value::Object(mut record)) = message.remove("record") else {
                    return Err(ConnectorError::internal(format!("line {line}: a RECORD without a \"record\" object")));
                };
                if record.get("stream").and_then(Value::as_str) != Some(name.as_str()) {
                    return Ok(());
                }
                let Some(Value::Object(data)) = record.remove("data") else {
                    return Err(ConnectorError::internal(format!("line {line}: a RECORD without a \"data\" object")));
                };
                let at = record.get("emitted_at").and_then(adapter::from_millis);
                writer.write(out, data, at.as_deref(), line)
            }
            "STATE" => {
                let Some(state) = message.get("state") else {
                    return Err(ConnectorError::internal(format!("line {line}: a STATE without a \"state\"")));
                };
                states += 1;
                Ok(out.state(state)?)
            }
            _ => Ok(()),
        })?;
        if states == 0 {
            out.state(request.state.as_ref().unwrap_or(&json!({})))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_failure_types_map_to_error_kinds() {
        assert_eq!(error_kind(Some("config_error")), ErrorKind::Config);
        assert_eq!(error_kind(Some("transient_error")), ErrorKind::Transient);
        assert_eq!(error_kind(Some("system_error")), ErrorKind::Internal);
        assert_eq!(error_kind(None), ErrorKind::Internal);
    }

    #[test]
    fn log_levels_map_to_ours() {
        let levels: Vec<LogLevel> = ["FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"].map(log_level).into();
        use LogLevel::*;
        assert_eq!(levels, [Error, Error, Warn, Info, Debug, Debug]);
    }

    #[test]
    fn states_go_back_as_the_state_file_airbyte_reads() {
        let stream =
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"n": 5}}});
        assert_eq!(state_file(&stream), json!([stream]));
        let global = json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": 1}, "stream_states": []}});
        assert_eq!(state_file(&global), json!([global]));
        assert_eq!(state_file(&json!({"data": {"users": {"cursor": 3}}})), json!({"users": {"cursor": 3}}));
        assert_eq!(state_file(&json!({"type": "LEGACY", "data": {"c": 1}})), json!({"c": 1}));
    }

    #[test]
    fn the_configured_catalog_reads_incrementally_when_the_source_can() {
        let stream = json!({"name": "users", "supported_sync_modes": ["full_refresh", "incremental"],
            "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]});
        let catalog = configured_catalog(&stream);
        assert_eq!(catalog["streams"][0]["sync_mode"], "incremental");
        assert_eq!(catalog["streams"][0]["cursor_field"], json!(["updated_at"]));
        assert_eq!(catalog["streams"][0]["primary_key"], json!([["id"]]));
        let full = configured_catalog(&json!({"name": "x", "supported_sync_modes": ["full_refresh"]}));
        assert_eq!(full["streams"][0]["sync_mode"], "full_refresh");
        assert!(!super::full_refresh(&stream) && super::full_refresh(&json!({"name": "x"})));
        assert_eq!(primary_key(&stream), vec![vec!["id".to_owned()]]);
        assert_eq!(stream_id(&json!({"name": "t", "namespace": "public"})).as_deref(), Some("public.t"));
    }
}
