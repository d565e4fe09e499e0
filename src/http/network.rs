//! The network settings both engines share: the proxy, the trust roots (a CA bundle, parsed
//! once per process), and from them the one TLS configuration.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Proxy, ProxyProtocol};

use crate::error::Error;

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
