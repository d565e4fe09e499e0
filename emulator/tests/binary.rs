//! The `connect-emulator` binary: prints where it listens, serves, stops cleanly on SIGTERM
//! and SIGINT, and leaves the state file behind.

mod common;

use std::process::Child;
use std::time::Duration;

use common::spawn_binary as spawn;

fn stop(mut child: Child, signal: &str) -> std::process::ExitStatus {
    let status = common::command("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    connect_test_support::wait_within(
        &mut child,
        Duration::from_secs(20),
        &format!("the emulator after SIG{signal}"),
    )
}

fn get(url: &str) -> (u16, String) {
    let mut response = common::agent().get(url).call().expect("a response");
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap(),
    )
}

#[test]
fn binary_serves_and_stops_cleanly_on_sigterm_and_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    for signal in ["TERM", "INT"] {
        let (child, url) = spawn(&["--state", state_arg, "--fault-sequence", "503"]);
        let (status, body) = get(&format!("{url}/_emulator/faults"));
        assert_eq!(status, 200);
        assert!(body.contains(r#""sequence":[503]"#), "{body}");
        let put = common::agent()
            .put(format!("{url}/_emulator/contacts"))
            .send(format!(r#"{{"instances":{{"from-{signal}":{{}}}}}}"#))
            .unwrap();
        assert_eq!(put.status().as_u16(), 200);
        assert!(
            stop(child, signal).success(),
            "exit status after SIG{signal}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the state file is left after a clean stop"
        );
        // Read back by a new process: what was written before the signal is there.
        let (child, url) = spawn(&["--state", state_arg]);
        let (status, saved) = get(&format!("{url}/_emulator/contacts"));
        assert_eq!(status, 200);
        assert!(saved.contains(&format!("from-{signal}")), "{saved}");
        assert!(stop(child, "TERM").success());
    }
}

#[test]
fn bad_flags_exit_2_with_the_flag_named() {
    let out = common::command(env!("CARGO_BIN_EXE_connect-emulator"))
        .args(["--error-rate", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error_rate must be between 0 and 1"));
    let help = common::command(env!("CARGO_BIN_EXE_connect-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--fault-sequence"));
}
