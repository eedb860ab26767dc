//! The `runner`: spawns connectors, validates their records against the shared schemas,
//! stores records and checkpoints durably, and reports progress and errors.
//!
//! `main.rs` only parses arguments and calls [`app::run`]; everything else is here so
//! tests, the conformance kit and the demo can use the modules directly.
//!
//! - [`cli`]: the command line as typed; [`resolve`]: from arguments to checked inputs.
//! - [`supervisor`]: the only place connectors are spawned (timeouts, signals, stderr);
//!   the demo's simulator, a service rather than a connector, is the one other child.
//! - [`connector`]: spec, verify and discover, and errors naming connector and command.
//! - [`validate`]: per-record schema validation on the stdout thread.
//! - [`sync`]: one connection's streams, the store loop, the run history.
//! - [`destination`]: SQLite, JSON lines, stdout, `--state FILE`.
//! - [`connections`]: the `sync-all` TOML file; [`jobs`]: bounded parallelism.
//! - [`console`]: logs and progress; [`report`]: summaries; [`exit`]: exit codes;
//!   [`human`]: durations and colours for people.
//! - [`kit`]: `runner test-connector`, the conformance kit.
//! - [`demo`]: `runner demo`, the whole flow against the simulator.
//! - [`scaffold`]: `runner new`, a working, tested connector project in any of four languages.

pub mod app;
pub mod cli;
pub mod connections;
pub mod connector;
pub mod console;
pub mod demo;
pub mod destination;
pub mod exit;
pub mod human;
pub mod jobs;
pub mod kit;
pub mod report;
pub mod resolve;
pub mod scaffold;
pub mod supervisor;
pub mod sync;
pub mod validate;
