//! The Rust connector SDK of the connector toolkit: implement [`Connector`], call [`run`]
//! from `main`.
//!
//! The SDK owns everything that is the same for every connector: parsing the command
//! line, reading the configuration (from stdin when the runner calls, from `--config`
//! when a human does), checking it against the connector's `config_schema` (so a missing
//! field is an answer from `verify`, not a crash), writing messages, turning errors into
//! `error` messages and exit codes. A connector only says what is specific to its source.
//!
//! # One dependency
//!
//! A connector depends on this crate alone. The wire contract it is built on, the
//! [`protocol`] crate, is re-exported whole as [`connector_sdk::protocol`](protocol), and
//! the message types that appear in the SDK's own signatures ([`Spec`], [`Stream`],
//! [`Verification`], [`ErrorKind`], [`LogLevel`], [`ProgressMessage`], [`Redactor`]) are re-exported at the root
//! as well, so the common imports are one line. Everything else of the contract (cutoff
//! dates, the schema registry a connector's tests check records with) is reached through
//! `connector_sdk::protocol`, which is the same crate the runner uses, not a copy.
//!
//! ```no_run
//! use connector_sdk::protocol::format_instant;
//! use connector_sdk::{Connector, ConnectorError, Emitter, LogLevel, Spec, Stream, SyncRequest, Verification};
//!
//! struct Hello;
//!
//! impl Connector for Hello {
//!     type Config = serde_json::Value;
//!     fn spec(&self) -> Spec {
//!         connector_sdk::spec("hello", env!("CARGO_PKG_VERSION"), serde_json::json!({"type": "object"}), ["Team"])
//!     }
//!     fn verify(&self, _: &Self::Config, _: &mut Emitter) -> Result<Verification, ConnectorError> {
//!         Ok(Verification::valid())
//!     }
//!     fn discover(&self, _: &Self::Config, out: &mut Emitter) -> Result<(), ConnectorError> {
//!         Ok(out.stream(&Stream::new("all", "https://example.com", "Everything"))?)
//!     }
//!     fn sync(&self, _: &Self::Config, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
//!         out.log(LogLevel::Info, format!("syncing back to {}", format_instant(request.earliest_data_cutoff)))?;
//!         out.record(&serde_json::json!({"_type": "Team", "id": "T1", "self": "https://example.com/T1", "name": "Ops"}))?;
//!         Ok(out.state(&serde_json::json!({"done": true}))?)
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     connector_sdk::run(Hello)
//! }
//! ```
//!
//! # A record type of your own
//!
//! When no shared schema fits what a source has, declare a type in the spec: a JSON Schema
//! under its `_type` in [`Spec::record_schemas`] ([`record_schema`] writes the part every
//! record shares). The runner validates its records like shared ones, and refuses a
//! declaration that redefines a shared type, does not compile, or does not require `_type`
//! and `id`.
//!
//! ```
//! let mut spec = connector_sdk::spec("acme", "0.1.0", serde_json::json!({"type": "object"}), ["AcmeWidget"]);
//! let properties = serde_json::json!({"sprockets": {"type": "integer", "minimum": 0}});
//! spec.record_schemas.insert("AcmeWidget".into(), connector_sdk::record_schema("AcmeWidget", properties, &["sprockets"]));
//! let registry = connector_sdk::protocol::SchemaRegistry::global().with_declared(&spec.record_schemas).unwrap();
//! let widget = r#"{"_type":"AcmeWidget","id":"w1","self":"https://acme.test/w1","sprockets":3}"#;
//! assert_eq!(registry.validate_record_json(widget).verdict, Ok(()));
//! ```
//!
//! When the types depend on the configuration (an adapter learns them from the source it
//! wraps), declare them at `discover` instead, on the Stream:
//! `Stream::new(..).declaring("AcmeWidget", schema)` (PROTOCOL.md, "Declared record types").
//!
//! Modules: `cli` (the command line and the dispatch to [`Connector`]), `config`
//! (checking a configuration against `config_schema`), `emitter` ([`Emitter`]); with the
//! cargo feature `http`, `http`: retries, pacing by `ratelimit-*` headers and a request
//! pool for connectors of JSON REST APIs.

#![warn(missing_docs)]

mod cli;
mod config;
mod emitter;
#[cfg(feature = "http")]
pub mod http;

use std::collections::BTreeMap;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use cli::run;
pub use emitter::{Captured, Emitter};
pub use protocol;
pub use protocol::{ErrorKind, LogLevel, ProgressMessage, Redactor, Spec, Stream, Verification};

use protocol::PROTOCOL_VERSION;

/// Exit status of a successful command.
pub const EXIT_OK: u8 = 0;
/// Exit status after an `error` message.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for a bad command line.
pub const EXIT_USAGE: u8 = 2;

/// A source of records. The SDK calls one method per command.
pub trait Connector {
    /// The configuration, deserialised after it passed `config_schema`.
    type Config: DeserializeOwned;

    /// Who the connector is and what configuration it takes.
    fn spec(&self) -> Spec;

    /// Checks a configuration against the source (credentials, reachability).
    /// Problems the schema already catches never reach this method.
    ///
    /// # Errors
    /// Only for failures that are not an answer about the configuration (bugs).
    fn verify(&self, config: &Self::Config, out: &mut Emitter) -> Result<Verification, ConnectorError>;

