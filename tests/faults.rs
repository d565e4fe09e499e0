//! The fault-injection suite: the client against real sockets on 127.0.0.1 that misbehave
//! the ways the service, its load balancers and networks do. Delays are checked against the
//! retry formula through the client's own log lines (recorded decisions), never wall-clock
//! asserts; the only timing bounds are "gives up by the deadline" guards.

mod support;

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use aws_smithy_types::date_time::{DateTime, Format};
use connect_contact::{
    set_log_sink, Client, ClientConfig, Error, LogLevel, LogSink, Status, UpdateContactRequest,
};
use support::{read_request, respond, RawServer, Recorded, Reply, TestServer};

/// Every log line of this test process; each test filters by its own unique instance id.
struct Lines(Mutex<Vec<String>>);

impl LogSink for Lines {
    fn log(&self, _: LogLevel, message: &str) {
        // The soak's lines are not kept: it measures the client's memory, not this collector's.
        if !message.contains("/contacts/soak/") {
            self.0.lock().unwrap().push(message.to_string());
        }
    }
}

fn log_lines(instance: &str) -> Vec<String> {
    static LINES: OnceLock<Arc<Lines>> = OnceLock::new();
    let lines = LINES.get_or_init(|| {
        let lines = Arc::new(Lines(Mutex::new(Vec::new())));
        set_log_sink(LogLevel::Debug, Some(lines.clone()));
        lines
    });
    let needle = format!("/contacts/{instance}/");
    lines
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(&needle))
        .cloned()
        .collect()
}

/// The delays (ms) the client decided on, in order, from its "retry N in D ms" lines.
fn recorded_delays(instance: &str) -> Vec<u64> {
    log_lines(instance)
        .iter()
        .filter_map(|l| {
            l.split(" in ")
                .nth(2)
                .and_then(|rest| rest.split(" ms").next())
                .and_then(|d| d.parse().ok())
        })
        .collect()
}

fn config(url: &str, extra: serde_json::Value) -> ClientConfig {
    let mut json = serde_json::json!({
        "region": "us-east-1", "endpoint_url": url, "access_key_id": "AKIDFAULTS",
        "secret_access_key": "CANARY-SECRET-faults", "session_token": "CANARY-TOKEN-faults",
    });
    json.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    ClientConfig::from_json(&json.to_string()).unwrap()
}

fn client(url: &str, extra: serde_json::Value) -> Client {
    log_lines("-"); // install the log collector before the first call
    support::client(&config(url, extra))
}

fn request(instance: &str) -> UpdateContactRequest {
    let mut r = UpdateContactRequest::new(instance, "c");
    r.name = Some("CANARY-NAME".into());
    r.description = Some("CANARY-DESCRIPTION".into());
    r
}

fn instance_of(r: &Recorded) -> String {
    r.path.split('/').nth(2).unwrap_or_default().to_string()
}

/// A server that answers each instance's n-th request from `script(instance, n)`.
fn scripted(script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> TestServer {
    let counts = Mutex::new(HashMap::<String, usize>::new());
    TestServer::start(move |r, _| {
        let instance = instance_of(r);
        let n = {
            let mut counts = counts.lock().unwrap();
            let n = counts.entry(instance.clone()).or_default();
            *n += 1;
            *n
        };
        script(&instance, n)
    })
}

fn attempts(server: &TestServer, instance: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| instance_of(r) == instance)
        .count()
}

fn no_canary(text: &str) {
    assert!(
        !text.contains("CANARY"),
        "a secret or sensitive value leaked: {text}"
    );
}

