//! Issue 22's defects, each against a server on 127.0.0.1 that this test starts: the tests
//! that found them, kept so they stay found. Each names the rule it holds the library to.

mod support;

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use connect_contact::{
    AdditionalRecipients, Client, ClientConfig, EmailAddressInfo, Error, Status,
    UpdateContactRequest,
};
use support::{read_request, respond, RawServer, Reply, TestServer};

fn config(url: &str, extra: serde_json::Value) -> ClientConfig {
    let mut json = serde_json::json!({
        "region": "us-east-1", "endpoint_url": url, "access_key_id": "AKIDHARDEN",
        "secret_access_key": "CANARY-SECRET-harden-0123456789",
        "session_token": "CANARY-TOKEN-harden-0123456789",
    });
    json.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    ClientConfig::from_json(&json.to_string()).unwrap()
}

fn client(url: &str, extra: serde_json::Value) -> Client {
    support::client(&config(url, extra))
}

fn request(instance: &str) -> UpdateContactRequest {
    let mut r = UpdateContactRequest::new(instance, "c");
    r.name = Some("CANARY-NAME".into());
    r.description = Some("CANARY-DESCRIPTION".into());
    r.additional_recipients = Some(AdditionalRecipients {
        cc_email_addresses: Some(vec![EmailAddressInfo {
            email_address: "CANARY-MAIL@example.com".into(),
            display_name: Some("CANARY-DISPLAY".into()),
        }]),
    });
    r
}

/// Defect 4: a server answers each request, then 5 ms later sends a second, unasked
/// response on the same connection. Calls 50 ms apart must each get their own answer: a
/// pooled connection with unread bytes is never reused.
#[test]
fn a_stray_response_never_answers_the_next_call() {
    let server = RawServer::start(|mut stream, n| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut k = 0;
        // Bounded: at most 20 requests on one connection.
        while k < 20 && read_request(&mut reader).is_some() {
            let id = format!("conn{n}-req{k}");
            if respond(&mut stream, 200, &[("x-amzn-RequestId", &id)], b"{}").is_err() {
                return;
            }
            // Soon after, so the stray is there well before the next call (50 ms later).
            std::thread::sleep(Duration::from_millis(5));
            let stray = format!("stray-after-{id}");
            let _ = respond(&mut stream, 200, &[("x-amzn-RequestId", &stray)], b"{}");
            k += 1;
        }
    });
    let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    for call in 0..5 {
        let output = client.update_contact(&request("stray")).unwrap();
        let id = output.metadata.request_id.unwrap_or_default();
        assert!(
            !id.starts_with("stray"),
            "call {call} got another response: {id}"
        );
        // Each answer is the first on a new connection: the previous one had a stray.
        assert!(id.ends_with("-req0"), "call {call}: {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Defect 5: invalid Content-Length framing (RFC 9112 6.3) is an immediate INVALID_RESPONSE,
/// never a wait for the deadline.
#[test]
fn invalid_content_length_is_an_immediate_invalid_response() {
    let heads: &[&[u8]] = &[
        b"content-length: 2\r\ncontent-length: 40\r\n",
        b"content-length: 2, 40\r\n",
        b"content-length: 2 0\r\n",
        b"content-length: +2\r\n",
        b"content-length: -1\r\n",
        b"content-length: 0x2\r\n",
        b"content-length: \r\n",
        b"content-length: 99999999999999999999\r\n",
    ];
    let server = RawServer::start(move |mut stream, n| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if read_request(&mut reader).is_none() {
            return;
        }
        let mut reply = b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: r\r\n".to_vec();
        reply.extend_from_slice(heads[n % heads.len()]);
        reply.extend_from_slice(b"\r\n{}");
        let _ = stream.write_all(&reply);
        // Keep the connection open: a lenient reader would wait for 40 bytes, or forever.
        std::thread::sleep(Duration::from_secs(3));
    });
    let client = client(
        &server.url(),
        serde_json::json!({"max_attempts": 3, "timeout_ms": 2500}),
    );
    for case in heads {
        let started = Instant::now();
        let err = client.update_contact(&request("framing")).unwrap_err();
        let shown = String::from_utf8_lossy(case);
        assert_eq!(err.status(), Status::InvalidResponse, "{shown}: {err}");
        assert!(err.message().contains("Content-Length"), "{shown}: {err}");
        assert_eq!(
            err.metadata().unwrap().retry_attempts,
            0,
            "{shown}: not retried"
        );
        // A reader waiting for the promised bytes would end in TIMEOUT (2.5 s), which the
        // status above rules out; the wall clock is only a generous ceiling.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{shown}: took {:?}",
            started.elapsed()
        );
    }
    // Repeated identical values are one value (RFC 9110 8.6).
    let same = RawServer::start(|mut stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if read_request(&mut reader).is_some() {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: same\r\ncontent-length: 2, 2\r\ncontent-length: 2\r\n\r\n{}",
            );
        }
    });
    let output = client_for(&same).update_contact(&request("same")).unwrap();
    assert_eq!(output.metadata.request_id.as_deref(), Some("same"));
}

