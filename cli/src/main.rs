//! `connect-contact`: Amazon Connect UpdateContact from the shell, through the library's
//! public Rust API, with the AWS CLI's options, output and exit codes; the configuration it
//! resolves; and the local emulator, so one binary gives the whole offline rehearsal.
#![forbid(unsafe_code)]

mod bulk;
mod config;
mod generated;
mod global;
mod outbox;
mod update;
mod url;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use global::Global;
use update::UpdateContactArgs;

/// The AWS CLI's return codes (version 2's documented set).
pub const EXIT_PARAMETERS: u8 = 252;
/// The environment or configuration is invalid (no region, no credentials, a bad profile).
pub const EXIT_CONFIG: u8 = 253;
/// The service answered with an error.
pub const EXIT_SERVICE: u8 = 254;
/// Anything else: the connection failed, timed out, or the answer could not be read.
pub const EXIT_OTHER: u8 = 255;

const BIN: &str = "connect-contact";

/// A command's failure: the text for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub fn new(code: u8, message: String) -> Failure {
        Failure { code, message }
    }

    /// A usage error worded as the AWS CLI's (argparse's) own.
    pub fn usage(message: String) -> Failure {
        Failure::new(
            EXIT_PARAMETERS,
            format!(
                "usage: {BIN} [options] <command> [parameters]\nTo see help text, you can run:\n\n  {BIN} --help\n  {BIN} <command> --help\n\n{BIN}: error: {message}"
            ),
        )
    }
}

#[derive(Parser, Debug)]
#[command(name = BIN, version, about = "Amazon Connect UpdateContact from the shell, as the AWS CLI takes it; the configuration it resolves; the local emulator")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Add or update a contact's information (the AWS CLI's `aws connect update-contact`).
    UpdateContact(UpdateContactArgs),
    /// Send one UpdateContact per line of a JSONL file through the outbox at the quota's pace,
    /// with progress; Ctrl-C stops cleanly and the same command resumes.
    Bulk(bulk::BulkArgs),
    /// Look at and steer an outbox (a file, or a PostgreSQL queue) another program may have
    /// open: its counters, its dead letters, retrying or discarding them; sends nothing.
    Outbox(outbox::OutboxArgs),
    /// Show the resolved configuration and where each value came from (secrets never shown).
    Config,
    /// Start the local emulator (the options of connect-emulator; `emulator --help` lists them).
    #[command(disable_help_flag = true, after_long_help = connect_emulator::USAGE)]
    Emulator {
        /// connect-emulator's options, e.g. --listen 127.0.0.1:0 --auto-create --quota
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "OPTIONS"
        )]
        args: Vec<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

fn fail(failure: Failure) -> ExitCode {
    if !failure.message.is_empty() {
        eprintln!("{}", failure.message);
    }
    ExitCode::from(failure.code)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_PARAMETERS);
        }
    };
    let result = match &cli.command {
        Cmd::Outbox(args) => outbox::run(&cli.global, args),
        _ if cli.global.output.as_deref().is_some_and(|o| o != "json") => {
            Err(Failure::usage(format!(
                "argument --output: {} is for the outbox commands",
                cli.global.output.as_deref().unwrap_or_default()
            )))
        }
        Cmd::UpdateContact(args) => update::run(&cli.global, args),
        Cmd::Bulk(args) => bulk::run(&cli.global, args),
        Cmd::Config => config::run(&cli.global),
        Cmd::Emulator { args } => {
            return connect_emulator::run_command(&format!("{BIN} emulator"), args.clone())
        }
        Cmd::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), BIN, &mut std::io::stdout());
            Ok(())
        }
        Cmd::Man => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::new(EXIT_OTHER, format!("{BIN}: {e}")))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn completions_and_the_man_page_generate_from_the_same_definitions() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), BIN, &mut out);
            let text = String::from_utf8(out).unwrap();
            for option in ["--segment-attributes", "--cli-input-json", "--endpoint-url"] {
                let bare = option.trim_start_matches('-');
                assert!(text.contains(bare), "{shell:?} completion lacks {option}");
            }
        }
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .unwrap();
        let man = String::from_utf8(out).unwrap();
        assert!(man.starts_with(".ie") || man.contains(".TH"), "{man}");
        assert!(man.contains("update\\-contact"), "{man}");
    }
}
