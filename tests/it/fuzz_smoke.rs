//! Runs each coverage-guided fuzz target (fuzz/, cargo-fuzz + libFuzzer: request JSON and
//! config JSON through the exported C functions, the error-response parser, the HTTP/1.1
//! response reader, the shared config and credentials files) for a bounded time, then replays
//! every input it ran from (the committed corpus in fuzz/corpus/<target>/, where any input
//! that once crashed is kept as a regression case) and every new one it found under valgrind,
//! which sees the memory errors the uninstrumented run cannot: the stable toolchain has no
//! AddressSanitizer (`-Zsanitizer` is nightly-only; forcing it with RUSTC_BOOTSTRAP=1 would
//! test a configuration nobody supports). Memcheck is asked for what ASan finds — invalid
//! reads and writes, use after free, double and mismatched frees, definite leaks — and not
//! for uses of uninitialised values (which ASan does not track either): in these optimised,
//! coverage-instrumented builds it reports values the compiler loads but never acts on, such
//! as the unset length of a `None::<&str>`.
//!
//! Needs `cargo install cargo-fuzz` and valgrind (scripts/test installs both).
//! CONNECT_FUZZ_SECONDS sets the time per target (default 15; CI uses 60).

use std::path::{Path, PathBuf};

use crate::support::{
    assert_valgrind_clean, cargo_command, repo_root, require_valgrind, scratch_dir,
};

/// One line per target: its `[[bin]]` name in fuzz/Cargo.toml and the fewest executions per
/// second of fuzzing a healthy run reaches. Measured on a loaded 2-core machine (15 s runs):
/// 36,000-70,000/s, 70,000-93,000/s, 170,000-310,000/s, 46,000/s and 89,000/s; the floors
/// are a twentieth or less of that, so only a target that stalls or stops executing inputs
/// falls below.
const TARGETS: &[(&str, u64)] = &[
    ("request_json", 1_000),
    ("config_json", 2_000),
    ("error_response", 5_000),
    ("http_response", 2_000),
    ("profile_files", 4_000),
];

#[test]
fn fuzz_targets_run_clean_and_their_inputs_replay_clean_under_valgrind() {
    let available = cargo_command()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        available,
        "cargo-fuzz is required for this test: cargo install cargo-fuzz --locked"
    );
    require_valgrind();
    let fuzz_dir = repo_root().join("fuzz");
    assert_eq!(
        declared_targets(&fuzz_dir),
        TARGETS
            .iter()
            .map(|(name, _)| name.to_string())
            .collect::<Vec<_>>(),
        "every [[bin]] of fuzz/Cargo.toml has a line in TARGETS (in the same order)"
    );
    let seconds: u64 = std::env::var("CONNECT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    for &(target, per_second) in TARGETS {
        let corpus = fuzz_dir.join("corpus").join(target);
        // New inputs go to a scratch corpus, emptied first so the replay covers this run's
        // finds; the committed seeds stay as they are.
        let work = scratch_dir(&format!("fuzz-{target}"));
        std::fs::remove_dir_all(&work).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let log = fuzz(&fuzz_dir, target, &work, &corpus, seconds);
        let runs = stat(&log, "stat::number_of_executed_units")
            .unwrap_or_else(|| panic!("{target}: no final stats in libFuzzer's output:\n{log}"));
        let floor = per_second * seconds;
        println!("fuzz {target}: {runs} executions in {seconds} s (floor {floor})");
        assert!(
            runs >= floor,
            "{target} executed {runs} inputs in {seconds} s, fewer than {floor}:\n{log}"
        );
        replay_under_valgrind(&fuzz_dir, target, &[&corpus, &work]);
    }
}

/// The `[[bin]]` names of fuzz/Cargo.toml, in order.
fn declared_targets(fuzz_dir: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(fuzz_dir.join("Cargo.toml")).unwrap();
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(value) = line.strip_prefix("name = ").filter(|_| in_bin) {
            names.push(value.trim_matches('"').to_string());
        }
    }
    names
}

/// Fuzzes `target` for `seconds` from `corpus`, adding new inputs to `work`; returns
/// libFuzzer's output, having checked that the run ended without a crash.
fn fuzz(fuzz_dir: &Path, target: &str, work: &Path, corpus: &Path, seconds: u64) -> String {
    let output = cargo_command()
        .current_dir(fuzz_dir)
        .args(["fuzz", "run", "-s", "none", target])
        .arg(work)
        .arg(corpus)
        .args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-rss_limit_mb=2048",
            "-timeout=10",
            "-print_final_stats=1",
        ])
        .output()
        .expect("cargo fuzz runs");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "fuzz target {target} failed (the crashing input is under fuzz/artifacts/{target}/; copy it \
         into fuzz/corpus/{target}/ as a regression case once fixed):\n{}",
        tail(&log, 30)
    );
    log
}

/// Runs every file of `dirs` once through the target's binary (the one `cargo fuzz run` just
/// built) under valgrind: any invalid read or write, invalid free or definite leak fails, as
/// does an input that was not executed.
fn replay_under_valgrind(fuzz_dir: &Path, target: &str, dirs: &[&Path]) {
    let binary = fuzz_binary(fuzz_dir, target);
    let mut inputs: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.is_file())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{target}: no inputs to replay");
    let valgrind: Vec<&str> = crate::support::VALGRIND
        .iter()
        .copied()
        .chain(["--undef-value-errors=no"])
        .collect();
    let (output, success) = crate::support::run_program(
        &valgrind,
        &binary,
        &inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>(),
        &[],
    );
    assert!(
        success,
        "{target}: the replay under valgrind failed:\n{}",
        tail(&output, 60)
    );
    assert_valgrind_clean(&output);
    // libFuzzer prints one "Executed <file> in N ms" per input it ran.
    let executed = output
        .lines()
        .filter(|l| l.starts_with("Executed "))
        .count();
    assert_eq!(
        executed,
        inputs.len(),
        "{target}: every input ran once under valgrind:\n{}",
        tail(&output, 30)
    );
    println!("fuzz {target}: {executed} inputs replayed clean under valgrind");
}

/// fuzz/target/<host triple>/release/<target>, as cargo-fuzz builds it by default.
fn fuzz_binary(fuzz_dir: &Path, target: &str) -> PathBuf {
    let triple_dirs = std::fs::read_dir(fuzz_dir.join("target")).expect("cargo fuzz built");
    triple_dirs
        .map(|e| e.unwrap().path().join("release").join(target))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no built binary for {target} under fuzz/target/*/release/"))
}

/// The value of a `-print_final_stats=1` line such as `stat::number_of_executed_units: 1234`.
fn stat(log: &str, name: &str) -> Option<u64> {
    log.lines().find_map(|l| {
        l.strip_prefix(name)?
            .trim_start_matches(':')
            .trim()
            .parse()
            .ok()
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