fn client_for(server: &RawServer) -> Client {
    client(&server.url(), serde_json::json!({"max_attempts": 1}))
}

/// Defect 1: after fork, the child's asynchronous calls complete (the pool notices it lost its
/// workers and starts new ones), its blocking calls work on connections of its own (never
/// one the parent pooled: both would read the same socket), and freeing the inherited client
/// neither panics nor waits on the parent's threads.
#[test]
fn a_client_keeps_working_in_the_child_of_a_fork() {
    use support::{build_program, closing_counts, repo_root, run_program};
    let program = build_program(
        "gcc",
        &["-std=c11"],
        &[repo_root().join("tests/c/fork.c")],
        "c-fork",
    );
    // Keep-alive; each answer names its connection: "conn<n>-req<k>".
    let server = RawServer::start(|mut stream, n| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        for k in 0..50 {
            if read_request(&mut reader).is_none() {
                return;
            }
            let id = format!("conn{n}-req{k}");
            if respond(&mut stream, 200, &[("x-amzn-RequestId", &id)], b"{}").is_err() {
                return;
            }
        }
    });
    let (output, success) = run_program(&[], &program, &[server.url()], &[]);
    assert!(success, "fork test program failed:\n{output}");
    assert!(!output.contains("panic"), "{output}");
    assert!(output.contains("child: 3 checks passed"), "{output}");
    let (passed, failed) = closing_counts(&output);
    assert_eq!((passed, failed), (8, 0), "{output}");
    let connections = |who: &str| -> Vec<String> {
        output
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("id {who} ")))
            .map(|id| id.split('-').next().unwrap_or_default().to_owned())
            .collect()
    };
    let (parent, child) = (connections("parent"), connections("child"));
    assert_eq!((parent.len(), child.len()), (2, 3), "{output}");
    assert!(
        child.iter().all(|c| !parent.contains(c)),
        "the child used a connection the parent pooled: parent {parent:?}, child {child:?}"
    );
}

/// A temporary HOME with `~/.aws/config`; removed on drop.
struct Home(PathBuf);

