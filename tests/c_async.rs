//! Builds tests/c/async.c with strict warnings and runs it against a scripted server:
//! 8 threads submitting asynchronous calls, every callback exactly once, a full queue, and
//! connect_client_free with calls queued and in flight — directly and under valgrind.

mod support;

use std::time::Duration;

use support::{
    assert_valgrind_clean, build_program, closing_counts, repo_root, require_valgrind, run_program,
    Recorded, Reply, TestServer, VALGRIND,
};

fn respond(request: &Recorded, n: usize) -> Reply {
    let instance = request.path.split('/').nth(2).unwrap_or("");
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
    match instance {
        "slow" => Reply::Stall(Duration::from_secs(2)),
        _ => Reply::ok(&request_id),
    }
}

fn run(wrapper: &[&str], calls_per_thread: usize) -> String {
    let program = build_program(
        "gcc",
        &["-std=c11"],
        &[repo_root().join("tests/c/async.c")],
        "c-async",
    );
    let server = TestServer::start(respond);
    let (output, success) = run_program(
        wrapper,
        &program,
        &[server.url(), calls_per_thread.to_string()],
    );
    assert!(success, "async test program failed:\n{output}");
    let (passed, failed) = closing_counts(&output);
    assert_eq!(failed, 0);
    assert!(passed >= 40, "the program ran its checks ({passed})");
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| !r.path.contains("must-not-arrive")),
        "refused and cancelled calls never reach the server"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/contacts/async-many/"))
            .count(),
        8 * calls_per_thread,
        "every accepted call was sent exactly once"
    );
    output
}

#[test]
fn eight_threads_of_async_calls_each_complete_once() {
    run(&[], 1000);
}

#[test]
fn async_calls_are_clean_under_valgrind() {
    require_valgrind();
    // Fewer calls: valgrind runs every thread on one core, dozens of times slower.
    let output = run(VALGRIND, 50);
    assert_valgrind_clean(&output);
}
