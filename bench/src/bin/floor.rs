//! The floor: a raw TcpStream replaying one precomputed, already signed UpdateContact; for an
//! `https://` endpoint, a raw rustls stream (the library's version and provider, the CA bundle
//! named by `AWS_CA_BUNDLE`) replaying it. The same measurement protocol as every client
//! (docs/performance.md), printing one JSON line.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use connect_bench::{report, Measure};

/// The request our library sends, with a fixed date and signature of the same length.
fn request(host: &str) -> Vec<u8> {
    let body = br#"{"Name":"bench","Description":"performance run"}"#;
    let mut out = format!(
        "POST /contacts/11111111-2222-3333-4444-555555555555/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee HTTP/1.1\r\n\
         host: {host}\r\n\
         content-type: application/json\r\n\
         x-amz-date: 20261121T120000Z\r\n\
         authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/connect/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n\
         user-agent: connect-contact/0.1.0\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes),
            Stream::Tls(s) => s.write_all(bytes),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

/// What a connection is opened with: the address, and for TLS the config and server name.
struct Target {
    host: String,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

impl Target {
    fn new(endpoint: &str) -> Target {
        match endpoint.strip_prefix("https://") {
            Some(host) => {
                let mut roots = RootCertStore::empty();
                let bundle = std::env::var("AWS_CA_BUNDLE").expect("AWS_CA_BUNDLE names the CA");
                for cert in CertificateDer::pem_file_iter(&bundle).expect("CA bundle") {
                    roots.add(cert.expect("CA certificate")).unwrap();
                }
                let config = ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
                let name = host.rsplit_once(':').unwrap().0.trim_matches(['[', ']']);
                let name = ServerName::try_from(name.to_owned()).unwrap();
                Target {
                    host: host.to_owned(),
                    tls: Some((Arc::new(config), name)),
                }
            }
            None => Target {
                host: endpoint.trim_start_matches("http://").to_owned(),
                tls: None,
            },
        }
    }
}

struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(target: &Target) -> Conn {
        let tcp = TcpStream::connect(&target.host).expect("connect");
        tcp.set_nodelay(true).unwrap();
        let stream = match &target.tls {
            None => Stream::Plain(tcp),
            Some((config, name)) => {
                let tls = ClientConnection::new(config.clone(), name.clone()).unwrap();
                Stream::Tls(Box::new(StreamOwned::new(tls, tcp)))
            }
        };
        Conn {
            stream,
            buf: vec![0; 4096],
        }
    }

    /// One exchange: write the request, read until the head and its Content-Length body are in.
    fn call(&mut self, request: &[u8]) {
        self.stream.write_all(request).expect("write");
        let mut have = 0;
        loop {
            let n = self.stream.read(&mut self.buf[have..]).expect("read");
            assert!(n > 0, "server closed the connection");
            have += n;
            let data = &self.buf[..have];
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&data[..end])
                    .unwrap()
                    .to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if have >= end + 4 + length {
                    return;
                }
            }
            assert!(have < self.buf.len(), "response too large");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: usize = args[2].parse().unwrap();
    let host = args[1].split_once("://").unwrap().1.to_owned();
    let request = request(&host);
    let measure = Measure::run(
        calls,
        // Construction: what a client would hold (for TLS, the config with its roots); the
        // connection is opened by the first call, as the libraries do.
        || Client {
            target: Arc::new(Target::new(&args[1])),
            conn: None,
        },
        |c: &mut Client| {
            let target = &c.target;
            c.conn
                .get_or_insert_with(|| Conn::open(target))
                .call(&request)
        },
        |c: &Client| Client {
            target: c.target.clone(),
            conn: None,
        },
    );
    report(&measure);
}

struct Client {
    target: Arc<Target>,
    conn: Option<Conn>,
}
