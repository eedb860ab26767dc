//! What the Singer and Airbyte adapters share: the options every adapter takes, the
//! private directory for the files a tap reads (configuration, catalog, state), the
//! redactor, and writing a translated record.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use connector_sdk::protocol::format_instant;
use connector_sdk::{ConnectorError, Emitter, Redactor, Spec, Stream};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::child::{TapError, TapProcess};
use crate::record::{self, Shaper};
use crate::schema::{self, Formats};
use crate::secrets;

/// The options both adapters take besides the tap and its configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// Before each stream's name in its type name; default: from the tap's name.
    #[serde(default)]
    pub type_prefix: Option<String>,
    /// Keep or drop the `format`s of the tap's schemas.
    #[serde(default)]
    pub formats: Formats,
    /// Keys of the tap's configuration whose values are secret.
    #[serde(default)]
    pub secret_keys: Vec<String>,
    /// A field of the tap's configuration to set to the sync's cutoff (RFC 3339), unless set.
    #[serde(default)]
    pub cutoff_field: Option<String>,
}

impl Options {
    /// The JSON Schema properties of the options, for the adapters' `config_schema`.
    pub fn schema_properties() -> Map<String, Value> {
        let properties = json!({
            "typePrefix": {"type": "string", "pattern": "^([A-Z][A-Za-z0-9]*)?$",
                "description": "Put before each stream's name (PascalCase) to make its record type; default: the tap's name without tap-/source-, e.g. Jsonl"},
            "formats": {"enum": ["report", "enforce", "ignore"],
                "description": "report (default): a record that breaks only a format of the tap's schemas (date-time is RFC 3339) is stored and the drift reported; enforce: such a record is invalid; ignore: drop the formats"},
            // `secretKeyNames`: the runner masks the values so named too (PROTOCOL.md §9).
            "secretKeys": {"type": "array", "items": {"type": "string", "minLength": 1}, "secretKeyNames": true,
                "description": "Keys of the tap's configuration whose values are secrets, masked everywhere"},
            "cutoffField": {"type": "string", "minLength": 1,
                "description": "A key of the tap's configuration set to the sync's cutoff (RFC 3339) unless given, e.g. start_date"},
        });
        match properties {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The type prefix for `tap`.
    pub fn prefix(&self, tap: &str) -> String {
        self.type_prefix.clone().unwrap_or_else(|| record::default_prefix(tap))
    }

    /// A redactor for the tap's configuration: the values under `secretKeys`, plus those
    /// `schema` (the tap configuration's schema) marks `writeOnly`.
    pub fn redactor(&self, schema: &Value, tap_config: &Value) -> Redactor {
        let mut values = secrets::named_values(tap_config, &self.secret_keys);
        values.extend(secrets::write_only_values(schema, tap_config));
        Redactor::new(values)
    }

    /// `tap_config`, with the cutoff set under `cutoffField` when that is asked and unset.
    pub fn with_cutoff(&self, tap_config: &Value, cutoff: DateTime<Utc>) -> Value {
        let mut config = tap_config.clone();
        if let (Some(key), Value::Object(map)) = (&self.cutoff_field, &mut config) {
            map.entry(key.clone()).or_insert_with(|| Value::String(format_instant(cutoff)));
        }
        config
    }

    /// The Stream of a tap stream: `id`, a name for people, its record type declared with
    /// the translated schema, and `extra` fields the adapter reads back at sync.
    pub fn stream(
        &self,
        shaper: &Shaper,
        id: &str,
        name: String,
        source_schema: &Value,
        extra: Map<String, Value>,
    ) -> Stream {
        let declared = schema::declared_schema(source_schema, shaper.type_name(), self.formats);
        let mut stream = Stream::new(id, shaper.stream_uri(), name).declaring(shaper.type_name(), declared);
        // The schema is the tap's, translated: the runner must know whose formats they are.
        stream.record_formats = self.formats.on_stream();
        stream.extra = extra;
        stream
    }
}

/// How an adapter's configuration names the tap, its configuration and its arguments, for
/// its `config_schema`: (key, description) each.
#[derive(Debug, Clone, Copy)]
pub struct TapKeys {
    /// `tap` / `source`.
    pub program: (&'static str, &'static str),
    /// `tapConfig` / `sourceConfig`.
    pub config: (&'static str, &'static str),
    /// `tapArgs` / `sourceArgs`.
    pub args: (&'static str, &'static str),
}

/// The spec of an adapter named `name`: its configuration is the tap, the tap's
/// configuration (any object, the conventional secret keys `writeOnly`), its arguments and
/// the [`Options`]. It declares no record type: those come with each Stream.
pub fn spec(name: &str, keys: TapKeys, description: &str) -> Spec {
    let mut properties = Map::new();
    properties.insert(keys.program.0.into(), json!({"type": "string", "minLength": 1, "description": keys.program.1}));
    properties.insert(keys.config.0.into(), secrets::conventional_schema(keys.config.1));
    properties
        .insert(keys.args.0.into(), json!({"type": "array", "items": {"type": "string"}, "description": keys.args.1}));
    properties.extend(Options::schema_properties());
    let schema = json!({"type": "object", "required": [keys.program.0], "additionalProperties": false, "properties": properties});
    let mut spec = connector_sdk::spec(name, env!("CARGO_PKG_VERSION"), schema, Vec::<String>::new());
    spec.description = Some(description.to_owned());
    spec
}

/// The default of a tap's configuration: an empty object.
pub fn empty_object() -> Value {
    json!({})
}

/// Starts `program` with the configured `configured` arguments, then `args`.
///
/// # Errors
/// A configuration error when it cannot be started.
pub fn spawn(
    program: &str,
    configured: &[String],
    args: Vec<OsString>,
    redactor: Redactor,
) -> Result<TapProcess, ConnectorError> {
    let mut all: Vec<OsString> = configured.iter().map(OsString::from).collect();
    all.extend(args);
    Ok(TapProcess::spawn(program, &all, redactor)?)
}

/// A private directory (mode 0700) for the files a tap reads, removed when dropped.
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A new one under the system's temporary directory.
    ///
    /// # Errors
    /// When it cannot be created.
    pub fn new(prefix: &str) -> Result<Workdir, ConnectorError> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(|e| ConnectorError::internal(format!("cannot create a temporary directory for the tap: {e}")))?;
        Ok(Workdir { dir })
    }