    /// Emits at least one Stream with [`Emitter::stream`].
    ///
    /// # Errors
    /// Why the streams could not be listed.
    fn discover(&self, config: &Self::Config, out: &mut Emitter) -> Result<(), ConnectorError>;

    /// Emits the stream's records, newest first, back to the cutoff, with a `state`
    /// checkpoint after each durable unit of progress.
    ///
    /// # Errors
    /// Why the sync could not finish; records and states already emitted stand.
    fn sync(&self, config: &Self::Config, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError>;
}

/// What `sync` is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRequest {
    /// The stream to sync.
    pub stream: Stream,
    /// Emit nothing older than this.
    pub earliest_data_cutoff: DateTime<Utc>,
    /// The last checkpoint, or `None` on a first sync.
    pub state: Option<Value>,
}

/// A fatal connector error: becomes an `error` message and exit status 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({kind})")]
pub struct ConnectorError {
    /// The kind, for orchestrators.
    pub kind: ErrorKind,
    /// What went wrong, for humans.
    pub message: String,
    /// Whether it is our stdout's reader going away (the runner stopped reading, or a
    /// person piped the output into `head`): then there is nobody to tell, and the
    /// connector stops quietly with exit status 0.
    stdout_closed: bool,
}

impl ConnectorError {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConnectorError { kind, message: message.into(), stdout_closed: false }
    }

    /// The configuration is unusable.
    pub fn config(message: impl Into<String>) -> Self {
        ConnectorError::new(ErrorKind::Config, message)
    }

    /// The source refused the credentials.
    pub fn auth(message: impl Into<String>) -> Self {
        ConnectorError::new(ErrorKind::Auth, message)
    }

    /// A failure that may pass.
    pub fn transient(message: impl Into<String>) -> Self {
        ConnectorError::new(ErrorKind::Transient, message)
    }

    /// A bug or an unexpected answer.
    pub fn internal(message: impl Into<String>) -> Self {
        ConnectorError::new(ErrorKind::Internal, message)
    }
}

impl ConnectorError {
    /// Whether our stdout's reader went away (see the field's docs).
    pub fn is_stdout_closed(&self) -> bool {
        self.stdout_closed
    }
}

/// Writing to stdout failed: the runner is gone or the pipe broke.
impl From<std::io::Error> for ConnectorError {
    fn from(error: std::io::Error) -> Self {
        let stdout_closed = error.kind() == std::io::ErrorKind::BrokenPipe;
        ConnectorError { stdout_closed, ..ConnectorError::internal(format!("cannot write to stdout: {error}")) }
    }
}

/// A [`Spec`] for this protocol version.
pub fn spec<I, S>(name: &str, version: &str, config_schema: Value, record_types: I) -> Spec
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Spec {
        protocol: PROTOCOL_VERSION,
        name: name.to_owned(),
        version: version.to_owned(),
        config_schema,
        record_types: record_types.into_iter().map(Into::into).collect(),
        record_schemas: BTreeMap::new(),
        description: None,
    }
}

/// A JSON Schema for a record type of your own (see the crate docs): `properties` (a JSON
/// object of field schemas) and the `required` fields, plus what every record has: `_type`
/// fixed to `type_name`, a string `id` and a `self` URL, all three required.
pub fn record_schema(type_name: &str, properties: Value, required: &[&str]) -> Value {
    const EVERY_RECORD: [&str; 3] = ["_type", "id", "self"];
    let mut fields = serde_json::json!({
        "_type": {"const": type_name},
        "id": {"type": "string", "minLength": 1},
        "self": {"type": "string", "format": "uri"},
    });
    if let (Some(fields), Value::Object(given)) = (fields.as_object_mut(), properties) {
        fields.extend(given);
    }
    let required: Vec<&str> =
        EVERY_RECORD.iter().chain(required.iter().filter(|name| !EVERY_RECORD.contains(name))).copied().collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": type_name,
        "type": "object",
        "required": required,
        "properties": fields,
    })
}

/// Convenience: an [`ExitCode`] from one of the `EXIT_*` constants.
fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_schema_requires_what_every_record_has_and_the_fields_given() {
        let schema =
            record_schema("AcmeWidget", serde_json::json!({"sprockets": {"type": "integer"}}), &["sprockets", "id"]);
        assert_eq!(schema["required"], serde_json::json!(["_type", "id", "self", "sprockets"]));
        assert_eq!(schema["properties"]["_type"], serde_json::json!({"const": "AcmeWidget"}));
        assert_eq!(schema["properties"]["sprockets"], serde_json::json!({"type": "integer"}));
    }

    #[test]
    fn a_connector_error_reads_message_then_kind() {
        let error = ConnectorError::auth("the token was refused");
        assert_eq!(error.to_string(), "the token was refused (auth)");
        let io = ConnectorError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(io.kind, ErrorKind::Internal);
        assert!(io.message.starts_with("cannot write to stdout: "), "{io}");
        assert!(io.is_stdout_closed() && !error.is_stdout_closed());
        let full = ConnectorError::from(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(!full.is_stdout_closed());
    }
}