#[test]
fn transient_statuses_then_success_are_retried_within_the_formula() {
    // Each status gets its own script through the instance name.
    let server = scripted(|instance, n| {
        let status: u16 = instance
            .trim_start_matches("transient-")
            .parse()
            .unwrap_or(500);
        if n == 1 {
            Reply::Respond {
                status,
                headers: vec![],
                body: Vec::new(),
            }
        } else {
            Reply::ok("ok")
        }
    });
    let fast = client(&server.url(), serde_json::json!({"new_retries_2026": true}));
    for status in [500, 502, 503, 504] {
        let instance = format!("transient-{status}");
        let output = fast.update_contact(&request(&instance)).unwrap();
        assert_eq!(output.metadata.retry_attempts, 1, "{status}");
        assert_eq!(attempts(&server, &instance), 2);
        let delays = recorded_delays(&instance);
        assert_eq!(delays.len(), 1, "{delays:?}");
        assert!(delays[0] <= 50, "2026 transient base is 50 ms: {delays:?}");
    }
    // Standard behaviour: base 1 s, so the first delay is at most 1000 ms.
    let standard = client(&server.url(), serde_json::json!({}));
    let instance = "transient-500-standard";
    let output = standard.update_contact(&request(instance)).unwrap();
    assert_eq!(output.metadata.retry_attempts, 1);
    let delays = recorded_delays(instance);
    assert!(delays.len() == 1 && delays[0] <= 1000, "{delays:?}");
}

#[test]
fn throttling_every_time_makes_exactly_max_attempts() {
    let server = scripted(|_, _| Reply::error(429, "ThrottlingException", "Rate exceeded", "r"));
    let client = client(
        &server.url(),
        serde_json::json!({"max_attempts": 3, "timeout_ms": 20000}),
    );
    let err = client.update_contact(&request("always-429")).unwrap_err();
    assert_eq!(err.status(), Status::Throttling);
    assert_eq!(attempts(&server, "always-429"), 3);
    assert_eq!(err.metadata().unwrap().retry_attempts, 2);
    // As boto3: the service's message untouched, the stop apart (MaxAttemptsReached).
    assert_eq!(err.message(), "Rate exceeded");
    let metadata = err.metadata().unwrap();
    assert!(metadata.max_attempts_reached && !metadata.retry_quota_reached);
    assert_eq!(
        err.to_string(),
        "ThrottlingException: Rate exceeded (gave up after 3 attempts: max_attempts 3 reached)"
    );
    let doc: serde_json::Value = serde_json::from_str(&err.to_document()).unwrap();
    assert_eq!(doc["Error"]["Message"], "Rate exceeded");
    assert_eq!(doc["ResponseMetadata"]["MaxAttemptsReached"], true);
    assert_eq!(
        doc["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"],
        "r"
    );
    assert_eq!(
        doc["Details"]["StopReason"],
        "gave up after 3 attempts: max_attempts 3 reached"
    );
    let delays = recorded_delays("always-429");
    assert_eq!(delays.len(), 2);
    assert!(
        delays[0] <= 1000 && delays[1] <= 2000,
        "rand × min(1 s × 2^(i−1), 20 s): {delays:?}"
    );
}

#[test]
fn every_throttling_code_is_retried_from_the_header_and_from_a_namespaced_type() {
    const CODES: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    ];
    let server = scripted(|instance, n| {
        if n > 1 {
            return Reply::ok("ok");
        }
        let (how, code) = instance.split_once('-').unwrap();
        if how == "header" {
            Reply::error(400, code, "slow down", "r")
        } else {
            let body = serde_json::json!({ "__type": format!("com.amazonaws.connect#{code}:http://internal"), "message": "m" });
            Reply::Respond {
                status: 400,
                headers: vec![],
                body: body.to_string().into_bytes(),
            }
        }
    });
    let client = Arc::new(client(
        &server.url(),
        serde_json::json!({"max_attempts": 2, "timeout_ms": 20000}),
    ));
    // In parallel: each retry waits up to a second.
    let handles: Vec<_> = CODES
        .iter()
        .flat_map(|code| ["header", "body"].map(|how| format!("{how}-{code}")))
        .map(|instance| {
            let client = client.clone();
            std::thread::spawn(move || {
                (
                    client
                        .update_contact(&request(&instance))
                        .map(|o| o.metadata.retry_attempts),
                    instance,
                )
            })
        })
        .collect();
    for h in handles {
        let (result, instance) = h.join().unwrap();
        assert_eq!(
            result.unwrap_or_else(|e| panic!("{instance}: {e}")),
            1,
            "{instance} retried once"
        );
    }
}

