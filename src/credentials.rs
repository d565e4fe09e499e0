//! Credentials and where they come from.
//!
//! The client asks its provider for credentials on every attempt, so a provider that caches
//! and refreshes (instance roles, SSO, assumed roles) slots in without touching the call
//! path. Providers hand out `Arc<Credentials>`: cheap to clone, with the signing identity
//! built once.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials as SigningCredentials;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::error::Error;

/// A set of AWS credentials. `Debug` shows only the access key id.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiry: Option<SystemTime>,
    identity: Identity,
}

impl Credentials {
    /// Checks and wraps a set of keys; `source` names where they came from, for the error
    /// message (which never includes the values).
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
        expiry: Option<SystemTime>,
        source: &str,
    ) -> Result<Self, Error> {
        // Header values cannot hold control characters; refusing them here keeps the failure
        // at construction, naming the setting but not its value.
        let values = [
            ("access key id", Some(access_key_id)),
            ("secret access key", Some(secret_access_key)),
            ("session token", session_token.filter(|t| !t.is_empty())),
        ];
        for (name, value) in values {
            if let Some(v) = value {
                if v.is_empty() || v.chars().any(|c| c.is_control() || c == ' ') {
                    return Err(Error::InvalidConfig(format!(
                        "{name} from {source} is empty or contains spaces or control characters"
                    )));
                }
            }
        }
        let session_token = session_token.filter(|t| !t.is_empty()).map(str::to_owned);
        let identity = SigningCredentials::new(
            access_key_id,
            secret_access_key,
            session_token.clone(),
            expiry,
            "connect-contact",
        )
        .into();
        Ok(Credentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token,
            expiry,
            identity,
        })
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// When temporary credentials stop working; `None` for long-term keys.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expiry
    }

    /// The identity aws-sigv4 signs with.
    pub(crate) fn signing_identity(&self) -> &Identity {
        &self.identity
    }
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        self.access_key_id == other.access_key_id
            && self.secret_access_key == other.secret_access_key
            && self.session_token == other.session_token
            && self.expiry == other.expiry
    }
}

impl Eq for Credentials {}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expiry", &self.expiry)
            .finish()
    }
}

/// A source of credentials, asked before every attempt. Implementations must be cheap when
/// nothing changed (return a cached `Arc`) and must never put a secret in an error.
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    fn provide(&self) -> Result<Arc<Credentials>, Error>;
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
}
