//! SigV4 verification: recompute the signature over what was received, with aws-sigv4 and the
//! configured secret, and compare in constant time.
//!
//! Codes as the service answers: no Authorization → MissingAuthenticationTokenException;
//! a malformed one → IncompleteSignatureException; an unknown access key or a wrong or missing
//! session token → UnrecognizedClientException; a bad signature, a wrong scope or a date
//! outside the 5-minute window → InvalidSignatureException.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use subtle::ConstantTimeEq;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::config::Credential;
use crate::reply::ApiError;

/// The service's clock window.
pub const CLOCK_WINDOW: Duration = Duration::from_secs(5 * 60);

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "connect";
const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// The parts of a received request that the signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The request target exactly as received (still percent-encoded).
    pub raw_uri: &'a str,
    /// Every header as received, names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The fields of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct Authorization<'a> {
    access_key: &'a str,
    scope_date: &'a str,
    scope_region: &'a str,
    scope_service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, ApiError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            ApiError::incomplete_signature(format!("Authorization header must use {ALGORITHM}"))
        })?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, val) = part.trim().split_once('=').unwrap_or((part.trim(), ""));
        match key {
            "Credential" => credential = Some(val),
            "SignedHeaders" => signed_headers = Some(val),
            "Signature" => signature = Some(val),
            _ => {}
        }
    }
    let missing = |what: &str| {
        ApiError::incomplete_signature(format!(
            "Authorization header requires '{what}' parameter. Authorization={ALGORITHM} ..."
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, scope_date, scope_region, scope_service, "aws4_request"] = scope[..] else {
        return Err(ApiError::incomplete_signature(
            "Credential must have the form <access key>/<date>/<region>/<service>/aws4_request",
        ));
    };
    Ok(Authorization {
        access_key,
        scope_date,
        scope_region,
        scope_service,
        signed_headers: signed_headers.split(';').collect(),
        signature,
    })
}

/// Checks `request`'s signature against `credentials` for `region`, at time `now`; returns
/// the access key ID that signed it.
pub fn verify<'c>(
    request: &SignedRequest<'_>,
    credentials: &'c [Credential],
    region: &str,
    now: SystemTime,
) -> Result<&'c str, ApiError> {
    let Some(authorization) = request.header("authorization") else {
        return Err(ApiError::new(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let auth = parse_authorization(authorization)?;
    let credential = credentials
        .iter()
        .find(|c| c.access_key_id == auth.access_key)
        .ok_or_else(ApiError::unrecognized_client)?;
    check_session_token(credential, request.header("x-amz-security-token"))?;

    let amz_date = request.header("x-amz-date").ok_or_else(|| {
        ApiError::incomplete_signature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    let signed_at = PrimitiveDateTime::parse(amz_date, AMZ_DATE)
        .map_err(|_| {
            ApiError::incomplete_signature("X-Amz-Date must have the form YYYYMMDD'T'HHMMSS'Z'")
        })?
        .assume_utc();
    if !amz_date.starts_with(auth.scope_date) || auth.scope_date.len() != 8 {
        return Err(ApiError::invalid_signature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            auth.scope_date,
            &amz_date[..8.min(amz_date.len())]
        )));
    }
    if auth.scope_region != region {
        return Err(ApiError::invalid_signature(
            "Credential should be scoped to a valid region.",
        ));
    }
    if auth.scope_service != SERVICE {
        return Err(ApiError::invalid_signature(format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }
    check_clock(signed_at, now)?;
    if !auth.signed_headers.contains(&"host") {
        return Err(ApiError::invalid_signature(
            "'Host' must be a signed header.",
        ));
    }

    let expected = expected_signature(request, &auth, credential, region, signed_at.into())?;
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(&credential.access_key_id)
    } else {
        Err(ApiError::invalid_signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
             Access Key and signing method. Consult the service documentation for details.",
        ))
    }
}

fn check_session_token(credential: &Credential, sent: Option<&str>) -> Result<(), ApiError> {
    let matches = match (&credential.session_token, sent) {
        (None, None) => true,
        (Some(expected), Some(sent)) => bool::from(expected.as_bytes().ct_eq(sent.as_bytes())),
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(ApiError::unrecognized_client())
    }
}

fn check_clock(signed_at: OffsetDateTime, now: SystemTime) -> Result<(), ApiError> {
    let now = OffsetDateTime::from(now);
    let show = |t: OffsetDateTime| t.format(AMZ_DATE).unwrap_or_default();
    if signed_at < now - CLOCK_WINDOW {
        return Err(ApiError::invalid_signature(format!(
            "Signature expired: {} is now earlier than {} ({} - 5 min.)",
            show(signed_at),
            show(now - CLOCK_WINDOW),
            show(now)
        )));
    }
    if signed_at > now + CLOCK_WINDOW {
        return Err(ApiError::invalid_signature(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            show(signed_at),
            show(now + CLOCK_WINDOW),
            show(now)
        )));
    }
    Ok(())
}

/// The signature the client should have sent: aws-sigv4 over the method, the raw target, the
/// headers named in SignedHeaders and the body, with the path double-encoded as the SDKs do.
fn expected_signature(
    request: &SignedRequest<'_>,
    auth: &Authorization<'_>,
    credential: &Credential,
    region: &str,
    signed_at: SystemTime,
) -> Result<String, ApiError> {
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let mut found = false;
        for (n, v) in request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            headers.push((n.as_str(), v.as_str()));
            found = true;
        }
        if !found {
            return Err(ApiError::invalid_signature(format!(
                "Header '{name}' is named in SignedHeaders but was not sent."
            )));
        }
    }
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    // The header named x-amz-content-sha256, if signed, is passed on like any other header.
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    // botocore signs the path as sent; collapsing dot segments would only make them differ.
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    // Only the headers the client named are given, so none must be left out.
    settings.excluded_headers = None;
    // The token (if any) is among the signed headers given, and was checked above.
    let identity: Identity = Credentials::new(
        &credential.access_key_id,
        &credential.secret_access_key,
        None,
        None,
        "connect-emulator",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|e| ApiError::internal(format!("cannot set up signature check: {e}")))?;
    let signable = SignableRequest::new(
        request.method,
        request.raw_uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| {
        ApiError::invalid_signature(format!("The request cannot be signed as received: {e}"))
    })?;
    let output = sign(signable, &params.into()).map_err(|e| {
        ApiError::invalid_signature(format!("The request cannot be signed as received: {e}"))
    })?;
    Ok(output.signature().to_string())
}
