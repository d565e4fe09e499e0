//! The HTTP layer's contract: one [`Engine`] trait (send a prepared request within a
//! deadline; get back status, headers and a bounded body, or a typed transport error), the
//! response type both engines return, their time limits, and the one mapping from a failure
//! to an [`Error`]. The one TLS configuration both use is [`network::Network`]'s.
//!
//! Two engines implement it: [`direct::Direct`], the keep-alive fast path to the client's
//! own endpoint (its response reader, socket-free, is [`framing`]), and [`ureq::UreqEngine`],
//! for proxies and the credential providers. [`engine_for`] picks one when a client is built.
#![forbid(unsafe_code)]

pub mod direct;
pub mod framing;
pub mod network;
pub mod ureq;

use std::fmt;
use std::io;
use std::time::Duration;

use crate::error::{Error, HttpHeaders, ResponseMetadata};

use self::direct::Direct;
use self::network::Network;
use self::ureq::UreqEngine;

/// Largest response body read. UpdateContact answers `{}` and errors are a line of JSON;
/// anything larger is not the service.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// A prepared request: everything signed, nothing left to decide but how to send it.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Besides these the engine adds only Host, User-Agent and Content-Length.
    pub headers: &'a [(&'a str, &'a str)],
    /// `None` sends no body (GET).
    pub body: Option<&'a [u8]>,
}

/// An HTTP/1.1 client: both engines behave alike to their callers (bounded in time and size,
/// no redirects followed, every failure mapped by [`failure`]).
pub trait Engine: Send + Sync + fmt::Debug {
    /// Sends `request`; `limits.timeout` bounds the whole exchange, body included.
    fn send(&self, request: &Request<'_>, limits: Limits) -> Result<HttpResponse, Error>;
}

/// What one HTTP exchange returned.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub request_id: Option<String>,
    pub error_type: Option<String>,
    /// `Date`, for clock-skew correction.
    pub date: Option<String>,
    /// True when an `Age` header says the response came from a cache (its Date is old).
    pub cached: bool,
    /// `x-amz-retry-after`, in milliseconds as text.
    pub retry_after: Option<String>,
    /// Every header, for the response document's `HTTPHeaders`.
    pub headers: HttpHeaders,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Request id, status and headers (moved out: nothing else reads them afterwards).
    pub fn take_metadata(&mut self) -> ResponseMetadata {
        ResponseMetadata {
            request_id: self.request_id.clone(),
            http_status: Some(self.status),
            http_headers: std::mem::take(&mut self.headers),
            ..Default::default()
        }
    }
}

/// Time limits of one exchange.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The whole exchange, body included.
    pub timeout: Duration,
    /// Overrides the engine's connect timeout when set.
    pub connect_timeout: Option<Duration>,
    /// Bounds the wait for the response when set.
    pub read_timeout: Option<Duration>,
}

impl Limits {
    /// Only a bound on the whole exchange; connect as the engine says.
    pub fn total(timeout: Duration) -> Self {
        Limits {
            timeout,
            connect_timeout: None,
            read_timeout: None,
        }
    }
}

