//! Who signs: a set of AWS credentials, checked once and holding the signing identity built
//! from them. Below signing (which reads it) and the credential providers (which make it).
#![forbid(unsafe_code)]

use std::fmt;
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

    /// The access key id (also shown by `Debug`).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key. Never logged, never in an error or `Debug`.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The secret key and the session token: what [`crate::redact::Redactor`] removes.
    pub(crate) fn secrets(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.secret_access_key.as_str()).chain(self.session_token.as_deref())
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
