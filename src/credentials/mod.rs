//! Credentials and where they come from.
//!
//! The client asks its provider for credentials on every attempt, so a provider that caches
//! and refreshes (instance roles, SSO, assumed roles) slots in without touching the call
//! path. Providers hand out `Arc<Credentials>`: cheap to clone, with the signing identity
//! built once.
//!
//! One provider per file: [`cache`] (refresh windows), [`process`] (`credential_process`),
//! [`sts`] (AssumeRole, web identity), [`sso`], [`container`], [`imds`]; [`profile`] builds
//! a profile's provider and [`chain`] the default chain.
#![forbid(unsafe_code)]

pub mod cache;
pub mod chain;
pub mod container;
pub mod context;
pub mod imds;
pub mod process;
pub mod profile;
pub mod sso;
pub mod sts;

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::Value;

use crate::env::Env;
use crate::error::Error;
pub use crate::protocol::identity::Credentials;

/// A source of credentials, asked before every attempt. Implementations must be cheap when
/// nothing changed (return a cached `Arc`) and must never put a secret in an error.
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    fn provide(&self) -> Result<Arc<Credentials>, Error>;

    /// As [`provide`](Self::provide), but returns by `deadline` (TIMEOUT naming the provider
    /// when it cannot). Providers that may block for long are wrapped in
    /// [`cache::Cached`], which fetches on a thread of its own and waits only until then;
    /// the others answer at once, so the default just provides.
    fn provide_by(&self, deadline: Instant) -> Result<Arc<Credentials>, Error> {
        let _ = deadline;
        self.provide()
    }

    /// What the provider is, for messages: "EC2 instance metadata at http://…",
    /// "credential_process of profile \"dev\"", ...; never a secret.
    fn name(&self) -> String {
        "the credential provider".into()
    }
}

/// Fixed credentials (explicit keys or the environment).
#[derive(Debug)]
pub struct StaticCredentials(Arc<Credentials>);

impl StaticCredentials {
    pub fn new(credentials: Credentials) -> Self {
        StaticCredentials(Arc::new(credentials))
    }
}

impl ProvideCredentials for StaticCredentials {
    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        Ok(self.0.clone())
    }
}

/// Builds credentials a provider fetched: bad values are the provider's failure, named by
/// `source`, never shown.
pub(crate) fn fetched(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
    expiry: Option<SystemTime>,
    source: &str,
) -> Result<Credentials, Error> {
    Credentials::new(
        access_key_id,
        secret_access_key,
        session_token,
        expiry,
        source,
    )
    .map_err(|e| match e {
        Error::InvalidConfig(m) => Error::CredentialsProvider(m),
        other => other,
    })
}

/// An RFC 3339 time such as `2026-01-02T03:04:05Z`.
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    DateTime::from_str(text.trim(), Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
}

/// Reads the JSON credential document that `credential_process`, containers and IMDS all
/// answer: `AccessKeyId`, `SecretAccessKey`, `Token` or `SessionToken`, `Expiration`.
/// Messages name the member, never the document (it holds the secret).
pub(crate) fn from_json_document(body: &[u8], source: &str) -> Result<Credentials, Error> {
    let bad = |why: String| Error::CredentialsProvider(format!("{source}: {why}"));
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| bad("the answer is not a JSON document".into()))?;
    let Value::Object(map) = value else {
        return Err(bad("the answer is not a JSON object".into()));
    };
    let text = |key: &str| -> Result<Option<&str>, Error> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(format!("\"{key}\" is not a string"))),
        }
    };
    let id = text("AccessKeyId")?.ok_or_else(|| bad("\"AccessKeyId\" is missing".into()))?;
    let secret =
        text("SecretAccessKey")?.ok_or_else(|| bad("\"SecretAccessKey\" is missing".into()))?;
    let token = match text("SessionToken")? {
        Some(t) => Some(t),
        None => text("Token")?,
    };
    let expiry = match text("Expiration")? {
        None => None,
        Some(e) => Some(
            parse_time(e)
                .ok_or_else(|| bad(format!("\"Expiration\" {e:?} is not an RFC 3339 time")))?,
        ),
    };
    fetched(id, secret, token, expiry, source)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_errors_never_show_secrets() {
        let c =
            Credentials::new("AKID", "CANARY-SECRET", Some("CANARY-TOKEN"), None, "test").unwrap();
        assert!(!format!("{c:?}").contains("CANARY"));
        let e = Credentials::new("AKID", "CANARY SECRET", None, None, "config").unwrap_err();
        assert!(
            !e.to_string().contains("CANARY")
                && e.to_string().contains("secret access key from config")
        );
        assert_eq!(c.session_token(), Some("CANARY-TOKEN"));
        assert_eq!(
            Credentials::new("A", "S", Some(""), None, "t")
                .unwrap()
                .session_token(),
            None
        );
    }

    #[test]
    fn json_documents_are_read_and_errors_hide_values() {
        let c = from_json_document(
            br#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2030-01-01T00:00:00Z"}"#,
            "test",
        )
        .unwrap();
        assert_eq!(c.session_token(), Some("T"));
        assert_eq!(c.expiry(), parse_time("2030-01-01T00:00:00Z"));
        for (doc, why) in [
            (&br#"CANARY"#[..], "not a JSON document"),
            (br#"["CANARY"]"#, "not a JSON object"),
            (br#"{"SecretAccessKey":"CANARY"}"#, "AccessKeyId"),
            (
                br#"{"AccessKeyId":"A","SecretAccessKey":7}"#,
                "not a string",
            ),
            (
                br#"{"AccessKeyId":"A","SecretAccessKey":"CANARY X"}"#,
                "secret access key",
            ),
            (
                br#"{"AccessKeyId":"A","SecretAccessKey":"CANARY","Expiration":"soon"}"#,
                "RFC 3339",
            ),
        ] {
            let e = from_json_document(doc, "src").unwrap_err();
            assert!(matches!(e, Error::CredentialsProvider(_)), "{e:?}");
            let m = e.to_string();
            assert!(m.contains(why) && !m.contains("CANARY"), "{m}");
        }
    }
}
