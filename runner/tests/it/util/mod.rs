//! Every helper of the runner's integration tests, a module per concern; what is not
//! particular to the runner (the sandbox directory, the binaries' paths, the kit's report,
//! waiting for an event, the HTTP server, the store's rows) comes from test-support and is
//! re-exported here, so a test names every helper through `crate::util`.
//!
//! - `commands`: the runner run in a directory, the kit's JSON report, a command that must
//!   succeed, a tool that must be installed.
//! - `sandbox`: a temporary directory for the fixture connector's syncs, with SQL on its
//!   database and its signal and pid files.
//! - `connectors`: the fixture connector and shell connectors written by a test.
//! - `process`: signals, children waited for with a bound, process groups from /proc.
//! - `alerts`: the webhook receiver of the alert tests.
//! - `chromium`: headless Chromium and the screenshots' colours.

mod alerts;
mod chromium;
mod commands;
mod connectors;
mod process;
mod sandbox;

pub use alerts::*;
pub use chromium::*;
pub use commands::*;
pub use connectors::*;
pub use process::*;
pub use sandbox::*;
pub use test_support::kit::{check, check_count, failed, status};
pub use test_support::sandbox::{assert_success, runner_bin, stderr_of, stdout_of, workspace_bin, workspace_root};
pub use test_support::wait::{alive, wait_for};
pub use test_support::PATIENCE;
