//! Client configuration: the config JSON keys, the environment, the shared profile, and their
//! precedence. Each setting is declared once, in the `settings!` call below; the table's
//! machinery (types, bounds, the lookup) is in [`table`].
//!
//! Resolution happens once, when a client is built; nothing here runs per call.
#![forbid(unsafe_code)]

mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::credentials::chain::{default_chain, ExplicitKeys};
use crate::credentials::context::Context;
use crate::credentials::{Credentials, ProvideCredentials};
use crate::env::endpoint::{check_custom, default_endpoint, EndpointUrl};
use crate::env::profile::{ProfileSet, Section};
use crate::env::Env;
use crate::error::Error;
use crate::http::{network::Network, ureq::UreqEngine};
use crate::json::{closest, parse_json_document};
use crate::retry::{RetryMode, RetryPolicy};

use table::{from_json_member, setting, settings, Lookup};
pub use table::{DefaultValue, Setting, ValueKind};

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

const MS: u64 = MAX_TIMEOUT.as_millis() as u64;
const fn ms(d: Duration) -> DefaultValue {
    DefaultValue::Number(d.as_millis() as u64)
}

settings! {
    config {
        /// Region (else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's); never a
        /// silent default.
        region: String = "region" {
            env: ["AWS_REGION", "AWS_DEFAULT_REGION"], profile: Some("region"), kind: ValueKind::Text,
            default: DefaultValue::Described("none: `NO_REGION`"), secret: false,
            doc: "Region calls are signed for and sent to; never a silent default.",
        }
        /// Custom endpoint (else `AWS_ENDPOINT_URL_CONNECT`, else `AWS_ENDPOINT_URL`, else the
        /// profile's, else `https://connect.{region}.amazonaws.com`).
        endpoint_url: String = "endpoint_url" {
            env: ["AWS_ENDPOINT_URL_CONNECT", "AWS_ENDPOINT_URL"], profile: Some("endpoint_url"),
            kind: ValueKind::Text,
            default: DefaultValue::Described("from the endpoint rules: `https://connect.{region}.{partition suffix}`"),
            secret: false,
            doc: "Custom endpoint; the profile's `services` section (`connect =` / `endpoint_url =`) comes before its `endpoint_url`.",
        }
        /// `true` ignores the endpoints of the environment and the profile files.
        ignore_configured_endpoint_urls: bool = "ignore_configured_endpoint_urls" {
            env: ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"], profile: Some("ignore_configured_endpoint_urls"),
            kind: ValueKind::Flag, default: DefaultValue::Flag(false), secret: false,
            doc: "Ignore the environment's and profile files' endpoints (Connect, STS, SSO); config key `endpoint_url` still counts.",
        }
        /// FIPS endpoint.
        use_fips_endpoint: bool = "use_fips_endpoint" {
            env: ["AWS_USE_FIPS_ENDPOINT"], profile: Some("use_fips_endpoint"), kind: ValueKind::Flag,
            default: DefaultValue::Flag(false), secret: false,
            doc: "FIPS endpoint (not with a custom endpoint).",
        }
        /// Dual-stack endpoint.
        use_dualstack_endpoint: bool = "use_dualstack_endpoint" {
            env: ["AWS_USE_DUALSTACK_ENDPOINT"], profile: Some("use_dualstack_endpoint"), kind: ValueKind::Flag,
            default: DefaultValue::Flag(false), secret: false,
            doc: "Dual-stack endpoint (not with a custom endpoint).",
        }
        /// Shared profile (else `AWS_PROFILE`, else `default`).
        profile: String = "profile" {
            env: ["AWS_PROFILE"], profile: None, kind: ValueKind::Text,
            default: DefaultValue::Described("`default`"), secret: false,
            doc: "Shared profile, read from `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`; a named profile that does not exist is `INVALID_CONFIG`.",
        }
        /// Explicit credentials; when `access_key_id` is set, `secret_access_key` must be too.
        access_key_id: String = "access_key_id" {
            env: ["AWS_ACCESS_KEY_ID"], profile: None, kind: ValueKind::Text,
            default: DefaultValue::Described("from the credentials chain"), secret: false,
            doc: "Explicit access key id; needs `secret_access_key`.",
        }
        /// The secret key that goes with `access_key_id`; never shown by `Debug`.
        secret_access_key: String = "secret_access_key" {
            env: ["AWS_SECRET_ACCESS_KEY"], profile: None, kind: ValueKind::Text,
            default: DefaultValue::Described("from the credentials chain"), secret: true,
            doc: "The secret key that goes with `access_key_id`.",
        }
        /// The session token of temporary credentials; never shown by `Debug`.
        session_token: String = "session_token" {
            env: ["AWS_SESSION_TOKEN"], profile: None, kind: ValueKind::Text,
            default: DefaultValue::Unset("none"), secret: true,
            doc: "Session token of temporary credentials.",
        }
        /// Proxy URL (else `HTTPS_PROXY`, else `HTTP_PROXY`); `NO_PROXY` applies either way.
        /// Never shown by `Debug` (it may carry a password).
        proxy: String = "proxy" {
            env: ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"], profile: None, kind: ValueKind::Text,
            default: DefaultValue::Unset("none"), secret: true,
            doc: "Proxy URL (may carry a password); `NO_PROXY` applies either way.",
        }
        /// PEM file of trust roots (else `AWS_CA_BUNDLE`, else the profile's `ca_bundle`).
        ca_bundle: String = "ca_bundle" {
            env: ["AWS_CA_BUNDLE"], profile: Some("ca_bundle"), kind: ValueKind::Text,
            default: DefaultValue::Described("Mozilla's roots (webpki-roots)"), secret: false,
            doc: "PEM file of trust roots; replaces the built-in roots.",
        }
        /// Time allowed to connect.
        connect_timeout: Duration = "connect_timeout_ms" {
            env: [], profile: None, kind: ValueKind::Millis { min: 1, max: MS },
            default: ms(DEFAULT_CONNECT_TIMEOUT), secret: false,
            doc: "Time allowed to open a connection (TCP and TLS handshakes).",
        }
        /// Deadline for a whole call, backoff included.
        timeout: Duration = "timeout_ms" {
            env: [], profile: None, kind: ValueKind::Millis { min: 1, max: MS },
            default: ms(DEFAULT_TIMEOUT), secret: false,
            doc: "Deadline for a whole call: all attempts, backoff and credential lookup.",
        }
        /// Limit for one attempt (never past the call deadline).
        attempt_timeout: Duration = "attempt_timeout_ms" {
            env: [], profile: None, kind: ValueKind::Millis { min: 1, max: MS },
            default: ms(DEFAULT_ATTEMPT_TIMEOUT), secret: false,
            doc: "Limit for one attempt (never past the call deadline).",
        }
        /// Attempts per call, at least 1 (else `AWS_MAX_ATTEMPTS`, else the profile's, else 3).
        max_attempts: u32 = "max_attempts" {
            env: ["AWS_MAX_ATTEMPTS"], profile: Some("max_attempts"),
            kind: ValueKind::Whole { min: 1, max: MAX_ATTEMPTS_LIMIT as u64 },
            default: DefaultValue::Number(DEFAULT_MAX_ATTEMPTS as u64), secret: false,
            doc: "Attempts per call, the first included.",
        }
        /// Standard or adaptive (else `AWS_RETRY_MODE`, else the profile's, else standard).
        retry_mode: RetryMode = "retry_mode" {
            env: ["AWS_RETRY_MODE"], profile: Some("retry_mode"),
            kind: ValueKind::Choice(&["standard", "adaptive", "legacy"]),
            default: DefaultValue::Word("standard"), secret: false,
            doc: "Retry mode; `legacy` means `standard`.",
        }
        /// The 2026 retry behaviour (else `AWS_NEW_RETRIES_2026`, else off).
        new_retries_2026: bool = "new_retries_2026" {
            env: ["AWS_NEW_RETRIES_2026"], profile: None, kind: ValueKind::Flag,
            default: DefaultValue::Flag(false), secret: false,
            doc: "The 2026 retry behaviour.",
        }
        /// Worker threads for asynchronous calls.
        async_workers: usize = "async_workers" {
            env: [], profile: None, kind: ValueKind::Whole { min: 1, max: MAX_ASYNC_WORKERS as u64 },
            default: DefaultValue::Number(DEFAULT_ASYNC_WORKERS as u64), secret: false,
            doc: "Worker threads for asynchronous calls (started on the first one).",
        }
        /// Asynchronous calls that may wait for a worker.
        async_queue: usize = "async_queue" {
            env: [], profile: None, kind: ValueKind::Whole { min: 1, max: MAX_ASYNC_QUEUE as u64 },
            default: DefaultValue::Number(DEFAULT_ASYNC_QUEUE as u64), secret: false,
            doc: "Asynchronous calls that may wait for a worker.",
        }
        /// `false` turns off the model-limit checks (lengths, enums, patterns). Default `true`.
        client_validation: bool = "client_validation" {
            env: [], profile: None, kind: ValueKind::Flag, default: DefaultValue::Flag(true), secret: false,
            doc: "`false` turns off the model-limit checks (lengths, patterns, list sizes).",
        }
        /// `true` refuses enum values the vendored model does not list. Default `false`: enums
        /// are open, as in the AWS SDKs, so values the service adds later are sent as given.
        strict_enums: bool = "strict_enums" {
            env: [], profile: None, kind: ValueKind::Flag, default: DefaultValue::Flag(false), secret: false,
            doc: "`true` refuses enum values the vendored model does not list (by default enums are open).",
        }
        /// `true` allows a plain `http://` endpoint on a non-loopback host. Default `false`.
        allow_http: bool = "allow_http" {
            env: [], profile: None, kind: ValueKind::Flag, default: DefaultValue::Flag(false), secret: false,
            doc: "Allow plain `http://` to a non-loopback host (loopback `http://` is always allowed).",
        }
    }
    environment {
        "disable_clock_skew_correction" {
            env: ["AWS_DISABLE_CLOCK_SKEW_CORRECTION"], kind: ValueKind::Flag, default: DefaultValue::Flag(false),
            doc: "`true` turns clock-skew correction off.",
        }
        "log" {
            env: ["CONNECT_CONTACT_LOG"], kind: ValueKind::Choice(&["error", "warn", "info", "debug"]),
            default: DefaultValue::Unset("off"),
            doc: "Diagnostic log to stderr.",
        }
    }
}

