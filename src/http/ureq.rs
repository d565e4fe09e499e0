//! The ureq engine: proxies, the credential providers' calls, and any endpoint the direct
//! engine cannot take.
#![forbid(unsafe_code)]

use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, HttpHeaders, ResponseMetadata};
use crate::http::{
    failure, host_of, io_failure, Engine, HttpFailure, HttpResponse, Limits, Request,
    MAX_IDLE_CONNECTIONS, MAX_RESPONSE_BYTES, USER_AGENT,
};

use super::network::Network;

/// The ureq engine: one pooled agent with the client's proxy and trust roots, built on first
/// use. Most clients never need it (static keys, no proxy: the fast path sends every call), and
/// building it first touches much of ureq's code: a client's construction no longer pays that.
pub struct UreqEngine {
    network: Network,
    connect_timeout: Duration,
    agent: OnceLock<ureq::Agent>,
}

impl std::fmt::Debug for UreqEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UreqEngine")
    }
}

impl UreqEngine {
    /// A transport with the client's proxy and trust roots; credential providers (STS, SSO,
    /// IMDS, containers) use one of these too, never a second HTTP stack.
    pub fn with_network(network: &Network, connect_timeout: Duration) -> Self {
        UreqEngine {
            network: network.clone(),
            connect_timeout,
            agent: OnceLock::new(),
        }
    }

    fn agent(&self) -> &ureq::Agent {
        self.agent
            .get_or_init(|| Self::build_agent(&self.network, self.connect_timeout))
    }

    fn build_agent(network: &Network, connect_timeout: Duration) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            // AWS error documents come with 4xx/5xx statuses; we read them ourselves.
            .http_status_as_error(false)
            // A redirect from the service is never expected; following one would send a
            // signed request to a host we did not configure.
            .max_redirects(0)
            // Only the proxy resolved by the configuration, never ureq's own reading of the
            // environment, so NO_PROXY and the loopback rule apply as documented.
            .proxy(network.proxy.clone())
            .tls_config(network.ureq_tls())
            .timeout_connect(Some(connect_timeout))
            .user_agent(USER_AGENT)
            .accept(ureq::config::AutoHeaderValue::None)
            // ureq keeps 3 idle connections per host by default; a client shared by many
            // threads (or async workers) would otherwise reconnect on most calls.
            .max_idle_connections(MAX_IDLE_CONNECTIONS)
            .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
            .build();
        config.into()
    }

    /// Sends any request: `body` `None` sends none (GET). `limits.timeout` bounds the whole
    /// exchange; `limits.connect_timeout` overrides the client's connect timeout (IMDS
    /// wants 1 s whatever the client's is).
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        limits: Limits,
    ) -> Result<HttpResponse, Error> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let invalid = |e: ureq::http::Error| {
            Error::InvalidConfig(format!("bad request to {}: {e}", host_of(url)))
        };
        let response = match body {
            Some(body) => {
                let request = builder.body(body).map_err(invalid)?;
                let request = apply(limits, self.agent().configure_request(request)).build();
                self.agent().run(request)
            }
            None => {
                let request = builder.body(()).map_err(invalid)?;
                let request = apply(limits, self.agent().configure_request(request)).build();
                self.agent().run(request)
            }
        }
        .map_err(|e| map_error(e, url))?;
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
        let pairs: Vec<(&str, &str)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let headers = HttpHeaders::from_pairs(pairs.iter().copied());
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
                        http_headers: headers,
                        ..Default::default()
                    },
                })
            }
            Err(e) => {
                let mut err = map_error(e, url);
                if let Some(m) = err.metadata_mut() {
                    m.request_id = request_id;
                    m.http_status = Some(status);
                    m.http_headers = headers;
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
            headers,
            body,
        })
    }
}

impl Engine for UreqEngine {
    fn send(&self, request: &Request<'_>, limits: Limits) -> Result<HttpResponse, Error> {
        UreqEngine::send(
            self,
            request.method,
            request.url,
            request.headers,
            request.body,
            limits,
        )
    }
}

/// ureq's errors in the shared terms ([`failure`]).
fn map_error(error: ureq::Error, url: &str) -> Error {
    let host = host_of(url);
    let failed = match &error {
        ureq::Error::Timeout(which) => {
            let doing = which.to_string();
            let connecting = matches!(which, ureq::Timeout::Resolve | ureq::Timeout::Connect);
            return failure(
                host,
                HttpFailure::TimedOut {
                    doing: &doing,
                    connecting,
                },
                None,
            );
        }
        ureq::Error::Io(e) => io_failure(e, "I/O", false),
        ureq::Error::HostNotFound => HttpFailure::Resolve(&"not found"),
        ureq::Error::ConnectionFailed => HttpFailure::Connect(&"connection failed"),
        ureq::Error::Tls(why) => HttpFailure::Tls(why),
        ureq::Error::Protocol(e) => HttpFailure::Malformed(e),
        other => HttpFailure::Io(other),
    };
    failure(host, failed, None)
}

/// `limits` as ureq's per-request configuration.
fn apply<S: ureq::AsSendBody>(
    limits: Limits,
    config: ureq::config::ConfigBuilder<ureq::typestate::HttpCrateScope<S>>,
) -> ureq::config::ConfigBuilder<ureq::typestate::HttpCrateScope<S>> {
    let config = config.timeout_global(Some(limits.timeout));
    let config = match limits.connect_timeout {
        Some(c) => config.timeout_connect(Some(c)),
        None => config,
    };
    match limits.read_timeout {
        Some(r) => config.timeout_recv_response(Some(r)),
        None => config,
    }
}
