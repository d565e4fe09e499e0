//! Builds tests/c/harness.c with strict warnings against the cdylib and runs it against a
//! scripted server on 127.0.0.1 — directly, and under valgrind.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::support::{
    assert_valgrind_clean, build_program, closing_counts, dead_url, repo_root, require_valgrind,
    run_program, standard_reply, RawServer, Recorded, Reply, TestServer, VALGRIND,
};

fn respond(request: &Recorded, n: usize, flaky_seen: &Mutex<HashMap<String, usize>>) -> Reply {
    let instance = request.path.split('/').nth(2).unwrap_or("").to_string();
    match instance.as_str() {
        "html-502" => Reply::Respond {
            status: 502,
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        },
        // Over the library's 64 KiB response limit.
        "huge-body" => Reply::Respond {
            status: 200,
            headers: vec![("x-amzn-RequestId".into(), format!("req-{n}"))],
            body: vec![b' '; 70 * 1024],
        },
        i if i.starts_with("flaky-") => {
            let mut seen = flaky_seen.lock().unwrap();
            let count = seen.entry(i.to_string()).or_insert(0);
            *count += 1;
            if *count == 1 {
                Reply::error(503, "ServiceUnavailable", "try again", &format!("req-{n}"))
            } else {
                Reply::ok(&format!("req-{n}"))
            }
        }
        _ => standard_reply(request, n),
    }
}

fn run_harness(wrapper: &[&str]) -> (String, Vec<Recorded>) {
    let harness = build_program(
        "gcc",
        &["-std=c11"],
        &[repo_root().join("tests/c/harness.c")],
        "c-harness",
    );
    let flaky = Mutex::new(HashMap::new());
    let server = TestServer::start(move |r, n| respond(r, n, &flaky));
    // Accepts and closes at once, without reading: a client still writing its body gets a
    // reset (EPIPE), which must not raise SIGPIPE in the C process.
    let closing = RawServer::start(|stream, _| drop(stream));
    // The harness tests the environment itself: run_program starts it without AWS_ variables.
    let (output, success) = run_program(
        wrapper,
        &harness,
        &[server.url(), dead_url(), closing.url()],
        &[],
    );
    assert!(success, "harness failed:\n{output}");
    (output, server.requests())
}

#[test]
fn c_harness_passes_against_a_local_server() {
    let (output, requests) = run_harness(&[]);
    let (passed, failed) = closing_counts(&output);
    assert_eq!(failed, 0);
    assert!(passed >= 150, "the harness ran its checks ({passed})");
    assert!(
        requests
            .iter()
            .any(|r| r.path.starts_with("/contacts/after-panic/")),
        "the call after the caught panic arrived"
    );
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
    require_valgrind();
    let (output, _) = run_harness(VALGRIND);
    let (_, failed) = closing_counts(&output);
    assert_eq!(failed, 0);
    assert_valgrind_clean(&output);
}
