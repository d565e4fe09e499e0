//! The `connect-emulator` binary: parse flags, serve until SIGINT/SIGTERM, write the state file.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use connect_emulator::{parse_args, Command, Emulator, USAGE};

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(config)) => *config,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("connect-emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("connect-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts read the port from this line when listening on port 0.
    println!("listening on {}", emulator.endpoint_url());
    let _ = std::io::stdout().flush();
    if let Err(e) = emulator.wait_for_signal() {
        eprintln!("connect-emulator: {e}");
    }
    eprintln!("connect-emulator: shutting down");
    match emulator.shutdown() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("connect-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
