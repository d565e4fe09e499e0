//! The HTTP/1.1 response reader, free of sockets: one response (after any 1xx) from a
//! [`Source`] of bytes — a pooled connection in [`super::direct`], a byte string in pieces for
//! the fuzz target — with Content-Length, chunked and read-to-close bodies, bounded head and
//! body, and whether the connection may carry another request.
#![forbid(unsafe_code)]

use crate::error::{Error, HttpHeaders, ResponseMetadata};
use crate::http::{self, HttpResponse, MAX_RESPONSE_BYTES};

/// Largest response head read (ureq's limit too).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers parsed in a response head; more is not the service.
const MAX_HEADERS: usize = 64;
/// Read buffer of a new connection; grows up to MAX_HEAD_BYTES for a large head.
pub(crate) const INITIAL_BUFFER: usize = 4096;

/// Where a response's bytes come from: a connection (the direct engine's `Wire`), or a byte string handed over
/// in pieces ([`read_response_bytes`], for the fuzz target).
pub(crate) trait Source {
    /// Reads into `buf` (never empty); Ok(0) at end of stream. `context` goes into errors.
    fn read_some(
        &mut self,
        buf: &mut [u8],
        context: Option<&ResponseMetadata>,
    ) -> Result<usize, Error>;
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
pub(crate) struct Reader<'a, S> {
    pub(crate) buf: &'a mut Vec<u8>,
    pub(crate) source: S,
    pub(crate) authority: &'a str,
    /// After a read: bytes read past the end of the response.
    pub(crate) leftover: usize,
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
        http::failure(self.authority, http::HttpFailure::Malformed(&why), context)
    }

    fn truncated(&self, context: &ResponseMetadata) -> Error {
        self.malformed(
            "the connection closed before the response body ended",
            Some(context),
        )
    }

    /// One response (after any 1xx interim ones): the response, and whether the connection
    /// may carry another request (nothing after the response in the buffer, keep-alive).
    pub(crate) fn read(&mut self) -> Result<(HttpResponse, bool), Error> {
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
pub(crate) fn content_length(value: &[u8]) -> Option<usize> {
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

/// Moves the unconsumed `buf[start..filled]` to the front, making room to read into.
fn compact(buf: &mut [u8], start: &mut usize, filled: &mut usize) {
    buf.copy_within(*start..*filled, 0);
    *filled -= *start;
    *start = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
