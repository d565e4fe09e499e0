//! Client configuration: the config JSON keys, the environment, and their precedence.
//!
//! Resolution happens once, when a client is built; nothing here runs per call.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::credentials::chain::{default_chain, ExplicitKeys};
use crate::credentials::context::Context;
use crate::credentials::{Credentials, ProvideCredentials};
use crate::endpoint::{check_custom, default_endpoint, EndpointUrl};
use crate::env::{parse_flag, Env};
use crate::error::Error;
use crate::json::{closest, parse_json_document};
use crate::profile::{ProfileSet, Section};
use crate::retry::{RetryMode, RetryPolicy};
use crate::transport::{Network, Transport};

/// Default time allowed to open a connection (TCP and TLS handshakes).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default deadline for a whole call, all attempts and backoff included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit for one attempt, so a stalled connection leaves time for a retry.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of attempts (the first try included), as in the AWS SDKs' standard mode.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Upper bound for the timeouts, so a typo cannot make a call hang for days.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Upper bound for `max_attempts`.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;
/// Default worker threads for asynchronous calls (started on the first one).
pub const DEFAULT_ASYNC_WORKERS: usize = 2;
/// Default number of asynchronous calls that may wait for a worker.
pub const DEFAULT_ASYNC_QUEUE: usize = 256;
/// Upper bounds for the two, so a typo cannot start thousands of threads or buffer millions.
pub const MAX_ASYNC_WORKERS: usize = 64;
pub const MAX_ASYNC_QUEUE: usize = 1 << 20;

/// How a setting's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// `true` or `false` (any case in the environment and the profile).
    Flag,
    /// A whole number in `min..=max`.
    Whole {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// Milliseconds in `min..=max`.
    Millis {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// One of the listed words.
    Choice(&'static [&'static str]),
}

/// One setting, declared once: everything else (the known config keys, the integer bounds the
/// parser checks, docs/configuration.md, the key list in connect_client_new's header comment
/// and the Python `ClientConfig` TypedDict) is derived from [`SETTINGS`].
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The config JSON key, or `None` for a setting only the environment sets.
    pub key: Option<&'static str>,
    /// The name in the docs (the config key when there is one).
    pub name: &'static str,
    /// Environment variables, in the order they are read.
    pub env: &'static [&'static str],
    /// The shared-profile key, if the profile can set it.
    pub profile: Option<&'static str>,
    /// The value's type and bounds.
    pub kind: Kind,
    /// The default, as the docs state it.
    pub default: &'static str,
    /// Whether the value is a secret (never shown: Debug, logs, messages, the resolved JSON).
    pub secret: bool,
    /// One line of documentation.
    pub doc: &'static str,
}

const fn setting(
    key: &'static str,
    env: &'static [&'static str],
    profile: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    doc: &'static str,
) -> Setting {
    Setting {
        key: Some(key),
        name: key,
        env,
        profile,
        kind,
        default,
        secret: false,
        doc,
    }
}

const fn secret(mut s: Setting) -> Setting {
    s.secret = true;
    s
}

const fn env_only(mut s: Setting) -> Setting {
    s.key = None;
    s
}

const MS: u64 = MAX_TIMEOUT.as_millis() as u64;

/// Every setting, in the order the docs list them.
pub const SETTINGS: &[Setting] = &[
    setting("region", &["AWS_REGION", "AWS_DEFAULT_REGION"], Some("region"), Kind::Text,
        "none: `NO_REGION`", "Region calls are signed for and sent to; never a silent default."),
    setting("endpoint_url", &["AWS_ENDPOINT_URL_CONNECT", "AWS_ENDPOINT_URL"], Some("endpoint_url"), Kind::Text,
        "from the endpoint rules: `https://connect.{region}.{partition suffix}`",
        "Custom endpoint; the profile's `services` section (`connect =` / `endpoint_url =`) comes before its `endpoint_url`."),
    setting("ignore_configured_endpoint_urls", &["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"],
        Some("ignore_configured_endpoint_urls"), Kind::Flag, "`false`",
        "Ignore the environment's and profile files' endpoints (Connect, STS, SSO); config key `endpoint_url` still counts."),
    setting("use_fips_endpoint", &["AWS_USE_FIPS_ENDPOINT"], Some("use_fips_endpoint"), Kind::Flag, "`false`",
        "FIPS endpoint (not with a custom endpoint)."),
    setting("use_dualstack_endpoint", &["AWS_USE_DUALSTACK_ENDPOINT"], Some("use_dualstack_endpoint"), Kind::Flag, "`false`",
        "Dual-stack endpoint (not with a custom endpoint)."),
    setting("profile", &["AWS_PROFILE"], None, Kind::Text, "`default`",
        "Shared profile, read from `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`; a named profile that does not exist is `INVALID_CONFIG`."),
    setting("access_key_id", &["AWS_ACCESS_KEY_ID"], None, Kind::Text, "from the credentials chain",
        "Explicit access key id; needs `secret_access_key`."),
    secret(setting("secret_access_key", &["AWS_SECRET_ACCESS_KEY"], None, Kind::Text, "from the credentials chain",
        "The secret key that goes with `access_key_id`.")),
    secret(setting("session_token", &["AWS_SESSION_TOKEN"], None, Kind::Text, "none",
        "Session token of temporary credentials.")),
    secret(setting("proxy", &["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"], None, Kind::Text, "none",
        "Proxy URL (may carry a password); `NO_PROXY` applies either way.")),
    setting("ca_bundle", &["AWS_CA_BUNDLE"], Some("ca_bundle"), Kind::Text, "Mozilla's roots (webpki-roots)",
        "PEM file of trust roots; replaces the built-in roots."),
    setting("connect_timeout_ms", &[], None, Kind::Millis { min: 1, max: MS }, "2000",
        "Time allowed to open a connection (TCP and TLS handshakes)."),
    setting("timeout_ms", &[], None, Kind::Millis { min: 1, max: MS }, "10000",
        "Deadline for a whole call: all attempts, backoff and credential lookup."),
    setting("attempt_timeout_ms", &[], None, Kind::Millis { min: 1, max: MS }, "5000",
        "Limit for one attempt (never past the call deadline)."),
    setting("max_attempts", &["AWS_MAX_ATTEMPTS"], Some("max_attempts"),
        Kind::Whole { min: 1, max: MAX_ATTEMPTS_LIMIT as u64 }, "3",
        "Attempts per call, the first included."),
    setting("retry_mode", &["AWS_RETRY_MODE"], Some("retry_mode"),
        Kind::Choice(&["standard", "adaptive", "legacy"]), "`standard`",
        "Retry mode; `legacy` means `standard`."),
    setting("new_retries_2026", &["AWS_NEW_RETRIES_2026"], None, Kind::Flag, "`false`",
        "The 2026 retry behaviour."),
    env_only(setting("clock_skew_correction", &["AWS_DISABLE_CLOCK_SKEW_CORRECTION"], None, Kind::Flag, "on",
        "Clock-skew correction; `AWS_DISABLE_CLOCK_SKEW_CORRECTION=true` turns it off.")),
    setting("async_workers", &[], None, Kind::Whole { min: 1, max: MAX_ASYNC_WORKERS as u64 }, "2",
        "Worker threads for asynchronous calls (started on the first one)."),
    setting("async_queue", &[], None, Kind::Whole { min: 1, max: MAX_ASYNC_QUEUE as u64 }, "256",
        "Asynchronous calls that may wait for a worker."),
    env_only(setting("log", &["CONNECT_CONTACT_LOG"], None, Kind::Choice(&["error", "warn", "info", "debug"]), "off",
        "Diagnostic log to stderr.")),
    setting("client_validation", &[], None, Kind::Flag, "`true`",
        "`false` turns off the model-limit checks (lengths, patterns, list sizes)."),
    setting("strict_enums", &[], None, Kind::Flag, "`false` (enums are open)",
        "`true` refuses enum values the vendored model does not list."),
    setting("allow_http", &[], None, Kind::Flag, "`false` (loopback `http://` is always allowed)",
        "Allow plain `http://` to a non-loopback host."),
];

