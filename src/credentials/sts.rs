//! AWS STS: AssumeRole (signed with the source credentials) and AssumeRoleWithWebIdentity
//! (authenticated by the token itself), over the client's transport.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{fetched, parse_time, Credentials, ProvideCredentials};
use crate::error::{Error, ResponseMetadata, ServiceError};
use crate::http::ureq::UreqEngine;
use crate::http::Limits;
use crate::protocol::rest_json::encode_label;
use crate::protocol::signing::Signer;
use crate::redact::Redactor;
use crate::retry::{retry_call, FailureKind, RetryPolicy};

/// Where and how STS is called; shared by both kinds of role.
#[derive(Debug, Clone)]
pub struct StsClient {
    pub endpoint: String,
    pub region: String,
    pub transport: Arc<UreqEngine>,
    /// Bound on one exchange, retries included.
    pub timeout: Duration,
    /// Attempts and backoff (the standard policy, as the SDKs retry STS).
    pub retry: RetryPolicy,
}

/// `role_arn` with `source_profile` or `credential_source`.
#[derive(Debug)]
pub struct AssumeRole {
    pub sts: StsClient,
    pub source: Arc<dyn ProvideCredentials>,
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
    pub duration_seconds: Option<u32>,
    /// "profile \"dev\"", for messages.
    pub origin: String,
}

/// `role_arn` with `web_identity_token_file` (a profile, or the EKS environment variables).
#[derive(Debug)]
pub struct WebIdentity {
    pub sts: StsClient,
    pub token_file: PathBuf,
    pub role_arn: String,
    pub session_name: String,
    pub origin: String,
}

/// A session name when none is configured; STS wants 2-64 characters of `[\w+=,.@-]`.
pub fn default_session_name() -> String {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("connect-contact-{millis}")
}

impl ProvideCredentials for AssumeRole {
    fn name(&self) -> String {
        format!("STS AssumeRole of {} for {}", self.origin, self.role_arn)
    }

    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        let source = self.source.provide()?;
        let mut params = vec![
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", self.role_arn.as_str()),
            ("RoleSessionName", self.session_name.as_str()),
        ];
        let duration = self.duration_seconds.map(|d| d.to_string());
        if let Some(d) = &duration {
            params.push(("DurationSeconds", d));
        }
        if let Some(id) = &self.external_id {
            params.push(("ExternalId", id));
        }
        let what = self.name();
        self.sts.call(&params, Some(&source), &what).map(Arc::new)
    }
}

impl ProvideCredentials for WebIdentity {
    fn name(&self) -> String {
        format!(
            "STS AssumeRoleWithWebIdentity of {} for {}",
            self.origin, self.role_arn
        )
    }

    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        let what = self.name();
        // Re-read every time: Kubernetes rotates the projected token.
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| {
            Error::CredentialsProvider(format!(
                "{what}: web identity token file {} cannot be read: {e}",
                self.token_file.display()
            ))
        })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::CredentialsProvider(format!(
                "{what}: web identity token file {} is empty",
                self.token_file.display()
            )));
        }
        let params = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", self.role_arn.as_str()),
            ("RoleSessionName", self.session_name.as_str()),
            ("WebIdentityToken", token),
        ];
        self.sts.call(&params, None, &what).map(Arc::new)
    }
}

impl StsClient {
    /// POSTs a Query-protocol form, signed when `credentials` are given, and reads the
    /// credentials out of the XML answer; throttling, 5xx, timeouts, connection failures and
    /// IDPCommunicationError are retried with the standard policy, as the SDKs do.
    fn call(
        &self,
        params: &[(&str, &str)],
        credentials: Option<&Credentials>,
        what: &str,
    ) -> Result<Credentials, Error> {
        let deadline = Instant::now() + self.timeout;
        let classify = |e: &Error| match e {
            Error::Service(s) if s.code == "IDPCommunicationError" => FailureKind::Transient,
            other => FailureKind::of(other),
        };
        let (result, attempts) = retry_call(&self.retry, deadline, classify, |_| {
            self.call_once(params, credentials, what)
        });
        result.map_err(|e| credential_error(e, what, attempts))
    }