/// The setting with config key `key`.
pub fn setting_for(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == Some(key))
}

/// The config JSON keys, in table order.
pub fn known_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().filter_map(|s| s.key)
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
        ClientConfig::members_from_json(map)
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
        let profile_setting = setting("profile");
        let (profile_name, profile_source) = match (&self.profile, env.var(profile_setting.env[0]))
        {
            (Some(p), _) => (p.clone(), Some(profile_setting.config_source())),
            (None, Some(p)) => (p, Some(profile_setting.env[0].to_owned())),
            (None, None) => ("default".to_owned(), None),
        };
        let files = ProfileSet::load(
            env.file("AWS_CONFIG_FILE", ".aws/config").as_deref(),
            env.file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")
                .as_deref(),
        )?;
        let empty = Section::default();
        let profile = match (files.profile(&profile_name), &profile_source) {
            (Some(p), _) => p,
            (None, None) => &empty,
            (None, Some(source)) => {
                return Err(Error::InvalidConfig(format!(
                    "profile \"{profile_name}\" (from {source}) is not in {}",
                    files.describe_files()
                )))
            }
        };
        let lookup = Lookup {
            env: &env,
            profile,
            profile_name: &profile_name,
        };
        let mut sources = Sources::default();
        sources.record(
            "profile",
            Value::from(profile_name.as_str()),
            profile_source.as_deref().unwrap_or("default"),
        );
        // The ordinary settings: one lookup each (explicit, environment, profile, default),
        // recorded with their source; `with_source` also gives the source back.
        macro_rules! with_source {
            ($field:ident, $name:literal) => {{
                let s = setting($name);
                let (value, source) = lookup
                    .get(s, self.$field.as_ref())?
                    .unwrap_or_else(|| unreachable!("setting {} has a default", $name));
                sources.record(s.name, table::SettingValue::shown(&value), source.clone());
                (value, source)
            }};
        }
        macro_rules! ordinary {
            ($field:ident, $name:literal) => {
                with_source!($field, $name).0
            };
        }

        let region = {
            let s = setting("region");
            match lookup.get::<String>(s, self.region.as_ref())? {
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
            }
        };

        let allow_http: bool = ordinary!(allow_http, "allow_http");
        // Each flag's source when it is on (the endpoint rules name it in their messages).
        let (fips, fips_source): (bool, String) =
            with_source!(use_fips_endpoint, "use_fips_endpoint");
        let fips_on = fips.then_some(fips_source);
        let (dual, dual_source): (bool, String) =
            with_source!(use_dualstack_endpoint, "use_dualstack_endpoint");
        let dual_on = dual.then_some(dual_source);
        // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (else the profile's key) set aside the
        // endpoints of the environment and the profile files; the config key still counts.
        let ignore_configured: bool = ordinary!(
            ignore_configured_endpoint_urls,
            "ignore_configured_endpoint_urls"
        );
        let endpoint = self.endpoint(
            &lookup,
            &files,
            ignore_configured,
            allow_http,
            (&region, fips_on.as_deref(), dual_on.as_deref()),
            &mut sources,
        )?;

        let network = self.network(&lookup)?;
        sources.record(
            "proxy",
            Value::Null,
            network.proxy_source.as_deref().unwrap_or("default (none)"),
        );
        match &network.ca_bundle_source {
            Some(s) => sources.record("ca_bundle", Value::from(s.as_str()), s.as_str()),
            None => sources.record("ca_bundle", Value::Null, "default (built-in roots)"),
        }
        let max_attempts: u32 = ordinary!(max_attempts, "max_attempts");
        let connect_timeout: Duration = ordinary!(connect_timeout, "connect_timeout_ms");
        let timeout: Duration = ordinary!(timeout, "timeout_ms");
        let retry_mode: RetryMode = ordinary!(retry_mode, "retry_mode");
        let new_2026: bool = ordinary!(new_retries_2026, "new_retries_2026");
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
            transport: Arc::new(UreqEngine::with_network(&network, connect_timeout)),
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
        } else if env.var(setting("access_key_id").env[0]).is_some() {
            "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_owned()
        } else {
            credentials.name()
        };
        for name in ["access_key_id", "secret_access_key", "session_token"] {
            sources.record(name, Value::Null, credentials_source.as_str());
        }
        let attempt_timeout: Duration =
            ordinary!(attempt_timeout, "attempt_timeout_ms").min(timeout);
        let disable_skew: bool = {
            let s = setting("disable_clock_skew_correction");
            let (v, source) = lookup
                .get::<bool>(s, None)?
                .unwrap_or((false, "default".into()));
            sources.record(s.name, Value::from(v), source);
            v
        };
        {
            // Shown as given: the log module reads the variable itself, and a word it does not
            // know leaves the log off rather than failing every client.
            let s = setting("log");
            match env.var(s.env[0]) {
                Some(level) => sources.record(s.name, Value::from(level), s.env[0]),
                None => sources.record(s.name, Value::Null, "default (off)"),
            }
        }
        let _: usize = ordinary!(async_workers, "async_workers");
        let _: usize = ordinary!(async_queue, "async_queue");
        let client_validation: bool = ordinary!(client_validation, "client_validation");
        let strict_enums: bool = ordinary!(strict_enums, "strict_enums");
        Ok(Settings {
            region,
            endpoint,
            credentials,
            connect_timeout,
            timeout,
            attempt_timeout,
            retry,
            clock_skew_correction: !disable_skew,
            client_validation,
            strict_enums,
            network,
            sources,
        })
    }

    /// The endpoint: the config key, else (unless configured endpoints are ignored) the
    /// environment's, the profile's `services` section, the profile's key; else the
    /// endpoint rules for the region and the FIPS/dual-stack flags (each `Some(source)` when on).
    fn endpoint(
        &self,
        lookup: &Lookup<'_>,
        files: &ProfileSet,
        ignore_configured: bool,
        allow_http: bool,
        (region, fips_on, dual_on): (&str, Option<&str>, Option<&str>),
        sources: &mut Sources,
    ) -> Result<EndpointUrl, Error> {
        let s = setting("endpoint_url");
        let profile_name = lookup.profile_name;
        let services = lookup
            .profile
            .get("services")
            .and_then(|name| files.services(name))
            .and_then(|s| s.property("connect"))
            .and_then(|p| p.sub.get("endpoint_url"))
            .filter(|u| !u.is_empty())
            .map(|u| {
                (
                    u.clone(),
                    format!("profile \"{profile_name}\" services section \"connect\""),
                )
            });
        let configured = || -> Option<(String, String)> {
            if ignore_configured {
                return None;
            }
            s.env
                .iter()
                .find_map(|var| lookup.env.var(var).map(|u| (u, (*var).to_owned())))
                .or_else(|| services.clone())
                .or_else(|| {
                    s.profile.and_then(|key| {
                        lookup
                            .profile
                            .get(key)
                            .map(|u| (u.to_owned(), lookup.in_profile(key)))
                    })
                })
        };
        let custom = self
            .endpoint_url
            .clone()
            .map(|u| (u, s.config_source()))
            .or_else(configured);
        match custom {
            Some((url, source)) => {
                check_custom(&source, fips_on, dual_on)?;
                let parsed = EndpointUrl::parse(&url, &source, allow_http)?;
                sources.record("endpoint_url", Value::from(url), source);
                Ok(parsed)
            }
            None => {
                let url = default_endpoint(region, fips_on.is_some(), dual_on.is_some())?;
                let parsed = EndpointUrl::parse(&url, "the default endpoint", false)?;
                sources.record("endpoint_url", Value::from(url), "default (endpoint rules)");
                Ok(parsed)
            }
        }
    }

    /// Proxy and CA bundle.
    fn network(&self, lookup: &Lookup<'_>) -> Result<Network, Error> {
        let env = lookup.env;
        let mut network = Network::default();
        let proxy_setting = setting("proxy");
        let proxy = self
            .proxy
            .clone()
            .map(|p| (p, proxy_setting.config_source()))
            .or_else(|| {
                proxy_setting
                    .env
                    .iter()
                    .find_map(|name| env.var(name).map(|p| (p, (*name).to_owned())))
            });
        if let Some((url, source)) = proxy {
            let no_proxy = env.var("NO_PROXY").or_else(|| env.var("no_proxy"));
            network.proxy = Some(Network::proxy(&url, no_proxy.as_deref(), &source)?);
            network.proxy_source = Some(source);
        }
        if let Some((path, source)) =
            lookup.get::<String>(setting("ca_bundle"), self.ca_bundle.as_ref())?
        {
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
        let secret = setting(name).secret;
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

    /// The shared profile the settings were read from (`default` unless one was named).
    pub fn profile(&self) -> &str {
        self.sources
            .0
            .iter()
            .find(|e| e.0 == "profile")
            .and_then(|e| e.1.as_str())
            .unwrap_or("default")
    }

    /// Where setting `name` (as docs/configuration.md names it: `region`, `endpoint_url`,
    /// `max_attempts`, ...) came from: `config key "region"`, an environment variable's name
    /// (`AWS_REGION`), `profile "dev" key "region"`, `default`, or for the credentials the
    /// provider that gave them. `None` for a name that is not a setting.
    pub fn source(&self, name: &str) -> Option<&str> {
        self.sources
            .0
            .iter()
            .find(|e| e.0 == name)
            .map(|e| e.2.as_str())
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
