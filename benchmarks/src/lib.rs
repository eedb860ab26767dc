//! Benchmarks of the runner. See `benchmarks/README.md`.

pub mod incident;
