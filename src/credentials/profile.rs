//! The credentials a shared profile describes: static keys, `credential_process`, a role
//! (with `source_profile`, `credential_source` or `web_identity_token_file`) or SSO.
#![forbid(unsafe_code)]

use std::sync::Arc;

use super::cache::Cached;
use super::context::Context;
use super::process::{CredentialProcess, PROCESS_TIMEOUT};
use super::sso::{self, Sso};
use super::sts::{default_session_name, AssumeRole, WebIdentity};
use super::{
    container, environment_keys, imds, Credentials, ProvideCredentials, StaticCredentials,
};
use crate::env::endpoint::partition_of;
use crate::env::profile::Section;
use crate::error::Error;

/// The provider of profile `name`, `None` when the profile holds no credential settings.
/// Configuration mistakes are [`Error::InvalidConfig`] naming the profile and the files.
pub fn for_profile(
    ctx: &Context<'_>,
    name: &str,
) -> Result<Option<Arc<dyn ProvideCredentials>>, Error> {
    build(ctx, name, &mut Vec::new())
}

/// `visited` holds the profiles of the chain so far, the selected one first; when it is
/// not empty, `name` is the source of a role and (the SDKs' rule) its static keys, if it
/// has them, win over its own `role_arn`.
fn build(
    ctx: &Context<'_>,
    name: &str,
    visited: &mut Vec<String>,
) -> Result<Option<Arc<dyn ProvideCredentials>>, Error> {
    let origin = format!("profile \"{name}\"");
    let bad = |why: String| {
        Error::InvalidConfig(format!("{origin} in {}: {why}", ctx.files.describe_files()))
    };
    let Some(p) = ctx.files.profile(name) else {
        return Ok(None);
    };
    if visited.iter().any(|v| v == name) {
        visited.push(name.to_owned());
        return Err(bad(format!(
            "source_profile loops: {}",
            visited.join(" -> ")
        )));
    }
    let is_source = !visited.is_empty();
    visited.push(name.to_owned());
    if is_source {
        if let Some(keys) = static_keys(p, &origin, &bad)? {
            return Ok(Some(keys));
        }
    }
    if p.get("role_arn").is_none() && p.get("web_identity_token_file").is_some() {
        return Err(bad(
            "has web_identity_token_file but no role_arn; set role_arn to the role to assume"
                .into(),
        ));
    }
    if let Some(role_arn) = p.get("role_arn") {
        let session_name = p
            .get("role_session_name")
            .map(str::to_owned)
            .unwrap_or_else(default_session_name);
        if let Some(token_file) = p.get("web_identity_token_file") {
            return Ok(Some(Arc::new(Cached::new(WebIdentity {
                sts: ctx.sts()?,
                token_file: ctx.env.expand_home(token_file),
                role_arn: role_arn.to_owned(),
                session_name,
                origin,
            }))));
        }
        let source = match (p.get("source_profile"), p.get("credential_source")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "has both source_profile and credential_source; keep one".into(),
                ))
            }
            // A role assumed with the profile's own keys.
            (Some(source), None) if source == name => static_keys(p, &origin, &bad)?
                .ok_or_else(|| bad("is its own source_profile but has no keys".into()))?,
            (Some(source), None) => build(ctx, source, visited)?.ok_or_else(|| {
                bad(format!(
                    "source_profile \"{source}\" does not exist or holds no credentials"
                ))
            })?,
            (None, Some(source)) => credential_source(ctx, source, &bad)?,
            (None, None) => {
                return Err(bad(
                    "has role_arn but neither source_profile nor credential_source".into(),
                ))
            }
        };
        let duration_seconds = match p.get("duration_seconds") {
            None => None,
            Some(d) => Some(
                d.parse::<u32>()
                    .ok()
                    .filter(|d| (900..=43_200).contains(d))
                    .ok_or_else(|| {
                        bad(format!(
                            "duration_seconds {d:?} is not a number from 900 to 43200"
                        ))
                    })?,
            ),
        };
        return Ok(Some(Arc::new(Cached::new(AssumeRole {
            sts: ctx.sts()?,
            source,
            role_arn: role_arn.to_owned(),
            session_name,
            external_id: p.get("external_id").map(str::to_owned),
            duration_seconds,
            origin,
        }))));
    }
    if p.get("sso_session").is_some() || p.get("sso_start_url").is_some() {
        return sso_provider(ctx, name, p, &origin, &bad).map(Some);
    }
    if let Some(keys) = static_keys(p, &origin, &bad)? {
        return Ok(Some(keys));
    }
    if let Some(command) = p.get("credential_process") {
        return Ok(Some(Arc::new(Cached::new(CredentialProcess::new(
            command,
            &origin,
            PROCESS_TIMEOUT,
        )))));
    }
    Ok(None)
}

