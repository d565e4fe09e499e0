//! SigV4 with aws-sigv4: service `connect` for the client, `sts` for AssumeRole.
#![forbid(unsafe_code)]

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use crate::credentials::Credentials;
use crate::error::Error;

/// The signing name of Amazon Connect.
pub const SERVICE: &str = "connect";

/// Signs requests for one region and service; built once per client.
pub struct Signer {
    region: String,
    service: &'static str,
}

impl Signer {
    /// A signer for Amazon Connect.
    pub fn new(region: &str) -> Self {
        Signer::for_service(region, SERVICE)
    }

    /// A signer for another service's signing name (`sts`).
    pub fn for_service(region: &str, service: &'static str) -> Self {
        Signer {
            region: region.to_owned(),
            service,
        }
    }

    /// The headers to add to a request: `authorization`, `x-amz-date` and, with a session
    /// token, `x-amz-security-token`. `headers` are the ones sent and signed besides `host`,
    /// which aws-sigv4 takes from `url`. aws-sigv4's defaults double-encode the path in the
    /// canonical request, as botocore does for every service but S3.
    pub fn sign(
        &self,
        credentials: &Credentials,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        let params = v4::SigningParams::builder()
            .identity(credentials.signing_identity())
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::InvalidConfig(format!("signing parameters are incomplete: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| Error::Validation(format!("request cannot be signed: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| Error::Validation(format!("request cannot be signed: {e}")))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        Ok(headers
            .into_iter()
            .map(|h| (h.name(), h.value().to_owned()))
            .collect())
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn signs_with_scope_date_and_token() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("TOKEN"),
            None,
            "test",
        )
        .unwrap();
        let signer = Signer::new("us-west-2");
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let headers = signer
            .sign(
                &creds,
                "POST",
                "https://connect.us-west-2.amazonaws.com/contacts/a%2Fb/c",
                &[("content-type", "application/json")],
                b"{}",
                time,
            )
            .unwrap();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(get("x-amz-security-token"), Some("TOKEN"));
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/connect/aws4_request, "
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
            "{auth}"
        );
        assert!(!format!("{signer:?} {creds:?}").contains("wJalr"));
    }
}
