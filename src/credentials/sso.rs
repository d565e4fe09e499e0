//! IAM Identity Center (SSO): role credentials for the token `aws sso login` cached.
//!
//! The cache file is `~/.aws/sso/cache/<sha1 hex>.json`, keyed by the `sso_session` name
//! (or, for the legacy profile keys, the start URL). This library reads the token and never
//! refreshes it: when it has expired the message says to log in again.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{fetched, parse_time, Credentials, ProvideCredentials};
use crate::error::Error;
use crate::protocol::encode_label;
use crate::transport::{Limits, Transport};

#[derive(Debug)]
pub struct Sso {
    pub cache_file: PathBuf,
    pub account_id: String,
    pub role_name: String,
    /// `https://portal.sso.{sso_region}.amazonaws.com` or an override.
    pub endpoint: String,
    pub transport: Arc<Transport>,
    pub timeout: Duration,
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
    fn token(&self) -> Result<String, Error> {
        let fail = |why: String| {
            Error::CredentialsProvider(format!(
                "SSO for {}: {why}; run `{}`",
                self.origin, self.login_hint
            ))
        };
        let shown = self.cache_file.display();
        let text = std::fs::read(&self.cache_file)
            .map_err(|e| fail(format!("the token cache {shown} cannot be read ({e})")))?;
        let doc: Value = serde_json::from_slice(&text)
            .map_err(|_| fail(format!("the token cache {shown} is not JSON")))?;
        let token = doc
            .get("accessToken")
            .and_then(Value::as_str)
            .ok_or_else(|| fail(format!("the token cache {shown} has no accessToken")))?;
        let expires = doc
            .get("expiresAt")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .ok_or_else(|| fail(format!("the token cache {shown} has no valid expiresAt")))?;
        if expires <= SystemTime::now() {
            return Err(fail("the cached token has expired".into()));
        }
        if token.is_empty() || token.chars().any(|c| c.is_control()) {
            return Err(fail(format!("the token in {shown} is malformed")));
        }
        Ok(token.to_owned())
    }
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
        let limits = Limits::total(self.timeout);
        let response = self
            .transport
            .send(
                "GET",
                &url,
                &[("x-amz-sso_bearer_token", token.as_str())],
                None,
                limits,
            )
            .map_err(|e| Error::CredentialsProvider(format!("{what}: {e}")))?;
        let doc: Option<Value> = serde_json::from_slice(&response.body).ok();
        if response.status != 200 {
            let message = doc
                .as_ref()
                .and_then(|d| d.get("message").or_else(|| d.get("Message")))
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(Error::CredentialsProvider(format!(
                "{what}: HTTP {} {message}; if the session ended, run `{}`",
                response.status, self.login_hint
            )));
        }
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
