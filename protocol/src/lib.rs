//! Protocol version 1 of the connector toolkit: the wire contract.
//!
//! - [`message`]: the messages in both directions, and their fast decoder.
//! - [`codec`]: bounded, numbered JSON-lines reading and writing.
//! - [`registry`]: the shared JSON Schemas, embedded and compiled once.
//! - [`tape`]: a flat, borrowed view of a JSON text that the validator reads fast.
//! - [`secrets`]: finding `writeOnly` configuration values and masking them.
//! - [`cutoff`]: the dates users write for the earliest-data cutoff.
//!
//! PROTOCOL.md at the repository root is the normative specification; this crate is
//! its Rust implementation. The crate does no process, network or storage work, and has no
//! command line: the Rust connector SDK built on it is the `connector-sdk` crate.

pub mod codec;
pub mod cutoff;
pub mod message;
pub mod registry;
pub mod secrets;
pub mod tape;

pub use codec::{CodecError, Frame, Framer, Line, LineReader, DEFAULT_MAX_LINE_BYTES};
pub use cutoff::{format_instant, parse_cutoff, CutoffError};
pub use message::*;
pub use registry::{
    DeclaredSchemaError, FormatViolation, RecordCheck, RecordError, SchemaRegistry, TapeVerdict, Violation,
};
pub use secrets::Redactor;
