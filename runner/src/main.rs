//! The `runner` binary: parse arguments, run, print the error once, exit with its code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = runner::cli::Cli::parse();
    if let Err(error) = runner::supervisor::signals::install() {
        eprintln!("error: cannot listen for Ctrl-C and SIGTERM: {error}");
        return ExitCode::from(runner::exit::FAILURE);
    }
    match runner::app::run(cli) {
        Ok(code) => code,
        Err(error) => {
            if !runner::exit::is_broken_pipe(&error) {
                let _ = writeln!(std::io::stderr().lock(), "error: {error:#}");
            }
            ExitCode::from(runner::exit::for_error(&error))
        }
    }
}
