//! The adapters' integration tests: one binary, a module per area.
//!
//! They drive the real binaries: `runner` (beside the adapters in target/debug: build it
//! with `cargo build -p runner`, as `cargo test --workspace` does), `connector-singer` and
//! `connector-airbyte`, with fake taps (shell scripts) and with the real `tap-jsonl` and
//! `source-faker` from PyPI, installed once into target/adapter-venv.

/// Fake taps: exact translation, BATCH, garbage, crashes, secrets, a hang, Airbyte TRACE and LOG.
mod fakes;
/// The README's sections on the adapters, run as written.
mod readme;
/// The real taps from PyPI: the conformance kit, SQLite, resuming, a kill.
mod real;
/// The binaries, the virtual environment, a sandbox with SQLite queries.
mod util;
