//! `connector-singer`: a Singer tap as a connector.
//!
//! - `verify` runs the tap's discovery (`--config C --discover`): valid when it exits 0
//!   with a catalog, else invalid with the tap's error (the end of its stderr).
//! - `discover` emits one Stream per catalog stream, declaring its record type (the
//!   translated schema) in `recordSchemas` and keeping the catalog entry in
//!   `catalogEntry`, so `sync` selects exactly what was discovered.
//! - `sync` writes a catalog selecting that stream (and all its fields), runs
//!   `tap --config C --catalog K [--state S]` and translates: SCHEMA → compared with the
//!   discovered schema (a warning when it differs; records are still validated against the
//!   discovered declaration), RECORD → a record, STATE → a checkpoint whose state is the
//!   Singer state itself, BATCH → refused (an error saying how to turn it off),
//!   ACTIVATE_VERSION → ignored.

use std::ffi::OsString;

use connector_sdk::{Connector, ConnectorError, Emitter, LogLevel, Spec, SyncRequest, Verification};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::adapter::{self, Options, RecordWriter, Workdir};
use crate::child::TapProcess;
use crate::record::Shaper;
use crate::secrets;

/// The largest catalog read from a tap's discovery.
const MAX_CATALOG_BYTES: usize = 64 * 1024 * 1024;

/// The configuration of `connector-singer`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SingerConfig {
    /// The tap: an executable on PATH or a path.
    pub tap: String,
    /// The tap's own configuration (its `--config` file).
    #[serde(default = "adapter::empty_object")]
    pub tap_config: Value,
    /// Extra arguments for every run of the tap.
    #[serde(default)]
    pub tap_args: Vec<String>,
    /// The options every adapter takes.
    #[serde(flatten)]
    pub options: Options,
}

impl SingerConfig {
    fn redactor(&self) -> connector_sdk::Redactor {
        self.options.redactor(&tap_config_schema(), &self.tap_config)
    }

    /// Runs the tap with `args` after the configured `tapArgs`.
    fn spawn(&self, args: Vec<OsString>, redactor: connector_sdk::Redactor) -> Result<TapProcess, ConnectorError> {
        adapter::spawn(&self.tap, &self.tap_args, args, redactor)
    }

    /// Runs the tap's discovery and parses its catalog.
    fn catalog(&self, workdir: &Workdir, config: &Value, out: &Emitter) -> Result<Vec<Value>, ConnectorError> {
        let config_path = workdir.write_json("config.json", config)?;
        let mut tap = self.spawn(vec!["--config".into(), config_path.into(), "--discover".into()], self.redactor())?;
        let text = tap.read_document(MAX_CATALOG_BYTES)?;
        let tail = tap.stderr_tail();
        tap.finish()?;
        let catalog: Value = serde_json::from_str(&text).map_err(|e| {
            ConnectorError::internal(format!(
                "`{}` --discover did not print a catalog (JSON): {e}: {}{tail}",
                self.tap,
                out.redact(&connector_sdk::protocol::codec::snippet(&text, 120))
            ))
        })?;
        match catalog.get("streams") {
            Some(Value::Array(streams)) => Ok(streams.clone()),
            _ => Err(ConnectorError::internal(format!("the catalog of `{}` has no \"streams\" array", self.tap))),
        }
    }
}

/// The description of `tapConfig` in the spec.
const TAP_CONFIG: &str = "The tap's own configuration, written to a private file passed as --config. Keys named \
                          password, token, api_key and the like are secrets; name others in secretKeys.";

/// The schema of `tapConfig` in the spec: any object, the conventional secret keys `writeOnly`.
fn tap_config_schema() -> Value {
    secrets::conventional_schema(TAP_CONFIG)
}

/// The `metadata` entry of a catalog stream for `breadcrumb`.
fn metadata<'a>(entry: &'a Value, breadcrumb: &Value) -> Option<&'a Map<String, Value>> {
    entry
        .get("metadata")?
        .as_array()?
        .iter()
        .find(|m| m.get("breadcrumb") == Some(breadcrumb))?
        .get("metadata")?
        .as_object()
}

/// The key fields of a catalog stream: its metadata's `table-key-properties`, else
/// `key_properties`.
fn key_properties(entry: &Value) -> Vec<Vec<String>> {
    let from_metadata = metadata(entry, &json!([])).and_then(|m| m.get("table-key-properties"));
    let keys = from_metadata.or_else(|| entry.get("key_properties")).and_then(Value::as_array);
    keys.map(|keys| keys.iter().filter_map(Value::as_str).map(|key| vec![key.to_owned()]).collect()).unwrap_or_default()
}

