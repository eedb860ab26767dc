//! The runner's integration tests: the real binary, real connector processes (shell
//! scripts in `fixtures/`), real SQLite files. One module per area of the issue.

#[path = "cli/util.rs"]
mod util;

#[path = "cli/commands.rs"]
mod commands;
#[path = "cli/durability.rs"]
mod durability;
#[path = "cli/errors.rs"]
mod errors;
#[path = "cli/logs_and_secrets.rs"]
mod logs_and_secrets;
#[path = "cli/output.rs"]
mod output;
#[path = "cli/signals.rs"]
mod signals;
#[path = "cli/store.rs"]
mod store;
#[path = "cli/sync_all.rs"]
mod sync_all;