#[test]
fn modeled_client_errors_are_attempted_once() {
    let server = scripted(|instance, _| {
        let (code, status) = match instance {
            "e400" => ("InvalidParameterException", 400),
            "e403" => ("AccessDeniedException", 403),
            "e404" => ("ResourceNotFoundException", 404),
            _ => ("ConflictException", 409),
        };
        Reply::error(status, code, "no", "r")
    });
    let client = client(&server.url(), serde_json::json!({"max_attempts": 5}));
    for (instance, status) in [
        ("e400", Status::InvalidParameter),
        ("e403", Status::AccessDenied),
        ("e404", Status::ResourceNotFound),
        ("e409", Status::Conflict),
    ] {
        let err = client.update_contact(&request(instance)).unwrap_err();
        assert_eq!(err.status(), status);
        assert_eq!(attempts(&server, instance), 1, "{instance}");
        assert_eq!(
            err.message(),
            "no",
            "a first-try final error keeps the service's message"
        );
    }
}

#[test]
fn the_retry_quota_drains_under_sustained_503_then_refills() {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = failing.clone();
    let server = TestServer::start(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            Reply::error(503, "ServiceUnavailable", "busy", "r")
        } else {
            Reply::ok("ok")
        }
    });
    let client = Arc::new(client(
        &server.url(),
        serde_json::json!({"new_retries_2026": true, "max_attempts": 3}),
    ));
    let quota_errors = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (client, quota_errors) = (client.clone(), quota_errors.clone());
            std::thread::spawn(move || {
                for i in 0..10 {
                    let err = client
                        .update_contact(&request(&format!("quota-{t}-{i}")))
                        .unwrap_err();
                    if err.to_string().contains("retry quota is empty") {
                        let metadata = err.metadata().unwrap();
                        assert!(metadata.retry_attempts < 2, "stopped before max_attempts");
                        assert!(metadata.retry_quota_reached && !metadata.max_attempts_reached);
                        assert_eq!(err.message(), "busy");
                        quota_errors.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let drained = client.retry_quota();
    assert!(drained < 14, "the quota is drained: {drained} tokens left");
    assert!(
        quota_errors.load(Ordering::SeqCst) > 0,
        "calls failed fast once the quota was empty"
    );
    // 80 calls could have made 160 retries; the quota allowed 500 / 14 = 35.
    assert!(
        server.requests().len() <= 80 + 35,
        "{} requests",
        server.requests().len()
    );
    failing.store(false, Ordering::SeqCst);
    for i in 0..30 {
        client
            .update_contact(&request(&format!("refill-{i}")))
            .unwrap();
    }
    assert_eq!(
        client.retry_quota(),
        drained + 30,
        "each first-try success earns a token back"
    );
}

/// The attempts a call made, as the client logged them: (status name, the attempt's duration
/// in ms as the client measured it, the decision after it).
fn logged_attempts(instance: &str) -> Vec<(String, f64, String)> {
    log_lines(instance)
        .iter()
        .map(|line| {
            let (_, after) = line.split_once(": ").expect("attempt line");
            let status = after.split_whitespace().next().unwrap().to_string();
            let (_, timing) = after.rsplit_once(" in ").expect("duration");
            let (ms, decision) = timing.split_once(" ms; ").expect("decision");
            (status, ms.parse().unwrap(), decision.to_string())
        })
        .collect()
}

/// How long a test server holds a request it never answers: longer than any deadline here
/// plus the generous wall-clock ceiling, so a client that ignored its deadline would show.
const HOLD: Duration = Duration::from_secs(6);
/// The wall-clock ceiling of a call whose deadline logic works (a guard against hanging only;
/// the checks that matter are counted).
const CEILING: Duration = Duration::from_secs(4);

#[test]
fn a_silent_server_times_out_by_the_deadline() {
    // Reads the request, then waits (never answering) until the client hangs up or HOLD ends.
    let server = RawServer::start(|stream, _| {
        let _ = stream.set_read_timeout(Some(HOLD));
        let mut reader = BufReader::new(stream);
        let _ = read_request(&mut reader);
        let _ = std::io::Read::read(&mut reader, &mut [0; 1]);
    });
    let client = client(&server.url(), serde_json::json!({"timeout_ms": 1000}));
    let started = Instant::now();
    let err = client.update_contact(&request("silent")).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert_eq!(err.transport_kind(), Some("ReadTimeout"), "{err}");
    // What the deadline logic decided: one attempt (3 allowed), ended by the 1000 ms deadline
    // (not earlier), and no retry because the deadline would pass.
    let attempts = logged_attempts("silent");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let (status, ms, decision) = &attempts[0];
    assert_eq!(status, "CONNECT_STATUS_TIMEOUT");
    assert!(
        *ms >= 990.0,
        "the attempt ended {ms} ms in, before the deadline"
    );
    assert!(
        decision.contains("the call deadline would pass"),
        "{decision}"
    );
    assert!(
        err.to_string().contains("the call deadline would pass"),
        "{err}"
    );
    assert_eq!(err.metadata().unwrap().retry_attempts, 0);
    assert!(elapsed < CEILING, "{elapsed:?}");
}

#[test]
fn headers_dribbled_a_byte_at_a_time_hit_the_deadline() {
    // One byte every 100 ms, 60 of them (6 s): the bytes the server got out before the client
    // hung up count how long the client kept reading.
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let server = RawServer::start(move |mut stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let _ = read_request(&mut reader);
        let head = b"HTTP/1.1 200 OK\r\nx-padding: ";
        for byte in head.iter().chain(std::iter::repeat(&b'a')).take(60) {
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let client = client(
        &server.url(),
        serde_json::json!({"timeout_ms": 1000, "max_attempts": 1}),
    );
    let started = Instant::now();
    let err = client.update_contact(&request("dribble")).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    let attempts = logged_attempts("dribble");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(
        attempts[0].1 >= 990.0,
        "the attempt ended {} ms in, before the deadline",
        attempts[0].1
    );
    // Each byte arriving before the deadline must not stretch it: the client hangs up after
    // about 10 bytes. Wait for the server to notice (its next writes fail), bounded.
    let noticed = Instant::now();
    let mut last = written.load(Ordering::SeqCst);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = written.load(Ordering::SeqCst);
        if now == last || noticed.elapsed() > HOLD {
            break;
        }
        last = now;
    }
    assert!(
        last < 30,
        "the server wrote {last} bytes before the client hung up: the deadline was stretched"
    );
    assert!(elapsed < CEILING, "{elapsed:?}");
}

#[test]
fn a_port_that_never_accepts_hits_the_connect_timeout() {
    // Fill the listener's accept queue without ever accepting: further connects hang in SYN.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..1000 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    assert!(held.len() < 1000, "the accept queue filled up");
    let client = client(
        &format!("http://{addr}"),
        serde_json::json!({"connect_timeout_ms": 300, "max_attempts": 1}),
    );
    let started = Instant::now();
    let err = client.update_contact(&request("backlog")).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    // botocore's ConnectTimeoutError, naming the URL the attempt went to.
    assert_eq!(err.transport_kind(), Some("ConnectTimeout"), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&err.to_document()).unwrap();
    assert_eq!(
        doc["Details"]["EndpointUrl"],
        format!("http://{addr}/contacts/backlog/c")
    );
    // The connect timeout fired (not the 10 s call deadline, not the OS's SYN retries, which
    // take minutes), and not before its 300 ms.
    assert!(err.message().contains("(connect)"), "{err}");
    let attempts = logged_attempts("backlog");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(
        attempts[0].1 >= 295.0,
        "gave up {} ms in, before the connect timeout",
        attempts[0].1
    );
    assert!(elapsed < CEILING, "{elapsed:?}");
    drop(listener);
}

#[test]
fn a_refused_connection_is_a_connect_failure() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = client(
        &format!("http://{addr}"),
        serde_json::json!({"max_attempts": 1}),
    );
    let err = client.update_contact(&request("refused")).unwrap_err();
    assert_eq!(err.status(), Status::Transport, "{err}");
    assert_eq!(err.transport_kind(), Some("EndpointConnection"), "{err}");
    let metadata = err.metadata().unwrap();
    assert!(metadata.max_attempts_reached && metadata.http_headers.is_empty());
    // https goes through the general transport: the same answer.
    let tls = self::client(
        &format!("https://{addr}"),
        serde_json::json!({"max_attempts": 1}),
    );
    let err = tls.update_contact(&request("refused")).unwrap_err();
    assert_eq!(err.transport_kind(), Some("EndpointConnection"), "{err}");
}

#[test]
fn a_connection_closed_without_an_answer_is_told_apart() {
    let server = scripted(|_, _| Reply::Close);
    let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    let err = client.update_contact(&request("closed")).unwrap_err();
    assert_eq!(err.status(), Status::Transport, "{err}");
    assert_eq!(err.transport_kind(), Some("ConnectionClosed"), "{err}");
}

#[test]
fn broken_responses_are_retried() {
    // Connection n: 0 closes before the status line, 1 sends half a head, 2 truncates the
    // body, 3 answers properly. One client, so each retry opens the next connection.
    let server = RawServer::start(|mut stream, n| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if read_request(&mut reader).is_none() {
            return;
        }
        let _ = match n {
            0 => Ok(()),
            1 => stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-le"),
            2 => stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"trunc"),
            _ => respond(&mut stream, 200, &[("x-amzn-RequestId", "finally")], b"{}"),
        };
    });
    let client = client(
        &server.url(),
        serde_json::json!({"new_retries_2026": true, "max_attempts": 4}),
    );
    let output = client.update_contact(&request("broken")).unwrap();
    assert_eq!(output.metadata.retry_attempts, 3);
    assert_eq!(output.metadata.request_id.as_deref(), Some("finally"));
}

#[test]
fn an_idle_pooled_connection_closed_by_the_server_is_replaced_silently() {
    let server = RawServer::start(|mut stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if read_request(&mut reader).is_some() {
            let _ = respond(&mut stream, 200, &[("x-amzn-RequestId", "one")], b"{}");
        }
        std::thread::sleep(Duration::from_millis(50)); // then close the kept-alive connection
    });
    let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    client.update_contact(&request("idle")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let output = client.update_contact(&request("idle")).unwrap();
    assert_eq!(
        output.metadata.retry_attempts, 0,
        "no user-visible error, not even a retry"
    );
}

#[test]
fn a_pooled_connection_closed_as_the_request_arrives_is_replaced_silently() {
    // The race the reuse probe cannot see: the server closes a kept-alive connection just as
    // the next request reaches it (its idle timer fired), having answered nothing. The
    // request may not have been read; a reused connection that ends before any byte of an
    // answer is retried once on a new connection, as for a refused first write.
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let server = RawServer::start(move |mut stream, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if read_request(&mut reader).is_some() {
            let _ = respond(&mut stream, 200, &[("x-amzn-RequestId", "one")], b"{}");
        }
        // Close, unanswered, as soon as the next request arrives.
        let _ = read_request(&mut reader);
    });
    let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    client.update_contact(&request("race")).unwrap();
    let output = client
        .update_contact(&request("race"))
        .expect("a new connection carries the request");
    assert_eq!(
        output.metadata.retry_attempts, 0,
        "not a user-visible retry"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "two connections: the closed one and its replacement"
    );
}

