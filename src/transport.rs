//! The ureq engine (proxies, the credential providers, and any endpoint the fast path cannot
//! take), the network settings both engines share (proxy, trust roots, and from them the one
//! TLS configuration), and the choice of engine, made once when a client is built
//! ([`engine_for`]).
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use once_cell::sync::Lazy;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Proxy, ProxyProtocol};

use crate::error::{Error, HttpHeaders, ResponseMetadata};
use crate::http::{
    failure, host_of, io_failure, Engine, Failure, HttpResponse, Limits, Request,
    MAX_RESPONSE_BYTES,
};
use crate::http1::Direct;

/// Idle connections kept for reuse (all to the one endpoint).
const MAX_IDLE_CONNECTIONS: usize = 64;

/// The ureq engine: one pooled agent with the client's proxy and trust roots, built on first
/// use. Most clients never need it (static keys, no proxy: the fast path sends every call), and
/// building it first touches much of ureq's code: a client's construction no longer pays that.
pub struct Transport {
    network: Network,
    connect_timeout: Duration,
    agent: OnceLock<ureq::Agent>,
}

const USER_AGENT: &str = concat!("connect-contact/", env!("CARGO_PKG_VERSION"));

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

/// The engine for a client's endpoint, chosen once: the fast path ([`Direct`]) when no proxy
/// is configured and the endpoint is `http://` or `https://host[:port]` with a TLS setting
/// that builds (see http1.rs for why); ureq otherwise (a TLS setting that cannot be built
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
    Box::new(Transport::with_network(network, connect_timeout))
}