    /// Writes `value` as JSON to `name` (mode 0600: it may hold secrets) and returns its path.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write_json(&self, name: &str, value: &Value) -> Result<PathBuf, ConnectorError> {
        let path = self.dir.path().join(name);
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
            file.write_all(value.to_string().as_bytes())?;
            file.sync_all()
        };
        write().map_err(|e| ConnectorError::internal(format!("cannot write the tap's {name}: {e}")))?;
        Ok(path)
    }
}

impl From<TapError> for ConnectorError {
    fn from(error: TapError) -> Self {
        match error {
            TapError::Spawn { .. } => ConnectorError::config(error.to_string()),
            other => ConnectorError::internal(other.to_string()),
        }
    }
}

/// `error` with the end of the tap's stderr appended, unless it is our stdout closing
/// (then there is nobody to tell).
pub fn with_tail(error: ConnectorError, tail: &str) -> ConnectorError {
    if error.is_stdout_closed() || tail.is_empty() {
        return error;
    }
    ConnectorError::new(error.kind, format!("{}{tail}", error.message))
}

/// Line `line` of the tap's output as a JSON object with a string `type`.
///
/// # Errors
/// [`TapError::BadLine`] naming the line and quoting its start, masked.
pub fn parse_message(
    program: &str,
    protocol: &'static str,
    line: u64,
    text: &str,
    redactor: &Redactor,
) -> Result<(String, Map<String, Value>), TapError> {
    let bad = |reason: &str| TapError::bad_line(program, protocol, line, &redactor.redact(text), reason);
    let value: Value = serde_json::from_str(text).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let Value::Object(map) = value else { return Err(bad("not a JSON object")) };
    match map.get("type").and_then(Value::as_str) {
        Some(kind) => Ok((kind.to_owned(), map)),
        None => Err(bad("no string \"type\"")),
    }
}

/// Writes translated records: shaped by a [`Shaper`], masked, counted.
#[derive(Debug)]
pub struct RecordWriter {
    shaper: Shaper,
    redactor: Redactor,
    line: String,
}

impl RecordWriter {
    /// A writer for one stream's records.
    pub fn new(shaper: Shaper, redactor: Redactor) -> Self {
        RecordWriter { shaper, redactor, line: String::with_capacity(1024) }
    }