#[test]
fn huge_and_endless_bodies_are_bounded() {
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let server = RawServer::start(move |mut stream, n| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if read_request(&mut reader).is_none() {
            return;
        }
        let head: &[u8] = if n % 2 == 0 {
            b"HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n"
        } else {
            b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n"
        };
        if stream.write_all(head).is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..16_384 {
            // at most 1 GiB
            let piece: Vec<u8> = if n % 2 == 0 {
                chunk.clone()
            } else {
                [b"10000\r\n".as_ref(), &chunk, b"\r\n"].concat()
            };
            if stream.write_all(&piece).is_err() {
                return;
            }
            counter.fetch_add(piece.len(), Ordering::SeqCst);
        }
    });
    let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    for instance in ["gigabyte", "endless"] {
        let err = client.update_contact(&request(instance)).unwrap_err();
        assert_eq!(err.status(), Status::InvalidResponse, "{instance}: {err}");
        assert!(err.message().contains("larger than 65536 bytes"), "{err}");
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        written.load(Ordering::SeqCst) < 64 * 1024 * 1024,
        "the client stopped reading early"
    );
}

#[test]
fn malformed_html_and_empty_error_bodies_give_clear_errors() {
    let server = scripted(|instance, _| {
        let body: &[u8] = match instance {
            "malformed" => b"{\"message\": ",
            "html" => b"<html><body>502 Bad Gateway</body></html>",
            _ => b"",
        };
        Reply::Respond {
            status: 502,
            headers: vec![],
            body: body.to_vec(),
        }
    });
    let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    // As botocore reads them: a page or nothing is the status and its reason phrase; a body
    // that is not JSON is the message itself.
    for (instance, message) in [
        ("malformed", "{\"message\": "),
        ("html", "Bad Gateway"),
        ("empty", "Bad Gateway"),
    ] {
        let err = client.update_contact(&request(instance)).unwrap_err();
        assert_eq!(err.status(), Status::ServiceError);
        assert_eq!(err.code(), "502");
        assert_eq!(err.message(), message, "{instance}");
    }
}

