//! The runner on the fixture connector (`tests/fixtures/fake-connector.sh`), a module per
//! rule of the runner's contract.

/// Every command and its help, output formats, exit codes.
mod commands;
/// A checkpoint is stored only with every record before it.
mod durability;
/// Clear errors naming the connector, the command and the cause.
mod errors;
/// Connector logs shown and stored, secrets masked everywhere.
mod logs_and_secrets;
/// `--output` destinations and `--json`.
mod output;
/// Ctrl-C and SIGTERM.
mod signals;
/// What SQLite stores: upserts, state, runs, rejected records.
mod store;
/// `sync-all`: many connections from a TOML file.
mod sync_all;
/// A connector's control characters shown escaped by every command, stored exact.
mod untrusted_text;
