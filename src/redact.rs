//! Keeps secrets and sensitive request values out of every text the library returns or logs.
//!
//! Text from outside (a service error message, an error code, a request id, an STS or
//! container error) may echo what we sent: AWS services quote values ("Value '…' at 'name'
//! failed to satisfy constraint"), and a hostile or broken endpoint may echo anything.
//! Before such text leaves the call it goes through a [`Redactor`] made from that call's
//! values, so one rule serves every source:
//!
//! - **secrets** (the secret access key and the session token of the credentials the call
//!   signed with, a web identity token): replaced wherever they appear, in messages, error
//!   codes and request ids;
//! - **sensitive request values** (those [`crate::UpdateContactRequest::sensitive_values`]
//!   finds: Name, Description, recipients' EmailAddress and DisplayName — every member the
//!   model marks sensitive): replaced in messages when at least [`MIN_SENSITIVE_CHARS`]
//!   characters long (a shorter value cannot be told apart from ordinary words, and
//!   replacing it would garble the message). Messages the library composes never hold them
//!   in the first place.
//!
//! Each is replaced by [`REDACTED`].
#![forbid(unsafe_code)]

use serde_json::Value;

use crate::error::{Error, ResponseMetadata};

/// What a removed value is replaced with.
pub const REDACTED: &str = "** redacted **";

/// Sensitive request values shorter than this (in characters) stay in service messages.
pub const MIN_SENSITIVE_CHARS: usize = 4;

/// The values to remove for one call.
#[derive(Default)]
pub struct Redactor<'a> {
    secrets: Vec<&'a str>,
    sensitive: Vec<&'a str>,
}

impl std::fmt::Debug for Redactor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .field("sensitive", &self.sensitive.len())
            .finish()
    }
}

impl<'a> Redactor<'a> {
    /// Removes `secrets` everywhere and `sensitive` values from messages.
    pub fn new(
        secrets: impl IntoIterator<Item = &'a str>,
        sensitive: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut secrets: Vec<&str> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        let mut sensitive: Vec<&str> = sensitive
            .into_iter()
            .filter(|s| s.chars().count() >= MIN_SENSITIVE_CHARS)
            .collect();
        // Longest first, so a value inside another is not replaced half-way.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        sensitive.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets, sensitive }
    }

    /// Adds more secrets (e.g. the credentials once they are known).
    #[cfg(test)]
    pub fn with_secrets(mut self, more: impl IntoIterator<Item = &'a str>) -> Self {
        self.secrets
            .extend(more.into_iter().filter(|s| !s.is_empty()));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self
    }

    /// A message: both kinds removed.
    pub fn message(&self, text: &mut String) {
        replace_all(text, &self.secrets);
        replace_all(text, &self.sensitive);
    }

    /// An identifier (error code, request id): secrets removed.
    pub fn identifier(&self, text: &mut String) {
        replace_all(text, &self.secrets);
    }

    /// The request id and the response headers (an echoing endpoint may put a secret in
    /// either): secrets removed.
    pub fn metadata(&self, metadata: &mut ResponseMetadata) {
        if let Some(id) = &mut metadata.request_id {
            self.identifier(id);
        }
        metadata.http_headers.replace_all(&self.secrets, REDACTED);
    }

    /// A modeled error's members (a copy of the message among them): both kinds removed
    /// from every string.
    fn fields(&self, value: &mut Value) {
        match value {
            Value::String(text) => self.message(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.fields(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.fields(v)),
            _ => {}
        }
    }

    /// Every text of `error`.
    pub fn error(&self, error: &mut Error) {
        if let Some(metadata) = error.metadata_mut() {
            self.metadata(metadata);
        }
        if let Error::Service(service) = error {
            self.identifier(&mut service.code);
            if let Some(fields) = &mut service.fields {
                fields.values_mut().for_each(|v| self.fields(v));
            }
        }
        error.edit_message(|m| self.message(m));
    }
}

/// The success path's scrub: `secrets` out of a response's request id and headers, without
/// allocating unless one is there (a warm call's allocation budget is counted; see
/// tests/alloc_budget.rs). Longest first is not needed: a secret key and a session token do
/// not contain each other.
pub fn request_id<'a>(metadata: &mut ResponseMetadata, secrets: impl IntoIterator<Item = &'a str>) {
    for secret in secrets {
        if secret.is_empty() {
            continue;
        }
        if let Some(id) = &mut metadata.request_id {
            if id.contains(secret) {
                *id = id.replace(secret, REDACTED);
            }
        }
        metadata.http_headers.replace_all(&[secret], REDACTED);
    }
}