#[test]
fn retry_after_is_honoured_within_bounds_and_bad_values_are_ignored() {
    let server = scripted(|instance, n| {
        let value = match instance {
            "ra-good" => "300",
            "ra-negative" => "-5",
            _ => "soon",
        };
        if n == 1 {
            Reply::Respond {
                status: 503,
                headers: vec![("x-amz-retry-after".into(), value.into())],
                body: b"{}".to_vec(),
            }
        } else {
            Reply::ok("ok")
        }
    });
    let client = client(&server.url(), serde_json::json!({"new_retries_2026": true}));
    for (instance, check) in [
        ("ra-good", (|d: u64| d == 300) as fn(u64) -> bool),
        ("ra-negative", |d| d <= 50),
        ("ra-garbage", |d| d <= 50),
    ] {
        client.update_contact(&request(instance)).unwrap();
        let delays = recorded_delays(instance);
        assert!(
            delays.len() == 1 && check(delays[0]),
            "{instance}: {delays:?}"
        );
    }
}

/// A server whose clock is `skew` ahead of ours: it refuses signatures more than 5 minutes
/// from its own time, as the service does, and says its time in `Date`.
fn skewed_server(skew: i64) -> TestServer {
    TestServer::start(move |r, _| {
        let server_now = shift(SystemTime::now(), skew);
        let signed = r.header("x-amz-date").and_then(|d| {
            DateTime::from_str(d, Format::DateTime)
                .ok()
                .or_else(|| parse_amz_date(d))
        });
        let date = DateTime::from(server_now).fmt(Format::HttpDate).unwrap();
        let off = signed
            .map(|t| (t.secs() - DateTime::from(server_now).secs()).abs())
            .unwrap_or(i64::MAX);
        if off > 300 {
            Reply::Respond {
                status: 403,
                headers: vec![
                    (
                        "x-amzn-ErrorType".into(),
                        "InvalidSignatureException".into(),
                    ),
                    ("Date".into(), date),
                ],
                body: br#"{"message":"Signature expired"}"#.to_vec(),
            }
        } else {
            Reply::Respond {
                status: 200,
                headers: vec![("Date".into(), date)],
                body: b"{}".to_vec(),
            }
        }
    })
}

