//! The hot path (the direct engine): keep-alive HTTP/1.1 POSTs to the client's own endpoint, over TLS (rustls, the
//! client's trust roots) or plain TCP, in two syscalls per warm call (one write of head and
//! body, one read). ureq 3 spends about 13 and a thread per call here (a resolver thread, two
//! liveness probes, separate writes, timeouts set on every call; docs/performance.md, "What
//! made the difference"), so UpdateContact takes this path whenever no proxy is configured;
//! ureq keeps proxies and the credential providers.
//!
//! Behaviour kept from the ureq path: deadlines on connect, write and read (socket timeouts
//! derived from the deadline, re-checked after every read so a dribbling server cannot stretch
//! it); bounded head and body; Content-Length, chunked and read-to-close bodies; no redirects
//! (a 3xx is just a response); a pooled connection the server closed while idle is replaced
//! silently, once (found by the probe below, or refused on the first write).
//!
//! A pooled connection is reused only when nothing is waiting on it: before every reuse a
//! non-blocking peek (one `recv(MSG_PEEK | MSG_DONTWAIT)`, plus rustls' own buffer on TLS)
//! must find no byte and no end of stream. A byte that arrived unasked (a stray second
//! response, a late reply) would otherwise be read as the answer to the next request. The
//! probe costs one syscall per warm call (docs/performance.md, "The reuse probe"). Connections
//! made before a `fork()` are never reused after it ([`crate::fork`]): the parent still
//! owns them.
//!
//! Reading a response (framing, limits) is [`super::framing`]'s, behind its `Source` seam;
//! this file owns the sockets.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::error::{Error, ResponseMetadata};
use crate::http::{self, host_of, Engine, HttpResponse, Limits, Request};
use crate::json::push_decimal;

use super::framing::{Reader, Source, INITIAL_BUFFER};

/// A pooled connection idle this long is dropped unused (servers close idle ones near 60 s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(15);

