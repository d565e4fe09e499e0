//! The hot path over TLS, against a rustls server on 127.0.0.1 with a test CA
//! (tests/data/tls/): verified certificates, pooled connections, refusals and deadlines.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{read_request, repo_root};
use connect_contact::{Client, ClientConfig, Status, UpdateContactRequest};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The DER contents of the certificates (or, with `keys`, the private keys) in a PEM file.
fn pem_ders(file: &str, keys: bool) -> Vec<Vec<u8>> {
    let pem = std::fs::read(repo_root().join("tests/data/tls").join(file)).unwrap();
    ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item.unwrap() {
            ureq::tls::PemItem::Certificate(c) if !keys => Some(c.der().to_vec()),
            ureq::tls::PemItem::PrivateKey(k) if keys => Some(k.der().to_vec()),
            _ => None,
        })
        .collect()
}

fn server_config(cert: &str, key: &str) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = pem_ders(cert, false)
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = PrivateKeyDer::try_from(pem_ders(key, true).remove(0)).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// A TLS server: `connections` counts accepted connections, `requests` answered requests.
/// Each connection serves up to `per_connection` requests, then closes (with close_notify).
struct TlsServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

fn tls_server(cert: &str, key: &str, per_connection: usize) -> TlsServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = server_config(cert, key);
    let (connections, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, r) = (connections.clone(), requests.clone());
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(50).flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let (config, r) = (config.clone(), r.clone());
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut reader = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                for _ in 0..per_connection {
                    if read_request(&mut reader).is_none() {
                        return;
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    let stream = reader.get_mut();
                    let reply = b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: tls-ok\r\ncontent-length: 2\r\n\r\n{}";
                    if stream
                        .write_all(reply)
                        .and_then(|_| stream.flush())
                        .is_err()
                    {
                        return;
                    }
                }
                let stream = reader.get_mut();
                stream.conn.send_close_notify();
                let _ = stream.flush();
            });
        }
    });
    TlsServer {
        port,
        connections,
        requests,
    }
}

fn client(port: u16, extra: serde_json::Value) -> Client {
    let mut json = serde_json::json!({
        "region": "us-east-1", "endpoint_url": format!("https://127.0.0.1:{port}"),
        "access_key_id": "AKIDTLS", "secret_access_key": "tls-secret",
        "ca_bundle": repo_root().join("tests/data/tls/ca.pem"), "max_attempts": 1,
    });
    json.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    crate::support::client(&ClientConfig::from_json(&json.to_string()).unwrap())
}

fn request() -> UpdateContactRequest {
    let mut r = UpdateContactRequest::new("tls-instance", "tls/contact");
    r.name = Some("n".into());
    r
}

#[test]
fn https_calls_verify_the_certificate_and_reuse_one_connection() {
    let server = tls_server("server.pem", "server.key", 100);
    let client = client(server.port, serde_json::json!({}));
    for _ in 0..5 {
        let output = client.update_contact(&request()).unwrap();
        assert_eq!(output.metadata.request_id.as_deref(), Some("tls-ok"));
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 5);
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        1,
        "one TLS handshake for five calls"
    );
}

#[test]
fn an_untrusted_certificate_is_refused_before_anything_is_sent() {
    let server = tls_server("untrusted.pem", "untrusted.key", 100);
    let client = client(server.port, serde_json::json!({}));
    let err = client.update_contact(&request()).unwrap_err();
    assert_eq!(err.status(), Status::Transport, "{err}");
    assert!(
        err.message().contains("TLS failure") && err.message().contains("certificate"),
        "{err}"
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
    // The built-in roots do not know the test CA either.
    let trusted = tls_server("server.pem", "server.key", 100);
    let json = serde_json::json!({
        "region": "us-east-1", "endpoint_url": format!("https://127.0.0.1:{}", trusted.port),
        "access_key_id": "AKIDTLS", "secret_access_key": "tls-secret", "max_attempts": 1,
    });
    let default_roots =
        crate::support::client(&ClientConfig::from_json(&json.to_string()).unwrap());
    assert_eq!(
        default_roots
            .update_contact(&request())
            .unwrap_err()
            .status(),
        Status::Transport
    );
    assert_eq!(trusted.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn a_server_that_never_speaks_tls_times_out_by_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held: Arc<std::sync::Mutex<Vec<TcpStream>>> = Arc::default();
    let keep = held.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(5).flatten() {
            keep.lock().unwrap().push(tcp); // accepted, never answered
        }
    });
    let client = client(
        port,
        serde_json::json!({"timeout_ms": 800, "connect_timeout_ms": 500}),
    );
    let started = Instant::now();
    let err = client.update_contact(&request()).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    // The handshake's own limit fired: one connection, given up in the handshake, not before
    // the 500 ms connect timeout. The server never answers, so without that limit the call
    // would hang: the wall clock is only a generous ceiling.
    assert!(err.message().contains("TLS handshake"), "{err}");
    assert_eq!(held.lock().unwrap().len(), 1, "one attempt, one connection");
    assert!(elapsed >= Duration::from_millis(495), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}

#[test]
fn an_idle_tls_connection_closed_by_the_server_is_replaced_silently() {
    let server = tls_server("server.pem", "server.key", 1);
    let client = client(server.port, serde_json::json!({}));
    client.update_contact(&request()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let output = client.update_contact(&request()).unwrap();
    assert_eq!(
        output.metadata.retry_attempts, 0,
        "no user-visible error, not even a retry"
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}
