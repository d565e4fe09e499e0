//! The hot path: keep-alive HTTP/1.1 POSTs to the client's own endpoint, over TLS (rustls, the
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
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::error::{Error, HttpHeaders, ResponseMetadata};
use crate::http::{self, host_of, Engine, HttpResponse, Limits, Request, MAX_RESPONSE_BYTES};
use crate::json::push_decimal;

/// Largest response head read (ureq's limit too).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers parsed in a response head; more is not the service.
const MAX_HEADERS: usize = 64;
/// A pooled connection idle this long is dropped unused (servers close idle ones near 60 s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(15);
/// Read buffer of a new connection; grows up to MAX_HEAD_BYTES for a large head.
const INITIAL_BUFFER: usize = 4096;

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
enum Failure {
    Stale(io::Error),
    Error(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
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
                Err(Failure::Error(e)) => return Err(e),
                Err(Failure::Stale(_)) => {} // closed while idle: one new connection, silently
            }
        }
        let connect_timeout = limits.connect_timeout.unwrap_or(self.connect_timeout);
        let mut conn = self
            .connect(deadline, connect_timeout)
            .map_err(while_connecting)?;
        match self.exchange(&mut conn, &message, deadline, limits.read_timeout, false) {
            Ok(done) => Ok(self.finish(conn, done)),
            Err(Failure::Error(e)) => Err(e),
            Err(Failure::Stale(e)) => Err(self.io_error(&e, None)),
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
            self.failed(http::Failure::TimedOut {
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
            None => Err(self.failed(http::Failure::Connect(&"no address to try"))),
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
        let failed = |why: String| self.failed(http::Failure::Tls(&why));
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
        let not_found = |why: &dyn std::fmt::Display| self.failed(http::Failure::Resolve(why));
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
            Err(_) => Err(self.failed(http::Failure::TimedOut {
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
    ) -> Result<(HttpResponse, bool), Failure> {
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

    fn write_all(&self, conn: &mut Conn, deadline: Instant) -> Result<(), Failure> {
        let mut written = 0;
        while written < conn.out.len() {
            shrink_timeout(&mut conn.write_timeout, deadline, |t| {
                conn.stream.tcp().set_write_timeout(Some(t))
            })
            .map_err(|_| self.timeout("sending the request", None))?;
            match conn.stream.write(&conn.out[written..]) {
                Ok(0) => return Err(Failure::Stale(io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if retry_io(&e) => {}
                // A peer that closed while the connection sat idle shows up as a broken pipe
                // or a reset on the first write.
                Err(e) if written == 0 => return Err(Failure::Stale(e)),
                Err(e) => return Err(Failure::Error(self.io_error(&e, None))),
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
                Err(e) => return Err(Failure::Error(self.io_error(&e, None))),
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
    ) -> Result<(HttpResponse, bool), Failure> {
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
                Failure::Stale(io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string())),
            ),
            other => other.map_err(Failure::Error),
        }
    }

    fn failed(&self, failure: http::Failure<'_>) -> Error {
        http::failure(&self.authority, failure, None)
    }

    fn timeout(&self, doing: &str, context: Option<&ResponseMetadata>) -> Error {
        let failure = http::Failure::TimedOut {
            doing,
            connecting: false,
        };
        http::failure(&self.authority, failure, context)
    }

    fn io_error(&self, e: &io::Error, context: Option<&ResponseMetadata>) -> Error {
        http::failure(&self.authority, http::Failure::Io(e), context)
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

/// Where a response's bytes come from: a connection ([`Wire`]), or a byte string handed over
/// in pieces ([`read_response_bytes`], for the fuzz target).
trait Source {
    /// Reads into `buf` (never empty); Ok(0) at end of stream. `context` goes into errors.
    fn read_some(
        &mut self,
        buf: &mut [u8],
        context: Option<&ResponseMetadata>,
    ) -> Result<usize, Error>;
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

/// A server's bytes, `chunk` at a time.
struct Pieces<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl Source for Pieces<'_> {
    fn read_some(&mut self, buf: &mut [u8], _: Option<&ResponseMetadata>) -> Result<usize, Error> {
        let n = buf.len().min(self.chunk.max(1)).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// What [`read_response_bytes`] found.
#[derive(Debug)]
pub struct ReadOutcome {
    /// The response and whether the connection could carry another request, or the error.
    pub result: Result<(HttpResponse, bool), Error>,
    /// Bytes read off the connection but not part of the response: left in the buffer.
    pub buffered: usize,
    /// Bytes the reader never asked for (still "on the wire", where the reuse probe sees them).
    pub unread: usize,
}

/// The response reader without a socket, for the fuzz target: reads one response from
/// `bytes`, handed over `chunk` bytes at a time as a connection might deliver them.
pub fn read_response_bytes(bytes: &[u8], chunk: usize) -> ReadOutcome {
    let mut buf = vec![0; INITIAL_BUFFER];
    let mut reader = Reader {
        buf: &mut buf,
        source: Pieces { rest: bytes, chunk },
        authority: "fuzz",
        leftover: 0,
    };
    let result = reader.read();
    ReadOutcome {
        buffered: reader.leftover,
        unread: reader.source.rest.len(),
        result,
    }
}

/// Reads one response from `source` into `buf`, which keeps its size across calls.
struct Reader<'a, S> {
    buf: &'a mut Vec<u8>,
    source: S,
    authority: &'a str,
    /// After a read: bytes read past the end of the response.
    leftover: usize,
}

impl<S: Source> Reader<'_, S> {
    /// Reads more into `buf[filled..]`, growing it up to `limit`; Ok(0) at end of stream.
    fn fill(
        &mut self,
        filled: usize,
        limit: usize,
        context: Option<&ResponseMetadata>,
    ) -> Result<usize, Error> {
        if filled == self.buf.len() {
            let grown = (self.buf.len() * 2).min(limit).max(filled + 1);
            self.buf.resize(grown, 0);
        }
        self.source.read_some(&mut self.buf[filled..], context)
    }

    fn malformed(&self, why: &str, context: Option<&ResponseMetadata>) -> Error {
        http::failure(self.authority, http::Failure::Malformed(&why), context)
    }

    fn truncated(&self, context: &ResponseMetadata) -> Error {
        self.malformed(
            "the connection closed before the response body ended",
            Some(context),
        )
    }

    /// One response (after any 1xx interim ones): the response, and whether the connection
    /// may carry another request (nothing after the response in the buffer, keep-alive).
    fn read(&mut self) -> Result<(HttpResponse, bool), Error> {
        let mut filled = 0;
        // The head (skipping any 1xx interim responses).
        let (head_len, head, http_headers) = loop {
            let mut parsed = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut parsed);
            match response.parse(&self.buf[..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = Head::read(&response).map_err(|why| Error::InvalidResponse {
                        message: format!("invalid HTTP response from {}: {why}", self.authority),
                        metadata: ResponseMetadata {
                            http_status: response.code,
                            ..ResponseMetadata::default()
                        },
                    })?;
                    if (100..200).contains(&head.status) && head.status != 101 {
                        self.buf.copy_within(len..filled, 0);
                        filled -= len;
                        continue;
                    }
                    break (len, head, parsed_headers(response.headers));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => {
                    return Err(self.malformed(&format!("{e}"), None));
                }
            }
            if filled >= MAX_HEAD_BYTES {
                return Err(self.malformed("the response head is larger than 65536 bytes", None));
            }
            match self.fill(filled, MAX_HEAD_BYTES, None) {
                Ok(0) => {
                    return Err(self
                        .malformed("the connection closed before the response head ended", None))
                }
                Ok(n) => filled += n,
                Err(e) => return Err(e),
            }
        };
        let mut metadata = ResponseMetadata {
            request_id: head.request_id.clone(),
            http_status: Some(head.status),
            http_headers,
            ..Default::default()
        };
        let too_large = || Error::InvalidResponse {
            message: format!(
                "HTTP {} response body is larger than {MAX_RESPONSE_BYTES} bytes",
                head.status
            ),
            metadata: metadata.clone(),
        };
        let limit = MAX_RESPONSE_BYTES as usize;
        let mut body = Vec::new();
        let mut start = head_len;
        // Where the response ends in `buf[..filled]`.
        let end;
        if head.status == 204 || head.status == 304 {
            end = head_len;
        } else if head.chunked {
            // Decode in place: `start..filled` are undecoded bytes.
            loop {
                let pending = &self.buf[start..filled];
                match next_chunk(pending) {
                    Chunk::Data { skip, len } => {
                        if body.len() + len > limit {
                            return Err(too_large());
                        }
                        if pending.len() >= skip + len + 2 {
                            body.extend_from_slice(&pending[skip..skip + len]);
                            if &pending[skip + len..skip + len + 2] != b"\r\n" {
                                return Err(self
                                    .malformed("a chunk does not end with CRLF", Some(&metadata)));
                            }
                            start += skip + len + 2;
                            continue;
                        }
                    }
                    Chunk::Last { end: last } => {
                        end = start + last;
                        break;
                    }
                    Chunk::Incomplete => {
                        if pending.len() > 1024 && !pending.contains(&b'\n') {
                            return Err(
                                self.malformed("a chunk size line is too long", Some(&metadata))
                            );
                        }
                    }
                    Chunk::Malformed => {
                        return Err(
                            self.malformed("a chunk size is not hexadecimal", Some(&metadata))
                        )
                    }
                }
                // Need more: move what is pending to the front, then read.
                compact(self.buf, &mut start, &mut filled);
                let room = limit + 4096;
                let n = self.fill(filled, room, Some(&metadata))?;
                if n == 0 {
                    return Err(self.truncated(&metadata));
                }
                filled += n;
            }
        } else if let Some(length) = head.content_length {
            if length > limit {
                return Err(too_large());
            }
            while filled - start < length {
                if filled == self.buf.len() {
                    compact(self.buf, &mut start, &mut filled);
                }
                let n = self.fill(filled, length + 1, Some(&metadata))?;
                if n == 0 {
                    return Err(self.truncated(&metadata));
                }
                filled += n;
            }
            body.extend_from_slice(&self.buf[start..start + length]);
            end = start + length;
        } else {
            // Delimited by the end of the connection.
            loop {
                if filled - start > limit {
                    return Err(too_large());
                }
                if filled == self.buf.len() {
                    compact(self.buf, &mut start, &mut filled);
                }
                let n = self.fill(filled, limit + 4096, Some(&metadata))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            body.extend_from_slice(&self.buf[start..filled]);
            end = filled;
        }
        // Bytes after the response are a stray answer or garbage: never reuse.
        self.leftover = filled - end;
        // A body that ran to the end of the connection leaves no connection to reuse.
        let delimited =
            head.chunked || head.content_length.is_some() || matches!(head.status, 204 | 304);
        let keep = delimited && self.leftover == 0 && head.keep_alive;
        // A connection that grew for a large head or body goes back to its usual size.
        if self.buf.len() > INITIAL_BUFFER * 4 {
            self.buf.truncate(INITIAL_BUFFER);
            self.buf.shrink_to_fit();
        }
        Ok((
            HttpResponse {
                status: head.status,
                request_id: head.request_id,
                error_type: head.error_type,
                date: head.date,
                cached: head.cached,
                retry_after: head.retry_after,
                headers: std::mem::take(&mut metadata.http_headers),
                body,
            },
            keep,
        ))
    }
}

/// What the client needs from a response head.
struct Head {
    status: u16,
    keep_alive: bool,
    chunked: bool,
    content_length: Option<usize>,
    request_id: Option<String>,
    error_type: Option<String>,
    date: Option<String>,
    cached: bool,
    retry_after: Option<String>,
}

impl Head {
    /// The head's framing and metadata; Err names what makes the framing invalid.
    fn read(response: &httparse::Response<'_, '_>) -> Result<Head, &'static str> {
        let mut head = Head {
            status: response.code.unwrap_or(0),
            // HTTP/1.0 closes unless it says otherwise; we never ask it to.
            keep_alive: response.version == Some(1),
            chunked: false,
            content_length: None,
            request_id: None,
            error_type: None,
            date: None,
            cached: false,
            retry_after: None,
        };
        for header in response.headers.iter() {
            let name = header.name;
            if name.eq_ignore_ascii_case("content-length") {
                // RFC 9112 6.3: a length that is not one decimal number (a list of identical
                // numbers allowed), or that differs between fields, is invalid framing.
                let n = content_length(header.value).ok_or(
                    "the Content-Length header is not a decimal number (RFC 9112 section 6.3)",
                )?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err("the response has Content-Length headers with different values");
                }
                head.content_length = Some(n);
                continue;
            }
            let Ok(value) = std::str::from_utf8(header.value) else {
                continue;
            };
            let text = || Some(value.trim().to_owned());
            if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                if value
                    .split(',')
                    .any(|v| v.trim().eq_ignore_ascii_case("close"))
                {
                    head.keep_alive = false;
                }
            } else if name.eq_ignore_ascii_case("x-amzn-requestid") {
                head.request_id = text();
            } else if name.eq_ignore_ascii_case("x-amzn-errortype") {
                head.error_type = text();
            } else if name.eq_ignore_ascii_case("date") {
                head.date = text();
            } else if name.eq_ignore_ascii_case("age") {
                head.cached = true;
            } else if name.eq_ignore_ascii_case("x-amz-retry-after") {
                head.retry_after = text();
            }
        }
        if head.chunked {
            // Transfer-Encoding wins over Content-Length (RFC 9112 6.3); a sender that sends
            // both is not trusted with the connection afterwards.
            if head.content_length.take().is_some() {
                head.keep_alive = false;
            }
        }
        Ok(head)
    }
}

/// A Content-Length value: one decimal number of at most 15 digits, or a comma-separated list
/// of the same number repeated (RFC 9110 8.6). No sign, no inner spaces; None otherwise.
fn content_length(value: &[u8]) -> Option<usize> {
    let mut length = None;
    for member in value.split(|&b| b == b',') {
        let digits = member.trim_ascii();
        if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = digits
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        if length.is_some_and(|m| m != n) {
            return None;
        }
        length = Some(n);
    }
    length
}

enum Chunk {
    /// A chunk of `len` bytes whose data starts `skip` bytes in.
    Data {
        skip: usize,
        len: usize,
    },
    /// The last chunk and trailers end `end` bytes in.
    Last {
        end: usize,
    },
    Incomplete,
    Malformed,
}

/// Reads one chunk-size line (and, for the last chunk, the trailers) from `pending`.
fn next_chunk(pending: &[u8]) -> Chunk {
    let Some(line_end) = pending.iter().position(|&b| b == b'\n') else {
        return Chunk::Incomplete;
    };
    let line = &pending[..line_end];
    let size = line.split(|&b| b == b';').next().unwrap_or_default();
    let size = std::str::from_utf8(size).unwrap_or("").trim();
    let Ok(len) = usize::from_str_radix(size, 16) else {
        return Chunk::Malformed;
    };
    if size.len() > 15 {
        return Chunk::Malformed;
    }
    if len > 0 {
        return Chunk::Data {
            skip: line_end + 1,
            len,
        };
    }
    // Trailers: lines up to an empty one.
    let mut at = line_end + 1;
    loop {
        let Some(n) = pending[at..].iter().position(|&b| b == b'\n') else {
            return Chunk::Incomplete;
        };
        let line = &pending[at..at + n];
        at += n + 1;
        if line.is_empty() || line == b"\r" {
            return Chunk::Last { end: at };
        }
    }
}

/// Moves the unconsumed `buf[start..filled]` to the front, making room to read into.
/// The header lines of a response head (status line skipped), for `HTTPHeaders`.
/// The response's headers as httparse found them. A value that is not UTF-8 (obs-text) is
/// kept with U+FFFD in place of the bad bytes, as before; such values take the slow path.
fn parsed_headers(headers: &[httparse::Header<'_>]) -> HttpHeaders {
    if headers.iter().all(|h| std::str::from_utf8(h.value).is_ok()) {
        return HttpHeaders::from_pairs(
            headers
                .iter()
                .map(|h| (h.name, std::str::from_utf8(h.value).unwrap_or("").trim())),
        );
    }
    let lossy: Vec<(&str, String)> = headers
        .iter()
        .map(|h| (h.name, String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    HttpHeaders::from_pairs(lossy.iter().map(|(name, value)| (*name, value.trim())))
}

/// Marks a failure of `connect` (resolve, TCP, TLS) as happening before anything was sent.
fn while_connecting(mut e: Error) -> Error {
    if let Some(m) = e.metadata_mut() {
        m.while_connecting = true;
    }
    e
}

fn compact(buf: &mut [u8], start: &mut usize, filled: &mut usize) {
    buf.copy_within(*start..*filled, 0);
    *filled -= *start;
    *start = 0;
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
    fn bytes_after_a_response_make_the_connection_unusable() {
        let two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n\r\n";
        for chunk in [1, 7, usize::MAX] {
            let outcome = read_response_bytes(two, chunk);
            let (response, reusable) = outcome.result.unwrap();
            assert_eq!((response.status, &response.body[..]), (200, &b"{}"[..]));
            // Pieces of 1 leave the stray bytes on the wire (the probe sees them); a whole
            // read buffers them: either way not reused from the buffer.
            assert!(!reusable || outcome.buffered == 0, "chunk {chunk}");
            assert_eq!(outcome.buffered + outcome.unread, 19, "chunk {chunk}");
        }
        let one = read_response_bytes(&two[..40], usize::MAX);
        assert!(
            one.result.unwrap().1,
            "a lone response leaves the connection reusable"
        );
    }

    #[test]
    fn content_length_is_one_decimal_number() {
        for (value, expected) in [
            (&b"0"[..], Some(0)),
            (b" 42 ", Some(42)),
            (b"2, 2", Some(2)),
            (b"2,2,2", Some(2)),
            (b"2, 40", None),
            (b"2 0", None),
            (b"+2", None),
            (b"-2", None),
            (b"", None),
            (b",", None),
            (b"2,", None),
            (b"0x10", None),
            (b"1234567890123456", None),
        ] {
            assert_eq!(
                content_length(value),
                expected,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn chunks_are_read_with_extensions_and_trailers() {
        assert!(matches!(
            next_chunk(b"1a;x=y\r\n"),
            Chunk::Data { skip: 8, len: 26 }
        ));
        assert!(matches!(next_chunk(b"0\r\n\r\n"), Chunk::Last { end: 5 }));
        assert!(matches!(
            next_chunk(b"0\r\nx: y\r\n\r\n"),
            Chunk::Last { end: 11 }
        ));
        assert!(matches!(next_chunk(b"0\r\nx: y\r\n"), Chunk::Incomplete));
        assert!(matches!(next_chunk(b"zz\r\n"), Chunk::Malformed));
        assert!(matches!(
            next_chunk(b"10000000000000000\r\n"),
            Chunk::Malformed
        ));
        assert!(matches!(next_chunk(b"1"), Chunk::Incomplete));
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
