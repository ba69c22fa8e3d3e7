//! The `liveaudit` binary: parse flags, run the library, turn the outcome into an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = liveaudit::cli::Cli::parse();
    match liveaudit::app::run(cli) {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            failure.status.into()
        }
    }
}
