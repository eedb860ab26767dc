//! The `runner` binary: parse arguments, forward stop signals, run, exit with the code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = runner::cli::Cli::parse();
    let stop = engine::Stop::new();
    if let Err(error) = runner::signals::forward_to(&stop) {
        eprintln!("error: cannot listen for Ctrl-C and SIGTERM: {error}");
        return ExitCode::from(runner::exit_code::FAILURE);
    }
    runner::app::run(cli, stop)
}
