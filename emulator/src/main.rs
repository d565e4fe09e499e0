//! The `connect-emulator` binary (`connect-contact emulator` runs the same code).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    connect_emulator::run_command("connect-emulator", std::env::args().skip(1))
}
