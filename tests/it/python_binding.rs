//! Runs the Python binding's unittest suite (bindings/python/tests) against the cdylib that
//! cargo built for this test run, so `cargo test` (and .ci/run) covers the binding: on the
//! default `python3` (every test; needs boto3), and on every other supported Python found
//! (3.9 to 3.13: `python3.X` on PATH, else pyenv's), without the boto3 comparison, whose
//! oracle does not depend on the interpreter. Which Pythons ran and which were not found is
//! printed; the default is required, and CONNECT_CONTACT_REQUIRE_ALL_PYTHONS=1 (set it where
//! all five are installed, as on the development machines) makes a missing one a failure
//! naming it. The emulator runs in-process for the asyncio tests (CONNECT_EMULATOR_URL).
//!
//! Needs boto3 on the default `python3` (scripts/test puts the repository's .venv first). No
//! Python test may be skipped, and only tests that ran count toward the floor.

use std::path::{Path, PathBuf};
use std::process::Command;

use connect_emulator::{Emulator, EmulatorConfig};

use crate::support::cdylib_path as built_library;

/// Python tests the suite has today; more is fine, fewer means tests were lost.
const EXPECTED_TESTS: usize = 46;

/// The Python versions the binding supports (pyproject.toml's requires-python and up).
const SUPPORTED: [&str; 5] = ["3.9", "3.10", "3.11", "3.12", "3.13"];

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

fn quiet_emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        ..EmulatorConfig::default()
    })
    .expect("the emulator starts on 127.0.0.1")
}

/// A new database on the tests' PostgreSQL server, for one run of the suite.
fn postgres_database() -> String {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    crate::support::postgres::Postgres::shared().database(&format!("python-{n}"))
}

/// Runs `python -m unittest discover` over bindings/python/tests (files matching `pattern`);
/// returns how many passed (none may be skipped) or panics with the output.
fn run_suite(python: &Path, pattern: &str, emulator: &Emulator) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = crate::support::command(python)
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "bindings/python/tests",
            "-p",
            pattern,
            "-v",
        ])
        .current_dir(root)
        .env("CONNECT_CONTACT_LIB", built_library())
        .env("CONNECT_EMULATOR_URL", emulator.endpoint_url())
        .env("CONNECT_POSTGRES_URL", postgres_database())
        .env("PYTHONPATH", root.join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()));
    // unittest reports on stderr; keep both for the failure message.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let who = python.display();
    assert!(
        output.status.success(),
        "the Python tests failed on {who} ({}):\n{text}",
        output.status
    );
    let summary = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        summary.starts_with("OK"),
        "unexpected summary {summary:?} on {who}:\n{text}"
    );
    // Nothing skipped: not in the summary ("OK (skipped=K)"), not in any verbose line.
    assert!(
        !summary.contains("skipped")
            && !text.contains(" ... skipped")
            && !text.contains("expected failure"),
        "Python tests were skipped on {who} (scripts/test installs boto3 into .venv):\n{text}"
    );
    tests_ran(&text).unwrap_or_else(|| panic!("no \"Ran N tests\" line:\n{text}"))
}

#[test]
fn python_binding_unittests_pass() {
    let emulator = quiet_emulator();
    let passed = run_suite(Path::new("python3"), "test*.py", &emulator);
    assert!(
        passed >= EXPECTED_TESTS,
        "{passed} Python tests passed, expected at least {EXPECTED_TESTS}"
    );
}

