//! Container credentials: ECS task roles and EKS Pod Identity.
//!
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is a path on 169.254.170.2;
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` is any https URL, or plain http only to loopback or
//! the ECS/EKS agent addresses, so a token never travels in clear over a network.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::cache::Cached;
use super::context::Context;
use super::{from_json_document, Credentials, ProvideCredentials};
use crate::error::Error;
use crate::http::ureq::UreqEngine;
use crate::http::Limits;

pub const ECS_HOST: &str = "http://169.254.170.2";
/// botocore's numbers: 2 s per try.
const LIMITS: Limits = Limits {
    timeout: Duration::from_secs(2),
    connect_timeout: Some(Duration::from_secs(1)),
    read_timeout: None,
};
const ATTEMPTS: usize = 2;

/// Where the authorization token comes from; a file is re-read on every fetch (EKS rotates it).
#[derive(Debug)]
pub enum Authorization {
    None,
    Token(Redacted),
    File(PathBuf),
}

/// A value `Debug` never shows.
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("** redacted **")
    }
}

#[derive(Debug)]
pub struct Container {
    url: String,
    authorization: Authorization,
    transport: Arc<UreqEngine>,
}

impl Container {
    /// From the two URI variables (relative wins, as in the SDKs).
    pub fn new(
        relative: Option<&str>,
        full: Option<&str>,
        authorization: Authorization,
        transport: Arc<UreqEngine>,
    ) -> Result<Self, Error> {
        let url = match (relative, full) {
            (Some(path), _) => {
                let path = if path.starts_with('/') {
                    path.to_owned()
                } else {
                    format!("/{path}")
                };
                format!("{ECS_HOST}{path}")
            }
            (None, Some(full)) => {
                check_full_uri(full)?;
                full.to_owned()
            }
            (None, None) => return Err(Error::InvalidConfig(
                "container credentials need AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI"
                    .into(),
            )),
        };
        Ok(Container {
            url,
            authorization,
            transport,
        })
    }

    fn token(&self) -> Result<Option<String>, Error> {
        let token = match &self.authorization {
            Authorization::None => return Ok(None),
            Authorization::Token(t) => t.0.clone(),
            Authorization::File(path) => std::fs::read_to_string(path).map_err(|e| {
                Error::CredentialsProvider(format!(
                    "container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {} cannot be read: {e}",
                    path.display()
                ))
            })?,
        };
        let token = token.trim().to_owned();
        if token.chars().any(|c| c.is_control()) {
            return Err(Error::CredentialsProvider(
                "container credentials: the authorization token contains control characters".into(),
            ));
        }
        Ok(Some(token))
    }
}

fn check_full_uri(full: &str) -> Result<(), Error> {
    let bad =
        |why: &str| Error::InvalidConfig(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI: {why}"));
    let uri: ureq::http::Uri = full.parse().map_err(|_| bad("is not a valid URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| bad("has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") => {
            let allowed = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| {
                    ip.is_loopback()
                        || ip == IpAddr::from([169, 254, 170, 2])
                        || ip == IpAddr::from([169, 254, 170, 23])
                        || ip == "fd00:ec2::23".parse::<IpAddr>().expect("valid address")
                });
            if allowed {
                Ok(())
            } else {
                Err(bad(&format!(
                    "plain http is allowed only to loopback or the ECS/EKS agent, not {host}"
                )))
            }
        }
        _ => Err(bad("must be an http:// or https:// URL")),
    }
}

impl ProvideCredentials for Container {
    fn name(&self) -> String {
        format!("container credentials at {}", self.url)
    }

    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        let token = self.token()?;
        let headers: Vec<(&str, &str)> = token
            .as_deref()
            .map(|t| ("authorization", t))
            .into_iter()
            .collect();
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match self
                .transport
                .send("GET", &self.url, &headers, None, LIMITS)
            {
                Ok(r) if r.status == 200 => {
                    return from_json_document(&r.body, "container credentials").map(Arc::new)
                }
                Ok(r) if r.status >= 500 => last = Some(format!("HTTP {}", r.status)),
                Ok(r) => {
                    // The agent's error documents hold a code and a message, no secrets.
                    let code = serde_json::from_slice::<serde_json::Value>(&r.body)
                        .ok()
                        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned));
                    return Err(Error::CredentialsProvider(format!(
                        "container credentials: HTTP {}{}",
                        r.status,
                        code.map(|c| format!(" ({c})")).unwrap_or_default()
                    )));
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        Err(Error::CredentialsProvider(format!(
            "container credentials: {} tries failed, the last with {}",
            ATTEMPTS,
            last.unwrap_or_default()
        )))
    }
}

/// Container credentials, if one of the URI variables is set.
pub fn from_env(ctx: &Context<'_>) -> Result<Option<Arc<dyn ProvideCredentials>>, Error> {
    let env = ctx.env;
    let relative = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    let full = env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if relative.is_none() && full.is_none() {
        return Ok(None);
    }
    let authorization = match (
        env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    ) {
        (Some(file), _) => Authorization::File(env.expand_home(&file)),
        (None, Some(token)) => Authorization::Token(Redacted(token)),
        (None, None) => Authorization::None,
    };
    let provider = Container::new(
        relative.as_deref(),
        full.as_deref(),
        authorization,
        ctx.transport.clone(),
    )?;
    Ok(Some(Arc::new(Cached::new(provider))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uri_rules() {
        for ok in [
            "https://creds.example/x",
            "http://127.0.0.1:9/creds",
            "http://localhost/x",
            "http://[::1]:8/x",
            "http://169.254.170.23/v1/credentials",
        ] {
            assert!(check_full_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1/x",
            "ftp://127.0.0.1/",
            "not a url",
            "http://evil.example/",
        ] {
            let e = check_full_uri(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidConfig(_)), "{bad}");
        }
    }
}
