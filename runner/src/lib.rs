//! The `runner` binary's library: the command line and the drivers of the engine. The
//! layers below are crates of their own (ARCHITECTURE.md has the map):
//! - `store`: the destinations (SQLite, PostgreSQL, JSON lines, stdout), their history and
//!   the fleet's connections table;
//! - `engine`: supervision, validation, the sync loop; it knows nothing of terminals or
//!   command lines, reports through `engine::Event`s and takes stop requests on an
//!   `engine::Stop`;
//! - `drift`: schema drift, a pure computation.
//!
//! Here: the command line ([`cli`], then [`app`], the binary's edge, which also owns exit
//! codes), the terminal commands (`commands`), the conformance kit (`kit`), the demo
//! ([`demo`]) and the scaffold (`scaffold`), with what they share: `console` (renders
//! events), `summary` (the summary of syncs), `html` (the HTML report), `alert` (webhook
//! alerts), `resolve` and `connections_file` (inputs), `human`, `table` and `style` (text for
//! people), `untrusted` (a connector's text made safe for a terminal).
//!
//! Public are only the modules other crates use: the binary (`app`, `cli`, `exit_code`,
//! `signals`) and the demo's test (`demo::database`).

mod alert;
pub mod app;
pub mod cli;
pub mod demo;
pub mod exit_code;
pub mod signals;

mod commands;
mod connections_file;
mod console;
mod failure;
mod html;
mod human;
mod kit;
mod resolve;
mod scaffold;
mod style;
mod summary;
mod table;
mod untrusted;