    fn call_once(
        &self,
        params: &[(&str, &str)],
        credentials: Option<&Credentials>,
        what: &str,
    ) -> Result<Credentials, Error> {
        let body = form_encode(params);
        let url = format!("{}/", self.endpoint.trim_end_matches('/'));
        const CONTENT_TYPE: (&str, &str) = (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        let signed = match credentials {
            Some(c) => Signer::for_service(&self.region, "sts").sign(
                c,
                "POST",
                &url,
                &[CONTENT_TYPE],
                body.as_bytes(),
                SystemTime::now(),
            )?,
            None => Vec::new(),
        };
        let mut headers = vec![CONTENT_TYPE];
        headers.extend(signed.iter().map(|(k, v)| (*k, v.as_str())));
        let limits = Limits::total(self.timeout);
        let response =
            self.transport
                .send("POST", &url, &headers, Some(body.as_bytes()), limits)?;
        let text = String::from_utf8_lossy(&response.body);
        if response.status != 200 {
            let code = xml_value(&text, "Code").unwrap_or_else(|| "no error code".into());
            let message = xml_value(&text, "Message").unwrap_or_default();
            // STS may quote what it was sent: the web identity token, or (from the security
            // token header) the source credentials' session token.
            let secrets = params
                .iter()
                .filter(|(name, _)| *name == "WebIdentityToken")
                .map(|(_, value)| *value)
                .chain(credentials.into_iter().flat_map(Credentials::secrets));
            let redactor = Redactor::new(secrets, []);
            let (mut code, mut message) = (code, message);
            redactor.identifier(&mut code);
            redactor.message(&mut message);
            return Err(Error::from(ServiceError {
                code,
                message,
                metadata: ResponseMetadata {
                    http_status: Some(response.status),
                    ..Default::default()
                },
                fields: None,
            }));
        }
        let field = |name: &str| {
            xml_value(&text, name).ok_or_else(|| {
                Error::CredentialsProvider(format!("{what}: the answer has no {name}"))
            })
        };
        let expiration = field("Expiration")?;
        let expiry = parse_time(&expiration).ok_or_else(|| {
            Error::CredentialsProvider(format!(
                "{what}: Expiration {expiration:?} is not an RFC 3339 time"
            ))
        })?;
        fetched(
            &field("AccessKeyId")?,
            &field("SecretAccessKey")?,
            Some(&field("SessionToken")?),
            Some(expiry),
            what,
        )
    }
}

/// Deepest element nesting read from STS (its answers nest 4 deep).
const MAX_XML_DEPTH: usize = 16;
/// Most attributes on one element (STS sends one, `xmlns`).
const MAX_XML_ATTRIBUTES: usize = 8;

/// A failed credential call (STS, SSO, SSO OIDC) as CREDENTIALS_PROVIDER naming `what`: the
/// service's status, code and message, or the transport's reason, and the attempts made.
pub fn credential_error(e: Error, what: &str, attempts: u32) -> Error {
    let after = if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    };
    match e {
        Error::CredentialsProvider(m) => Error::CredentialsProvider(format!("{m}{after}")),
        Error::Service(s) => {
            let status = s.metadata.http_status.unwrap_or_default();
            Error::CredentialsProvider(format!(
                "{what}: HTTP {status} {}: {}{after}",
                s.code, s.message
            ))
        }
        other => Error::CredentialsProvider(format!("{what}: {other}{after}")),
    }
}

/// The text of the first element named `name` (STS answers are shallow and names unique).
/// Malformed XML, or XML nested deeper than [`MAX_XML_DEPTH`] or with more than
/// [`MAX_XML_ATTRIBUTES`] attributes on an element, yields `None`, never an echo of the
/// document. The size is bounded before (the transport's 64 KiB), so the work is too.
fn xml_value(xml: &str, name: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut inside = false;
    let mut depth = 0usize;
    let mut value = String::new();
    // Bounded by the document: every iteration consumes input or ends.
    loop {
        let event = reader.read_event().ok()?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                // Counted without the duplicate-name check (quadratic in the count).
                let mut attributes = e.attributes();
                let attributes = attributes.with_checks(false);
                if attributes.take(MAX_XML_ATTRIBUTES + 1).count() > MAX_XML_ATTRIBUTES {
                    return None;
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth > MAX_XML_DEPTH {
                        return None;
                    }
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Start(e) if e.local_name().as_ref() == name.as_bytes() => inside = true,
            Event::Text(t) if inside => value.push_str(&t.decode().ok()?),
            Event::GeneralRef(r) if inside => {
                let entity = r.decode().ok()?;
                value.push_str(&quick_xml::escape::unescape(&format!("&{entity};")).ok()?);
            }
            Event::CData(c) if inside => value.push_str(&String::from_utf8_lossy(&c)),
            Event::End(e) if inside && e.local_name().as_ref() == name.as_bytes() => {
                return Some(value.trim().to_owned())
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// `application/x-www-form-urlencoded` with RFC 3986 unreserved characters kept, encoded
/// as the restJson1 labels are.
fn form_encode(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_label(k, &mut out);
        out.push('=');
        encode_label(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sts_xml_and_errors() {
        let ok = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult><Credentials>
    <AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>S&amp;1</SecretAccessKey>
    <SessionToken><![CDATA[TOK]]></SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>
  </Credentials></AssumeRoleResult></AssumeRoleResponse>"#;
        assert_eq!(xml_value(ok, "AccessKeyId").as_deref(), Some("ASIA1"));
        assert_eq!(xml_value(ok, "SecretAccessKey").as_deref(), Some("S&1"));
        assert_eq!(xml_value(ok, "SessionToken").as_deref(), Some("TOK"));
        assert_eq!(xml_value(ok, "Missing"), None);
        assert_eq!(xml_value("<a><b>unclosed", "b"), None);
        assert_eq!(xml_value("not xml at all", "Code"), None);
    }

    #[test]
    fn deep_or_attribute_heavy_xml_is_refused() {
        let nest = |n: usize| format!("{}<Code>X</Code>{}", "<a>".repeat(n), "</a>".repeat(n));
        assert_eq!(xml_value(&nest(15), "Code").as_deref(), Some("X"));
        assert_eq!(xml_value(&nest(16), "Code"), None);
        let attributes = |n: usize| {
            let list: String = (0..n).map(|i| format!(" a{i}=\"v\"")).collect();
            format!("<E{list}><Code>X</Code></E>")
        };
        assert_eq!(xml_value(&attributes(8), "Code").as_deref(), Some("X"));
        assert_eq!(xml_value(&attributes(9), "Code"), None);
        // Thousands of duplicate attributes: refused at the ninth, not checked pairwise.
        let many = format!("<E{}/><Code>X</Code>", " a=\"v\"".repeat(20_000));
        let started = std::time::Instant::now();
        assert_eq!(xml_value(&many, "Code"), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(&[("RoleArn", "arn:aws:iam::1:role/x y"), ("A", "~._-")]),
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx%20y&A=~._-"
        );
        let name = default_session_name();
        assert!(name.len() <= 64 && name.starts_with("connect-contact-"));
    }
}
