//! Builds tests/c/async.c with strict warnings and runs it against a scripted server:
//! 8 threads submitting asynchronous calls, every callback exactly once, a full queue,
//! connect_client_free with calls in flight (those running finish OK, those queued are
//! cancelled and never sent) and from inside the client's own callback, and THREAD_START when
//! the OS refuses worker threads — directly and under valgrind.

use crate::support::{
    assert_valgrind_clean, build_program, closing_counts, repo_root, require_valgrind, run_program,
    standard_reply, TestServer, VALGRIND,
};

fn run(wrapper: &[&str], calls_per_thread: usize) -> String {
    let program = build_program(
        "gcc",
        &["-std=c11"],
        &[repo_root().join("tests/c/async.c")],
        "c-async",
    );
    let server = TestServer::start(standard_reply);
    let (output, success) = run_program(
        wrapper,
        &program,
        &[server.url(), calls_per_thread.to_string()],
        &[],
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
