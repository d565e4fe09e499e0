//! The default credential chain: the first source that is configured wins.
//!
//! 1 config keys · 2 environment keys · 3 the shared profile · 4 web identity from the
//! environment (EKS) · 5 container (ECS, EKS Pod Identity) · 6 EC2 instance metadata.
//! Sources 1-5 are decided when the client is built, from settings alone; only IMDS can
//! only be known by asking it, which the first call does (once per client).
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use super::cache::Cached;
use super::container::{Authorization, Container, Redacted};
use super::imds::{self, Imds};
use super::profile::for_profile;
use super::sts::{default_session_name, StsClient, WebIdentity};
use super::{Credentials, ProvideCredentials, StaticCredentials};
use crate::endpoint::partition_of;
use crate::env::Env;
use crate::error::Error;
use crate::profile::ProfileSet;
use crate::retry::{RetryMode, RetryPolicy};
use crate::transport::Transport;

/// What building providers needs, resolved once per client.
#[derive(Debug)]
pub struct Context<'a> {
    pub env: &'a Env<'a>,
    pub files: &'a ProfileSet,
    pub profile: &'a str,
    pub region: &'a str,
    /// The client's transport (proxy, CA bundle) for every credential call.
    pub transport: Arc<Transport>,
    /// Bound on one STS or SSO exchange: the client's call deadline.
    pub timeout: Duration,
    /// Whether endpoint overrides may use plain http to a non-loopback host.
    pub allow_http: bool,
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` (or the profile's key): the STS and SSO
    /// endpoint variables are set aside too.
    pub ignore_configured_endpoint_urls: bool,
    /// The client's retry policy, which STS and SSO calls follow too (standard mode: the
    /// adaptive rate limiter is the Connect client's own).
    pub retry: RetryPolicy,
}

impl Context<'_> {
    /// `AWS_ENDPOINT_URL_{service}`, else `AWS_ENDPOINT_URL`, unless configured endpoints
    /// are ignored.
    pub fn endpoint_override(&self, service: &str) -> Result<Option<String>, Error> {
        if self.ignore_configured_endpoint_urls {
            return Ok(None);
        }
        self.env.endpoint_override(service, self.allow_http)
    }

    /// STS at `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`, else the region's endpoint.
    /// Resolved only when a role needs it, so an unused override cannot fail a client.
    /// The policy for STS and SSO calls: the client's attempts, standard mode.
    pub fn credential_retry(&self) -> RetryPolicy {
        RetryPolicy {
            mode: RetryMode::Standard,
            ..self.retry
        }
    }

    pub fn sts(&self) -> Result<StsClient, Error> {
        let endpoint = match self.endpoint_override("STS")? {
            Some(url) => url,
            None => format!(
                "https://sts.{}.{}",
                self.region,
                partition_of(self.region).dns_suffix
            ),
        };
        Ok(StsClient {
            endpoint,
            region: self.region.to_owned(),
            transport: self.transport.clone(),
            timeout: self.timeout,
            retry: self.credential_retry(),
        })
    }
}

/// Keys given in the configuration itself (config keys `access_key_id`, `secret_access_key`,
/// `session_token`): the chain's first source.
#[derive(Clone, Copy, Default)]
pub struct ExplicitKeys<'a> {
    pub access_key_id: Option<&'a str>,
    pub secret_access_key: Option<&'a str>,
    pub session_token: Option<&'a str>,
}

/// The chain: a provider, or NO_CREDENTIALS listing what was tried when no source is
/// configured and IMDS is disabled.
pub fn default_chain(
    config: ExplicitKeys<'_>,
    ctx: &Context<'_>,
) -> Result<Arc<dyn ProvideCredentials>, Error> {
    match (config.access_key_id, config.secret_access_key) {
        (Some(id), Some(secret)) => {
            return Ok(Arc::new(StaticCredentials::new(Credentials::new(
                id,
                secret,
                config.session_token,
                None,
                "config",
            )?)))
        }
        (None, None) if config.session_token.is_none() => {}
        _ => {
            return Err(Error::InvalidConfig(
                "config keys \"access_key_id\" and \"secret_access_key\" must be given together \
                 (\"session_token\" only with both)"
                    .into(),
            ))
        }
    }
    let mut tried = vec!["config keys \"access_key_id\"/\"secret_access_key\"".to_owned()];
    if let Some(keys) = environment_keys(ctx.env)? {
        return Ok(keys);
    }
    tried.push("environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".into());
    if let Some(provider) = for_profile(ctx, ctx.profile)? {
        return Ok(provider);
    }
    tried.push(format!(
        "profile \"{}\" in {}",
        ctx.profile,
        ctx.files.describe_files()
    ));
    match (
        ctx.env.var("AWS_ROLE_ARN"),
        ctx.env.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
    ) {
        (Some(role_arn), Some(token_file)) => {
            return Ok(Arc::new(Cached::new(WebIdentity {
                sts: ctx.sts()?,
                token_file: ctx.env.expand_home(&token_file),
                role_arn,
                session_name: ctx
                    .env
                    .var("AWS_ROLE_SESSION_NAME")
                    .unwrap_or_else(default_session_name),
                origin: "AWS_WEB_IDENTITY_TOKEN_FILE".into(),
            })))
        }
        (Some(_), None) => {
            tried.push("web identity (AWS_WEB_IDENTITY_TOKEN_FILE is not set)".into())
        }
        (None, Some(_)) => tried.push("web identity (AWS_ROLE_ARN is not set)".into()),
        (None, None) => {
            tried.push("web identity (AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE)".into())
        }
    }
    if let Some(container) = container(ctx)? {
        return Ok(container);
    }
    tried.push("container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI)".into());
    if ctx.env.flag("AWS_EC2_METADATA_DISABLED")? == Some(true) {
        tried.push("EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)".into());
        return Err(Error::NoCredentials(format!(
            "no credentials: tried {}",
            tried.join(", ")
        )));
    }
    Ok(imds(ctx, &tried.join(", ")))
}

/// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), if set.
pub fn environment_keys(env: &Env<'_>) -> Result<Option<Arc<dyn ProvideCredentials>>, Error> {
    match (
        env.var("AWS_ACCESS_KEY_ID"),
        env.var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Ok(Some(Arc::new(StaticCredentials::new(Credentials::new(
            &id,
            &secret,
            env.var("AWS_SESSION_TOKEN").as_deref(),
            None,
            "environment",
        )?)))),
        (Some(_), None) => Err(Error::NoCredentials(
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into(),
        )),
        (None, Some(_)) => Err(Error::NoCredentials(
            "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into(),
        )),
        (None, None) => Ok(None),
    }
}

/// Container credentials, if one of the URI variables is set.
pub fn container(ctx: &Context<'_>) -> Result<Option<Arc<dyn ProvideCredentials>>, Error> {
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

/// The instance-metadata provider; `tried_before` goes into its NO_CREDENTIALS message.
pub fn imds(ctx: &Context<'_>, tried_before: &str) -> Arc<dyn ProvideCredentials> {
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
                imds::DEFAULT_ENDPOINT_IPV6.to_owned()
            } else {
                imds::DEFAULT_ENDPOINT.to_owned()
            }
        });
    Arc::new(Cached::new(Imds::new(
        &endpoint,
        ctx.transport.clone(),
        tried_before,
    )))
}
