//! EC2 instance metadata (IMDSv2): the instance role's credentials.
//!
//! Off EC2 the metadata address answers nothing; the C++ SDK stalls for seconds there. Here
//! a 1 s connect timeout, at most two tries of the token request (the second only after an
//! answer that is worth retrying), and a "not available" answer remembered for the
//! client's lifetime, so only the first call pays.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::cache::Cached;
use super::context::Context;
use super::{from_json_document, Credentials, ProvideCredentials};
use crate::error::Error;
use crate::http::ureq::UreqEngine;
use crate::http::{HttpResponse, Limits};

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
pub const DEFAULT_ENDPOINT_IPV6: &str = "http://[fd00:ec2::254]";
const TOKEN_TTL_SECONDS: &str = "21600";
const LIMITS: Limits = Limits {
    timeout: Duration::from_secs(2),
    connect_timeout: Some(Duration::from_secs(1)),
    read_timeout: Some(Duration::from_secs(1)),
};
const TOKEN_ATTEMPTS: usize = 2;

#[derive(Debug)]
pub struct Imds {
    endpoint: String,
    transport: Arc<UreqEngine>,
    /// What was tried before IMDS, for the NO_CREDENTIALS message.
    tried_before: String,
    /// Set once IMDS proved unavailable: the reason.
    unavailable: OnceLock<String>,
    /// Set once IMDS answered with credentials: later failures are real failures.
    worked: OnceLock<()>,
}

/// A failure: either "IMDS is not there" (remembered) or a real error.
enum ImdsFailure {
    Unavailable(String),
    Error(Error),
}

impl Imds {
    pub fn new(endpoint: &str, transport: Arc<UreqEngine>, tried_before: &str) -> Self {
        Imds {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            transport,
            tried_before: tried_before.to_owned(),
            unavailable: OnceLock::new(),
            worked: OnceLock::new(),
        }
    }

    fn no_credentials(&self, why: &str) -> Error {
        Error::NoCredentials(format!(
            "no credentials: tried {}; EC2 instance metadata at {}: {why}",
            self.tried_before, self.endpoint
        ))
    }

    /// A failure of this provider, named as such: CREDENTIALS_PROVIDER whatever went wrong.
    fn failed(&self, why: impl fmt::Display) -> ImdsFailure {
        ImdsFailure::Error(Error::CredentialsProvider(format!(
            "{}: {why}",
            self.name()
        )))
    }

    fn get(
        &self,
        method: &str,
        path: &str,
        header: (&str, &str),
    ) -> Result<HttpResponse, ImdsFailure> {
        let url = format!("{}{path}", self.endpoint);
        self.transport
            .send(
                method,
                &url,
                &[header],
                (method == "PUT").then_some(&[][..]),
                LIMITS,
            )
            .map_err(|e| match e {
                Error::Timeout { .. } | Error::Transport { .. } => {
                    ImdsFailure::Unavailable(format!("no answer ({e})"))
                }
                // An oversized or unreadable answer: IMDS is there but failed.
                other => self.failed(format_args!("{method} {path}: {}", other.message())),
            })
    }

    fn fetch(&self) -> Result<Credentials, ImdsFailure> {
        let mut token = None;
        for attempt in 1..=TOKEN_ATTEMPTS {
            let r = self.get(
                "PUT",
                "/latest/api/token",
                ("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS),
            )?;
            match r.status {
                200 => {
                    token = Some(String::from_utf8_lossy(&r.body).trim().to_owned());
                    break;
                }
                // IMDS is there but refuses tokens (disabled, or a hop limit): not available.
                403..=405 => {
                    return Err(ImdsFailure::Unavailable(format!(
                        "the token request answered HTTP {}",
                        r.status
                    )))
                }
                s if s >= 500 && attempt < TOKEN_ATTEMPTS => continue,
                s => return Err(self.failed(format_args!("the token request answered HTTP {s}"))),
            }
        }
        let token = token.unwrap_or_default();
        let auth = ("x-aws-ec2-metadata-token", token.as_str());
        let base = "/latest/meta-data/iam/security-credentials/";
        let r = self.get("GET", base, auth)?;
        if r.status == 404 {
            return Err(ImdsFailure::Unavailable(
                "the instance has no IAM role attached".into(),
            ));
        }
        let fail = |why: String| self.failed(why);
        if r.status != 200 {
            return Err(fail(format!("the role list answered HTTP {}", r.status)));
        }
        let body = String::from_utf8_lossy(&r.body);
        let role = body.lines().next().unwrap_or("").trim().to_owned();
        if role.is_empty() || !role.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            return Err(fail("the role list is empty or malformed".into()));
        }
        let r = self.get("GET", &format!("{base}{role}"), auth)?;
        if r.status != 200 {
            return Err(fail(format!(
                "the credentials of role {role} answered HTTP {}",
                r.status
            )));
        }
        let code = serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v.get("Code").and_then(|c| c.as_str()).map(str::to_owned));
        if let Some(code) = code.filter(|c| c != "Success") {
            return Err(fail(format!("role {role}: Code {code:?}")));
        }
        from_json_document(&r.body, &format!("{} role {role}", self.name()))
            .map_err(ImdsFailure::Error)
    }
}

impl ProvideCredentials for Imds {
    fn name(&self) -> String {
        format!("EC2 instance metadata at {}", self.endpoint)
    }

    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        if let Some(why) = self.unavailable.get() {
            return Err(self.no_credentials(why));
        }
        match self.fetch() {
            Ok(c) => {
                let _ = self.worked.set(());
                Ok(Arc::new(c))
            }
            Err(ImdsFailure::Unavailable(why)) if self.worked.get().is_none() => {
                let why = self.unavailable.get_or_init(|| why);
                Err(self.no_credentials(why))
            }
            Err(ImdsFailure::Unavailable(why)) => Err(Error::CredentialsProvider(format!(
                "{}: {why}",
                self.name()
            ))),
            Err(ImdsFailure::Error(e)) => Err(e),
        }
    }
}

/// The instance-metadata provider; `tried_before` goes into its NO_CREDENTIALS message.
pub fn provider(ctx: &Context<'_>, tried_before: &str) -> Arc<dyn ProvideCredentials> {
    let profile = ctx.files.profile(ctx.profile);
    let from_profile = |key: &str| profile.and_then(|p| p.get(key)).map(str::to_owned);
    let endpoint = ctx
        .env
        .var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .or_else(|| from_profile("ec2_metadata_service_endpoint"))
        .unwrap_or_else(|| {
            let mode = ctx
                .env
                .var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
                .or_else(|| from_profile("ec2_metadata_service_endpoint_mode"));
            if mode.is_some_and(|m| m.eq_ignore_ascii_case("ipv6")) {
                DEFAULT_ENDPOINT_IPV6.to_owned()
            } else {
                DEFAULT_ENDPOINT.to_owned()
            }
        });
    Arc::new(Cached::new(Imds::new(
        &endpoint,
        ctx.transport.clone(),
        tried_before,
    )))
}
