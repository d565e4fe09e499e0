//! Every error the emulator can inject (UpdateContact's eight modeled errors and 503), sent
//! to boto3, to our Python client (bindings/python over the cdylib built for this run) and to
//! the AWS CLI (the awscli package of tests/requirements.txt): each raises the exception
//! class (the CLI: prints the error code) the service's answer would.

use std::path::Path;
use std::time::Duration;

use connect_emulator::{Emulator, EmulatorConfig};

#[test]
fn boto3_and_the_python_client_raise_the_modeled_exception_for_every_injected_error() {
    let emulator = Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Nothing from the real environment (the clean one): no credentials, profiles, proxies
    // or IMDS probes.
    let output = connect_test_support::output_within(
        crate::support::command("python3")
            .arg(root.join("tests/emulator_errors.py"))
            .arg(emulator.endpoint_url())
            .env("PYTHONPATH", root.join("bindings/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("CONNECT_CONTACT_LIB", crate::support::cdylib_path()),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for client in ["boto3", "connect_contact", "aws-cli"] {
        for (code, status) in [
            ("AccessDeniedException", 403),
            ("ConflictException", 409),
            ("InvalidActiveRegionException", 400),
            ("InvalidParameterException", 400),
            ("InvalidRequestException", 400),
            ("ResourceNotFoundException", 404),
            ("InternalServiceException", 500),
            ("ThrottlingException", 429),
            ("ServiceUnavailableException", 503),
        ] {
            let line = format!("ok {client} {code} {status}");
            assert!(stdout.contains(&line), "missing {line:?} in:\n{stdout}");
        }
    }
    assert!(stdout.contains("all errors raised as modeled"), "{stdout}");
}
