use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use logbrief::error::{exit, install_panic_hook};

fn main() -> ExitCode {
    install_panic_hook();
    let cli = logbrief::cli::Cli::parse();
    let stdout = std::io::stdout();
    let run =
        std::panic::catch_unwind(|| logbrief::run(cli, &mut stdout.lock(), &mut std::io::stderr()));
    match run {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            let _ = writeln!(std::io::stderr(), "logbrief: {e}");
            ExitCode::from(e.exit_code())
        }
        // The hook has said where; nothing of the reply was printed.
        Err(_) => ExitCode::from(exit::INTERNAL),
    }
}
