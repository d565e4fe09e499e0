//! Runs the Python binding's unittest suite (bindings/python/tests) against the cdylib that
//! cargo built for this test run, so `cargo test` (and .ci/run) covers the binding.
//!
//! Needs `python3` on PATH and, for the equivalence test, boto3. Set
//! CONNECT_CONTACT_ALLOW_PYTHON_SKIPS=1 to accept skipped Python tests (e.g. no boto3).

use std::path::Path;
use std::process::Command;

use crate::support::cdylib_path as built_library;

/// Python tests the suite has today; more is fine, fewer means tests were lost.
const EXPECTED_TESTS: usize = 29;

/// The number N in unittest's "Ran N tests" line.
fn tests_ran(output: &str) -> Option<usize> {
    output.lines().find_map(|line| {
        line.strip_prefix("Ran ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

#[test]
fn python_binding_unittests_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "bindings/python/tests",
            "-v",
        ])
        .current_dir(root)
        .env("CONNECT_CONTACT_LIB", built_library())
        .env("PYTHONPATH", root.join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // Hermetic: no profile files of this machine, no metadata-service probe.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("python3 runs (it must be on PATH)");
    // unittest reports on stderr; keep both for the failure message.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the Python tests failed ({}):\n{text}",
        output.status
    );
    let summary = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        summary.starts_with("OK"),
        "unexpected summary {summary:?}:\n{text}"
    );
    // "OK (skipped=K)": Python 3.12 leaves skipped tests out of "Ran N", other versions count them.
    let skipped: usize = summary
        .split("skipped=")
        .nth(1)
        .and_then(|rest| rest.trim_end_matches(')').parse().ok())
        .unwrap_or(0);
    if std::env::var_os("CONNECT_CONTACT_ALLOW_PYTHON_SKIPS").is_none() {
        assert_eq!(
            skipped, 0,
            "Python tests were skipped (install boto3, or set CONNECT_CONTACT_ALLOW_PYTHON_SKIPS=1):\n{text}"
        );
    }
    let ran = tests_ran(&text).unwrap_or_else(|| panic!("no \"Ran N tests\" line:\n{text}"));
    assert!(
        ran + skipped >= EXPECTED_TESTS,
        "ran {ran} Python tests ({skipped} skipped), expected at least {EXPECTED_TESTS}:\n{text}"
    );
}

/// `pip install ./bindings/python` ships the built library inside the package, so the package
/// imports with no CONNECT_CONTACT_LIB and no library on the system path.
#[test]
fn pip_install_bundles_the_library() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = crate::support::scratch_dir("pip-install");
    let _ = std::fs::remove_dir_all(&target);
    // Build in a copy: an in-tree build would leave build/ and egg-info in the source tree and
    // race with other test runs.
    let source = crate::support::scratch_dir("pip-source");
    let _ = std::fs::remove_dir_all(&source);
    let copied = Command::new("cp")
        .arg("-r")
        .arg(root.join("bindings/python"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(copied.success());
    let package = &source;
    let install = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--target",
        ])
        .arg(&target)
        .arg(package)
        .env("CONNECT_CONTACT_LIB", built_library())
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "pip install failed (needs setuptools >= 70.1: `pip install 'setuptools>=70.1'`):\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let check = Command::new("python3")
        .args(["-c", "import connect_contact, connect_contact._lib as l; print(connect_contact.version(), l.lib()._name)"])
        .env_remove("CONNECT_CONTACT_LIB")
        .env("PYTHONPATH", &target)
        .current_dir(&target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(stdout.starts_with(env!("CARGO_PKG_VERSION")), "{stdout}");
    let loaded = stdout.split_whitespace().nth(1).unwrap_or_default();
    assert!(
        Path::new(loaded).starts_with(&target),
        "the library was loaded from the installed package, not {loaded}"
    );
}
