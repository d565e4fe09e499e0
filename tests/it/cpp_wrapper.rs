//! Builds tests/cpp/wrapper_test.cpp (with a second translation unit including the header
//! too) as strict C++17 and C++20 and runs it against a scripted server.

use crate::support::{
    build_program, closing_counts, repo_root, run_program, standard_reply, TestServer,
};

fn build_and_run(std: &str) {
    let sources = [
        repo_root().join("tests/cpp/wrapper_test.cpp"),
        repo_root().join("tests/cpp/second_unit.cpp"),
    ];
    let program = build_program("g++", &[std], &sources, &format!("cpp-wrapper{std}"));
    let server = TestServer::start(standard_reply);
    let (output, success) = run_program(&[], &program, &[server.url()], &[]);
    assert!(success, "C++ wrapper test failed ({std}):\n{output}");
    let (passed, failed) = closing_counts(&output);
    assert_eq!(failed, 0);
    assert!(passed >= 50, "the program ran its checks ({passed})");
    let requests = server.requests();
    assert!(requests.iter().all(|r| !r.path.contains("must-not-arrive")));
    let built = requests
        .iter()
        .find(|r| r.path.starts_with("/contacts/builder/"))
        .expect("the builder's request arrived");
    let body: serde_json::Value = serde_json::from_slice(&built.body).unwrap();
    assert_eq!(
        body["Name"], "q\"uote b\\ack\nline\ttab \u{1} caf\u{e9}",
        "the builder escapes quotes, backslashes and control characters"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/contacts/async-cpp/"))
            .count(),
        200
    );
}

#[test]
fn cpp_wrapper_works_as_cpp17() {
    build_and_run("-std=c++17");
}

#[test]
fn cpp_wrapper_works_as_cpp20() {
    build_and_run("-std=c++20");
}