    /// Emits `data` (the tap's record) as one of ours, with `extracted_at` when the tap
    /// said when it read it.
    ///
    /// # Errors
    /// A record without its key (naming the tap's line), or a write error.
    pub fn write(
        &mut self,
        out: &mut Emitter,
        data: Map<String, Value>,
        extracted_at: Option<&str>,
        line: u64,
    ) -> Result<(), ConnectorError> {
        let shaped = self.shaper.shape(data).map_err(|e| {
            ConnectorError::internal(format!(
                "line {line} of the tap's output, a {} record: {e}",
                self.shaper.type_name()
            ))
        })?;
        let record = Value::Object(shaped).to_string();
        self.line.clear();
        self.line.push_str("{\"type\":\"record\",\"record\":");
        self.line.push_str(&record);
        if let Some(at) = extracted_at {
            self.line.push_str(",\"extracted_at\":");
            self.line.push_str(&Value::String(at.to_owned()).to_string());
        }
        self.line.push_str("}\n");
        match self.redactor.redact(&self.line) {
            Cow::Borrowed(line) => out.record_line(line.as_bytes())?,
            Cow::Owned(line) => out.record_line(line.as_bytes())?,
        }
        Ok(())
    }
}

/// A timestamp as RFC 3339 UTC if it parses as one (Singer's `time_extracted`), else
/// `None` (the runner then uses the time it read the record).
pub fn rfc3339(text: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| format_instant(at.with_timezone(&Utc)))
}

/// Milliseconds since the epoch (Airbyte's `emitted_at`) as RFC 3339 UTC.
pub fn from_millis(millis: &Value) -> Option<String> {
    let millis = millis.as_f64()?;
    DateTime::<Utc>::from_timestamp_millis(millis as i64).map(format_instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_lines_are_refused_with_their_number_and_start_masked() {
        let redactor = Redactor::new(["hunter22".to_owned()]);
        let error = parse_message("tap-x", "Singer", 7, "Traceback: hunter22 is wrong", &redactor).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("`tap-x` wrote something that is not a Singer message on line 7: not JSON"), "{text}");
        assert!(text.ends_with(": Traceback: *** is wrong"), "{text}");
        let error = parse_message("tap-x", "Singer", 8, "[1]", &redactor).unwrap_err();
        assert!(error.to_string().contains("line 8: not a JSON object: [1]"), "{error}");
        let error = parse_message("tap-x", "Singer", 9, r#"{"type": 1}"#, &redactor).unwrap_err();
        assert!(error.to_string().contains("no string \"type\""), "{error}");
        let (kind, _) = parse_message("tap-x", "Singer", 9, r#"{"type": "STATE"}"#, &redactor).unwrap();
        assert_eq!(kind, "STATE");
    }

    #[test]
    fn records_are_shaped_masked_and_carry_the_extraction_time() {
        let shaper = Shaper::new("singer", "tap-x", "users", "XUsers".into(), vec![vec!["id".into()]]);
        let mut writer = RecordWriter::new(shaper, Redactor::new(["hunter22".to_owned()]));
        let (mut out, captured) = Emitter::in_memory();
        let data = json!({"id": 1, "note": "pw hunter22"}).as_object().cloned().unwrap();
        writer.write(&mut out, data, rfc3339("2024-01-01T10:00:00.123+02:00").as_deref(), 3).unwrap();
        let missing = json!({"name": "x"}).as_object().cloned().unwrap();
        let error = writer.write(&mut out, missing, None, 4).unwrap_err();
        assert!(
            error
                .message
                .starts_with("line 4 of the tap's output, a XUsers record: record has no value for key field `id`"),
            "{error}"
        );
        out.flush().unwrap();
        let messages = captured.messages().unwrap();
        assert_eq!(
            messages,
            [json!({"type": "record", "extracted_at": "2024-01-01T08:00:00.123Z",
                "record": {"_type": "XUsers", "id": "1", "self": "singer://tap-x/users/1", "_source_id": 1, "note": "pw ***"}})]
        );
    }

    #[test]
    fn the_cutoff_goes_under_the_cutoff_field_unless_set() {
        let options = Options { cutoff_field: Some("start_date".into()), ..Options::default() };
        let cutoff = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(options.with_cutoff(&json!({}), cutoff), json!({"start_date": "2024-01-01T00:00:00Z"}));
        assert_eq!(options.with_cutoff(&json!({"start_date": "x"}), cutoff), json!({"start_date": "x"}));
        assert_eq!(Options::default().with_cutoff(&json!({"a": 1}), cutoff), json!({"a": 1}));
        assert_eq!(from_millis(&json!(1700000000000.5)).as_deref(), Some("2023-11-14T22:13:20Z"));
    }
}
