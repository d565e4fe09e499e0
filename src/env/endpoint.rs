//! Amazon Connect's endpoint rules: partitions, FIPS and dual-stack.
//!
//! A direct translation of the service's endpoint rule set (tests evaluate the rules file
//! itself and compare) with the partition facts of the AWS SDKs' `partitions.json`.
#![forbid(unsafe_code)]

use std::net::IpAddr;

use crate::error::Error;

/// The facts of one AWS partition the endpoint rules use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub name: &'static str,
    /// The region prefix of the partition's `regionRegex`: `^{prefix}\-\w+\-\d+$`.
    prefixes: &'static [&'static str],
    /// `dnsSuffix`, e.g. `amazonaws.com`.
    pub dns_suffix: &'static str,
    /// `dualStackDnsSuffix`, e.g. `api.aws`.
    pub dual_stack_dns_suffix: &'static str,
    /// `supportsFIPS`.
    pub supports_fips: bool,
    /// `supportsDualStack`.
    pub supports_dual_stack: bool,
}

/// Every partition, `aws` first: a region no partition claims falls back to it, as
/// `aws.partition` does.
pub const PARTITIONS: &[Partition] = &[
    Partition {
        name: "aws",
        prefixes: &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"],
        dns_suffix: "amazonaws.com",
        dual_stack_dns_suffix: "api.aws",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        name: "aws-cn",
        prefixes: &["cn"],
        dns_suffix: "amazonaws.com.cn",
        dual_stack_dns_suffix: "api.amazonwebservices.com.cn",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        name: "aws-eusc",
        prefixes: &["eusc-de"],
        dns_suffix: "amazonaws.eu",
        dual_stack_dns_suffix: "api.amazonwebservices.eu",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        name: "aws-iso",
        prefixes: &["us-iso"],
        dns_suffix: "c2s.ic.gov",
        dual_stack_dns_suffix: "api.aws.ic.gov",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        name: "aws-iso-b",
        prefixes: &["us-isob"],
        dns_suffix: "sc2s.sgov.gov",
        dual_stack_dns_suffix: "api.aws.scloud",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        name: "aws-iso-e",
        prefixes: &["eu-isoe"],
        dns_suffix: "cloud.adc-e.uk",
        dual_stack_dns_suffix: "api.cloud-aws.adc-e.uk",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        name: "aws-iso-f",
        prefixes: &["us-isof"],
        dns_suffix: "csp.hci.ic.gov",
        dual_stack_dns_suffix: "api.aws.hci.ic.gov",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        name: "aws-us-gov",
        prefixes: &["us-gov"],
        dns_suffix: "amazonaws.com",
        dual_stack_dns_suffix: "api.aws",
        supports_fips: true,
        supports_dual_stack: true,
    },
];

impl Partition {
    /// `^{prefix}\-\w+\-\d+$` for one of the prefixes, or the partition's global pseudo-region.
    fn claims(&self, region: &str) -> bool {
        if region.strip_suffix("-global") == Some(self.name) {
            return true;
        }
        self.prefixes.iter().any(|prefix| {
            let Some(rest) = region
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('-'))
            else {
                return false;
            };
            let Some((word, number)) = rest.split_once('-') else {
                return false;
            };
            !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        })
    }
}

/// The partition of a region: the one whose pattern matches, else `aws`.
pub fn partition_of(region: &str) -> &'static Partition {
    PARTITIONS
        .iter()
        .find(|p| p.claims(region))
        .unwrap_or(&PARTITIONS[0])
}