/// The setting with config key `key`.
pub fn setting_for(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == Some(key))
}

/// The config JSON keys, in table order.
pub fn known_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().filter_map(|s| s.key)
}

/// What the caller configures; anything left `None` comes from the environment or a default.
///
/// `Debug` never shows the secret key or the session token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// Region (else `AWS_REGION`, else `AWS_DEFAULT_REGION`); never a silent default.
    pub region: Option<String>,
    /// Custom endpoint (else `AWS_ENDPOINT_URL_CONNECT`, else `AWS_ENDPOINT_URL`, else
    /// `https://connect.{region}.amazonaws.com`).
    pub endpoint_url: Option<String>,
    /// Explicit credentials; when `access_key_id` is set, `secret_access_key` must be too.
    pub access_key_id: Option<String>,
    /// The secret key that goes with `access_key_id`; never shown by `Debug`.
    pub secret_access_key: Option<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
    /// Time allowed to connect.
    pub connect_timeout: Option<Duration>,
    /// Deadline for a whole call, backoff included.
    pub timeout: Option<Duration>,
    /// Limit for one attempt (never past the call deadline).
    pub attempt_timeout: Option<Duration>,
    /// Attempts per call, at least 1 (else `AWS_MAX_ATTEMPTS`, else 3).
    pub max_attempts: Option<u32>,
    /// Standard or adaptive (else `AWS_RETRY_MODE`, else standard).
    pub retry_mode: Option<RetryMode>,
    /// The 2026 retry behaviour (else `AWS_NEW_RETRIES_2026`, else off).
    pub new_retries_2026: Option<bool>,
    /// `false` turns off the model-limit checks (lengths, enums, patterns). Default `true`.
    pub client_validation: Option<bool>,
    /// `true` refuses enum values the vendored model does not list. Default `false`: enums are
    /// open, as in the AWS SDKs, so values the service adds later are sent as given.
    pub strict_enums: Option<bool>,
    /// `true` allows a plain `http://` endpoint on a non-loopback host. Default `false`.
    pub allow_http: Option<bool>,
    /// Worker threads for asynchronous calls.
    pub async_workers: Option<usize>,
    /// Asynchronous calls that may wait for a worker.
    pub async_queue: Option<usize>,
    /// Shared profile (else `AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
    /// FIPS endpoint (else `AWS_USE_FIPS_ENDPOINT`, else the profile's `use_fips_endpoint`).
    pub use_fips_endpoint: Option<bool>,
    /// Dual-stack endpoint (else `AWS_USE_DUALSTACK_ENDPOINT`, else the profile's key).
    pub use_dualstack_endpoint: Option<bool>,
    /// PEM file of trust roots (else `AWS_CA_BUNDLE`, else the profile's `ca_bundle`).
    pub ca_bundle: Option<String>,
    /// Proxy URL (else `HTTPS_PROXY`, else `HTTP_PROXY`); `NO_PROXY` applies either way.
    pub proxy: Option<String>,
    /// `true` ignores the endpoints of the environment and the profile files (else
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, else the profile's key, else `false`).
    pub ignore_configured_endpoint_urls: Option<bool>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "** redacted **"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("retry_mode", &self.retry_mode)
            .field("new_retries_2026", &self.new_retries_2026)
            .field("client_validation", &self.client_validation)
            .field("strict_enums", &self.strict_enums)
            .field("allow_http", &self.allow_http)
            .field("async_workers", &self.async_workers)
            .field("async_queue", &self.async_queue)
            .field("profile", &self.profile)
            .field("use_fips_endpoint", &self.use_fips_endpoint)
            .field("use_dualstack_endpoint", &self.use_dualstack_endpoint)
            .field("ca_bundle", &self.ca_bundle)
            // A proxy URL can carry a password.
            .field("proxy", &self.proxy.as_ref().map(|_| "** set **"))
            .field(
                "ignore_configured_endpoint_urls",
                &self.ignore_configured_endpoint_urls,
            )
            .finish()
    }
}

