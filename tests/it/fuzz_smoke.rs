//! Runs each coverage-guided fuzz target (fuzz/, cargo-fuzz + libFuzzer) for a bounded time:
//! request JSON and config JSON through the exported C functions, the error-response
//! parser, the HTTP/1.1 response reader, and the shared config and credentials files. Every run first replays the committed corpus in fuzz/corpus/<target>/, where any
//! input that once crashed is kept as a regression case.
//!
//! Needs `cargo install cargo-fuzz`. CONNECT_FUZZ_SECONDS sets the time per target
//! (default 15; CI uses 60).

use std::process::Command;

use crate::support::{repo_root, scratch_dir};

const TARGETS: [&str; 5] = [
    "request_json",
    "config_json",
    "error_response",
    "http_response",
    "profile_files",
];

#[test]
fn fuzz_targets_run_clean() {
    let available = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        available,
        "cargo-fuzz is required for this test: cargo install cargo-fuzz --locked"
    );
    let seconds: u64 = std::env::var("CONNECT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let fuzz_dir = repo_root().join("fuzz");
    for target in TARGETS {
        // New inputs go to a scratch corpus; the committed seeds stay as they are.
        let work = scratch_dir(&format!("fuzz-{target}"));
        let output = Command::new("cargo")
            .current_dir(&fuzz_dir)
            .args(["fuzz", "run", "-s", "none", target])
            .arg(&work)
            .arg(fuzz_dir.join("corpus").join(target))
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-rss_limit_mb=2048",
                "-timeout=10",
            ])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("cargo fuzz runs");
        let log = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        assert!(
            output.status.success(),
            "fuzz target {target} failed (the crashing input is under fuzz/artifacts/{target}/; copy it into \
             fuzz/corpus/{target}/ as a regression case once fixed):\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        let runs = log
            .lines()
            .find_map(|l| l.strip_prefix("Done "))
            .unwrap_or("?");
        println!("fuzz {target}: {runs}");
    }
}
