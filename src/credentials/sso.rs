//! IAM Identity Center (SSO): role credentials for the token `aws sso login` cached.
//!
//! The cache file is `~/.aws/sso/cache/<sha1 hex>.json`, keyed by the `sso_session` name
//! (or, for the legacy profile keys, the start URL). For an `sso_session`, a token within 15
//! minutes of expiry is refreshed as botocore's SSOTokenProvider does: CreateToken at the
//! session's OIDC endpoint with the cached `refreshToken`, `clientId` and `clientSecret`, and
//! the new token written back to the cache. When that fails, a token still valid is used;
//! an expired one is an error saying to log in again. Every call is retried with the
//! standard policy.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::{json, Value};

use super::sts::credential_error;
use super::{fetched, parse_time, Credentials, ProvideCredentials};
use crate::error::{Error, ResponseMetadata, ServiceError};
use crate::http::ureq::UreqEngine;
use crate::http::{HttpResponse, Limits};
use crate::log::{emit, LogLevel};
use crate::protocol::rest_json::encode_label;
use crate::redact::Redactor;
use crate::retry::{retry_call, FailureKind, RetryPolicy};

/// A token this close to expiry is refreshed (botocore's refresh window).
const REFRESH_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
pub struct Sso {
    pub cache_file: PathBuf,
    pub account_id: String,
    pub role_name: String,
    /// `https://portal.sso.{sso_region}.amazonaws.com` or an override.
    pub endpoint: String,
    /// `https://oidc.{sso_region}.amazonaws.com` (or an override) for an `sso_session`,
    /// whose tokens are refreshed; `None` for the legacy keys, whose tokens are not.
    pub oidc_endpoint: Option<String>,
    pub transport: Arc<UreqEngine>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// "profile \"dev\"", for messages.
    pub origin: String,
    /// `aws sso login --profile dev` or `--sso-session corp`.
    pub login_hint: String,
}

/// `<dir>/<sha1 hex of key>.json`.
pub fn cache_file(dir: &Path, key: &str) -> PathBuf {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.json"))
}

impl Sso {
    fn fail(&self, why: String) -> Error {
        Error::CredentialsProvider(format!(
            "SSO for {}: {why}; run `{}`",
            self.origin, self.login_hint
        ))
    }

    /// The cached access token, refreshed first when it is near expiry and can be.
    fn token(&self) -> Result<String, Error> {
        let shown = self.cache_file.display();
        let text = std::fs::read(&self.cache_file)
            .map_err(|e| self.fail(format!("the token cache {shown} cannot be read ({e})")))?;
        let doc: Value = serde_json::from_slice(&text)
            .map_err(|_| self.fail(format!("the token cache {shown} is not JSON")))?;
        let token = doc
            .get("accessToken")
            .and_then(Value::as_str)
            .ok_or_else(|| self.fail(format!("the token cache {shown} has no accessToken")))?;
        let expires = doc
            .get("expiresAt")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .ok_or_else(|| self.fail(format!("the token cache {shown} has no valid expiresAt")))?;
        let now = SystemTime::now();
        let mut refresh_failure = None;
        if expires <= now + REFRESH_WINDOW {
            match self.refresh(&doc) {
                Ok(Some(new_token)) => return Ok(new_token),
                Ok(None) => {}
                Err(e) => {
                    emit(
                        LogLevel::Warn,
                        format_args!("SSO token refresh for {} failed: {e}", self.origin),
                    );
                    refresh_failure = Some(e);
                }
            }
        }
        if expires <= now {
            return Err(self.fail(match refresh_failure {
                Some(e) => format!("the cached token has expired and could not be refreshed ({e})"),
                None => "the cached token has expired".into(),
            }));
        }
        check_token(token).map_err(|_| self.fail(format!("the token in {shown} is malformed")))?;
        Ok(token.to_owned())
    }

