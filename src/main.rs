use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = logbrief::cli::Cli::parse();
    let stdout = std::io::stdout();
    match logbrief::run(cli, &mut stdout.lock(), &mut std::io::stderr()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "logbrief: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
