//! Round trips per call, counted by the server rather than timed (the benchmark's delay proxy,
//! bench/delay_proxy.py, times them end to end): a warm call is one flight on the kept-alive
//! connection (the whole request in one write, never an `Expect: 100-continue` wait), and the
//! call after the server closed an idle connection opens one new connection without first
//! trying the dead one.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::read_request;
use connect_contact::{Client, ClientConfig, UpdateContactRequest};

const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: trips\r\ncontent-length: 2\r\n\r\n{}";

/// A client of `url` in the clean environment (tests/support): no proxy or CA bundle of this
/// machine's.
fn client(url: &str) -> Client {
    crate::support::client(
        &ClientConfig::from_json(
            &serde_json::json!({
                "region": "us-east-1",
                "endpoint_url": url,
                "allow_http": true,
                "access_key_id": "AKIDEXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "max_attempts": 1,
            })
            .to_string(),
        )
        .unwrap(),
    )
}

fn request() -> UpdateContactRequest {
    UpdateContactRequest::from_json(
        r#"{"InstanceId":"trips","ContactId":"c","Name":"n","Description":"a description"}"#,
    )
    .unwrap()
}

/// True when `bytes` hold exactly one whole request (head and Content-Length body).
fn one_whole_request(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    !head.contains("\nexpect:") && bytes.len() == end + 4 + length
}

#[test]
fn warm_calls_are_one_flight_each_on_one_connection() {
    const CALLS: usize = 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    // What each request's first read returned: the whole request, if it came in one flight.
    let first_reads = Arc::new(Mutex::new(Vec::new()));
    let (c, f) = (connections.clone(), first_reads.clone());
    let server = std::thread::spawn(move || {
        for mut tcp in listener.incoming().take(CALLS).flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = vec![0; 64 * 1024];
            loop {
                // The server answers only once the request is complete, so a client that sent
                // part of it and waited would stall here and fail the test.
                match tcp.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let whole = one_whole_request(&buf[..n]);
                        let mut requests = f.lock().unwrap();
                        requests.push(whole);
                        let done = requests.len() >= CALLS;
                        drop(requests);
                        if !whole || tcp.write_all(REPLY).is_err() || done {
                            return;
                        }
                    }
                }
            }
        }
    });
    let client = client(&url);
    for _ in 0..CALLS {
        client.update_contact(&request()).unwrap();
    }
    server.join().unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "every call after the first reuses the kept-alive connection (no new handshake)"
    );
    let reads = first_reads.lock().unwrap();
    assert_eq!(reads.len(), CALLS);
    assert!(
        reads.iter().all(|whole| *whole),
        "each request arrives whole in one read (one flight, no Expect wait): {reads:?}"
    );
}

#[test]
fn after_the_server_closes_an_idle_connection_the_next_call_opens_one_without_a_failed_attempt() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (closed_tx, closed_rx) = mpsc::channel();
    // Bytes that reached the first connection after the server closed its side: a request
    // written to a dead connection (a failed attempt the client then repeats).
    let (late_tx, late_rx) = mpsc::channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let c = connections.clone();
    let server = std::thread::spawn(move || {
        let mut first: Option<TcpStream> = None;
        for tcp in listener.incoming().take(2).flatten() {
            let n = c.fetch_add(1, Ordering::SeqCst);
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut reader = BufReader::new(tcp.try_clone().unwrap());
            let mut writer = tcp;
            if read_request(&mut reader).is_some() {
                writer.write_all(REPLY).unwrap();
            }
            if n == 0 {
                // Close our side while idle (the client sees end of stream) but keep reading.
                writer.shutdown(Shutdown::Write).unwrap();
                closed_tx.send(()).unwrap();
                first = Some(writer);
            } else {
                let mut old = first.take().unwrap();
                old.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                let mut late = Vec::new();
                let _ = old.read_to_end(&mut late);
                late_tx.send(late.len()).unwrap();
            }
        }
    });
    let client = client(&url);
    client.update_contact(&request()).unwrap();
    closed_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    // Let the end of stream reach the client's socket (loopback: at once; a margin for load).
    std::thread::sleep(Duration::from_millis(100));
    let output = client.update_contact(&request()).unwrap();
    assert_eq!(output.metadata.retry_attempts, 0);
    let late = late_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    server.join().unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "exactly one new connection"
    );
    assert_eq!(
        late, 0,
        "nothing was written to the closed connection (no failed attempt before the new one)"
    );
}
