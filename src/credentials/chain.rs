//! The default credential chain: the first source that is configured wins.
//!
//! 1 config keys · 2 environment keys · 3 the shared profile · 4 web identity from the
//! environment (EKS) · 5 container (ECS, EKS Pod Identity) · 6 EC2 instance metadata.
//! Sources 1-5 are decided when the client is built, from settings alone; only IMDS can
//! only be known by asking it, which the first call does (once per client).
#![forbid(unsafe_code)]

use std::sync::Arc;

use super::cache::Cached;
use super::context::Context;
use super::profile::for_profile;
use super::sts::{default_session_name, WebIdentity};
use super::{
    container, environment_keys, imds, Credentials, ProvideCredentials, StaticCredentials,
};
use crate::error::Error;

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
    if let Some(container) = container::from_env(ctx)? {
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
    Ok(imds::provider(ctx, &tried.join(", ")))
}
