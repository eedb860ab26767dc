//! The `runner`: spawns connectors, validates their records against the shared schemas,
//! stores records and checkpoints durably, and reports progress and errors.
//!
//! Two layers (ARCHITECTURE.md has the map):
//! - [`engine`]: supervision, validation, destinations, the sync loop. It knows nothing of
//!   terminals or command lines; it reports through [`engine::Event`]s and takes stop
//!   requests on an [`engine::Stop`].
//! - The drivers: the command line ([`cli`], then [`app`], the binary's edge, which also
//!   owns exit codes), the terminal commands (`commands`), the conformance kit (`kit`),
//!   the demo ([`demo`]) and the scaffold (`scaffold`), with what they share: `console`
//!   (renders events), `report` (summaries), `html` (the HTML report), `alert` (webhook
//!   alerts), `resolve` and `connections` (inputs),
//!   `human` and `style` (text for people).
//!
//! Public are only the modules other crates use: the binary (`app`, `cli`, `exit_code`,
//! `signals`, `engine`), the destinations benchmark (`engine::destination`) and the demo's
//! test (`demo::database`).

mod alert;
pub mod app;
pub mod cli;
pub mod demo;
pub mod exit_code;
pub mod signals;

mod commands;
mod connections;
mod console;
mod html;
mod human;
mod kit;
mod report;
mod resolve;
mod scaffold;
mod style;