fn replace_all(text: &mut String, values: &[&str]) {
    for value in values {
        if text.contains(value) {
            *text = text.replace(value, REDACTED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    #[test]
    fn secrets_go_everywhere_sensitive_values_from_messages() {
        let r = Redactor::new(["SECRETKEY", "TOKEN-TOKEN"], ["Bob", "Billing callback"])
            .with_secrets(["", "WEBID"]);
        let mut e = Error::from(ServiceError {
            code: "X-TOKEN-TOKEN".into(),
            message: "Value 'Billing callback' by Bob with SECRETKEY and WEBID".into(),
            metadata: ResponseMetadata {
                request_id: Some("id-SECRETKEY".into()),
                http_status: Some(400),
                http_headers: crate::error::HttpHeaders::from_pairs([
                    ("x-amzn-RequestId", "id-SECRETKEY"),
                    ("x-echo", "TOKEN-TOKEN"),
                ]),
                ..Default::default()
            },
            fields: serde_json::json!({"Message": "Value 'Billing callback' with WEBID",
                                       "Reason": {"R": "SECRETKEY"}})
            .as_object()
            .cloned()
            .map(Box::new),
        });
        r.error(&mut e);
        let Error::Service(s) = &e else { panic!() };
        assert_eq!(s.code, "X-** redacted **");
        assert_eq!(
            s.message,
            "Value '** redacted **' by Bob with ** redacted ** and ** redacted **"
        );
        assert_eq!(s.metadata.request_id.as_deref(), Some("id-** redacted **"));
        let headers: Vec<_> = s.metadata.http_headers.iter().collect();
        assert_eq!(
            headers,
            [
                ("x-amzn-RequestId", "id-** redacted **"),
                ("x-echo", "** redacted **")
            ]
        );
        assert_eq!(
            serde_json::Value::Object(*s.fields.clone().unwrap()),
            serde_json::json!({"Message": "Value '** redacted **' with ** redacted **",
                               "Reason": {"R": "** redacted **"}})
        );
        let mut m = ResponseMetadata {
            request_id: Some("ok-SECRETKEY".into()),
            http_headers: crate::error::HttpHeaders::from_pairs([(
                "x-amzn-requestid",
                "ok-SECRETKEY",
            )]),
            ..Default::default()
        };
        request_id(&mut m, ["SECRETKEY", ""]);
        assert_eq!(m.request_id.as_deref(), Some("ok-** redacted **"));
        assert_eq!(
            m.http_headers.iter().collect::<Vec<_>>(),
            [("x-amzn-requestid", "ok-** redacted **")]
        );
        let mut t = "a Bob".to_owned();
        Redactor::default().message(&mut t);
        assert_eq!(t, "a Bob");
    }

    #[test]
    fn a_request_lists_every_sensitive_value_wherever_it_sits() {
        let request = crate::UpdateContactRequest::from_json(
            r#"{"InstanceId":"i","ContactId":"c","Name":"N1","Description":"",
                "References":{"Name":{"Value":"not sensitive","Type":"STRING"}},
                "AdditionalRecipients":{"CcEmailAddresses":[
                    {"EmailAddress":"a@b.example","DisplayName":"D1"},
                    {"EmailAddress":"c@d.example"}]}}"#,
        )
        .unwrap();
        let mut found = request.sensitive_values();
        found.sort();
        assert_eq!(found, ["D1", "N1", "a@b.example", "c@d.example"]);
    }
}
