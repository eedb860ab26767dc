//! Fixtures shared by the workspace's integration tests (a dev-dependency only; nothing
//! here ships).
//!
//! - [`http`]: an HTTP server on loopback with scripted replies and recorded requests,
//!   for clients under test (the PagerDuty connector, the runner's alert webhooks).
//! - [`sandbox`]: a temporary working directory, the workspace's binaries, the runner run
//!   in it (assert_cmd), and what a finished command must have done.
//! - [`kit`]: the conformance kit's JSON report, read for assertions.
//! - [`store`]: the runner's SQLite store read as typed rows.
//! - [`wait`]: waiting for an event with a bound against a hang; whether a process lives.
//!
//! Peak RSS is not measured here: `benchmarks::process` is the one measurement (`wait4`'s
//! `ru_maxrss`, and a child's own `VmHWM` sampled while it runs), which the benchmark
//! binaries need at run time and the runner's memory test uses too; a benchmark binary
//! should not link a test crate, and a second implementation could drift from it.
//!
//! Everything is blocking-friendly: tests are synchronous, and a fixture that needs an
//! async runtime runs its own on a thread. Failures panic with a message naming the
//! fixture and the cause, as a test's own assertion would.

pub mod http;
pub mod kit;
pub mod sandbox;
pub mod store;
pub mod wait;

use std::time::Duration;

/// How long a fixture waits for an event before it fails the test: generous, only a
/// guard against a hang, never a guess at how long something takes.
pub const PATIENCE: Duration = Duration::from_secs(60);
