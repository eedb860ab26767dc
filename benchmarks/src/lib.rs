//! Benchmarks of the runner. See `benchmarks/README.md`.

pub mod baseline;
pub mod bins;
pub mod cases;
pub mod commands;
pub mod incident;
pub mod outputs;
pub mod process;
pub mod report;
pub mod workload;