/// Keep-alive connections to one `http://host:port` or `https://host:port`.
pub struct Direct {
    /// `http://` or `https://`.
    scheme: &'static str,
    /// For https: the client's TLS settings and the name the certificate must carry.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// `host:port` as written in the endpoint URL: the Host header, and what `post` matches.
    authority: String,
    /// The host without brackets, for resolving and messages.
    host: String,
    port: u16,
    connect_timeout: Duration,
    user_agent: &'static str,
    idle: Mutex<Vec<Conn>>,
    max_idle: usize,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

/// A connection's byte stream: TLS records over TCP, or TCP itself.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The socket, for timeouts and the idle probe.
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }

    /// Whether an idle connection can carry the next request: nothing unread (decrypted or
    /// not), no end of stream, no error.
    fn quiet(&mut self) -> bool {
        if let Stream::Tls(tls) = self {
            match tls.conn.process_new_packets() {
                Ok(state) if state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed() => {}
                _ => return false,
            }
        }
        nothing_to_read(self.tcp())
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            // A peer that closes without close_notify ends the stream as TCP would; bodies
            // with a length are still checked for truncation by the reader.
            Stream::Tls(tls) => match tls.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

struct Conn {
    stream: Stream,
    /// Read buffer, kept across calls: `buf[..filled]` holds bytes not yet consumed.
    buf: Vec<u8>,
    /// The request is assembled here so head and body leave in one write.
    out: Vec<u8>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    idle_since: Instant,
    /// [`crate::fork::generation`] when the connection was made.
    generation: u64,
}

/// Why an exchange failed: `Stale` (a reused connection refused the first byte of the request,
/// or ended before any byte of an answer: the server closed it as idle) is retried once on a
/// new connection.
enum ExchangeFailure {
    Stale(io::Error),
    Error(Error),
}

impl From<Error> for ExchangeFailure {
    fn from(e: Error) -> Self {
        ExchangeFailure::Error(e)
    }
}

impl Direct {
    /// A pool for `url` when it is `http://host[:port]`, or `https://host[:port]` and `tls`
    /// gives the client's TLS settings; None for anything else (it takes the ureq path).
    pub fn for_endpoint(
        url: &str,
        connect_timeout: Duration,
        user_agent: &'static str,
        max_idle: usize,
        tls: Option<Arc<ClientConfig>>,
    ) -> Option<Direct> {
        let (scheme, rest, default_port, tls) = match (url.strip_prefix("https://"), tls) {
            (Some(rest), Some(config)) => ("https://", rest, 443, Some(config)),
            (Some(_), None) => return None,
            (None, _) => ("http://", url.strip_prefix("http://")?, 80, None),
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse().ok()?),
            _ => (authority, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return None;
        }
        let tls = match tls {
            Some(config) => Some((config, ServerName::try_from(host.to_owned()).ok()?)),
            None => None,
        };
        // Sent as the Host header, which is signed without a default port (as aws-sigv4 does).
        let default_suffix = if default_port == 443 { ":443" } else { ":80" };
        let authority = authority.strip_suffix(default_suffix).unwrap_or(authority);
        Some(Direct {
            scheme,
            tls,
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            connect_timeout,
            user_agent,
            idle: Mutex::new(Vec::new()),
            max_idle,
        })
    }

    /// The path and query of `url` when it points at this pool's endpoint.
    fn path_of<'u>(&self, url: &'u str) -> Option<&'u str> {
        let rest = url
            .strip_prefix(self.scheme)?
            .strip_prefix(&self.authority)?;
        let default_suffix = if self.tls.is_some() { ":443" } else { ":80" };
        let rest = rest.strip_prefix(default_suffix).unwrap_or(rest);
        (rest.starts_with('/')).then_some(rest)
    }

    /// Sends `method` to `path` with `headers` (Host, User-Agent and, with a body,
    /// Content-Length are added), giving up at `limits.timeout` from now.
    fn exchange_within(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        limits: Limits,
    ) -> Result<HttpResponse, Error> {
        let deadline = Instant::now() + limits.timeout;
        if let Some((name, _)) = headers.iter().find(|(n, v)| forbidden(n) || forbidden(v)) {
            let what = if forbidden(name) { "name" } else { "value" };
            return Err(Error::InvalidConfig(format!(
                "bad request to {}: header {what} with a line break or NUL",
                self.authority
            )));
        }
        let message = Message {
            method,
            path,
            headers,
            body,
        };
        if let Some(mut conn) = self.take_idle() {
            match self.exchange(&mut conn, &message, deadline, limits.read_timeout, true) {
                Ok(done) => return Ok(self.finish(conn, done)),
                Err(ExchangeFailure::Error(e)) => return Err(e),
                Err(ExchangeFailure::Stale(_)) => {} // closed while idle: one new connection, silently
            }
        }
        let connect_timeout = limits.connect_timeout.unwrap_or(self.connect_timeout);
        let mut conn = self
            .connect(deadline, connect_timeout)
            .map_err(while_connecting)?;
        match self.exchange(&mut conn, &message, deadline, limits.read_timeout, false) {
            Ok(done) => Ok(self.finish(conn, done)),
            Err(ExchangeFailure::Error(e)) => Err(e),
            Err(ExchangeFailure::Stale(e)) => Err(self.io_error(&e, None)),
        }
    }

    fn finish(&self, mut conn: Conn, (response, reusable): (HttpResponse, bool)) -> HttpResponse {
        if reusable {
            conn.idle_since = Instant::now();
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < self.max_idle {
                    idle.push(conn);
                }
            }
        }
        response
    }

    /// The most recently used idle connection still worth using: made in this process (not
    /// inherited through fork), not too old, and with nothing waiting to be read.
    fn take_idle(&self) -> Option<Conn> {
        let generation = crate::fork::generation();
        loop {
            let mut conn = self.idle.lock().ok()?.pop()?;
            if conn.generation != generation {
                // The parent's connection: closing our copy of the descriptor leaves theirs.
                continue;
            }
            if conn.idle_since.elapsed() >= MAX_IDLE_AGE {
                continue;
            }
            if conn.stream.quiet() {
                return Some(conn);
            }
        }
    }

    fn connect(&self, deadline: Instant, connect_timeout: Duration) -> Result<Conn, Error> {
        let limit = |d: Instant| connect_timeout.min(d.saturating_duration_since(Instant::now()));
        let timed_out = || {
            self.failed(http::HttpFailure::TimedOut {
                doing: "connect",
                connecting: true,
            })
        };
        let addresses = self.resolve(limit(deadline))?;
        let mut last = None;
        for address in addresses {
            let budget = limit(deadline);
            if budget.is_zero() {
                return Err(timed_out());
            }
            match TcpStream::connect_timeout(&address, budget) {
                Ok(tcp) => {
                    // Head and body go in one write; Nagle would only delay the reply.
                    tcp.set_nodelay(true).ok();
                    let (stream, timeout) = match &self.tls {
                        None => (Stream::Plain(tcp), None),
                        Some(tls) => self.handshake(tcp, tls, limit(deadline))?,
                    };
                    return Ok(Conn {
                        stream,
                        buf: vec![0; INITIAL_BUFFER],
                        out: Vec::with_capacity(2048),
                        read_timeout: timeout,
                        write_timeout: timeout,
                        idle_since: Instant::now(),
                        generation: crate::fork::generation(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(e) => Err(self.failed(http::io_failure(&e, "connect", true))),
            None => Err(self.failed(http::HttpFailure::Connect(&"no address to try"))),
        }
    }

    /// The TLS handshake, within `budget` (what is left of the connect timeout and the
    /// deadline); returns the stream and the socket timeout it leaves set.
    fn handshake(
        &self,
        mut tcp: TcpStream,
        (config, name): &(Arc<ClientConfig>, ServerName<'static>),
        budget: Duration,
    ) -> Result<(Stream, Option<Duration>), Error> {
        let failed = |why: String| self.failed(http::HttpFailure::Tls(&why));
        if budget.is_zero() {
            return Err(self.timeout("the TLS handshake", None));
        }
        let mut tls = ClientConnection::new(config.clone(), name.clone())
            .map_err(|e| failed(e.to_string()))?;
        tcp.set_read_timeout(Some(budget))
            .map_err(|e| self.io_error(&e, None))?;
        tcp.set_write_timeout(Some(budget))
            .map_err(|e| self.io_error(&e, None))?;
        while tls.is_handshaking() {
            match tls.complete_io(&mut tcp) {
                Ok(_) => {}
                Err(e) if retry_io(&e) => return Err(self.timeout("the TLS handshake", None)),
                Err(e) => {
                    // rustls reports certificate and protocol failures as InvalidData.
                    return Err(if e.kind() == io::ErrorKind::InvalidData {
                        failed(e.to_string())
                    } else {
                        self.io_error(&e, None)
                    });
                }
            }
        }
        Ok((
            Stream::Tls(Box::new(StreamOwned::new(tls, tcp))),
            Some(budget),
        ))
    }

    /// The endpoint's addresses: an IP literal as is, a name through the system resolver on a
    /// helper thread so a hung resolver cannot outlast `budget` (new connections only).
    fn resolve(&self, budget: Duration) -> Result<Vec<SocketAddr>, Error> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let not_found = |why: &dyn std::fmt::Display| self.failed(http::HttpFailure::Resolve(why));
        let (tx, rx) = mpsc::channel();
        let target = (self.host.clone(), self.port);
        std::thread::Builder::new()
            .name("connect-contact-dns".into())
            .spawn(move || {
                let _ = tx.send(target.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
            })
            .map_err(|e| not_found(&format!("no resolver thread: {e}")))?;
        match rx.recv_timeout(budget) {
            Ok(Ok(addresses)) if !addresses.is_empty() => Ok(addresses),
            Ok(Ok(_)) => Err(not_found(&"no addresses")),
            Ok(Err(e)) => Err(not_found(&e)),
            Err(_) => Err(self.failed(http::HttpFailure::TimedOut {
                doing: "resolve",
                connecting: true,
            })),
        }
    }

    fn exchange(
        &self,
        conn: &mut Conn,
        message: &Message<'_>,
        deadline: Instant,
        read_timeout: Option<Duration>,
        reused: bool,
    ) -> Result<(HttpResponse, bool), ExchangeFailure> {
        let out = &mut conn.out;
        out.clear();
        for piece in [
            message.method,
            " ",
            message.path,
            " HTTP/1.1\r\nhost: ",
            &self.authority,
            "\r\nuser-agent: ",
            self.user_agent,
            "\r\n",
        ] {
            out.extend_from_slice(piece.as_bytes());
        }
        for (name, value) in message.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match message.body {
            Some(body) => {
                out.extend_from_slice(b"content-length: ");
                push_decimal(out, body.len() as u64);
                out.extend_from_slice(b"\r\n\r\n");
                out.extend_from_slice(body);
            }
            None => out.extend_from_slice(b"\r\n"),
        }
        self.write_all(conn, deadline)?;
        let deadline = read_timeout.map_or(deadline, |r| deadline.min(Instant::now() + r));
        self.read_response(conn, deadline, reused)
    }

    fn write_all(&self, conn: &mut Conn, deadline: Instant) -> Result<(), ExchangeFailure> {
        let mut written = 0;
        while written < conn.out.len() {
            shrink_timeout(&mut conn.write_timeout, deadline, |t| {
                conn.stream.tcp().set_write_timeout(Some(t))
            })
            .map_err(|_| self.timeout("sending the request", None))?;
            match conn.stream.write(&conn.out[written..]) {
                Ok(0) => return Err(ExchangeFailure::Stale(io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if retry_io(&e) => {}
                // A peer that closed while the connection sat idle shows up as a broken pipe
                // or a reset on the first write.
                Err(e) if written == 0 => return Err(ExchangeFailure::Stale(e)),
                Err(e) => return Err(ExchangeFailure::Error(self.io_error(&e, None))),
            }
        }
        // TLS buffers records (and reports the socket's errors) until flushed; plain TCP has
        // nothing left to do here.
        loop {
            shrink_timeout(&mut conn.write_timeout, deadline, |t| {
                conn.stream.tcp().set_write_timeout(Some(t))
            })
            .map_err(|_| self.timeout("sending the request", None))?;
            match conn.stream.flush() {
                Ok(()) => return Ok(()),
                Err(e) if retry_io(&e) => {}
                Err(e) => return Err(ExchangeFailure::Error(self.io_error(&e, None))),
            }
        }
    }

    /// Reads the answer. On a `reused` connection, an end (EOF or reset) before any byte of
    /// an answer is `Stale`: the server closed the connection as idle while the request was
    /// on its way, so it did not answer it. A timeout is never stale: that server is busy.
    fn read_response(
        &self,
        conn: &mut Conn,
        deadline: Instant,
        reused: bool,
    ) -> Result<(HttpResponse, bool), ExchangeFailure> {
        let mut received = 0;
        let wire = Wire {
            stream: &mut conn.stream,
            read_timeout: &mut conn.read_timeout,
            deadline,
            direct: self,
            received: &mut received,
        };
        let result = Reader {
            buf: &mut conn.buf,
            source: wire,
            authority: &self.authority,
            leftover: 0,
        }
        .read();
        match result {
            Err(e) if reused && received == 0 && !matches!(e, Error::Timeout { .. }) => Err(
                ExchangeFailure::Stale(io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string())),
            ),
            other => other.map_err(ExchangeFailure::Error),
        }
    }

    fn failed(&self, failure: http::HttpFailure<'_>) -> Error {
        http::failure(&self.authority, failure, None)
    }

    fn timeout(&self, doing: &str, context: Option<&ResponseMetadata>) -> Error {
        let failure = http::HttpFailure::TimedOut {
            doing,
            connecting: false,
        };
        http::failure(&self.authority, failure, context)
    }

    fn io_error(&self, e: &io::Error, context: Option<&ResponseMetadata>) -> Error {
        http::failure(&self.authority, http::HttpFailure::Io(e), context)
    }
}

impl Engine for Direct {
    fn send(&self, request: &Request<'_>, limits: Limits) -> Result<HttpResponse, Error> {
        // Chosen for one endpoint when the client was built; anything else is a caller's bug.
        let Some(path) = self.path_of(request.url) else {
            return Err(Error::InvalidConfig(format!(
                "bad request to {}: this connection pool serves {} only",
                host_of(request.url),
                self.authority
            )));
        };
        self.exchange_within(request.method, path, request.headers, request.body, limits)
    }
}

/// One request as it goes on the wire.
struct Message<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: Option<&'a [u8]>,
}

/// A pooled connection's stream, read within the call's deadline.
struct Wire<'a> {
    stream: &'a mut Stream,
    read_timeout: &'a mut Option<Duration>,
    deadline: Instant,
    direct: &'a Direct,
    /// Bytes read so far.
    received: &'a mut usize,
}

impl Source for Wire<'_> {
    fn read_some(
        &mut self,
        buf: &mut [u8],
        context: Option<&ResponseMetadata>,
    ) -> Result<usize, Error> {
        loop {
            let tcp = self.stream.tcp();
            shrink_timeout(self.read_timeout, self.deadline, |t| {
                tcp.set_read_timeout(Some(t))
            })
            .map_err(|_| self.direct.timeout("waiting for the response", context))?;
            match self.stream.read(buf) {
                Ok(n) => {
                    *self.received += n;
                    return Ok(n);
                }
                Err(e) if retry_io(&e) => {}
                Err(e) => return Err(self.direct.io_error(&e, context)),
            }
        }
    }
}

/// Marks a failure of `connect` (resolve, TCP, TLS) as happening before anything was sent.
fn while_connecting(mut e: Error) -> Error {
    if let Some(m) = e.metadata_mut() {
        m.while_connecting = true;
    }
    e
}

fn forbidden(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Interrupted, or a socket timeout that fired before the deadline (the loop re-checks it).
fn retry_io(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Makes sure the socket timeout `current` does not outlast `deadline`, setting it only when
/// it must shrink, and then to 7/8 of the time left: back-to-back calls with the same
/// deadline thus set no timeout at all, and one that fires early just loops. Err once the
/// deadline is (within a millisecond) reached.
fn shrink_timeout(
    current: &mut Option<Duration>,
    deadline: Instant,
    set: impl FnOnce(Duration) -> io::Result<()>,
) -> Result<(), ()> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining < Duration::from_millis(1) {
        return Err(());
    }
    if !matches!(*current, Some(c) if c <= remaining) {
        let t = (remaining * 7 / 8).max(Duration::from_millis(1));
        set(t).map_err(|_| ())?;
        *current = Some(t);
    }
    Ok(())
}

/// A non-blocking peek: an idle connection that reads end-of-stream, data or an error is not
/// reused. One syscall.
#[cfg(unix)]
fn nothing_to_read(stream: &TcpStream) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
    let peeked = socket2::SockRef::from(stream)
        .recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT);
    matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// The same without MSG_DONTWAIT: three syscalls.
#[cfg(not(unix))]
fn nothing_to_read(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let quiet = matches!(stream.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && quiet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_that_take_the_direct_path() {
        let d = |u| Direct::for_endpoint(u, Duration::from_secs(1), "ua", 4, None);
        let a = d("http://127.0.0.1:8080").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 8080));
        assert_eq!(
            a.path_of("http://127.0.0.1:8080/contacts/a/b"),
            Some("/contacts/a/b")
        );
        assert_eq!(a.path_of("http://127.0.0.1:80801/contacts"), None);
        assert_eq!(a.path_of("https://127.0.0.1:8080/contacts"), None);
        let b = d("http://[::1]:9/base").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 9));
        assert_eq!(d("http://example.com").unwrap().port, 80);
        let c = d("http://localhost:80").unwrap();
        assert_eq!((c.authority.as_str(), c.port), ("localhost", 80));
        assert_eq!(c.path_of("http://localhost:80/x"), Some("/x"));
        assert!(
            d("https://example.com").is_none(),
            "https needs the TLS settings"
        );
        assert!(d("http://user:pw@example.com").is_none());
        let roots = rustls::RootCertStore::empty();
        let config = Arc::new(
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        );
        let tls =
            |u| Direct::for_endpoint(u, Duration::from_secs(1), "ua", 4, Some(config.clone()));
        let e = tls("https://connect.us-east-1.amazonaws.com").unwrap();
        assert_eq!(
            (e.authority.as_str(), e.port, e.scheme),
            ("connect.us-east-1.amazonaws.com", 443, "https://")
        );
        assert_eq!(
            e.path_of("https://connect.us-east-1.amazonaws.com:443/contacts/a"),
            Some("/contacts/a")
        );
        assert_eq!(
            e.path_of("http://connect.us-east-1.amazonaws.com/contacts/a"),
            None
        );
        let f = tls("https://127.0.0.1:8443").unwrap();
        assert_eq!((f.host.as_str(), f.port), ("127.0.0.1", 8443));
    }

    #[test]
    fn socket_timeouts_only_shrink_and_never_pass_the_deadline() {
        let mut current = None;
        let mut sets = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        for _ in 0..100 {
            shrink_timeout(&mut current, deadline, |t| {
                assert!(t <= Duration::from_secs(10));
                sets += 1;
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(sets, 1, "back-to-back calls set the timeout once");
        let past = Instant::now();
        assert!(shrink_timeout(&mut current, past, |_| Ok(())).is_err());
    }
}
