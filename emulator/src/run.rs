//! The emulator's command line, shared by the `connect-emulator` binary and
//! `connect-contact emulator`: parse flags, serve until SIGINT/SIGTERM, write the state file.

use std::io::Write;
use std::process::ExitCode;

use crate::config::{parse_args, Command, USAGE};
use crate::server::Emulator;

/// Runs the emulator as a command named `program` (in messages and the help text) with
/// `args` (without the program name). Exit status 2 for bad arguments, 1 when it cannot
/// start or shut down cleanly.
pub fn run_command(program: &str, args: impl IntoIterator<Item = String>) -> ExitCode {
    let config = match parse_args(args) {
        Ok(Command::Run(config)) => *config,
        Ok(Command::Help) => {
            print!("{}", USAGE.replacen("connect-emulator", program, 1));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts read the port from this line when listening on port 0.
    println!("listening on {}", emulator.endpoint_url());
    let _ = std::io::stdout().flush();
    if let Err(e) = emulator.wait_for_signal() {
        eprintln!("{program}: {e}");
    }
    eprintln!("{program}: shutting down");
    match emulator.shutdown() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}