/// Whether a catalog stream has no incremental mode: no replication key (its metadata's
/// `replication-key` or `valid-replication-keys`, else the entry's `replication_key`), or
/// `forced-replication-method: FULL_TABLE`.
pub fn full_refresh(entry: &Value) -> bool {
    let root = metadata(entry, &json!([]));
    let field = |name: &str| root.and_then(|m| m.get(name));
    if field("forced-replication-method").and_then(Value::as_str) == Some("FULL_TABLE") {
        return true;
    }
    let named = |value: Option<&Value>| match value {
        Some(Value::String(key)) => !key.is_empty(),
        Some(Value::Array(keys)) => !keys.is_empty(),
        _ => false,
    };
    !(named(field("replication-key")) || named(field("valid-replication-keys")) || named(entry.get("replication_key")))
}

/// The catalog entry's stream id: `tap_stream_id`, else `stream`.
fn stream_id(entry: &Value) -> Option<&str> {
    entry.get("tap_stream_id").or_else(|| entry.get("stream")).and_then(Value::as_str)
}

/// A catalog of `entry` alone, selected with every field.
pub fn selected_catalog(entry: &Value) -> Value {
    let mut entry = entry.clone();
    if let Some(map) = entry.as_object_mut() {
        map.insert("selected".into(), json!(true));
        let mut metadata = match map.remove("metadata") {
            Some(Value::Array(metadata)) => metadata,
            _ => Vec::new(),
        };
        if !metadata.iter().any(|m| m.get("breadcrumb") == Some(&json!([]))) {
            metadata.push(json!({"breadcrumb": [], "metadata": {}}));
        }
        let fields: Vec<String> = entry_fields(map);
        for field in fields {
            let breadcrumb = json!(["properties", field]);
            if !metadata.iter().any(|m| m.get("breadcrumb") == Some(&breadcrumb)) {
                metadata.push(json!({"breadcrumb": breadcrumb, "metadata": {}}));
            }
        }
        for item in &mut metadata {
            if let Some(Value::Object(inner)) = item.get_mut("metadata") {
                inner.insert("selected".into(), json!(true));
            }
        }
        map.insert("metadata".into(), Value::Array(metadata));
    }
    json!({"streams": [entry]})
}