impl Transport {
    /// A transport with the client's proxy and trust roots; credential providers (STS, SSO,
    /// IMDS, containers) use one of these too, never a second HTTP stack.
    pub fn with_network(network: &Network, connect_timeout: Duration) -> Self {
        Transport {
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

impl Engine for Transport {
    fn send(&self, request: &Request<'_>, limits: Limits) -> Result<HttpResponse, Error> {
        Transport::send(
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
                Failure::TimedOut {
                    doing: &doing,
                    connecting,
                },
                None,
            );
        }
        ureq::Error::Io(e) => io_failure(e, "I/O", false),
        ureq::Error::HostNotFound => Failure::Resolve(&"not found"),
        ureq::Error::ConnectionFailed => Failure::Connect(&"connection failed"),
        ureq::Error::Tls(why) => Failure::Tls(why),
        ureq::Error::Protocol(e) => Failure::Malformed(e),
        other => Failure::Io(other),
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

/// Hosts never sent through a proxy: loopback (test servers, local helpers) and the
/// link-local metadata and container credential addresses.
const ALWAYS_DIRECT: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "::1",
    "[::1]",
    "169.254.169.254",
    "169.254.170.2",
    "169.254.170.23",
    "[fd00:ec2::254]",
    "[fd00:ec2::23]",
];

/// The crypto provider of every TLS connection, either engine's (ring).
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: Lazy<Arc<rustls::crypto::CryptoProvider>> =
        Lazy::new(|| Arc::new(rustls::crypto::ring::default_provider()));
    PROVIDER.clone()
}

/// Proxy and trust roots, resolved once per client.
#[derive(Clone, Default)]
pub struct Network {
    pub proxy: Option<Proxy>,
    /// Where the proxy came from, for `Debug` (never its user information).
    pub proxy_source: Option<String>,
    /// Trust roots from a CA bundle; `None` means the built-in Mozilla roots.
    pub root_certs: Option<Arc<Vec<Certificate<'static>>>>,
    pub ca_bundle_source: Option<String>,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field(
                "proxy",
                &self.proxy.as_ref().map(|p| {
                    format!(
                        "{}:{} from {}",
                        p.host(),
                        p.port(),
                        self.proxy_source.as_deref().unwrap_or("?")
                    )
                }),
            )
            .field(
                "root_certs",
                &self.root_certs.as_ref().map(|r| {
                    format!(
                        "{} from {}",
                        r.len(),
                        self.ca_bundle_source.as_deref().unwrap_or("?")
                    )
                }),
            )
            .finish()
    }
}

impl Network {
    /// The one TLS configuration, as rustls takes it (the fast path): the trust roots of
    /// [`Network::root_certs`] (the CA bundle, else Mozilla's roots from webpki-roots, which
    /// need no file and no parsing), ring as the crypto provider, TLS 1.2 and 1.3, certificate
    /// and name verification always on. Built once per set of roots and shared by every
    /// client that uses it.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        let network = self;
        type Built = (
            Option<Arc<Vec<Certificate<'static>>>>,
            Arc<rustls::ClientConfig>,
        );
        static BUILT: Lazy<Mutex<Vec<Built>>> = Lazy::new(Mutex::default);
        let same_roots = |(roots, _): &&Built| match (roots, &network.root_certs) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if let Some((_, config)) = BUILT
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(same_roots)
        {
            return Ok(config.clone());
        }
        let mut roots = rustls::RootCertStore::empty();
        match &network.root_certs {
            Some(certs) => {
                for cert in certs.iter() {
                    roots.add(rustls::pki_types::CertificateDer::from(cert.der().to_vec()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = Arc::new(config);
        let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
        // Bundles are cached per file (see Network::ca_bundle), so this stays as small as the
        // number of bundle files a process uses; the bound is a backstop.
        if built.len() >= 16 {
            built.remove(0);
        }
        built.push((network.root_certs.clone(), config.clone()));
        Ok(config)
    }

    /// The same configuration as ureq takes it (the ureq engine): the same roots, the same
    /// crypto provider; ureq's defaults otherwise (TLS 1.2 and 1.3, verification on).
    pub fn ureq_tls(&self) -> TlsConfig {
        let mut tls = TlsConfig::builder().unversioned_rustls_crypto_provider(crypto_provider());
        if let Some(roots) = &self.root_certs {
            tls = tls.root_certs(RootCerts::Specific(roots.clone()));
        }
        tls.build()
    }

    /// A proxy URL (`http://[user:password@]host:port`) with `no_proxy` (comma-separated, as
    /// in `NO_PROXY`) plus the always-direct hosts (loopback, metadata and container
    /// addresses). `source` names the setting for messages, which never echo the URL (it may
    /// hold a password).
    pub fn proxy(url: &str, no_proxy: Option<&str>, source: &str) -> Result<Proxy, Error> {
        let bad = |why: &str| Error::InvalidConfig(format!("{source}: the proxy URL {why}"));
        let url = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let parsed =
            Proxy::new(&url).map_err(|_| bad("is not valid (expected http://host:port)"))?;
        if !matches!(
            parsed.protocol(),
            ProxyProtocol::Http | ProxyProtocol::Https
        ) {
            return Err(bad("must use http:// or https://"));
        }
        let mut builder = Proxy::builder(parsed.protocol())
            .host(parsed.host())
            .port(parsed.port());
        if let Some(user) = parsed.username() {
            builder = builder.username(user);
        }
        if let Some(password) = parsed.password() {
            builder = builder.password(password);
        }
        let extra = no_proxy.unwrap_or("");
        for entry in ALWAYS_DIRECT
            .iter()
            .copied()
            .chain(extra.split(',').map(str::trim).filter(|e| !e.is_empty()))
        {
            builder = builder.no_proxy(entry);
        }
        builder.build().map_err(|_| bad("is not valid"))
    }

    /// The certificates of a CA bundle, parsed once per process: many machines export
    /// `AWS_CA_BUNDLE` pointing at the system bundle (hundreds of certificates, about half a
    /// millisecond to decode), which every client would otherwise parse again. A file that
    /// changes (size or modification time) is read again.
    pub fn ca_bundle(path: &Path, source: &str) -> Result<Arc<Vec<Certificate<'static>>>, Error> {
        type Key = (std::path::PathBuf, u64, Option<std::time::SystemTime>);
        type Parsed = Arc<Vec<Certificate<'static>>>;
        static PARSED: Lazy<Mutex<Vec<(Key, Parsed)>>> = Lazy::new(Mutex::default);
        let key = std::fs::metadata(path)
            .ok()
            .map(|m| (path.to_path_buf(), m.len(), m.modified().ok()));
        if let Some(key) = &key {
            let cache = PARSED.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, certs)) = cache.iter().find(|(k, _)| k == key) {
                return Ok(certs.clone());
            }
        }
        let certs = Arc::new(Network::read_ca_bundle(path, source)?);
        if let Some(key) = key {
            let mut cache = PARSED.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|(k, _)| k.0 != key.0);
            cache.push((key, certs.clone()));
        }
        Ok(certs)
    }

    /// Reads the PEM certificates of a CA bundle; the bundle replaces the built-in roots, as
    /// `AWS_CA_BUNDLE` does for the AWS CLI. Verification itself is never switched off.
    pub fn read_ca_bundle(path: &Path, source: &str) -> Result<Vec<Certificate<'static>>, Error> {
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| {
            Error::InvalidConfig(format!("{source}: CA bundle {shown} cannot be read: {e}"))
        })?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::InvalidConfig(format!(
                        "{source}: CA bundle {shown} is not valid PEM: {e}"
                    )))
                }
            }
        }
        if certs.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "{source}: CA bundle {shown} holds no PEM certificate"
            )));
        }
        Ok(certs)
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(engine(&proxied), "Transport", "proxies go through ureq");
    }
}