/// An interpreter of `version` (e.g. "3.9"): `python3.9` on PATH, else pyenv's newest 3.9.x.
fn find_python(version: &str) -> Option<PathBuf> {
    let exe = format!("python{version}");
    let reports = |candidate: &Path| {
        crate::support::command(candidate)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == version
            })
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(&exe);
            // pyenv's shims exist for every version but fail for one not selected: run it.
            if candidate.is_file() && reports(&candidate) {
                return Some(candidate);
            }
        }
    }
    // Tests run with a clean HOME: pyenv's root is this process's PYENV_ROOT or ~/.pyenv.
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let versions = root.join("versions");
    let mut found: Vec<PathBuf> = std::fs::read_dir(versions)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(version).is_some_and(|rest| {
                rest.starts_with('.') && rest[1..].chars().all(|c| c.is_ascii_digit())
            })
        })
        .map(|e| e.path().join("bin").join(&exe))
        .filter(|p| reports(p))
        .collect();
    found.sort();
    found.pop()
}

#[test]
fn every_supported_python_runs_the_binding() {
    let emulator = quiet_emulator();
    let mut missing = Vec::new();
    for version in SUPPORTED {
        let Some(python) = find_python(version) else {
            missing.push(version);
            continue;
        };
        // Everything but the boto3 comparison (boto3 lives in the default interpreter's venv).
        let ran = run_suite(&python, "test_[!b]*.py", &emulator);
        assert!(ran >= 30, "only {ran} tests ran on {}", python.display());
        eprintln!(
            "Python {version}: {ran} tests passed ({})",
            python.display()
        );
    }
    if !missing.is_empty() {
        let list = missing.join(", ");
        eprintln!("Python not found (python3.X on PATH or pyenv): {list}; install with `pyenv install {}`", missing[0]);
        assert!(
            std::env::var_os("CONNECT_CONTACT_REQUIRE_ALL_PYTHONS").is_none(),
            "CONNECT_CONTACT_REQUIRE_ALL_PYTHONS is set and these supported Pythons were not found: {list} \
             (install them, e.g. `pyenv install {}`)",
            missing[0]
        );
    }
}

/// The package's version is the crate's, and the soname the loader derives from it is the
/// one build.rs gives the library (CHANGELOG.md's ABI policy, written once per language).
#[test]
fn python_package_version_and_soname_match_the_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = crate::support::command("python3")
        .args([
            "-c",
            "import connect_contact._version as v; print(v.__version__, v.soname())",
        ])
        .env("CONNECT_CONTACT_LIB", built_library())
        .env("PYTHONPATH", root.join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.trim(),
        format!("{} {}", env!("CARGO_PKG_VERSION"), env!("CONNECT_SONAME"))
    );
}

/// A copy of what `pip install ./bindings/python` reads from a checkout (the crate, its
/// workspace's manifests, the binding), without any target/ or build/: a fresh clone's state,
/// and no build artifacts written into the source tree.
fn fresh_checkout(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = crate::support::scratch_dir(name);
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("bindings")).unwrap();
    for item in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "cbindgen.toml",
        "src",
        "model",
        "emulator",
        "cli",
        "test-support",
        ".cargo",
        "tests",
        "bindings/python",
    ] {
        let dest = copy.join(item);
        let status = crate::support::command("cp")
            .arg("-r")
            .arg(root.join(item))
            .arg(&dest)
            .status()
            .unwrap();
        assert!(status.success(), "cp {item}");
    }
    for stale in [
        "bindings/python/build",
        "bindings/python/connect_contact.egg-info",
        "emulator/target",
    ] {
        let _ = std::fs::remove_dir_all(copy.join(stale));
    }
    let _ =
        std::fs::remove_file(copy.join("bindings/python/connect_contact/libconnect_contact.so"));
    copy
}

/// The wheels scripts/setup downloaded for these tests (tests/wheels.txt).
fn wheelhouse() -> PathBuf {
    let wheels = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/wheels");
    assert!(
        wheels.join(".requirements").is_file(),
        "{} is missing: run scripts/setup test (it downloads tests/wheels.txt there)",
        wheels.display()
    );
    wheels
}