impl ClientConfig {
    /// Reads the config JSON. Empty text, `null` and `{}` all mean "everything from the
    /// environment". Text that is not JSON is [`Error::InvalidJson`]; an unknown key, a wrong
    /// type or an out-of-range value is [`Error::InvalidConfig`] naming the key.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        if text.trim().is_empty() {
            return Ok(ClientConfig::default());
        }
        let value = parse_json_document(text, "config", 64 * 1024)?;
        let map = match &value {
            Value::Null => return Ok(ClientConfig::default()),
            Value::Object(map) => map,
            _ => {
                return Err(Error::InvalidConfig(
                    "config: expected a JSON object".into(),
                ))
            }
        };
        if let Some(unknown) = map.keys().find(|k| setting_for(k).is_none()) {
            let keys: Vec<&str> = known_keys().collect();
            let hint = closest(unknown, &keys)
                .map(|m| format!("; did you mean \"{m}\"?"))
                .unwrap_or_default();
            return Err(Error::InvalidConfig(format!(
                "config key \"{unknown}\" is not known; known keys: {}{hint}",
                keys.join(", ")
            )));
        }
        Ok(ClientConfig {
            region: string(map, "region")?,
            endpoint_url: string(map, "endpoint_url")?,
            access_key_id: string(map, "access_key_id")?,
            secret_access_key: string(map, "secret_access_key")?,
            session_token: string(map, "session_token")?,
            connect_timeout: millis(map, "connect_timeout_ms")?,
            timeout: millis(map, "timeout_ms")?,
            attempt_timeout: millis(map, "attempt_timeout_ms")?,
            retry_mode: string(map, "retry_mode")?
                .map(|m| parse_retry_mode(&m, "config key \"retry_mode\""))
                .transpose()?,
            new_retries_2026: boolean(map, "new_retries_2026")?,
            max_attempts: integer(map, "max_attempts")?.map(|n| n as u32),
            client_validation: boolean(map, "client_validation")?,
            strict_enums: boolean(map, "strict_enums")?,
            allow_http: boolean(map, "allow_http")?,
            async_workers: integer(map, "async_workers")?.map(|n| n as usize),
            async_queue: integer(map, "async_queue")?.map(|n| n as usize),
            profile: string(map, "profile")?,
            use_fips_endpoint: boolean(map, "use_fips_endpoint")?,
            use_dualstack_endpoint: boolean(map, "use_dualstack_endpoint")?,
            ca_bundle: string(map, "ca_bundle")?,
            proxy: string(map, "proxy")?,
            ignore_configured_endpoint_urls: boolean(map, "ignore_configured_endpoint_urls")?,
        })
    }

    /// Resolves this config against the process environment.
    pub fn resolve(&self) -> Result<Settings, Error> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// Resolves this config against `env` (a lookup by variable name), for tests and
    /// embedders. Everything from outside comes through `env`, `HOME` included, so the
    /// profile files are found from it too.
    pub fn resolve_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let env = Env::new(env);
        let (profile_name, profile_source) = match (&self.profile, env.var("AWS_PROFILE")) {
            (Some(p), _) => (p.clone(), Some("config key \"profile\"")),
            (None, Some(p)) => (p, Some("AWS_PROFILE")),
            (None, None) => ("default".to_owned(), None),
        };
        let files = ProfileSet::load(
            env.file("AWS_CONFIG_FILE", ".aws/config").as_deref(),
            env.file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")
                .as_deref(),
        )?;
        let empty = Section::default();
        let profile = match (files.profile(&profile_name), profile_source) {
            (Some(p), _) => p,
            (None, None) => &empty,
            (None, Some(source)) => {
                return Err(Error::InvalidConfig(format!(
                    "profile \"{profile_name}\" (from {source}) is not in {}",
                    files.describe_files()
                )))
            }
        };
        let in_profile = |key: &str| format!("profile \"{profile_name}\" key \"{key}\"");
        let mut sources = Sources::default();
        let from_config = |key: &str| format!("config key \"{key}\"");
        sources.record(
            "profile",
            Value::from(profile_name.as_str()),
            profile_source.unwrap_or("default"),
        );

        let region = match self
            .region
            .clone()
            .map(|r| (r, "config key \"region\"".to_owned()))
            .or_else(|| env.var("AWS_REGION").map(|r| (r, "AWS_REGION".into())))
            .or_else(|| env.var("AWS_DEFAULT_REGION").map(|r| (r, "AWS_DEFAULT_REGION".into())))
            .or_else(|| profile.get("region").map(|r| (r.to_owned(), in_profile("region"))))
        {
            Some((region, source)) => {
                let region = check_region(region, &source)?;
                sources.record("region", Value::from(region.as_str()), source);
                region
            }
            None => {
                return Err(Error::NoRegion(format!(
                    "no region: set config key \"region\", the environment variable AWS_REGION (or AWS_DEFAULT_REGION), \
                     or \"region\" in profile \"{profile_name}\""
                )))
            }
        };

        let allow_http = self.allow_http.unwrap_or(false);
        let flag =
            |key: &str, config: Option<bool>, var: &str| -> Result<Option<(bool, String)>, Error> {
                if let Some(v) = config {
                    return Ok(Some((v, format!("config key \"{key}\""))));
                }
                if let Some(v) = env.flag(var)? {
                    return Ok(Some((v, var.to_owned())));
                }
                match profile.get(key) {
                    None => Ok(None),
                    Some(v) => parse_flag(v, &in_profile(key)).map(|v| Some((v, in_profile(key)))),
                }
            };
        let fips = flag(
            "use_fips_endpoint",
            self.use_fips_endpoint,
            "AWS_USE_FIPS_ENDPOINT",
        )?;
        let dual = flag(
            "use_dualstack_endpoint",
            self.use_dualstack_endpoint,
            "AWS_USE_DUALSTACK_ENDPOINT",
        )?;
        let on =
            |f: &Option<(bool, String)>| f.as_ref().filter(|(v, _)| *v).map(|(_, s)| s.clone());
        let (fips_on, dual_on) = (on(&fips), on(&dual));
        for (name, flag) in [
            ("use_fips_endpoint", &fips),
            ("use_dualstack_endpoint", &dual),
        ] {
            match flag {
                Some((v, source)) => sources.record(name, Value::from(*v), source),
                None => sources.record(name, Value::from(false), "default"),
            }
        }
        // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (else the profile's key) set aside the
        // endpoints of the environment and the profile files; the config key still counts.
        let (ignore_configured, ignore_source) = flag(
            "ignore_configured_endpoint_urls",
            self.ignore_configured_endpoint_urls,
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        )?
        .unwrap_or((false, "default".to_owned()));
        sources.record(
            "ignore_configured_endpoint_urls",
            Value::from(ignore_configured),
            ignore_source,
        );
        let configured = |url: Option<(String, String)>| url.filter(|_| !ignore_configured);
        let services = profile
            .get("services")
            .and_then(|name| files.services(name))
            .and_then(|s| s.property("connect"))
            .and_then(|p| p.sub.get("endpoint_url"))
            .filter(|u| !u.is_empty());
        let custom = self
            .endpoint_url
            .clone()
            .map(|u| (u, "config key \"endpoint_url\"".to_owned()))
            .or_else(|| {
                configured(
                    env.var("AWS_ENDPOINT_URL_CONNECT")
                        .map(|u| (u, "AWS_ENDPOINT_URL_CONNECT".into())),
                )
            })
            .or_else(|| {
                configured(
                    env.var("AWS_ENDPOINT_URL")
                        .map(|u| (u, "AWS_ENDPOINT_URL".into())),
                )
            })
            .or_else(|| {
                configured(services.map(|u| {
                    (
                        u.clone(),
                        format!("profile \"{profile_name}\" services section \"connect\""),
                    )
                }))
            })
            .or_else(|| {
                configured(
                    profile
                        .get("endpoint_url")
                        .map(|u| (u.to_owned(), in_profile("endpoint_url"))),
                )
            });
        let endpoint = match custom {
            Some((url, source)) => {
                check_custom(&source, fips_on.as_deref(), dual_on.as_deref())?;
                let parsed = EndpointUrl::parse(&url, &source, allow_http)?;
                sources.record("endpoint_url", Value::from(url), source);
                parsed
            }
            None => {
                let url = default_endpoint(&region, fips_on.is_some(), dual_on.is_some())?;
                let parsed = EndpointUrl::parse(&url, "the default endpoint", false)?;
                sources.record("endpoint_url", Value::from(url), "default (endpoint rules)");
                parsed
            }
        };

        let network = self.network(&env, profile, &in_profile)?;
        sources.record(
            "proxy",
            Value::Null,
            network.proxy_source.as_deref().unwrap_or("default (none)"),
        );
        match &network.ca_bundle_source {
            Some(s) => sources.record("ca_bundle", Value::from(s.as_str()), s.as_str()),
            None => sources.record("ca_bundle", Value::Null, "default (built-in roots)"),
        }
        let mut attempts_source = from_config("max_attempts");
        let max_attempts = match self.max_attempts {
            Some(n) => check_attempts(u64::from(n), "config key \"max_attempts\"")?,
            None => match env
                .var("AWS_MAX_ATTEMPTS")
                .map(|v| (v, "AWS_MAX_ATTEMPTS".to_owned()))
                .or_else(|| {
                    profile
                        .get("max_attempts")
                        .map(|v| (v.to_owned(), in_profile("max_attempts")))
                }) {
                Some((v, source)) => {
                    let n = check_attempts(
                        v.trim().parse().map_err(|_| {
                            Error::InvalidConfig(format!("{source}: \"{v}\" is not a whole number"))
                        })?,
                        &source,
                    )?;
                    attempts_source = source;
                    n
                }
                None => {
                    attempts_source = "default".into();
                    DEFAULT_MAX_ATTEMPTS
                }
            },
        };
        sources.record("max_attempts", Value::from(max_attempts), attempts_source);
        let connect_timeout = check_timeout(
            self.connect_timeout,
            DEFAULT_CONNECT_TIMEOUT,
            "connect_timeout_ms",
        )?;
        let timeout = check_timeout(self.timeout, DEFAULT_TIMEOUT, "timeout_ms")?;

        let mut mode_source = from_config("retry_mode");
        let retry_mode = match self.retry_mode {
            Some(mode) => mode,
            None => match env
                .var("AWS_RETRY_MODE")
                .map(|v| (v, "AWS_RETRY_MODE".to_owned()))
                .or_else(|| {
                    profile
                        .get("retry_mode")
                        .map(|v| (v.to_owned(), in_profile("retry_mode")))
                }) {
                Some((mode, source)) => {
                    let mode = parse_retry_mode(&mode, &source)?;
                    mode_source = source;
                    mode
                }
                None => {
                    mode_source = "default".into();
                    RetryMode::Standard
                }
            },
        };
        let mode_name = match retry_mode {
            RetryMode::Standard => "standard",
            RetryMode::Adaptive => "adaptive",
        };
        sources.record("retry_mode", Value::from(mode_name), mode_source);
        let new_2026 = match self.new_retries_2026 {
            Some(on) => {
                sources.record(
                    "new_retries_2026",
                    Value::from(on),
                    from_config("new_retries_2026"),
                );
                on
            }
            None => {
                let var = env.var("AWS_NEW_RETRIES_2026");
                let on = var
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                let source = if var.is_some() {
                    "AWS_NEW_RETRIES_2026"
                } else {
                    "default"
                };
                sources.record("new_retries_2026", Value::from(on), source);
                on
            }
        };
        let retry = RetryPolicy {
            mode: retry_mode,
            max_attempts,
            new_2026,
        };
        let ctx = Context {
            env: &env,
            files: &files,
            profile: &profile_name,
            region: &region,
            transport: Arc::new(Transport::with_network(&network, connect_timeout)),
            timeout,
            allow_http,
            ignore_configured_endpoint_urls: ignore_configured,
            retry,
        };
        let keys = ExplicitKeys {
            access_key_id: self.access_key_id.as_deref(),
            secret_access_key: self.secret_access_key.as_deref(),
            session_token: self.session_token.as_deref(),
        };
        let credentials = default_chain(keys, &ctx)?;
        // Where the chain found them: the first two links are the config keys and the
        // environment's keys, the others name themselves.
        let credentials_source = if self.access_key_id.is_some() {
            "config keys \"access_key_id\"/\"secret_access_key\"".to_owned()
        } else if env.var("AWS_ACCESS_KEY_ID").is_some() {
            "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_owned()
        } else {
            credentials.name()
        };
        for name in ["access_key_id", "secret_access_key", "session_token"] {
            sources.record(name, Value::Null, credentials_source.as_str());
        }
        let attempt_timeout = check_timeout(
            self.attempt_timeout,
            DEFAULT_ATTEMPT_TIMEOUT,
            "attempt_timeout_ms",
        )?
        .min(timeout);
        for (name, given, value) in [
            ("connect_timeout_ms", self.connect_timeout, connect_timeout),
            ("timeout_ms", self.timeout, timeout),
            ("attempt_timeout_ms", self.attempt_timeout, attempt_timeout),
        ] {
            let source = if given.is_some() {
                from_config(name)
            } else {
                "default".into()
            };
            sources.record(name, Value::from(value.as_millis() as u64), source);
        }
        let skew_var = env.var("AWS_DISABLE_CLOCK_SKEW_CORRECTION");
        let clock_skew_correction = !skew_var
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        sources.record(
            "clock_skew_correction",
            Value::from(clock_skew_correction),
            if skew_var.is_some() {
                "AWS_DISABLE_CLOCK_SKEW_CORRECTION"
            } else {
                "default"
            },
        );
        let log = env.var("CONNECT_CONTACT_LOG");
        sources.record(
            "log",
            log.clone().map_or(Value::Null, Value::from),
            if log.is_some() {
                "CONNECT_CONTACT_LOG"
            } else {
                "default (off)"
            },
        );
        for (name, given, default) in [
            ("async_workers", self.async_workers, DEFAULT_ASYNC_WORKERS),
            ("async_queue", self.async_queue, DEFAULT_ASYNC_QUEUE),
        ] {
            let source = if given.is_some() {
                from_config(name)
            } else {
                "default".into()
            };
            sources.record(name, Value::from(given.unwrap_or(default)), source);
        }
        for (name, given, default) in [
            ("client_validation", self.client_validation, true),
            ("strict_enums", self.strict_enums, false),
            ("allow_http", self.allow_http, false),
        ] {
            let source = if given.is_some() {
                from_config(name)
            } else {
                "default".into()
            };
            sources.record(name, Value::from(given.unwrap_or(default)), source);
        }
        Ok(Settings {
            region,
            endpoint,
            credentials,
            connect_timeout,
            timeout,
            attempt_timeout,
            retry,
            clock_skew_correction,
            client_validation: self.client_validation.unwrap_or(true),
            strict_enums: self.strict_enums.unwrap_or(false),
            network,
            sources,
        })
    }

    /// Proxy and CA bundle.
    fn network(
        &self,
        env: &Env<'_>,
        profile: &Section,
        in_profile: &dyn Fn(&str) -> String,
    ) -> Result<Network, Error> {
        let mut network = Network::default();
        let proxy = self
            .proxy
            .clone()
            .map(|p| (p, "config key \"proxy\""))
            .or_else(|| {
                ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
                    .into_iter()
                    .find_map(|name| env.var(name).map(|p| (p, name)))
            });
        if let Some((url, source)) = proxy {
            let no_proxy = env.var("NO_PROXY").or_else(|| env.var("no_proxy"));
            network.proxy = Some(Network::proxy(&url, no_proxy.as_deref(), source)?);
            network.proxy_source = Some(source.to_owned());
        }
        let bundle = self
            .ca_bundle
            .clone()
            .map(|b| (b, "config key \"ca_bundle\"".to_owned()))
            .or_else(|| {
                env.var("AWS_CA_BUNDLE")
                    .map(|b| (b, "AWS_CA_BUNDLE".into()))
            })
            .or_else(|| {
                profile
                    .get("ca_bundle")
                    .map(|b| (b.to_owned(), in_profile("ca_bundle")))
            });
        if let Some((path, source)) = bundle {
            let path = env.expand_home(&path);
            network.root_certs = Some(Network::ca_bundle(&path, &source)?);
            network.ca_bundle_source = Some(format!("{} ({source})", path.display()));
        }
        Ok(network)
    }
}