    /// CreateToken with the cached refresh token; `Ok(None)` when this token cannot be
    /// refreshed (legacy profile keys, no refresh token, an expired client registration).
    fn refresh(&self, cached: &Value) -> Result<Option<String>, Error> {
        let Some(oidc) = &self.oidc_endpoint else {
            return Ok(None);
        };
        let get = |k: &str| cached.get(k).and_then(Value::as_str);
        let (Some(refresh_token), Some(client_id), Some(client_secret)) =
            (get("refreshToken"), get("clientId"), get("clientSecret"))
        else {
            return Ok(None);
        };
        if get("registrationExpiresAt")
            .and_then(parse_time)
            .is_some_and(|t| t <= SystemTime::now())
        {
            return Ok(None);
        }
        let what = format!("SSO OIDC CreateToken for {}", self.origin);
        let url = format!("{}/token", oidc.trim_end_matches('/'));
        let body = json!({
            "grantType": "refresh_token",
            "clientId": client_id,
            "clientSecret": client_secret,
            "refreshToken": refresh_token,
        })
        .to_string();
        let headers = [("content-type", "application/json")];
        let secrets = [
            refresh_token,
            client_secret,
            get("accessToken").unwrap_or(""),
        ];
        let response = self.send_with_retries(&what, &secrets, |limits| {
            self.transport
                .send("POST", &url, &headers, Some(body.as_bytes()), limits)
        })?;
        let answer: Value = serde_json::from_slice(&response.body)
            .map_err(|_| Error::CredentialsProvider(format!("{what}: the answer is not JSON")))?;
        let access_token = answer
            .get("accessToken")
            .and_then(Value::as_str)
            .filter(|t| check_token(t).is_ok())
            .ok_or_else(|| {
                Error::CredentialsProvider(format!("{what}: the answer has no valid accessToken"))
            })?;
        let expires_in = answer
            .get("expiresIn")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                Error::CredentialsProvider(format!("{what}: the answer has no expiresIn"))
            })?;
        let expires_at = SystemTime::now() + Duration::from_secs(expires_in);
        let mut updated = cached.clone();
        updated["accessToken"] = access_token.into();
        updated["expiresAt"] = format_time(expires_at).into();
        if let Some(new_refresh) = answer.get("refreshToken").and_then(Value::as_str) {
            updated["refreshToken"] = new_refresh.into();
        }
        // A token that cannot be written back still serves this call.
        if let Err(e) = write_cache(&self.cache_file, &updated) {
            emit(
                LogLevel::Warn,
                format_args!(
                    "SSO token cache {} could not be updated: {e}",
                    self.cache_file.display()
                ),
            );
        }
        Ok(Some(access_token.to_owned()))
    }

    /// Sends with the standard retry policy; a non-200 answer becomes a service error
    /// (retried when throttling or 5xx), then CREDENTIALS_PROVIDER naming `what`.
    /// `secrets` (the tokens and client secret sent) are scrubbed from what the service says.
    fn send_with_retries(
        &self,
        what: &str,
        secrets: &[&str],
        send: impl Fn(Limits) -> Result<HttpResponse, Error>,
    ) -> Result<HttpResponse, Error> {
        let redactor = Redactor::new(secrets.iter().copied(), []);
        let deadline = Instant::now() + self.timeout;
        let (result, attempts) = retry_call(&self.retry, deadline, FailureKind::of, |_| {
            let limits = Limits::total(deadline.saturating_duration_since(Instant::now()));
            let response = send(limits)?;
            if response.status == 200 {
                return Ok(response);
            }
            let doc: Option<Value> = serde_json::from_slice(&response.body).ok();
            let field = |k: &str| {
                doc.as_ref()
                    .and_then(|d| d.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let mut code = field("error")
                .or_else(|| response.error_type.clone())
                .unwrap_or_else(|| "no error code".into());
            let mut message = field("message")
                .or_else(|| field("Message"))
                .or_else(|| field("error_description"))
                .unwrap_or_default();
            redactor.identifier(&mut code);
            redactor.message(&mut message);
            Err(Error::from(ServiceError {
                code,
                message,
                metadata: ResponseMetadata {
                    http_status: Some(response.status),
                    ..Default::default()
                },
                fields: None,
            }))
        });
        result.map_err(|e| credential_error(e, what, attempts))
    }
}

/// A token goes into a header: never empty, never a control character.
fn check_token(token: &str) -> Result<(), ()> {
    if token.is_empty() || token.chars().any(|c| c.is_control()) {
        Err(())
    } else {
        Ok(())
    }
}

/// `2026-01-01T00:00:00Z`, as botocore writes `expiresAt`.
fn format_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DateTime::from_secs(secs as i64)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// Replaces the cache file: written beside it (owner-only), then renamed over it.
fn write_cache(path: &Path, doc: &Value) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(doc.to_string().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl ProvideCredentials for Sso {
    fn name(&self) -> String {
        format!("SSO for {}", self.origin)
    }

    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        let token = self.token()?;
        let what = format!(
            "SSO GetRoleCredentials of {} for account {} role {}",
            self.origin, self.account_id, self.role_name
        );
        let url = format!(
            "{}/federation/credentials?account_id={}&role_name={}",
            self.endpoint.trim_end_matches('/'),
            query_encode(&self.account_id),
            query_encode(&self.role_name)
        );
        let headers = [("x-amz-sso_bearer_token", token.as_str())];
        let response = self
            .send_with_retries(&what, &[token.as_str()], |limits| {
                self.transport.send("GET", &url, &headers, None, limits)
            })
            .map_err(|e| match e {
                Error::CredentialsProvider(m) => Error::CredentialsProvider(format!(
                    "{m}; if the session ended, run `{}`",
                    self.login_hint
                )),
                other => other,
            })?;
        let doc: Option<Value> = serde_json::from_slice(&response.body).ok();
        let role = doc
            .as_ref()
            .and_then(|d| d.get("roleCredentials"))
            .ok_or_else(|| {
                Error::CredentialsProvider(format!("{what}: the answer has no roleCredentials"))
            })?;
        let field = |name: &str| {
            role.get(name).and_then(Value::as_str).ok_or_else(|| {
                Error::CredentialsProvider(format!("{what}: the answer has no {name}"))
            })
        };
        let expiry = role
            .get("expiration")
            .and_then(Value::as_u64)
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
        fetched(
            field("accessKeyId")?,
            field("secretAccessKey")?,
            Some(field("sessionToken")?),
            expiry,
            &what,
        )
        .map(Arc::new)
    }
}

fn query_encode(s: &str) -> String {
    let mut out = String::new();
    encode_label(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_is_sha1_of_the_key() {
        // sha1("my-sso-session") as the AWS CLI names the file.
        let f = cache_file(Path::new("/c"), "my-sso-session");
        let expected = {
            let d =
                ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"my-sso-session");
            d.as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(f, Path::new("/c").join(format!("{expected}.json")));
        // A known vector: sha1("abc").
        assert!(cache_file(Path::new("/"), "abc")
            .ends_with("a9993e364706816aba3e25717850c26c9cd0d89d.json"));
        assert_eq!(query_encode("a b/1"), "a%20b%2F1");
    }
}