/// `command` (pip, or python -m build) with every package index out of reach: PIP_NO_INDEX,
/// and proxies nothing listens on for anything that would go around it, so an attempt to
/// download fails the command and the test (the suite downloads nothing while it runs).
fn offline(command: &mut Command) -> &mut Command {
    command
        .env("PIP_NO_INDEX", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    for proxy in [
        "https_proxy",
        "http_proxy",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env(proxy, "http://127.0.0.1:9");
    }
    command
}

/// A new virtual environment of the default python3 with `packages` installed from the
/// wheelhouse (no index); returns its python.
fn fresh_venv(dir: &Path, packages: &[&str]) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    let made = crate::support::command("python3")
        .args(["-m", "venv"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(made.success(), "python3 -m venv {}", dir.display());
    let python = dir.join("bin/python");
    if !packages.is_empty() {
        run_ok(
            // --upgrade: Python 3.11's venv comes with an older setuptools.
            offline(&mut crate::support::command(&python))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--upgrade",
                    "--no-index",
                    "--find-links",
                ])
                .arg(wheelhouse())
                .args(packages),
            &format!("pip install {} from .venv/wheels", packages.join(" ")),
        );
    }
    python
}

fn run_ok(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Updates a contact on the emulator through the installed package (no CONNECT_CONTACT_LIB,
/// no PYTHONPATH, run outside the source tree); prints where the library was loaded from.
fn call_emulator_with(python: &Path, emulator: &Emulator) -> String {
    let code = "\
import asyncio, os, connect_contact, connect_contact._lib as l
from connect_contact import aio
kw = dict(region_name='us-east-1', endpoint_url=os.environ['URL'],
          aws_access_key_id='AKIDCONNECTEMULATOR', aws_secret_access_key='connect-emulator-secret')
with connect_contact.Client(**kw) as c:
    r = c.update_contact(InstanceId='pip-i', ContactId='pip-c', Name='installed')
async def main():
    async with aio.Client(**kw) as c:
        return await c.update_contact(InstanceId='pip-i', ContactId='pip-c', Name='async')
a = asyncio.run(main())
print(r['ResponseMetadata']['HTTPStatusCode'], a['ResponseMetadata']['HTTPStatusCode'], l.lib()._name)
";
    let stdout = run_ok(
        crate::support::command(python)
            .args(["-c", code])
            .env_remove("CONNECT_CONTACT_LIB")
            .env_remove("PYTHONPATH")
            .env("URL", emulator.endpoint_url())
            .current_dir(std::env::temp_dir()),
        "a call through the installed package",
    );
    let mut words = stdout.split_whitespace();
    assert_eq!(
        (words.next(), words.next()),
        (Some("200"), Some("200")),
        "{stdout}"
    );
    assert_eq!(emulator.contact("pip-i", "pip-c").unwrap()["Name"], "async");
    words.next().unwrap_or_default().to_owned()
}

/// `pip install ./bindings/python` in a fresh venv, with no Rust build done beforehand,
/// compiles the library into the package; a call against the emulator then works. Offline:
/// the venv's setuptools (from .venv/wheels) builds it, with no isolated build environment.
#[test]
fn pip_install_from_source_builds_the_library() {
    let checkout = fresh_checkout("pip-source-checkout");
    let venv = crate::support::scratch_dir("pip-source-venv");
    // The venv's own setuptools builds it (no isolated build environment to download into).
    let python = fresh_venv(&venv, &["setuptools"]);
    run_ok(
        offline(&mut crate::support::toolchain_command(&python))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--no-build-isolation",
            ])
            .arg(checkout.join("bindings/python"))
            .env_remove("CONNECT_CONTACT_LIB")
            .env_remove("CARGO_TARGET_DIR"),
        "pip install ./bindings/python",
    );
    let emulator = quiet_emulator();
    let loaded = call_emulator_with(&python, &emulator);
    assert!(
        Path::new(&loaded).starts_with(&venv)
            && loaded.ends_with("connect_contact/libconnect_contact.so"),
        "the library was loaded from the installed package, not {loaded}"
    );
}