/// A configuration with every value decided: what [`ClientConfig::resolve`] makes of the
/// config, the environment and the profile files, and what [`Client::with_settings`]
/// builds a client from.
///
/// [`Client::with_settings`]: crate::Client::with_settings
#[derive(Clone, Debug)]
pub struct Settings {
    pub(crate) region: String,
    pub(crate) endpoint: EndpointUrl,
    pub(crate) credentials: Arc<dyn ProvideCredentials>,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    /// Off with `AWS_DISABLE_CLOCK_SKEW_CORRECTION=true`.
    pub(crate) clock_skew_correction: bool,
    pub(crate) client_validation: bool,
    pub(crate) strict_enums: bool,
    /// Proxy and trust roots.
    pub(crate) network: Network,
    /// Each setting's value and where it came from, for [`Settings::to_json`].
    pub(crate) sources: Sources,
}

/// Each resolved setting's value (none for a secret) and source, by setting name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sources(Vec<(&'static str, Value, String)>);

impl Sources {
    /// Records `name`'s value and source; a secret's value (per [`SETTINGS`]) is dropped here,
    /// so it is never kept, let alone shown.
    fn record(&mut self, name: &'static str, value: Value, source: impl Into<String>) {
        let secret = SETTINGS
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("setting {name} is not in SETTINGS"))
            .secret;
        let value = if secret { Value::Null } else { value };
        self.0.push((name, value, source.into()));
    }
}

impl Settings {
    /// The region calls are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint calls go to, e.g. `https://connect.us-east-1.amazonaws.com`.
    pub fn endpoint_url(&self) -> String {
        self.endpoint.url_for(&self.endpoint.base_path)
    }

    /// The resolved configuration as a JSON object, in the order of the configuration
    /// reference: each setting's `value` and `source` (`config key "region"`, `AWS_REGION`,
    /// `profile "dev" key "region"`, `default`, or the credential provider). Secrets (the
    /// secret key, the session token, the proxy URL, which may carry a password) show only
    /// their source; the credentials are not fetched.
    pub fn to_json(&self) -> String {
        let mut out = Map::new();
        for setting in SETTINGS {
            if let Some((_, value, source)) = self.sources.0.iter().find(|e| e.0 == setting.name) {
                let mut entry = Map::new();
                if !setting.secret && !value.is_null() {
                    entry.insert("value".into(), value.clone());
                }
                entry.insert("source".into(), Value::from(source.as_str()));
                out.insert(setting.name.into(), Value::Object(entry));
            }
        }
        Value::Object(out).to_string()
    }

