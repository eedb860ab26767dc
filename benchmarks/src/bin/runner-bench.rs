//! `runner-bench`: runs the runner against connector-bench (and the PagerDuty connector
//! against the simulator) and prints throughput, peak RSS and CPU. See benchmarks/README.md.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match benchmarks::commands::run(benchmarks::commands::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
