//! Runs the Python binding's unittest suite (bindings/python/tests) against the cdylib that
//! cargo built for this test run, so `cargo test` (and .ci/run) covers the binding.
//!
//! Needs `python3` on PATH with boto3 (scripts/test puts the repository's .venv first). No
//! Python test may be skipped, and only tests that ran count toward the floor.

use std::path::Path;

use crate::support::cdylib_path as built_library;

/// Python tests the suite has today; more is fine, fewer means tests were lost.
const EXPECTED_TESTS: usize = 33;

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
    let output = crate::support::command("python3")
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
    // Nothing skipped: not in the summary ("OK (skipped=K)"), not in any verbose line.
    assert!(
        !summary.contains("skipped")
            && !text.contains(" ... skipped")
            && !text.contains("expected failure"),
        "Python tests were skipped (scripts/test installs boto3 into .venv):\n{text}"
    );
    // With none skipped and the run OK, every test "Ran N" counts passed.
    let passed = tests_ran(&text).unwrap_or_else(|| panic!("no \"Ran N tests\" line:\n{text}"));
    assert!(
        passed >= EXPECTED_TESTS,
        "{passed} Python tests passed, expected at least {EXPECTED_TESTS}:\n{text}"
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
    let copied = crate::support::command("cp")
        .arg("-r")
        .arg(root.join("bindings/python"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(copied.success());
    let package = &source;
    let install = crate::support::command("python3")
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
    let check = crate::support::command("python3")
        .args(["-c", "import connect_contact, connect_contact._lib as l; print(connect_contact.version(), l.lib()._name)"])
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