    /// The credentials the next call would sign with, from the source the chain chose;
    /// temporary credentials are fetched or refreshed as a call would.
    pub fn credentials(&self) -> Result<Credentials, Error> {
        self.credentials.provide().map(|c| Credentials::clone(&c))
    }
}

/// `^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$`: a region is a DNS label, so it can go into
/// the default host name without changing which host that is.
fn check_region(region: String, source: &str) -> Result<String, Error> {
    let ok = (1..=63).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
        && !region.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(region)
    } else {
        let shown: String = region.chars().take(64).collect();
        Err(Error::InvalidConfig(format!(
            "{source}: {shown:?} is not a region name (letters, digits and inner '-' only, like \"us-east-1\")"
        )))
    }
}

/// `legacy` is accepted as the standard mode: the SDKs' legacy mode differs only in constants,
/// and users who set it for another SDK should not see this one fail.
fn parse_retry_mode(value: &str, source: &str) -> Result<RetryMode, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "standard" | "legacy" => Ok(RetryMode::Standard),
        "adaptive" => Ok(RetryMode::Adaptive),
        _ => Err(Error::InvalidConfig(format!(
            "{source}: {value:?} is not a retry mode (standard, adaptive or legacy)"
        ))),
    }
}

fn check_attempts(n: u64, source: &str) -> Result<u32, Error> {
    if (1..=u64::from(MAX_ATTEMPTS_LIMIT)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(Error::InvalidConfig(format!(
            "{source}: {n} is outside 1..={MAX_ATTEMPTS_LIMIT}"
        )))
    }
}

fn check_timeout(value: Option<Duration>, default: Duration, key: &str) -> Result<Duration, Error> {
    match value {
        None => Ok(default),
        Some(d) if !d.is_zero() && d <= MAX_TIMEOUT => Ok(d),
        Some(d) => Err(Error::InvalidConfig(format!(
            "config key \"{key}\": {} ms is outside 1..={} ms",
            d.as_millis(),
            MAX_TIMEOUT.as_millis()
        ))),
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::InvalidConfig(format!(
            "config key \"{key}\": expected a string"
        ))),
    }
}

fn boolean(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::InvalidConfig(format!(
            "config key \"{key}\": expected true or false"
        ))),
    }
}

/// A whole number within the bounds [`SETTINGS`] gives `key`.
fn integer(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, Error> {
    let (min, max) = match setting_for(key).map(|s| s.kind) {
        Some(Kind::Whole { min, max } | Kind::Millis { min, max }) => (min, max),
        _ => unreachable!("config key {key} is not a number in SETTINGS"),
    };
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Error::InvalidConfig(format!(
                "config key \"{key}\": expected a whole number from {min} to {max}"
            ))),
        },
    }
}