fn shift(t: SystemTime, seconds: i64) -> SystemTime {
    if seconds >= 0 {
        t + Duration::from_secs(seconds as u64)
    } else {
        t - Duration::from_secs(seconds.unsigned_abs())
    }
}

/// `20261121T101500Z`
fn parse_amz_date(d: &str) -> Option<DateTime> {
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    );
    DateTime::from_str(&iso, Format::DateTime).ok()
}

#[test]
fn clock_skew_of_ten_minutes_is_corrected_with_one_retry() {
    for skew in [600, -600] {
        let server = skewed_server(skew);
        let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
        let instance = format!("skew{skew}");
        let output = client.update_contact(&request(&instance)).unwrap();
        assert_eq!(
            output.metadata.retry_attempts, 1,
            "one corrected retry, even with max_attempts 1"
        );
        assert!(
            (client.clock_offset() - skew * 1000).abs() < 5000,
            "offset {}",
            client.clock_offset()
        );
        // The correction sticks: the next call succeeds at once.
        assert_eq!(
            client
                .update_contact(&request(&instance))
                .unwrap()
                .metadata
                .retry_attempts,
            0
        );
        assert_eq!(server.requests().len(), 3);
    }
}

#[test]
fn small_skew_or_opting_out_means_no_correction() {
    // Three minutes: within what the threshold leaves alone; the server (allowing 5) accepts.
    let server = skewed_server(180);
    let client = client(&server.url(), serde_json::json!({}));
    assert_eq!(
        client
            .update_contact(&request("skew-small"))
            .unwrap()
            .metadata
            .retry_attempts,
        0
    );
    assert_eq!(client.clock_offset(), 0);
    // Ten minutes with AWS_DISABLE_CLOCK_SKEW_CORRECTION=true: refused once, not retried.
    let server = skewed_server(600);
    let settings = support::resolve(
        &config(&server.url(), serde_json::json!({})),
        &[("AWS_DISABLE_CLOCK_SKEW_CORRECTION", "true")],
    )
    .unwrap();
    let client = Client::with_settings(settings);
    let err = client.update_contact(&request("skew-off")).unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Status::ServiceError, "InvalidSignatureException")
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn redirects_are_not_followed() {
    let elsewhere = TestServer::start(|_, _| Reply::ok("should not happen"));
    let location = elsewhere.url() + "/contacts/i/c";
    let server = TestServer::start(move |_, n| Reply::Respond {
        status: if n == 0 { 301 } else { 307 },
        headers: vec![("Location".into(), location.clone())],
        body: Vec::new(),
    });
    let client = client(&server.url(), serde_json::json!({"max_attempts": 1}));
    for code in ["301", "307"] {
        let err = client.update_contact(&request("redirect")).unwrap_err();
        assert_eq!(err.code(), code);
    }
    assert_eq!(elsewhere.requests().len(), 0, "the other host saw nothing");
}