fn static_keys(
    p: &Section,
    origin: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<Option<Arc<dyn ProvideCredentials>>, Error> {
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok(Some(Arc::new(StaticCredentials::new(Credentials::new(
            id,
            secret,
            p.get("aws_session_token"),
            None,
            origin,
        )?)))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(bad(
            "has aws_access_key_id but no aws_secret_access_key".into()
        )),
        (None, Some(_)) => Err(bad(
            "has aws_secret_access_key but no aws_access_key_id".into()
        )),
    }
}

fn credential_source(
    ctx: &Context<'_>,
    source: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<Arc<dyn ProvideCredentials>, Error> {
    match source {
        "Environment" => environment_keys(ctx.env)?.ok_or_else(|| {
            bad("credential_source Environment, but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set".into())
        }),
        "Ec2InstanceMetadata" => Ok(imds::provider(ctx, "credential_source Ec2InstanceMetadata")),
        "EcsContainer" => container::from_env(ctx)?.ok_or_else(|| {
            bad("credential_source EcsContainer, but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI are not set".into())
        }),
        other => Err(bad(format!(
            "credential_source {other:?} is not one of Environment, Ec2InstanceMetadata, EcsContainer"
        ))),
    }
}

fn sso_provider(
    ctx: &Context<'_>,
    name: &str,
    p: &Section,
    origin: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<Arc<dyn ProvideCredentials>, Error> {
    let need = |section: &Section, key: &str, where_: &str| {
        section
            .get(key)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("SSO needs {key} in {where_}")))
    };
    let (region, cache_key, login_hint, refreshable) = match p.get("sso_session") {
        Some(session_name) => {
            let session = ctx.files.sso_session(session_name).ok_or_else(|| {
                bad(format!(
                    "sso_session \"{session_name}\" has no [sso-session {session_name}] section"
                ))
            })?;
            let where_ = format!("[sso-session {session_name}]");
            need(session, "sso_start_url", &where_)?;
            (
                need(session, "sso_region", &where_)?,
                session_name.to_owned(),
                format!("aws sso login --sso-session {session_name}"),
                true,
            )
        }
        None => (
            need(p, "sso_region", origin)?,
            need(p, "sso_start_url", origin)?,
            format!("aws sso login --profile {name}"),
            false,
        ),
    };
    let home = ctx.env.home().ok_or_else(|| {
        bad("SSO reads the token cache under ~/.aws/sso/cache, but HOME is not set".into())
    })?;
    let endpoint = match ctx.endpoint_override("SSO")? {
        Some(url) => url,
        None => format!(
            "https://portal.sso.{region}.{}",
            partition_of(&region).dns_suffix
        ),
    };
    // Tokens of an sso_session are refreshed, as botocore's SSOTokenProvider does.
    let oidc_endpoint = match (refreshable, ctx.endpoint_override("SSO_OIDC")?) {
        (false, _) => None,
        (true, Some(url)) => Some(url),
        (true, None) => Some(format!(
            "https://oidc.{region}.{}",
            partition_of(&region).dns_suffix
        )),
    };
    Ok(Arc::new(Cached::new(Sso {
        cache_file: sso::cache_file(&home.join(".aws/sso/cache"), &cache_key),
        oidc_endpoint,
        retry: ctx.credential_retry(),
        account_id: need(p, "sso_account_id", origin)?,
        role_name: need(p, "sso_role_name", origin)?,
        endpoint,
        transport: ctx.transport.clone(),
        timeout: ctx.timeout,
        origin: origin.to_owned(),
        login_hint,
    })))
}
