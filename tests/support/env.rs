//! The environment tests run in, shared by the library's tests (tests/support) and the
//! emulator's (emulator/tests/common). Nothing a test starts reads this machine's
//! environment: no AWS_ variable, no ~/.aws, no proxy. `scripts/hostile-env scripts/test`
//! proves it by setting hostile values around the whole suite.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

/// Set in every clean environment, so a test re-run in a child (`in_clean_process`) knows.
pub const CLEAN_MARK: &str = "CONNECT_CONTACT_TEST_CLEAN_ENV";

/// An empty home directory (no `.aws/`) for everything the tests start.
pub fn clean_home() -> PathBuf {
    // CARGO_TARGET_TMPDIR exists for tests; an example that shares these helpers (the
    // emulator's store_bench) gets the system's temporary directory.
    let scratch = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let home = scratch.join("clean-home");
    std::fs::create_dir_all(&home).expect("the clean home can be made");
    assert!(
        !home.join(".aws").exists(),
        "{} must stay empty of .aws/",
        home.display()
    );
    home
}

/// The whole environment of a test's subprocess: `PATH` (to find the tools, the repository's
/// .venv first), an empty `HOME`, a UTF-8 locale, the metadata service switched off, and the
/// mark `in_clean_process` looks for. Anything else a test needs, it adds explicitly.
pub fn clean_env() -> Vec<(String, String)> {
    vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), clean_home().display().to_string()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        (CLEAN_MARK.into(), "1".into()),
    ]
}

/// `program` with the clean environment and nothing of this process's: the one way tests
/// start C, C++ and Python programs, compilers, pip and cargo.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_clear().envs(clean_env());
    command
}

/// `program` in the clean environment, told where the Rust toolchain lives (for cargo and
/// rustfmt, which are rustup proxies): `CARGO_HOME` and `RUSTUP_HOME` as this process has them,
/// else under this process's `HOME` (scripts/hostile-env exports both before moving HOME),
/// never under the clean `HOME`.
pub fn toolchain_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = command(program);
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    for (name, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        command.env(
            name,
            std::env::var_os(name).unwrap_or_else(|| home.join(default).into_os_string()),
        );
    }
    command
}

/// `cargo` (the rustup proxy on PATH) in the clean environment: see [`toolchain_command`].
pub fn cargo_command() -> Command {
    toolchain_command("cargo")
}