#[test]
fn adaptive_mode_under_sustained_throttling_respects_max_attempts() {
    let server = scripted(|_, _| Reply::error(429, "ThrottlingException", "Rate exceeded", "r"));
    let client = Arc::new(client(
        &server.url(),
        serde_json::json!({"retry_mode": "adaptive", "max_attempts": 3, "timeout_ms": 4000}),
    ));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                (0..4)
                    .map(|i| {
                        client
                            .update_contact(&request(&format!("adaptive-{t}-{i}")))
                            .unwrap_err()
                    })
                    .collect::<Vec<Error>>()
            })
        })
        .collect();
    for t in threads {
        for err in t.join().unwrap() {
            assert!(
                matches!(err.status(), Status::Throttling | Status::Timeout),
                "{err}"
            );
        }
    }
    for t in 0..3 {
        for i in 0..4 {
            let n = attempts(&server, &format!("adaptive-{t}-{i}"));
            // 0 is a call the limiter held back past its deadline: it failed without sending.
            assert!(n <= 3, "never more than max_attempts: {n}");
        }
    }
}

/// Under sustained throttling the adaptive limiter paces a client to its floor (0.5 requests
/// per second after the first throttle), while a standard-mode client making the same calls
/// in the same time keeps sending: measured side by side, with one attempt per call so
/// backoff plays no part.
#[test]
fn adaptive_mode_paces_sustained_throttling_far_below_standard_mode() {
    const WINDOW: Duration = Duration::from_secs(2);
    const MAX_CALLS: usize = 2000;
    let server = scripted(|_, _| Reply::error(429, "ThrottlingException", "Rate exceeded", "r"));
    let sent = |mode: &str| {
        let client = client(
            &server.url(),
            serde_json::json!({"retry_mode": mode, "max_attempts": 1, "timeout_ms": 1000}),
        );
        let instance = format!("pace-{mode}");
        let started = Instant::now();
        let (mut calls, mut held_back) = (0, 0);
        while started.elapsed() < WINDOW && calls < MAX_CALLS {
            let err = client.update_contact(&request(&instance)).unwrap_err();
            match err.status() {
                Status::Throttling => {}
                // The limiter's wait would pass the deadline: failed without sending.
                Status::Timeout => held_back += 1,
                other => panic!("{mode}: {other:?} {err}"),
            }
            calls += 1;
        }
        (attempts(&server, &instance), calls, held_back)
    };
    let (standard, standard_calls, standard_held) = sent("standard");
    let (adaptive, adaptive_calls, adaptive_held) = sent("adaptive");
    println!(
        "in {WINDOW:?}: standard sent {standard} of {standard_calls} calls, adaptive sent \
         {adaptive} of {adaptive_calls} ({adaptive_held} held back)"
    );
    assert_eq!(standard_held, 0, "standard mode never holds a call back");
    assert_eq!(standard, standard_calls, "standard mode sends every call");
    assert!(
        standard >= 40,
        "the control sent only {standard} requests in {WINDOW:?}: the window shows nothing"
    );
    // The first request, then at most one per 2 s at the floor, plus one borrowed token.
    assert!(
        adaptive <= 3,
        "adaptive mode sent {adaptive} requests in {WINDOW:?} of sustained throttling"
    );
    assert!(adaptive * 10 <= standard, "{adaptive} vs {standard}");
    assert_eq!(adaptive + adaptive_held, adaptive_calls);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn soak_16_threads_5000_calls_each_through_mixed_faults() {
    const THREADS: usize = 16;
    const CALLS: usize = 5000;
    // A fixed mix by request number: mostly 200, some 503, rare 429, closes and 400s.
    let server = TestServer::start_unrecorded(|_, n| match n % 100 {
        0..=3 => Reply::error(503, "ServiceUnavailable", "busy", "r"),
        4 if n % 1000 == 4 => Reply::error(429, "ThrottlingException", "slow", "r"),
        5 | 6 => Reply::Close,
        7 => Reply::error(400, "InvalidParameterException", "bad", "r"),
        _ => Reply::ok("ok"),
    });
    let client = Arc::new(client(
        &server.url(),
        serde_json::json!({"new_retries_2026": true, "max_attempts": 3}),
    ));
    // Warm up so the pool, the log collector and allocator arenas exist before measuring.
    for _ in 0..200 {
        let _ = client.update_contact(&request("soak-warmup"));
    }
    let (fds_before, rss_before) = (open_fds(), rss_kib());
    let successes = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (client, successes, failures) =
                (client.clone(), successes.clone(), failures.clone());
            std::thread::spawn(move || {
                let request = request("soak");
                for _ in 0..CALLS {
                    match client.update_contact(&request) {
                        Ok(_) => successes.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            no_canary(&e.to_document());
                            failures.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked or deadlocked");
    }
    let (ok, failed) = (
        successes.load(Ordering::SeqCst),
        failures.load(Ordering::SeqCst),
    );
    assert_eq!(
        ok + failed,
        THREADS * CALLS,
        "every call ended with exactly one status"
    );
    assert!(ok > failed, "{ok} successes, {failed} failures");
    let (fds_after, rss_after) = (open_fds(), rss_kib());
    assert!(
        fds_after <= fds_before + THREADS + 4,
        "open descriptors stay flat: {fds_before} -> {fds_after}"
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "memory stays flat: {rss_before} KiB -> {rss_after} KiB"
    );
    println!(
        "soak: {ok} successes, {failed} failures, {} requests on the wire",
        server.count()
    );
}

#[test]
fn no_canary_reaches_errors_documents_or_log_lines() {
    let server = scripted(|instance, _| match instance {
        "canary-throttle" => Reply::error(429, "ThrottlingException", "slow", "r"),
        "canary-close" => Reply::Close,
        _ => Reply::error(400, "InvalidParameterException", "bad", "r"),
    });
    let client = client(
        &server.url(),
        serde_json::json!({"max_attempts": 2, "new_retries_2026": true}),
    );
    for instance in ["canary-throttle", "canary-close", "canary-400"] {
        let err = client.update_contact(&request(instance)).unwrap_err();
        for text in [
            err.to_string(),
            err.to_document(),
            format!("{err:?}"),
            format!("{client:?}"),
        ] {
            no_canary(&text);
        }
        for line in log_lines(instance) {
            no_canary(&line);
        }
    }
    let mut too_long = request("canary-local");
    too_long.name = Some("CANARY-NAME".repeat(200));
    let err = client.update_contact(&too_long).unwrap_err();
    no_canary(&err.to_document());
    no_canary(&format!("{too_long:?}"));
}
