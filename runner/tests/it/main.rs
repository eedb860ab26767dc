//! The runner's integration tests, one binary: the real `runner` binary, real connector
//! processes (shell scripts in `../fixtures/`, the connectors in `connectors/`, the real
//! PagerDuty connector against its simulator), real SQLite files. Every helper is in
//! [`util`].

/// Every helper, a module per concern; the generic ones are test-support's.
mod util;

/// `--notify-url` and `--stale-after`: webhook alerts to a receiver on loopback.
mod alerts;
/// The code's own rules: module layering and imports.
mod architecture;
/// Four workers under a killer: SIGKILL, SIGTERM, SIGSTOP past the lease, lost sessions.
mod chaos;
/// `spec`, `verify`, `discover`, `sync` and `sync-all` on the fixture connector, a module per rule.
mod cli;
/// Record types a connector declares in its spec: validated, stored, refused.
mod declared;
/// `runner demo` end to end.
mod demo;
/// deploy/: Kubernetes manifests validated offline, their commands, the Dockerfile.
mod deploy;
/// The same behaviours against every destination: SQLite, JSON lines, PostgreSQL.
mod destinations;
/// `runner test-connector` on good and broken connectors, and syncs of the language connectors.
mod kit;
/// Peak RSS of a sync far larger than the bound.
mod memory;
/// `runner new`: every language's project builds, passes its tests and the kit.
mod new;
/// connector-pagerduty through the runner against the simulator.
mod pagerduty;
/// The PostgreSQL destination: credentials, refusals, schema, timeouts, TLS, concurrency.
mod postgres;
/// A connector's `progress` messages in the summary, and connectors that send none.
mod progress;
/// Every command of README.md runs.
mod readme;
/// RELIABILITY.md: killed at any instant, a full disk, damaged stores, deep input.
mod reliability;
/// `runner report` rendered by headless Chromium: charts, numbers, no errors.
mod report;
/// `runner runs` on SQLite and PostgreSQL: succeeded, failed, interrupted and stale connections.
mod runs;
/// `runner schema diff`: a connector that drifts on purpose, every store, the simulator, bad input.
mod schema_diff;
/// Typed tables: the simulator's data queried without JSON, a declared type changing between syncs.
mod typed;
/// `runner connections` and `runner worker`: schedules, leases, fencing, SIGTERM.
mod workers;