/// `python -m build` makes an sdist and, from it (the crate inside the sdist, not the
/// checkout), a wheel: py3-none-<platform>, holding the package, py.typed and the library
/// only; installed in another fresh venv it works against the emulator. Offline, as
/// `pip_install_from_source_builds_the_library`.
#[test]
fn wheel_built_from_the_sdist_installs_and_runs() {
    let checkout = fresh_checkout("wheel-checkout");
    let builder = fresh_venv(
        &crate::support::scratch_dir("wheel-build-venv"),
        &["setuptools", "build"],
    );
    let dist = crate::support::scratch_dir("wheel-dist");
    let _ = std::fs::remove_dir_all(&dist);
    run_ok(
        offline(&mut crate::support::toolchain_command(&builder))
            .args(["-m", "build", "--no-isolation", "--outdir"])
            .arg(&dist)
            .arg(checkout.join("bindings/python"))
            .env_remove("CONNECT_CONTACT_LIB")
            .env_remove("CARGO_TARGET_DIR"),
        "python -m build",
    );
    let names: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        names.contains(&format!("connect_contact-{version}.tar.gz")),
        "{names:?}"
    );
    let wheel = names
        .iter()
        .find(|n| n.ends_with(".whl"))
        .unwrap_or_else(|| panic!("no wheel in {names:?}"));
    assert!(
        wheel.starts_with(&format!("connect_contact-{version}-py3-none-linux_"))
            || wheel.starts_with(&format!("connect_contact-{version}-py3-none-manylinux")),
        "{wheel}"
    );
    let listing = run_ok(
        crate::support::command(&builder)
            .args([
                "-c",
                "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
            ])
            .arg(dist.join(wheel)),
        "listing the wheel",
    );
    let mut unexpected = Vec::new();
    for name in listing.lines() {
        let allowed = name.starts_with(&format!("connect_contact-{version}.dist-info/"))
            || name == "connect_contact/py.typed"
            || name == "connect_contact/libconnect_contact.so"
            || (name.starts_with("connect_contact/")
                && name.ends_with(".py")
                && !name[16..].contains('/'));
        if !allowed {
            unexpected.push(name);
        }
    }
    assert!(
        unexpected.is_empty(),
        "the wheel holds more than the package: {unexpected:?}"
    );
    assert!(
        listing
            .lines()
            .any(|n| n == "connect_contact/libconnect_contact.so"),
        "{listing}"
    );
    assert!(
        listing.lines().any(|n| n == "connect_contact/aio.py"),
        "{listing}"
    );

    let venv = crate::support::scratch_dir("wheel-install-venv");
    let python = fresh_venv(&venv, &[]);
    run_ok(
        offline(&mut crate::support::command(&python))
            .args(["-m", "pip", "install", "--quiet", "--no-index"])
            .arg(dist.join(wheel)),
        "pip install the wheel",
    );
    let emulator = quiet_emulator();
    let loaded = call_emulator_with(&python, &emulator);
    assert!(Path::new(&loaded).starts_with(&venv), "loaded {loaded}");
}

/// The typed surface holds under mypy --strict: the example, the asyncio client and its
/// tests, the loader (the TypedDicts they use are generated from the model). Imported modules
/// are followed silently: the older tests and exceptions.py are not strict-clean yet.
#[test]
fn mypy_strict_passes_on_the_examples_and_the_asyncio_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = crate::support::command("python3")
        .args([
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-incremental",
        ])
        .args([
            "examples/python",
            "bindings/python/connect_contact/aio.py",
            "bindings/python/connect_contact/_lib.py",
            "bindings/python/connect_contact/_version.py",
            "bindings/python/tests/test_aio.py",
            "bindings/python/tests/test_loading.py",
        ])
        .current_dir(root)
        .env("MYPYPATH", root.join("bindings/python"))
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("No module named mypy"),
        "mypy is not installed: `pip install -r tests/requirements.txt` (scripts/setup test does it)"
    );
    assert!(output.status.success(), "mypy --strict failed:\n{text}");
}
