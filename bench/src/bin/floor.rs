//! The floor: a raw TcpStream replaying one precomputed, already signed UpdateContact. The
//! same measurement protocol as every client (docs/performance.md), printing one JSON line.
use std::io::{Read, Write};
use std::net::TcpStream;

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

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(host: &str) -> Conn {
        let stream = TcpStream::connect(host).expect("connect");
        stream.set_nodelay(true).unwrap();
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
    let host = args[1].trim_start_matches("http://").to_owned();
    let calls: usize = args[2].parse().unwrap();
    let request = request(&host);
    let measure = Measure::run(
        calls,
        || Conn::open(&host),
        |conn: &mut Conn| conn.call(&request),
        |conn: &Conn| Conn::open(&format!("{}", conn.stream.peer_addr().unwrap())),
    );
    report(&measure);
}
