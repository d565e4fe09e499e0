//! What building credential providers needs, resolved once per client: the environment, the
//! shared files, the region, the transport and the retry policy. Every provider's builder
//! takes it; it knows no provider but STS's client (which roles and web identity share).
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use super::sts::StsClient;
use crate::env::endpoint::partition_of;
use crate::env::profile::ProfileSet;
use crate::env::Env;
use crate::error::Error;
use crate::http::ureq::UreqEngine;
use crate::retry::{RetryMode, RetryPolicy};

/// What building providers needs, resolved once per client.
#[derive(Debug)]
pub struct Context<'a> {
    pub env: &'a Env<'a>,
    pub files: &'a ProfileSet,
    pub profile: &'a str,
    pub region: &'a str,
    /// The client's transport (proxy, CA bundle) for every credential call.
    pub transport: Arc<UreqEngine>,
    /// Bound on one STS or SSO exchange: the client's call deadline.
    pub timeout: Duration,
    /// Whether endpoint overrides may use plain http to a non-loopback host.
    pub allow_http: bool,
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` (or the profile's key): the STS and SSO
    /// endpoint variables are set aside too.
    pub ignore_configured_endpoint_urls: bool,
    /// The client's retry policy, which STS and SSO calls follow too (standard mode: the
    /// adaptive rate limiter is the Connect client's own).
    pub retry: RetryPolicy,
}

impl Context<'_> {
    /// `AWS_ENDPOINT_URL_{service}`, else `AWS_ENDPOINT_URL`, unless configured endpoints
    /// are ignored.
    pub fn endpoint_override(&self, service: &str) -> Result<Option<String>, Error> {
        if self.ignore_configured_endpoint_urls {
            return Ok(None);
        }
        self.env.endpoint_override(service, self.allow_http)
    }

    /// STS at `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`, else the region's endpoint.
    /// Resolved only when a role needs it, so an unused override cannot fail a client.
    /// The policy for STS and SSO calls: the client's attempts, standard mode.
    pub fn credential_retry(&self) -> RetryPolicy {
        RetryPolicy {
            mode: RetryMode::Standard,
            ..self.retry
        }
    }

    pub fn sts(&self) -> Result<StsClient, Error> {
        let endpoint = match self.endpoint_override("STS")? {
            Some(url) => url,
            None => format!(
                "https://sts.{}.{}",
                self.region,
                partition_of(self.region).dns_suffix
            ),
        };
        Ok(StsClient {
            endpoint,
            region: self.region.to_owned(),
            transport: self.transport.clone(),
            timeout: self.timeout,
            retry: self.credential_retry(),
        })
    }
}
