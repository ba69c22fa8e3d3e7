//! The `liveaudit` binary: parse flags, run the library, turn the outcome into an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A panic message passes the same scrubber as every other line on stderr.
    std::panic::set_hook(Box::new(|info| {
        use std::io::Write;
        let line = format!("internal error (a bug in liveaudit): {info}\n");
        let _ = liveaudit::text::SafeStderr.write_all(line.as_bytes());
    }));
    let cli = liveaudit::cli::Cli::parse();
    match liveaudit::app::run(cli) {
        Ok(status) => status.into(),
        // A closed pipe (`liveaudit export | head`) ends with status 0 and no message.
        Err(failure) if failure.status == liveaudit::exit::ExitStatus::Ok => failure.status.into(),
        Err(failure) => {
            // Through the scrubbing writer: no key, no raw control bytes, no panic on a closed
            // stderr.
            use std::io::Write;
            let line = format!("error: {:#}\n", failure.error);
            let _ = liveaudit::text::SafeStderr.write_all(line.as_bytes());
            failure.status.into()
        }
    }
}