impl Home {
    fn new(tag: &str, config: &str) -> Home {
        let dir = std::env::temp_dir().join(format!("cc-harden-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        std::fs::write(dir.join(".aws/config"), config).unwrap();
        Home(dir)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A client whose credentials come from the environment `vars` and `home`'s profile files
/// (no keys in its config), calling `url`.
fn client_from_env(
    home: &Home,
    url: &str,
    extra: serde_json::Value,
    vars: &[(&str, &str)],
) -> Client {
    let mut env: HashMap<String, String> = HashMap::from([
        ("HOME".into(), home.0.to_str().unwrap().into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]);
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut json = serde_json::json!({"endpoint_url": url, "max_attempts": 1});
    json.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let settings = ClientConfig::from_json(&json.to_string())
        .unwrap()
        .resolve_with(&|k| env.get(k).cloned())
        .unwrap();
    Client::with_settings(settings)
}

fn timed(
    client: &Client,
    instance: &str,
) -> (
    Result<connect_contact::UpdateContactOutput, Error>,
    Duration,
) {
    let started = Instant::now();
    let result = client.update_contact(&request(instance));
    (result, started.elapsed())
}

/// Defect 2: `timeout_ms` bounds the whole call, credential lookup included. A helper that
/// sleeps past the deadline makes the call TIMEOUT by its deadline (it took the helper's whole
/// run before); a slow helper's credentials, fetched in the background, serve the next call.
/// Each helper touches a file when its sleep ends: the call returned before the helper did
/// when that file is not there yet (an order, not a time; the wall clock is a ceiling).
#[test]
fn the_call_deadline_bounds_a_slow_credential_process() {
    let server = TestServer::start(|_, n| Reply::ok(&format!("req-{n}")));
    let marks = std::env::temp_dir().join(format!("cc-harden-marks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&marks);
    std::fs::create_dir_all(&marks).unwrap();
    let (hung_done, slow_done) = (marks.join("hung-done"), marks.join("slow-done"));
    let home = Home::new(
        "process",
        &format!(
            "[default]\ncredential_process = sleep 20; touch {} 2>/dev/null\n\
             [profile slow]\ncredential_process = sleep 4; touch {} 2>/dev/null; printf '{{\"Version\":1,\"AccessKeyId\":\"AKIDSLOW\",\"SecretAccessKey\":\"S\"}}'\n",
            hung_done.display(),
            slow_done.display()
        ),
    );
    let hung = client_from_env(
        &home,
        &server.url(),
        serde_json::json!({"timeout_ms": 1000}),
        &[],
    );
    let (result, took) = timed(&hung, "deadline-process");
    let err = result.unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert!(
        err.message().contains("credential_process of profile"),
        "{err}"
    );
    assert!(!hung_done.exists(), "the call waited for the helper");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let slow = client_from_env(
        &home,
        &server.url(),
        serde_json::json!({"timeout_ms": 1000, "profile": "slow"}),
        &[],
    );
    let (result, took) = timed(&slow, "deadline-slow");
    assert_eq!(result.unwrap_err().status(), Status::Timeout);
    assert!(!slow_done.exists(), "the call waited for the helper");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // The helper finishes in the background; a later call uses what it printed.
    let mut later = None;
    for _ in 0..80 {
        std::thread::sleep(Duration::from_millis(250));
        if let (Ok(output), _) = timed(&slow, "deadline-slow") {
            later = Some(output);
            break;
        }
    }
    assert!(later.is_some(), "the background lookup served a later call");
    assert!(slow_done.exists(), "after the helper finished");
    let signed = server
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect::<Vec<_>>();
    assert!(
        signed.iter().any(|a| a.contains("Credential=AKIDSLOW/")),
        "{signed:?}"
    );
    // The hung helper's touch, 20 s on, then finds no directory and does nothing.
    let _ = std::fs::remove_dir_all(&marks);
}

/// Defect 2, the container provider: an endpoint that stalls made a 1.5 s call take 4 s (two
/// tries of 2 s); now TIMEOUT by the deadline, after one try (counted by the endpoint).
#[test]
fn the_call_deadline_bounds_a_slow_container_endpoint() {
    let server = TestServer::start(|_, n| Reply::ok(&format!("req-{n}")));
    let agent = TestServer::start(|_, _| Reply::Stall(Duration::from_secs(5)));
    let home = Home::new("container", "");
    let full = format!("{}/creds", agent.url());
    let client = client_from_env(
        &home,
        &server.url(),
        serde_json::json!({"timeout_ms": 1500}),
        &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full)],
    );
    let (result, took) = timed(&client, "deadline-container");
    let err = result.unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert!(err.message().contains("container credentials at"), "{err}");
    assert_eq!(
        agent.count(),
        1,
        "one try, cut short by the call's deadline"
    );
    // The count is the check (the old code tried twice); the wall clock is a ceiling.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(server.count(), 0, "nothing was sent unsigned");
}

/// Defect 6: every failure of a credential provider is CREDENTIALS_PROVIDER and names the
/// provider: IMDS answering its token, then a 20 MB role list, was INVALID_RESPONSE "HTTP
/// 200 response body is larger than 65536 bytes".
#[test]
fn provider_failures_name_the_provider() {
    let huge = vec![b'r'; 20 * 1024 * 1024];
    let imds = TestServer::start(move |r, _| match r.method.as_str() {
        "PUT" => Reply::Respond {
            status: 200,
            headers: vec![],
            body: b"TOKEN".to_vec(),
        },
        _ => Reply::Respond {
            status: 200,
            headers: vec![],
            body: huge.clone(),
        },
    });
    let big_container = TestServer::start(|_, _| Reply::Respond {
        status: 200,
        headers: vec![],
        body: vec![b'{'; 1024 * 1024],
    });
    let server = TestServer::start(|_, n| Reply::ok(&format!("req-{n}")));
    let home = Home::new("naming", "");
    let imds_url = imds.url();
    let container_url = format!("{}/creds", big_container.url());
    for (vars, name) in [
        (
            vec![
                ("AWS_EC2_METADATA_DISABLED", "false"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_url.as_str()),
            ],
            "EC2 instance metadata at",
        ),
        (
            vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", container_url.as_str())],
            "container credentials",
        ),
    ] {
        let client = client_from_env(
            &home,
            &server.url(),
            serde_json::json!({"timeout_ms": 10000}),
            &vars,
        );
        let err = client.update_contact(&request("naming")).unwrap_err();
        assert_eq!(err.status(), Status::CredentialsProvider, "{name}: {err}");
        assert!(err.message().contains(name), "{err}");
    }
    assert_eq!(server.count(), 0);
}

/// Log lines of this test process.
fn log_lines() -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    use connect_contact::{set_log_sink, LogLevel, LogSink};
    use std::sync::{Arc, Mutex, OnceLock};
    struct Lines(Arc<Mutex<Vec<String>>>);
    impl LogSink for Lines {
        fn log(&self, _: LogLevel, message: &str) {
            self.0.lock().unwrap().push(message.to_owned());
        }
    }
    static LINES: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            set_log_sink(LogLevel::Debug, Some(Arc::new(Lines(lines.clone()))));
            lines
        })
        .clone()
}

/// An endpoint that echoes what it was sent, as AWS services quote values: the request body
/// (Name, Description) and the session token into the error message, the token into the
/// request id.
fn echoing_server() -> TestServer {
    TestServer::start(|r, n| {
        let token = r.header("x-amz-security-token").unwrap_or("-").to_owned();
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let status = if n % 2 == 0 { 400 } else { 200 };
        let mut reply = Reply::error(
            status,
            "InvalidParameterException",
            // The secret key never travels; a hostile endpoint quoting it is simulated.
            &format!(
                "Value '{body}' at 'name' failed to satisfy constraint; token {token}; {}",
                token.replace("TOKEN", "SECRET")
            ),
            &format!("req-{n}-{token}"),
        );
        if let Reply::Respond { body, .. } = &mut reply {
            if status == 200 {
                *body = b"{}".to_vec();
            }
        }
        reply
    })
}

/// Defect 3: secrets (secret key, session token), whatever source they came from, and the
/// request's sensitive values never reach an error message, a response document or a log
/// line, even when the endpoint echoes them back.
#[test]
fn echoed_secrets_and_sensitive_values_are_scrubbed() {
    let lines = log_lines();
    let server = echoing_server();
    let from_config = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    let home = Home::new(
        "scrub",
        "[default]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"CANARY-PROC-SECRET-0123\",\"SessionToken\":\"CANARY-PROC-TOKEN-0123\"}'\n",
    );
    let from_process = client_from_env(&home, &server.url(), serde_json::json!({}), &[]);
    let mut texts = Vec::new();
    for client in [&from_config, &from_process] {
        for _ in 0..2 {
            match client.update_contact(&request("scrub")) {
                Err(err) => {
                    assert_eq!(err.status(), Status::InvalidParameter, "{err}");
                    assert!(err.message().contains("** redacted **"), "{err}");
                    assert!(err.message().contains("at 'name' failed"), "{err}");
                    texts.extend([err.to_string(), err.to_document(), format!("{err:?}")]);
                }
                Ok(output) => {
                    let id = output.metadata.request_id.clone().unwrap_or_default();
                    assert!(id.contains("** redacted **"), "{id}");
                    texts.extend([output.to_document(), format!("{output:?}")]);
                }
            }
        }
    }
    texts.extend(lines.lock().unwrap().iter().cloned());
    assert!(texts.len() > 8);
    for text in texts {
        assert!(!text.contains("CANARY"), "leaked: {text}");
    }
    // The server did get the values: what was scrubbed was really echoed.
    assert!(server
        .requests()
        .iter()
        .any(|r| r.header("x-amz-security-token") == Some("CANARY-PROC-TOKEN-0123")));
}
