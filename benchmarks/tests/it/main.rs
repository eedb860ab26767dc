//! The benchmarks crate's integration tests, one binary (the workspace's layout:
//! `tests/it/main.rs`, a module per area).

/// runner-bench end to end with tiny volumes: every case runs and is verified.
mod smoke;