/// The default endpoint of Amazon Connect for `region`, per the endpoint rules. A custom
/// endpoint never reaches here; [`check_custom`] covers it.
pub fn default_endpoint(region: &str, fips: bool, dual_stack: bool) -> Result<String, Error> {
    let p = partition_of(region);
    let refuse = |why: &str| {
        Err(Error::InvalidConfig(format!(
            "region \"{region}\" (partition {}): {why}",
            p.name
        )))
    };
    match (fips, dual_stack) {
        (true, true) if p.supports_fips && p.supports_dual_stack => Ok(format!(
            "https://connect-fips.{region}.{}",
            p.dual_stack_dns_suffix
        )),
        (true, true) => refuse(
            "FIPS and DualStack are enabled, but this partition does not support one or both",
        ),
        // GovCloud's Connect endpoints are FIPS endpoints already.
        (true, false) if p.supports_fips && p.name == "aws-us-gov" => {
            Ok(format!("https://connect.{region}.amazonaws.com"))
        }
        (true, false) if p.supports_fips => {
            Ok(format!("https://connect-fips.{region}.{}", p.dns_suffix))
        }
        (true, false) => refuse("FIPS is enabled but this partition does not support FIPS"),
        (false, true) if p.supports_dual_stack => Ok(format!(
            "https://connect.{region}.{}",
            p.dual_stack_dns_suffix
        )),
        (false, true) => {
            refuse("DualStack is enabled but this partition does not support DualStack")
        }
        (false, false) => Ok(format!("https://connect.{region}.{}", p.dns_suffix)),
    }
}

/// The rules refuse FIPS or dual-stack together with a custom endpoint. `source` names
/// where the endpoint came from, `flag_source` where the flag came from.
pub fn check_custom(
    source: &str,
    fips: Option<&str>,
    dual_stack: Option<&str>,
) -> Result<(), Error> {
    if let Some(flag) = fips {
        return Err(Error::InvalidConfig(format!(
            "Invalid Configuration: FIPS and custom endpoint are not supported (endpoint from {source}, FIPS from {flag})"
        )));
    }
    if let Some(flag) = dual_stack {
        return Err(Error::InvalidConfig(format!(
            "Invalid Configuration: Dualstack and custom endpoint are not supported (endpoint from {source}, dual-stack from {flag})"
        )));
    }
    Ok(())
}

/// A parsed endpoint: `scheme://authority` plus an optional base path (no trailing `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUrl {
    pub scheme: String,
    pub authority: String,
    pub host: String,
    pub base_path: String,
}

impl EndpointUrl {
    /// `source` names where the URL came from, for the error message.
    pub fn parse(url: &str, source: &str, allow_http: bool) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidConfig(format!("{source}: \"{url}\" {why}"));
        let uri: ureq::http::Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad("has no scheme (https:// or http://)"))?;
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(Error::InvalidConfig(format!(
                "{source}: user information in an endpoint URL is not allowed"
            )));
        }
        if uri.query().is_some() || url.contains('#') {
            return Err(bad("must not have a query or fragment"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        match scheme {
            "https" => {}
            "http" if allow_http || is_loopback(&host) => {}
            "http" => return Err(bad(
                "uses plain http to a non-loopback host; use https, or set \"allow_http\": true",
            )),
            _ => return Err(bad("must use https:// (or http:// for loopback hosts)")),
        }
        Ok(EndpointUrl {
            scheme: scheme.to_owned(),
            authority: authority.as_str().to_owned(),
            host,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The full URL for a request path that starts with `/`.
    pub fn url_for(&self, path: &str) -> String {
        let mut url =
            String::with_capacity(self.scheme.len() + 3 + self.authority.len() + path.len());
        for piece in [&*self.scheme, "://", &self.authority, path] {
            url.push_str(piece);
        }
        url
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_find_their_partition() {
        for (region, name) in [
            ("us-east-1", "aws"),
            ("il-central-1", "aws"),
            ("us-gov-west-1", "aws-us-gov"),
            ("cn-northwest-1", "aws-cn"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
            ("aws-cn-global", "aws-cn"),
            ("mars-base-1", "aws"),
            ("local", "aws"),
        ] {
            assert_eq!(partition_of(region).name, name, "{region}");
        }
    }

    #[test]
    fn custom_endpoint_refuses_flags() {
        assert!(check_custom("x", None, None).is_ok());
        let e = check_custom("AWS_ENDPOINT_URL", Some("AWS_USE_FIPS_ENDPOINT"), None).unwrap_err();
        assert!(e.to_string().contains("FIPS and custom endpoint"), "{e}");
        let e = check_custom("x", None, Some("y")).unwrap_err();
        assert!(
            e.to_string().contains("Dualstack and custom endpoint"),
            "{e}"
        );
    }
}