/// How an exchange failed, in the terms both engines share. [`failure`] turns it into the
/// one [`Error`] callers see (and so `Details.Transport`: ConnectTimeout, ReadTimeout,
/// EndpointConnection or ConnectionClosed).
pub enum HttpFailure<'a> {
    /// A deadline passed while `doing` (connect, the TLS handshake, sending, waiting...).
    TimedOut { doing: &'a str, connecting: bool },
    /// The host name did not resolve.
    Resolve(&'a dyn fmt::Display),
    /// No connection could be made (refused, unreachable, no address).
    Connect(&'a dyn fmt::Display),
    /// The TLS handshake or a certificate failed.
    Tls(&'a dyn fmt::Display),
    /// The bytes were not an HTTP/1.1 response we accept.
    Malformed(&'a dyn fmt::Display),
    /// The connection failed after it was made.
    Io(&'a dyn fmt::Display),
}

/// The one mapping of a transport failure to an [`Error`]. Messages name the host and what
/// failed, never a header (they hold the signature and the session token) or a path.
pub fn failure(host: &str, failure: HttpFailure<'_>, metadata: Option<&ResponseMetadata>) -> Error {
    let mut metadata = metadata.cloned().unwrap_or_default();
    match failure {
        HttpFailure::TimedOut { doing, connecting } => {
            metadata.while_connecting |= connecting;
            Error::Timeout {
                message: format!("timed out talking to {host} ({doing})"),
                metadata,
            }
        }
        HttpFailure::Resolve(why) => {
            metadata.while_connecting = true;
            Error::Transport {
                message: format!("could not resolve host {host}: {why}"),
                metadata,
            }
        }
        HttpFailure::Connect(why) => {
            metadata.while_connecting = true;
            Error::Transport {
                message: format!("could not connect to {host}: {why}"),
                metadata,
            }
        }
        HttpFailure::Tls(why) => Error::Transport {
            message: format!("TLS failure with {host}: {why}"),
            metadata,
        },
        HttpFailure::Malformed(why) => Error::Transport {
            message: format!("malformed HTTP exchange with {host}: {why}"),
            metadata,
        },
        HttpFailure::Io(why) => Error::Transport {
            message: format!("I/O error talking to {host}: {why}"),
            metadata,
        },
    }
}

/// An I/O error as a [`HttpFailure`]: a timeout, a failure to connect (refused, unreachable, or
/// anything at all while `connecting`), else a broken connection.
pub fn io_failure<'e>(e: &'e io::Error, doing: &'e str, connecting: bool) -> HttpFailure<'e> {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            HttpFailure::TimedOut { doing, connecting }
        }
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => HttpFailure::Connect(e),
        _ if connecting => HttpFailure::Connect(e),
        _ => HttpFailure::Io(e),
    }
}

/// `host:port` of a URL, for messages: never the path or query (they can hold tokens).
pub fn host_of(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
        .unwrap_or(url)
}

/// The `User-Agent` of every request, either engine's.
pub(crate) const USER_AGENT: &str = concat!("connect-contact/", env!("CARGO_PKG_VERSION"));
/// Idle connections kept for reuse (all to the one endpoint).
pub(crate) const MAX_IDLE_CONNECTIONS: usize = 64;

/// The engine for a client's endpoint, chosen once: the fast path ([`Direct`]) when no proxy
/// is configured and the endpoint is `http://` or `https://host[:port]` with a TLS setting
/// that builds (see [`direct`] for why); ureq otherwise (a TLS setting that cannot be built
/// leaves the endpoint to ureq, which reports it).
pub fn engine_for(
    network: &Network,
    connect_timeout: Duration,
    endpoint_url: &str,
) -> Box<dyn Engine> {
    if network.proxy.is_none() {
        let tls = endpoint_url
            .starts_with("https://")
            .then(|| network.rustls_config().ok())
            .flatten();
        if let Some(direct) = Direct::for_endpoint(
            endpoint_url,
            connect_timeout,
            USER_AGENT,
            MAX_IDLE_CONNECTIONS,
            tls,
        ) {
            return Box::new(direct);
        }
    }
    Box::new(UreqEngine::with_network(network, connect_timeout))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::ClientConfig;

    /// The engine a client with this config gets, by name.
    fn engine(json: &str) -> String {
        let env = |k: &str| match k {
            "AWS_CONFIG_FILE" | "AWS_SHARED_CREDENTIALS_FILE" => Some("/dev/null".to_string()),
            _ => None,
        };
        let settings = ClientConfig::from_json(json)
            .unwrap()
            .resolve_with(&env)
            .unwrap();
        let engine = engine_for(
            &settings.network,
            settings.connect_timeout,
            &settings.endpoint.url_for(""),
        );
        format!("{engine:?}")
    }

    #[test]
    fn a_ca_bundle_is_parsed_once_and_again_when_it_changes() {
        let dir =
            std::env::temp_dir().join(format!("connect-contact-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bundle.pem");
        let ca = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/tls/ca.pem"
        ))
        .unwrap();
        std::fs::write(&path, &ca).unwrap();
        let first = Network::ca_bundle(&path, "test").unwrap();
        let again = Network::ca_bundle(&path, "test").unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second client reuses the parse"
        );
        let network = Network {
            root_certs: Some(first.clone()),
            ..Network::default()
        };
        assert!(Arc::ptr_eq(
            &network.rustls_config().unwrap(),
            &network.rustls_config().unwrap()
        ));
        let server = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/tls/server.pem"
        ))
        .unwrap();
        std::fs::write(&path, [ca, server].concat()).unwrap();
        let changed = Network::ca_bundle(&path, "test").unwrap();
        assert_eq!(
            (first.len(), changed.len()),
            (1, 2),
            "a changed file is read again"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn updates_take_the_fast_path_over_tls_and_plain_http_unless_proxied() {
        let keys = r#""region":"us-east-1","access_key_id":"A","secret_access_key":"S""#;
        assert!(
            engine(&format!("{{{keys}}}")).starts_with("Direct"),
            "the default https endpoint"
        );
        assert!(engine(&format!(
            r#"{{{keys},"endpoint_url":"http://127.0.0.1:9"}}"#
        ))
        .starts_with("Direct"));
        let proxied = format!(r#"{{{keys},"proxy":"http://proxy.example:3128"}}"#);
        assert_eq!(engine(&proxied), "UreqEngine", "proxies go through ureq");
    }
}