fn entry_fields(entry: &Map<String, Value>) -> Vec<String> {
    let properties = entry.get("schema").and_then(|s| s.get("properties")).and_then(Value::as_object);
    properties.map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

/// The Singer adapter.
#[derive(Debug, Default)]
pub struct Singer;

impl Singer {
    fn shaper(config: &SingerConfig, stream: &str, key: Vec<Vec<String>>) -> Shaper {
        let type_name = crate::record::type_name(&config.options.prefix(&config.tap), stream);
        Shaper::new("singer", &config.tap, stream, type_name, key)
    }
}

impl Connector for Singer {
    type Config = SingerConfig;

    fn spec(&self) -> Spec {
        let keys = adapter::TapKeys {
            program: ("tap", "The Singer tap: an executable on PATH (tap-jsonl) or a path"),
            config: ("tapConfig", TAP_CONFIG),
            args: ("tapArgs", "Extra arguments for every run of the tap"),
        };
        adapter::spec(
            "singer",
            keys,
            "Runs a Singer tap: one stream per catalog stream, each declaring its record type from the tap's schema",
        )
    }

    fn verify(&self, config: &SingerConfig, out: &mut Emitter) -> Result<Verification, ConnectorError> {
        out.set_redactor(config.redactor());
        let workdir = Workdir::new("connector-singer-")?;
        match config.catalog(&workdir, &config.tap_config, out) {
            Ok(streams) if streams.is_empty() => {
                Ok(Verification::invalid(vec![format!("`{}` --discover found no streams", config.tap)]))
            }
            Ok(_) => Ok(Verification::valid()),
            Err(error) => Ok(Verification::invalid(vec![error.message])),
        }
    }

    fn discover(&self, config: &SingerConfig, out: &mut Emitter) -> Result<(), ConnectorError> {
        out.set_redactor(config.redactor());
        let workdir = Workdir::new("connector-singer-")?;
        let catalog = config.catalog(&workdir, &config.tap_config, out)?;
        if catalog.is_empty() {
            return Err(ConnectorError::config(format!("`{}` --discover found no streams", config.tap)));
        }
        for entry in catalog {
            let Some(id) = stream_id(&entry).map(str::to_owned) else {
                return Err(ConnectorError::internal(format!(
                    "a catalog stream of `{}` has no tap_stream_id",
                    config.tap
                )));
            };
            let keys = key_properties(&entry);
            let shaper = Singer::shaper(config, &id, keys.clone());
            let name = format!("{id} ({})", config.tap.rsplit('/').next().unwrap_or(&config.tap));
            let mut extra = Map::new();
            extra.insert("keyProperties".into(), json!(keys.iter().map(|k| k.join(".")).collect::<Vec<_>>()));
            extra.insert("catalogEntry".into(), entry.clone());
            let schema = entry.get("schema").cloned().unwrap_or_else(|| json!({}));
            let mut declared = config.options.stream(&shaper, &id, name, &schema, extra);
            declared.full_refresh = full_refresh(&entry);
            out.stream(&declared)?;
        }
        Ok(())
    }

    fn sync(&self, config: &SingerConfig, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
        let redactor = config.redactor();
        out.set_redactor(redactor.clone());
        let stream = &request.stream;
        let entry = stream.extra.get("catalogEntry").ok_or_else(|| {
            ConnectorError::config(format!(
                "the Stream `{}` has no catalogEntry: sync a Stream that connector-singer's discover emitted",
                stream.id
            ))
        })?;
        let shaper = Singer::shaper(config, &stream.id, key_properties(entry));
        let discovered_schema = entry.get("schema").cloned().unwrap_or(Value::Null);

        let workdir = Workdir::new("connector-singer-")?;
        let tap_config = config.options.with_cutoff(&config.tap_config, request.earliest_data_cutoff);
        let mut args: Vec<OsString> = vec![
            "--config".into(),
            workdir.write_json("config.json", &tap_config)?.into(),
            "--catalog".into(),
            workdir.write_json("catalog.json", &selected_catalog(entry))?.into(),
        ];
        if let Some(state) = &request.state {
            args.extend(["--state".into(), workdir.write_json("state.json", state)?.into()]);
        }
        let mut tap = config.spawn(args, redactor.clone())?;
        let mut writer = RecordWriter::new(shaper, redactor.clone());
        let names = [stream.id.clone(), stream_name(entry, &stream.id)];
        let mut translated = Translation { names, states: 0, warned: false, skipped: 0 };
        loop {
            let (line, text) = match tap.next_line() {
                Ok(Some((line, text))) => (line, text.to_owned()),
                Ok(None) => break,
                Err(error) => {
                    let _ = tap.kill();
                    return Err(error.into());
                }
            };
            if let Err(error) = translated.message(&mut tap, line, &text, &discovered_schema, &mut writer, out) {
                let tail = tap.stderr_tail();
                let _ = tap.kill();
                return Err(adapter::with_tail(error, &tail));
            }
        }
        tap.finish()?;
        if translated.skipped > 0 {
            out.log(LogLevel::Debug, format!("skipped {} records of other streams", translated.skipped))?;
        }
        if translated.states == 0 {
            // A tap that keeps no state: the checkpoint says the stream is complete.
            out.state(request.state.as_ref().unwrap_or(&json!({})))?;
        }
        Ok(())
    }
}

/// The `stream` name a tap's messages carry for a catalog entry.
fn stream_name(entry: &Value, id: &str) -> String {
    entry.get("stream").and_then(Value::as_str).unwrap_or(id).to_owned()
}

/// The state of one sync's translation.
struct Translation {
    /// The stream's `tap_stream_id` and `stream`: a tap's messages name it by either.
    names: [String; 2],
    states: u64,
    warned: bool,
    skipped: u64,
}

impl Translation {
    fn message(
        &mut self,
        tap: &mut TapProcess,
        line: u64,
        text: &str,
        discovered_schema: &Value,
        writer: &mut RecordWriter,
        out: &mut Emitter,
    ) -> Result<(), ConnectorError> {
        let redactor = connector_sdk::Redactor::default();
        let (kind, mut message) = adapter::parse_message(tap.program(), "Singer", line, &out.redact(text), &redactor)?;
        let named = message.get("stream").and_then(Value::as_str);
        let ours = named.is_some_and(|named| self.names.iter().any(|name| name == named));
        match kind.as_str() {
            "RECORD" if ours => {
                let Some(Value::Object(data)) = message.remove("record") else {
                    return Err(bad(tap, line, text, out, "a RECORD without a \"record\" object"));
                };
                let at = message.get("time_extracted").and_then(Value::as_str).and_then(adapter::rfc3339);
                writer.write(out, data, at.as_deref(), line)
            }
            "RECORD" => {
                self.skipped += 1;
                Ok(())
            }
            "SCHEMA" if ours => {
                if !self.warned && message.get("schema") != Some(discovered_schema) {
                    self.warned = true;
                    out.log(
                        LogLevel::Warn,
                        format!(
                            "`{}` sent a SCHEMA for stream `{}` (line {line}) that differs from the one discovered; \
                             records are validated against the discovered one: run discover again to pick up the change",
                            tap.program(),
                            self.names[0]
                        ),
                    )?;
                }
                Ok(())
            }
            "STATE" => {
                let Some(value) = message.get("value") else {
                    return Err(bad(tap, line, text, out, "a STATE without a \"value\""));
                };
                self.states += 1;
                Ok(out.state(value)?)
            }
            "BATCH" => Err(ConnectorError::config(format!(
                "`{}` sent a BATCH message (line {line}): connector-singer reads records from RECORD messages only; turn \
                 batch messages off in the tap's configuration (Meltano SDK taps: remove `batch_config`)",
                tap.program()
            ))),
            _ => Ok(()),
        }
    }
}

fn bad(tap: &TapProcess, line: u64, text: &str, out: &Emitter, reason: &str) -> ConnectorError {
    crate::child::TapError::bad_line(tap.program(), "Singer", line, &out.redact(text), reason).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_without_a_replication_key_or_forced_full_table_is_full_refresh() {
        let with_key =
            |metadata: Value| json!({"tap_stream_id": "s", "metadata": [{"breadcrumb": [], "metadata": metadata}]});
        assert!(full_refresh(&json!({"tap_stream_id": "s"})), "no key at all");
        assert!(!full_refresh(&with_key(json!({"replication-key": "updated_at"}))));
        assert!(!full_refresh(&with_key(json!({"valid-replication-keys": ["updated_at"]}))));
        assert!(!full_refresh(&json!({"tap_stream_id": "s", "replication_key": "updated_at"})), "the legacy field");
        let forced = with_key(json!({"replication-key": "updated_at", "forced-replication-method": "FULL_TABLE"}));
        assert!(full_refresh(&forced), "FULL_TABLE wins over a key");
        assert!(full_refresh(&with_key(json!({"valid-replication-keys": []}))));
    }

    #[test]
    fn the_selected_catalog_selects_the_stream_and_every_field() {
        let entry = json!({"tap_stream_id": "orders", "stream": "orders",
            "schema": {"properties": {"id": {}, "name": {}}},
            "metadata": [{"breadcrumb": [], "metadata": {"table-key-properties": ["id"], "selected": false}},
                         {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}}]});
        let catalog = selected_catalog(&entry);
        let selected = &catalog["streams"][0];
        assert_eq!(selected["selected"], true);
        for breadcrumb in [json!([]), json!(["properties", "id"]), json!(["properties", "name"])] {
            assert_eq!(metadata(selected, &breadcrumb).unwrap()["selected"], true, "{breadcrumb}");
        }
        assert_eq!(key_properties(&entry), vec![vec!["id".to_owned()]]);
        assert_eq!(key_properties(&json!({"key_properties": ["a", "b"]})).len(), 2);
        assert!(key_properties(&json!({})).is_empty());
    }

    #[test]
    fn every_key_of_the_configuration_is_read() {
        let config: SingerConfig = serde_json::from_value(json!({"tap": "tap-x", "tapConfig": {"a": 1},
            "tapArgs": ["--quiet"], "secretKeys": ["a"], "typePrefix": "Acme", "formats": "ignore", "cutoffField": "start_date"}))
        .unwrap();
        assert_eq!((config.tap.as_str(), config.tap_args.as_slice()), ("tap-x", ["--quiet".to_owned()].as_slice()));
        assert_eq!(config.options.formats, crate::schema::Formats::Ignore);
        assert_eq!(config.options.prefix(&config.tap), "Acme");
        assert_eq!(config.options.cutoff_field.as_deref(), Some("start_date"));
        let defaults: SingerConfig = serde_json::from_value(json!({"tap": "/opt/tap-x"})).unwrap();
        assert_eq!(defaults.tap_config, json!({}));
        assert_eq!(
            defaults.options.formats,
            crate::schema::Formats::Report,
            "issue 31: a third party's formats are reported by default"
        );
        assert_eq!(defaults.options.prefix(&defaults.tap), "X");
    }

    #[test]
    fn the_spec_marks_conventional_secret_keys_write_only_and_compiles() {
        let spec = Singer.spec();
        assert_eq!(spec.config_schema["properties"]["tapConfig"]["properties"]["password"]["writeOnly"], true);
        assert_eq!(spec.config_schema["required"], json!(["tap"]));
        assert!(spec.record_types.is_empty());
    }
}
