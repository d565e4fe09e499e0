//! boto3, a client nobody here wrote, against the emulator started in-process.

mod common;

use std::path::Path;
use std::time::Duration;

#[test]
fn boto3_updates_reads_back_and_is_refused_with_a_wrong_secret() {
    let emu = common::start(|c| c.auto_create = true);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boto3_client.py");
    // The clean environment (no credentials, profiles, proxies or IMDS probes of this
    // machine) plus the keys boto3 must be given.
    let output = connect_test_support::output_within(
        common::command("python3")
            .arg(&script)
            .arg(emu.endpoint_url())
            .env("AWS_ACCESS_KEY_ID", "AKIDNOTUSED")
            .env("AWS_SECRET_ACCESS_KEY", "not-used"),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for line in [
        "ok update+describe with/slash",
        "ok update+describe with space",
        "ok update+describe naïve-ü-契約",
        "ok wrong secret refused 403 InvalidSignatureException",
        "ok unknown contact 404 ResourceNotFoundException",
        "ok bad enum 400 InvalidParameterException",
        "boto3: all checks passed",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    let stored = emu
        .contact("boto-instance", "with/slash")
        .expect("boto3's update is in the store");
    assert_eq!(stored["Name"], "Name for with/slash");
}