fn millis(map: &Map<String, Value>, key: &str) -> Result<Option<Duration>, Error> {
    Ok(integer(map, key)?.map(Duration::from_millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Resolves against `vars` only: no HOME (so no profile files) unless given, and IMDS
    /// off unless a test turns it on.
    fn resolve(json: &str, vars: &[(&str, &str)]) -> Result<Settings, Error> {
        let mut all: HashMap<String, String> =
            HashMap::from([("AWS_EC2_METADATA_DISABLED".into(), "true".into())]);
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ClientConfig::from_json(json)?.resolve_with(&|k| all.get(k).cloned())
    }

    #[test]
    fn ca_bundle_is_loaded() {
        let home = Home::new("ca", "", "");
        let pem = format!("{}/ca.pem", home.path());
        std::fs::write(&pem, include_str!("../tests/data/test-ca.pem")).unwrap();
        let s = resolve(
            "{}",
            &[
                ("HOME", home.path()),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "A"),
                ("AWS_SECRET_ACCESS_KEY", "S"),
                ("AWS_CA_BUNDLE", &pem),
            ],
        )
        .unwrap();
        assert_eq!(s.network.root_certs.as_ref().map(|r| r.len()), Some(1));
    }

    /// A temporary HOME with `~/.aws/config` and `~/.aws/credentials`.
    struct Home(std::path::PathBuf);

    impl Home {
        fn new(tag: &str, config: &str, credentials: &str) -> Home {
            let dir = std::env::temp_dir().join(format!(
                "cc-config-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(dir.join(".aws")).unwrap();
            std::fs::write(dir.join(".aws/config"), config).unwrap();
            std::fs::write(dir.join(".aws/credentials"), credentials).unwrap();
            Home(dir)
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for Home {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `to_json()`'s value and source for `name`.
    fn shown(s: &Settings, name: &str) -> (Value, String) {
        let doc: Value = serde_json::from_str(&s.to_json()).unwrap();
        let entry = &doc[name];
        (
            entry.get("value").cloned().unwrap_or(Value::Null),
            entry["source"].as_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn resolved_json_shows_precedence_explicit_env_profile_default() {
        let home = Home::new(
            "sources",
            "[default]\nregion = eu-west-1\nmax_attempts = 7\nretry_mode = adaptive\nuse_fips_endpoint = true\n",
            "",
        );
        let h = ("HOME", home.path());
        let profile = |k: &str| format!("profile \"default\" key \"{k}\"");
        let cases: [(&str, &str, &str, Value, Value, Value, Value); 3] = [
            (
                "max_attempts",
                r#"{"max_attempts": 9}"#,
                "AWS_MAX_ATTEMPTS",
                9.into(),
                8.into(),
                7.into(),
                3.into(),
            ),
            (
                "retry_mode",
                r#"{"retry_mode": "standard"}"#,
                "AWS_RETRY_MODE",
                "standard".into(),
                "standard".into(),
                "adaptive".into(),
                "standard".into(),
            ),
            (
                "use_fips_endpoint",
                r#"{"use_fips_endpoint": false}"#,
                "AWS_USE_FIPS_ENDPOINT",
                false.into(),
                false.into(),
                true.into(),
                false.into(),
            ),
        ];
        for (name, explicit, var, v_explicit, v_env, v_profile, v_default) in cases {
            let env_value = match &v_env {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let with_env = [
                KEYS[0],
                KEYS[1],
                h,
                ("AWS_REGION", "us-east-1"),
                (var, env_value.as_str()),
            ];
            let s = resolve(explicit, &with_env).unwrap();
            assert_eq!(
                shown(&s, name),
                (v_explicit, format!("config key \"{name}\"")),
                "{name}"
            );
            let s = resolve("{}", &with_env).unwrap();
            assert_eq!(shown(&s, name), (v_env, var.to_owned()), "{name}");
            let s = resolve("{}", &[KEYS[0], KEYS[1], h, ("AWS_REGION", "us-east-1")]).unwrap();
            assert_eq!(shown(&s, name), (v_profile, profile(name)), "{name}");
            let s = resolve("{}", &[KEYS[0], KEYS[1], ("AWS_REGION", "us-east-1")]).unwrap();
            assert_eq!(shown(&s, name), (v_default, "default".to_owned()), "{name}");
        }
        // Region has no default: explicit > AWS_REGION > AWS_DEFAULT_REGION > profile.
        let all = [
            KEYS[0],
            KEYS[1],
            h,
            ("AWS_REGION", "us-east-2"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
        ];
        let s = resolve(r#"{"region": "ca-central-1"}"#, &all).unwrap();
        assert_eq!(
            shown(&s, "region"),
            ("ca-central-1".into(), "config key \"region\"".into())
        );
        let s = resolve("{}", &all).unwrap();
        assert_eq!(
            shown(&s, "region"),
            ("us-east-2".into(), "AWS_REGION".into())
        );
        let s = resolve(
            "{}",
            &[KEYS[0], KEYS[1], h, ("AWS_DEFAULT_REGION", "us-west-2")],
        )
        .unwrap();
        assert_eq!(
            shown(&s, "region"),
            ("us-west-2".into(), "AWS_DEFAULT_REGION".into())
        );
        let s = resolve("{}", &[KEYS[0], KEYS[1], h]).unwrap();
        assert_eq!(shown(&s, "region"), ("eu-west-1".into(), profile("region")));
        // Timeouts: explicit or default; the credentials name their source.
        let s = resolve(r#"{"timeout_ms": 1234}"#, &all).unwrap();
        assert_eq!(
            shown(&s, "timeout_ms"),
            (1234.into(), "config key \"timeout_ms\"".into())
        );
        assert_eq!(
            shown(&s, "connect_timeout_ms"),
            (2000.into(), "default".into())
        );
        assert!(shown(&s, "access_key_id").1.contains("AWS_ACCESS_KEY_ID"));
        // Every setting of the table appears, in its order.
        let doc: serde_json::Map<String, Value> = serde_json::from_str(&s.to_json()).unwrap();
        let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let mut shown_names: Vec<&str> = doc.keys().map(String::as_str).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        shown_names.sort_unstable();
        assert_eq!(shown_names, sorted);
    }

    #[test]
    fn resolved_json_never_shows_a_secret() {
        let s = resolve(
            r#"{"region": "us-east-1", "access_key_id": "AKIDCANARY", "secret_access_key": "SECRETCANARY",
                "session_token": "TOKENCANARY", "proxy": "http://user:PROXYCANARY@127.0.0.1:3128"}"#,
            &[],
        )
        .unwrap();
        let json = s.to_json();
        for canary in ["SECRETCANARY", "TOKENCANARY", "PROXYCANARY"] {
            assert!(!json.contains(canary), "{canary} in {json}");
            assert!(!format!("{s:?}").contains(canary), "{canary} in Debug");
        }
        assert_eq!(shown(&s, "secret_access_key").0, Value::Null);
        assert_eq!(
            shown(&s, "proxy"),
            (Value::Null, "config key \"proxy\"".into())
        );
        assert!(shown(&s, "session_token").1.contains("config keys"));
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "SECRET"),
    ];

    #[test]
    fn region_precedence_and_no_silent_default() {
        let s = resolve(
            r#"{"region":"eu-west-2"}"#,
            &[("AWS_REGION", "us-west-2"), KEYS[0], KEYS[1]],
        )
        .unwrap();
        assert_eq!(s.region, "eu-west-2");
        let env = [
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "ap-south-1"),
            KEYS[0],
            KEYS[1],
        ];
        assert_eq!(resolve("{}", &env).unwrap().region, "us-west-2");
        assert_eq!(
            resolve(
                "",
                &[("AWS_DEFAULT_REGION", "ap-south-1"), KEYS[0], KEYS[1]]
            )
            .unwrap()
            .region,
            "ap-south-1"
        );
        assert!(matches!(resolve("null", &KEYS), Err(Error::NoRegion(_))));
        assert!(matches!(
            resolve("{}", &[("AWS_REGION", ""), KEYS[0], KEYS[1]]),
            Err(Error::NoRegion(_))
        ));
    }

    #[test]
    fn region_must_look_like_a_region() {
        for bad in ["evil.com/x", "us-east-1@x", "-us", "us-", "123", "a b", ""] {
            let json =
                serde_json::json!({"region": bad, "access_key_id": "a", "secret_access_key": "b"})
                    .to_string();
            let err = resolve(&json, &[]).unwrap_err();
            assert!(matches!(err, Error::InvalidConfig(_)), "{bad}: {err:?}");
        }
        let s = resolve(
            r#"{"region":"cn-north-1","access_key_id":"a","secret_access_key":"b"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(
            s.endpoint.url_for("/x"),
            "https://connect.cn-north-1.amazonaws.com.cn/x"
        );
    }

    #[test]
    fn endpoint_precedence_and_http_rules() {
        let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
        assert_eq!(
            resolve("{}", &base).unwrap().endpoint.url_for("/p"),
            "https://connect.us-east-1.amazonaws.com/p"
        );
        let mut env = base.to_vec();
        env.push(("AWS_ENDPOINT_URL", "https://generic.example"));
        assert_eq!(
            resolve("{}", &env).unwrap().endpoint.host,
            "generic.example"
        );
        env.push(("AWS_ENDPOINT_URL_CONNECT", "http://127.0.0.1:8080/base/"));
        let e = resolve("{}", &env).unwrap().endpoint;
        assert_eq!(
            (e.authority.as_str(), e.base_path.as_str()),
            ("127.0.0.1:8080", "/base")
        );
        let e = resolve(r#"{"endpoint_url":"http://[::1]:9"}"#, &env)
            .unwrap()
            .endpoint;
        assert_eq!(e.host, "::1");
        let err = resolve(r#"{"endpoint_url":"http://connect.example.com"}"#, &base).unwrap_err();
        assert!(err.to_string().contains("allow_http"), "{err}");
        assert!(resolve(
            r#"{"endpoint_url":"http://connect.example.com","allow_http":true}"#,
            &base
        )
        .is_ok());
        for bad in [
            "ftp://x",
            "connect.example.com",
            "https://user:pw@host",
            "https://h/?q=1",
        ] {
            let json = serde_json::json!({ "endpoint_url": bad }).to_string();
            let err = resolve(&json, &base).unwrap_err();
            assert!(matches!(err, Error::InvalidConfig(_)), "{bad}");
            assert!(
                !err.to_string().contains("pw"),
                "no user info echoed: {err}"
            );
        }
    }

    #[test]
    fn credentials_come_together_and_never_show() {
        let env = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_SESSION_TOKEN", "ENVTOKEN"),
            KEYS[0],
            KEYS[1],
        ];
        let s = resolve("{}", &env).unwrap();
        assert_eq!(
            s.credentials.provide().unwrap().session_token(),
            Some("ENVTOKEN")
        );
        let s = resolve(r#"{"access_key_id":"X","secret_access_key":"Y"}"#, &env).unwrap();
        let c = s.credentials.provide().unwrap();
        assert_eq!((c.access_key_id(), c.session_token()), ("X", None));
        assert!(matches!(
            resolve(r#"{"access_key_id":"X"}"#, &env),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            resolve("{}", &[("AWS_REGION", "r")]),
            Err(Error::NoCredentials(_))
        ));
        assert!(matches!(
            resolve("{}", &[("AWS_REGION", "r"), KEYS[0]]),
            Err(Error::NoCredentials(_))
        ));
        let cfg = ClientConfig::from_json(r#"{"access_key_id":"X","secret_access_key":"CANARY-SECRET","session_token":"CANARY-TOKEN"}"#).unwrap();
        let shown = format!(
            "{cfg:?} {:?}",
            cfg.resolve_with(&|k| (k == "AWS_REGION").then(|| "us-east-1".to_string()))
                .unwrap()
        );
        assert!(!shown.contains("CANARY"), "{shown}");
        let err = resolve(
            r#"{"access_key_id":"X","secret_access_key":"CANARY SECRET"}"#,
            &env,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("CANARY"));
    }

    #[test]
    fn keys_types_and_ranges_are_checked() {
        let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
        let err = resolve(r#"{"regoin":"x"}"#, &base).unwrap_err();
        assert!(err.to_string().contains("\"regoin\" is not known"), "{err}");
        assert!(
            err.to_string().ends_with("; did you mean \"region\"?"),
            "{err}"
        );
        let err = resolve(r#"{"profile":"p"}"#, &base).unwrap_err();
        assert!(
            matches!(err, Error::InvalidConfig(_))
                && err
                    .to_string()
                    .contains("profile \"p\" (from config key \"profile\") is not in"),
            "{err}"
        );
        assert_eq!(
            resolve(r#"{"retry_mode":"adaptive"}"#, &base)
                .unwrap()
                .retry
                .mode,
            RetryMode::Adaptive
        );
        assert!(resolve(r#"{"retry_mode":"fast"}"#, &base)
            .unwrap_err()
            .to_string()
            .contains("not a retry mode"));
        let standard = resolve(r#"{"retry_mode":"legacy"}"#, &base).unwrap();
        assert_eq!(
            (
                standard.retry.mode,
                standard.retry.max_attempts,
                standard.retry.new_2026
            ),
            (RetryMode::Standard, 3, false)
        );
        assert_eq!(
            (standard.attempt_timeout, standard.clock_skew_correction),
            (DEFAULT_ATTEMPT_TIMEOUT, true)
        );
        let mut env = base.to_vec();
        env.extend([
            ("AWS_RETRY_MODE", "adaptive"),
            ("AWS_NEW_RETRIES_2026", "true"),
            ("AWS_DISABLE_CLOCK_SKEW_CORRECTION", "true"),
        ]);
        let s = resolve(r#"{"attempt_timeout_ms":20000}"#, &env).unwrap();
        assert_eq!(
            (s.retry.mode, s.retry.new_2026, s.clock_skew_correction),
            (RetryMode::Adaptive, true, false)
        );
        assert_eq!(
            s.attempt_timeout, DEFAULT_TIMEOUT,
            "an attempt never outlives the call"
        );
        let s = resolve(
            r#"{"retry_mode":"standard","new_retries_2026":false}"#,
            &env,
        )
        .unwrap();
        assert_eq!(
            (s.retry.mode, s.retry.new_2026),
            (RetryMode::Standard, false),
            "config wins over the environment"
        );
        assert!(resolve(r#"{"max_attempts":0}"#, &base)
            .unwrap_err()
            .to_string()
            .contains("max_attempts"));
        assert!(resolve(r#"{"timeout_ms":-1}"#, &base).is_err());
        assert!(resolve(r#"{"connect_timeout_ms":"5"}"#, &base).is_err());
        assert!(resolve(r#"{"client_validation":"no"}"#, &base).is_err());
        assert!(resolve(r#"{"strict_enums":1}"#, &base)
            .unwrap_err()
            .to_string()
            .contains("strict_enums"));
        assert!(
            !resolve("{}", &base).unwrap().strict_enums,
            "enums are open by default"
        );
        assert!(
            resolve(r#"{"strict_enums":true}"#, &base)
                .unwrap()
                .strict_enums
        );
        assert!(matches!(
            resolve("[1]", &base),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(resolve("{", &base), Err(Error::InvalidJson(_))));
        let s = resolve(r#"{"max_attempts":1,"timeout_ms":1500,"connect_timeout_ms":200,"client_validation":false}"#, &base).unwrap();
        assert_eq!(
            (
                s.retry.max_attempts,
                s.timeout,
                s.connect_timeout,
                s.client_validation
            ),
            (
                1,
                Duration::from_millis(1500),
                Duration::from_millis(200),
                false
            )
        );
        let mut env = base.to_vec();
        env.push(("AWS_MAX_ATTEMPTS", "5"));
        assert_eq!(resolve("{}", &env).unwrap().retry.max_attempts, 5);
        env.push(("AWS_MAX_ATTEMPTS", "x"));
        let env: Vec<_> = env.into_iter().filter(|(_, v)| *v != "5").collect();
        assert!(resolve("{}", &env).is_err());
    }

    #[test]
    fn async_pool_keys_are_checked() {
        let c = ClientConfig::from_json(r#"{"async_workers":4,"async_queue":10}"#).unwrap();
        assert_eq!((c.async_workers, c.async_queue), (Some(4), Some(10)));
        let c = ClientConfig::from_json("{}").unwrap();
        assert_eq!((c.async_workers, c.async_queue), (None, None));
        for bad in [
            r#"{"async_workers":0}"#,
            r#"{"async_workers":65}"#,
            r#"{"async_queue":0}"#,
            r#"{"async_queue":1.5}"#,
            r#"{"async_queue":"8"}"#,
        ] {
            let err = ClientConfig::from_json(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidConfig(_)), "{bad}: {err:?}");
            assert!(err.to_string().contains("async_"), "{err}");
        }
    }

    #[test]
    fn profile_gives_region_keys_endpoint_and_attempts() {
        let home = Home::new(
            "profile",
            "[default]\nregion = eu-central-1\n[profile dev]\nregion = ap-south-1\nservices = local\nmax_attempts = 7\n\
             [services local]\nconnect =\n  endpoint_url = http://127.0.0.1:7777\n\
             [profile ep]\nregion = us-west-2\nendpoint_url = https://profile.example\n",
            "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = S\n\
             [dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = S\naws_session_token = T\n\
             [ep]\naws_access_key_id = AKIDEP\naws_secret_access_key = S\n",
        );
        let h = ("HOME", home.path());
        let s = resolve("{}", &[h]).unwrap();
        assert_eq!(s.region, "eu-central-1");
        assert_eq!(
            s.credentials.provide().unwrap().access_key_id(),
            "AKIDDEFAULT"
        );
        // The Python binding's profile_name arrives as config key "profile".
        let s = resolve(r#"{"profile":"dev"}"#, &[h, ("AWS_PROFILE", "ep")]).unwrap();
        assert_eq!(s.region, "ap-south-1");
        assert_eq!(s.retry.max_attempts, 7);
        assert_eq!(s.endpoint.authority, "127.0.0.1:7777");
        let c = s.credentials.provide().unwrap();
        assert_eq!(
            (c.access_key_id(), c.session_token()),
            ("AKIDDEV", Some("T"))
        );
        let s = resolve("{}", &[h, ("AWS_PROFILE", "ep")]).unwrap();
        assert_eq!(s.endpoint.host, "profile.example");
        assert_eq!(s.credentials.provide().unwrap().access_key_id(), "AKIDEP");
        // Environment beats the profile: region, endpoint, keys.
        let s = resolve(
            "{}",
            &[
                h,
                ("AWS_PROFILE", "dev"),
                ("AWS_DEFAULT_REGION", "sa-east-1"),
                ("AWS_ENDPOINT_URL", "https://env.example"),
                KEYS[0],
                KEYS[1],
            ],
        )
        .unwrap();
        assert_eq!(s.region, "sa-east-1");
        assert_eq!(s.endpoint.host, "env.example");
        assert_eq!(s.credentials.provide().unwrap().access_key_id(), "AKID");
        // The file variables beat HOME.
        let other = Home::new("other", "[default]\nregion = ca-central-1\n", "");
        let cfg = format!("{}/.aws/config", other.path());
        let s = resolve("{}", &[h, ("AWS_CONFIG_FILE", &cfg), KEYS[0], KEYS[1]]).unwrap();
        assert_eq!(s.region, "ca-central-1");
        assert_eq!(
            resolve("{}", &[("AWS_PROFILE", "nope"), h]).unwrap_err().to_string(),
            format!(
                "profile \"nope\" (from AWS_PROFILE) is not in {0}/.aws/config and {0}/.aws/credentials",
                home.path()
            )
        );
    }

    #[test]
    fn configured_endpoints_can_be_ignored() {
        let home = Home::new(
            "ignore-ep",
            "[default]\nendpoint_url = https://profile.example\n\
             [profile ign]\nendpoint_url = https://profile.example\nservices = s\n\
             ignore_configured_endpoint_urls = true\n\
             [services s]\nconnect =\n  endpoint_url = https://services.example\n\
             [profile bad]\nignore_configured_endpoint_urls = sometimes\n",
            "",
        );
        let base = [
            ("AWS_REGION", "us-east-1"),
            ("HOME", home.path()),
            KEYS[0],
            KEYS[1],
        ];
        let host = |json: &str, extra: &[(&str, &str)]| {
            let mut env = base.to_vec();
            env.extend_from_slice(extra);
            resolve(json, &env).map(|s| s.endpoint.host)
        };
        let default = "connect.us-east-1.amazonaws.com";
        assert_eq!(host("{}", &[]).unwrap(), "profile.example");
        let on = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
        assert_eq!(host("{}", &[on]).unwrap(), default);
        for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CONNECT"] {
            let url = (var, "https://env.example");
            assert_eq!(host("{}", &[url]).unwrap(), "env.example", "{var}");
            assert_eq!(
                host("{}", &[(var, "https://env.example"), on]).unwrap(),
                default
            );
        }
        assert_eq!(
            host(r#"{"endpoint_url":"https://explicit.example"}"#, &[on]).unwrap(),
            "explicit.example",
            "the config key is not a configured endpoint"
        );
        let ign = ("AWS_PROFILE", "ign");
        assert_eq!(host("{}", &[ign]).unwrap(), default);
        assert_eq!(
            host(
                "{}",
                &[ign, ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")]
            )
            .unwrap(),
            "services.example",
            "the environment wins over the profile"
        );
        // The config key beats the environment and the profile, either way.
        let key_on = r#"{"ignore_configured_endpoint_urls": true}"#;
        let key_off = r#"{"ignore_configured_endpoint_urls": false}"#;
        let off = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false");
        assert_eq!(host(key_on, &[off]).unwrap(), default);
        assert_eq!(host(key_off, &[on]).unwrap(), "profile.example");
        assert_eq!(host(key_off, &[ign]).unwrap(), "services.example");
        let err = host(r#"{"ignore_configured_endpoint_urls": "yes"}"#, &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("config key \"ignore_configured_endpoint_urls\": expected true or false"),
            "{err}"
        );
        let err = host("{}", &[("AWS_PROFILE", "bad")]).unwrap_err();
        assert!(
            err.to_string().contains(
                "key \"ignore_configured_endpoint_urls\": \"sometimes\" is not true or false"
            ),
            "{err}"
        );
    }

    #[test]
    fn unused_sts_override_cannot_fail_a_client() {
        let env = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://plain.example"),
            KEYS[0],
            KEYS[1],
        ];
        let s = resolve(r#"{"endpoint_url":"https://x.example"}"#, &env).unwrap();
        assert_eq!(s.endpoint.host, "x.example");
        assert!(resolve(r#"{"allow_http":true}"#, &env).is_ok());
    }

    #[test]
    fn malformed_profile_file_names_file_and_line() {
        let home = Home::new("bad", "[default]\nregion = x\nthis line is wrong\n", "");
        let err = resolve("{}", &[("HOME", home.path())]).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)));
        assert_eq!(
            err.to_string(),
            format!(
                "{}/.aws/config:3: expected \"key = value\", a [section] or a comment",
                home.path()
            )
        );
        let home = Home::new("half", "", "[default]\naws_access_key_id = A\n");
        let err = resolve(r#"{"region":"us-east-1"}"#, &[("HOME", home.path())]).unwrap_err();
        assert!(
            err.to_string()
                .contains("has aws_access_key_id but no aws_secret_access_key"),
            "{err}"
        );
    }

    #[test]
    fn fips_and_dualstack_from_config_env_and_profile() {
        let home = Home::new(
            "flags",
            "[default]\nuse_fips_endpoint = true\n[profile bad]\nuse_dualstack_endpoint = maybe\n",
            "",
        );
        let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
        let url = |json: &str, extra: &[(&str, &str)]| {
            let mut env = base.to_vec();
            env.extend_from_slice(extra);
            resolve(json, &env).map(|s| s.endpoint.url_for(""))
        };
        assert_eq!(
            url("{}", &[]).unwrap(),
            "https://connect.us-east-1.amazonaws.com"
        );
        let h = ("HOME", home.path());
        assert_eq!(
            url("{}", &[h]).unwrap(),
            "https://connect-fips.us-east-1.amazonaws.com"
        );
        assert_eq!(
            url(
                "{}",
                &[
                    h,
                    ("AWS_USE_FIPS_ENDPOINT", "false"),
                    ("AWS_USE_DUALSTACK_ENDPOINT", "TRUE")
                ]
            )
            .unwrap(),
            "https://connect.us-east-1.api.aws"
        );
        assert_eq!(
            url(
                r#"{"use_fips_endpoint":true,"use_dualstack_endpoint":true}"#,
                &[]
            )
            .unwrap(),
            "https://connect-fips.us-east-1.api.aws"
        );
        let err = url("{}", &[h, ("AWS_ENDPOINT_URL", "https://x.example")]).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)));
        assert!(err.to_string().contains("FIPS and custom endpoint are not supported (endpoint from AWS_ENDPOINT_URL, FIPS from profile \"default\" key \"use_fips_endpoint\")"), "{err}");
        let err = url(
            r#"{"use_dualstack_endpoint":true,"endpoint_url":"https://x.example"}"#,
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("Dualstack and custom endpoint"),
            "{err}"
        );
        assert!(url(
            r#"{"use_fips_endpoint":false,"endpoint_url":"https://x.example"}"#,
            &[]
        )
        .is_ok());
        let err = url("{}", &[("AWS_USE_FIPS_ENDPOINT", "yes")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("AWS_USE_FIPS_ENDPOINT: \"yes\" is not true or false"),
            "{err}"
        );
        let err = url("{}", &[h, ("AWS_PROFILE", "bad")]).unwrap_err();
        assert!(err.to_string().contains("use_dualstack_endpoint"), "{err}");
        assert!(url(r#"{"use_fips_endpoint":"true"}"#, &[]).is_err());
    }

    #[test]
    fn proxy_and_ca_bundle_settings() {
        let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
        let with = |json: &str, extra: &[(&str, &str)]| {
            let mut env = base.to_vec();
            env.extend_from_slice(extra);
            resolve(json, &env)
        };
        let s = with(
            "{}",
            &[("HTTPS_PROXY", "http://user:CANARY@proxy.example:3128")],
        )
        .unwrap();
        let p = s.network.proxy.as_ref().unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.example", 3128));
        let shown = format!("{s:?}");
        assert!(
            shown.contains("proxy.example:3128 from HTTPS_PROXY") && !shown.contains("CANARY"),
            "{shown}"
        );
        let s = with(
            r#"{"proxy":"proxy2.example:8080"}"#,
            &[("HTTP_PROXY", "http://p.example:1")],
        )
        .unwrap();
        assert_eq!(s.network.proxy.as_ref().unwrap().host(), "proxy2.example");
        assert!(!format!(
            "{:?}",
            ClientConfig {
                proxy: Some("http://u:CANARY@h".into()),
                ..Default::default()
            }
        )
        .contains("CANARY"));
        let err = with(r#"{"proxy":"ftp://u:CANARY@h:1"}"#, &[]).unwrap_err();
        assert!(
            err.to_string().starts_with("config key \"proxy\"")
                && !err.to_string().contains("CANARY"),
            "{err}"
        );
        assert!(with("{}", &[]).unwrap().network.proxy.is_none());

        let err = with(r#"{"ca_bundle":"/nonexistent/ca.pem"}"#, &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("config key \"ca_bundle\": CA bundle /nonexistent/ca.pem cannot be read"),
            "{err}"
        );
        let home = Home::new("ca", "", "");
        let pem = format!("{}/ca.pem", home.path());
        std::fs::write(&pem, "not a certificate\n").unwrap();
        let err = with("{}", &[("AWS_CA_BUNDLE", &pem)]).unwrap_err();
        assert!(
            err.to_string().contains("holds no PEM certificate"),
            "{err}"
        );
    }
}
