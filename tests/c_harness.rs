//! Builds tests/c/harness.c with strict warnings against the cdylib and runs it against a
//! scripted server on 127.0.0.1 — directly, and under valgrind.

mod support;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use support::{cdylib_path, repo_root, scratch_dir, Recorded, Reply, TestServer};

fn respond(request: &Recorded, n: usize, flaky_seen: &Mutex<HashMap<String, usize>>) -> Reply {
    let instance = request.path.split('/').nth(2).unwrap_or("").to_string();
    let request_id = format!("req-{n}");
    if let Some(rest) = instance.strip_prefix("error-") {
        let (code, status) = rest.rsplit_once('-').unwrap();
        return Reply::error(
            status.parse().unwrap(),
            code,
            &format!("scripted message for {code}"),
            &request_id,
        );
    }
    match instance.as_str() {
        "html-502" => Reply::Respond {
            status: 502,
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        },
        "slow" => Reply::Stall(Duration::from_secs(2)),
        i if i.starts_with("flaky-") => {
            let mut seen = flaky_seen.lock().unwrap();
            let count = seen.entry(i.to_string()).or_insert(0);
            *count += 1;
            if *count == 1 {
                Reply::error(503, "ServiceUnavailable", "try again", &request_id)
            } else {
                Reply::ok(&request_id)
            }
        }
        _ => Reply::ok(&request_id),
    }
}

fn compile_harness() -> PathBuf {
    let lib = cdylib_path();
    let lib_dir = lib.parent().unwrap();
    let out = scratch_dir("c-harness").join("harness");
    let status = Command::new("gcc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-O1",
            "-I",
        ])
        .arg(repo_root().join("include"))
        .arg(repo_root().join("tests/c/harness.c"))
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-lconnect_contact", "-lpthread"])
        .status()
        .expect("gcc runs");
    assert!(
        status.success(),
        "the C harness compiles with -Wall -Wextra -Werror -pedantic"
    );
    out
}

/// A URL where nothing listens: bind an ephemeral port, then free it.
fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

fn run_harness(wrapper: &[&str]) -> (String, Vec<Recorded>) {
    let harness = compile_harness();
    let flaky = Mutex::new(HashMap::new());
    let server = TestServer::start(move |r, n| respond(r, n, &flaky));
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&harness);
            c
        }
        None => Command::new(&harness),
    };
    // The harness tests the environment itself; start it from a clean AWS environment.
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    // ...and without the machine's profile files or a probe of the metadata service.
    command
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let output = command
        .arg(server.url())
        .arg(dead_url())
        .output()
        .expect("harness runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "harness failed:\n{stdout}\n{stderr}"
    );
    let requests = server.requests();
    (format!("{stdout}\n{stderr}"), requests)
}

fn closing_counts(output: &str) -> (u32, u32) {
    let line = output
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .expect("closing line N passed, M failed");
    let nums: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums[0], nums[1])
}

#[test]
fn c_harness_passes_against_a_local_server() {
    let (output, requests) = run_harness(&[]);
    let (passed, failed) = closing_counts(&output);
    assert_eq!(failed, 0);
    assert!(passed >= 150, "the harness ran its checks ({passed})");
    assert!(
        requests.iter().all(|r| !r.path.contains("must-not-arrive")),
        "refused requests never reach the server"
    );
    let full = requests
        .iter()
        .find(|r| r.path.starts_with("/contacts/inst-1/"))
        .expect("the full request arrived");
    assert_eq!(full.method, "POST");
    assert_eq!(full.path, "/contacts/inst-1/contact%2Fwith%20space%25");
    assert_eq!(full.header("content-type"), Some("application/json"));
    assert_eq!(
        full.header("x-amz-security-token"),
        Some("CANARY-SESSION-TOKEN-4242")
    );
    assert!(full
        .header("authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 Credential=AKIDHARNESS/"));
    let body: serde_json::Value = serde_json::from_slice(&full.body).unwrap();
    let members: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for m in [
        "Name",
        "Description",
        "References",
        "SegmentAttributes",
        "QueueInfo",
        "UserInfo",
        "CustomerEndpoint",
        "SystemEndpoint",
    ] {
        assert!(members.contains(&m), "{m} sent");
    }
    assert_eq!(body["Name"], "Caller \"Q\" \u{2028}");
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/contacts/threads/"))
            .count(),
        200
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/contacts/flaky-1/"))
            .count(),
        2,
        "one retry"
    );
}

#[test]
fn c_harness_is_clean_under_valgrind() {
    let found = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "valgrind is required for this test (apt-get install valgrind)"
    );
    let (output, _) = run_harness(&[
        "valgrind",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
    ]);
    let (_, failed) = closing_counts(&output);
    assert_eq!(failed, 0);
    assert!(
        output.contains("ERROR SUMMARY: 0 errors"),
        "valgrind reports no errors"
    );
    assert!(
        output.contains("definitely lost: 0 bytes")
            || output.contains("All heap blocks were freed"),
        "no definite leaks"
    );
}
