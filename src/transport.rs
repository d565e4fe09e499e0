//! HTTP/1.1 over ureq: one pooled agent per client, bounded in time and size.
#![forbid(unsafe_code)]

use std::io;
use std::time::Duration;

use crate::config::Settings;
use crate::error::{Error, ResponseMetadata};

/// Largest response body read. UpdateContact answers `{}` and errors are a line of JSON;
/// anything larger is not the service.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// Idle connections kept for reuse (all to the one endpoint).
const MAX_IDLE_CONNECTIONS: usize = 64;

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
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn metadata(&self) -> ResponseMetadata {
        ResponseMetadata {
            request_id: self.request_id.clone(),
            http_status: Some(self.status),
            retry_attempts: 0,
        }
    }
}

pub struct Transport {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

impl Transport {
    pub fn new(settings: &Settings) -> Self {
        let config = ureq::Agent::config_builder()
            // AWS error documents come with 4xx/5xx statuses; we read them ourselves.
            .http_status_as_error(false)
            // A redirect from the service is never expected; following one would send a
            // signed request to a host we did not configure.
            .max_redirects(0)
            // Proxies arrive with the full configuration work; until then the environment's
            // proxy variables must not silently reroute signed requests.
            .proxy(None)
            .timeout_connect(Some(settings.connect_timeout))
            .user_agent(concat!("connect-contact/", env!("CARGO_PKG_VERSION")))
            .accept(ureq::config::AutoHeaderValue::None)
            // ureq keeps 3 idle connections per host by default; a client shared by many
            // threads (or async workers) would otherwise reconnect on most calls.
            .max_idle_connections(MAX_IDLE_CONNECTIONS)
            .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
            .build();
        Transport {
            agent: config.into(),
        }
    }

    /// POSTs `body` to `url` with `headers`, giving up after `timeout` (the whole exchange,
    /// body included).
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<HttpResponse, Error> {
        let mut request = self.agent.post(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.config().timeout_global(Some(timeout)).build();
        let response = request.send(body).map_err(|e| map_error(e, url))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("x-amzn-requestid");
        let error_type = header("x-amzn-errortype");
        let date = header("date");
        let cached = response.headers().contains_key("age");
        let retry_after = header("x-amz-retry-after");
        let body = match response
            .into_body()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
        {
            Ok(body) => body,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Err(Error::InvalidResponse {
                    message: format!(
                        "HTTP {status} response body is larger than {MAX_RESPONSE_BYTES} bytes"
                    ),
                    metadata: ResponseMetadata {
                        request_id,
                        http_status: Some(status),
                        retry_attempts: 0,
                    },
                })
            }
            Err(e) => {
                let mut err = map_error(e, url);
                if let Some(m) = err.metadata_mut() {
                    m.request_id = request_id;
                    m.http_status = Some(status);
                }
                return Err(err);
            }
        };
        Ok(HttpResponse {
            status,
            request_id,
            error_type,
            date,
            cached,
            retry_after,
            body,
        })
    }
}

/// ureq's errors as our statuses. Messages name the host, never headers (they hold the
/// signature and the session token).
fn map_error(error: ureq::Error, url: &str) -> Error {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(url);
    let transport = |message: String| Error::Transport {
        message,
        metadata: ResponseMetadata::default(),
    };
    match error {
        ureq::Error::Timeout(which) => Error::Timeout {
            message: format!("timed out talking to {host} ({which})"),
            metadata: ResponseMetadata::default(),
        },
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Error::Timeout {
                message: format!("timed out talking to {host}: {e}"),
                metadata: ResponseMetadata::default(),
            }
        }
        ureq::Error::Io(e) => transport(format!("I/O error talking to {host}: {e}")),
        ureq::Error::HostNotFound => transport(format!("could not resolve host {host}")),
        ureq::Error::ConnectionFailed => transport(format!("could not connect to {host}")),
        ureq::Error::Tls(why) => transport(format!("TLS failure with {host}: {why}")),
        ureq::Error::Protocol(e) => transport(format!("malformed HTTP exchange with {host}: {e}")),
        other => transport(format!("HTTP failure with {host}: {other}")),
    }
}
