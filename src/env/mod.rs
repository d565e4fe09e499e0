//! The process environment as configuration sees it: a lookup by name (tests and embedders
//! pass their own), with the SDKs' conventions (empty is unset, `~/` is `$HOME`). Below the
//! credential providers and the configuration, which both read it.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::PathBuf;

pub mod endpoint;
pub mod profile;

use self::endpoint::EndpointUrl;
use crate::error::Error;

/// The process environment as resolution sees it: a lookup by name, so tests and embedders
/// substitute their own (`HOME` included) without touching the process.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env")
    }
}

impl<'a> Env<'a> {
    /// Variables as `lookup` answers them.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// A variable; empty counts as unset, as in the AWS SDKs.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// A `true`/`false` variable (any case); anything else is an error naming it.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, Error> {
        self.var(name).map(|v| parse_flag(&v, name)).transpose()
    }

    pub fn home(&self) -> Option<PathBuf> {
        self.var("HOME")
            .or_else(|| self.var("USERPROFILE"))
            .map(PathBuf::from)
    }

    /// `~/x` → `$HOME/x`; other paths unchanged.
    pub fn expand_home(&self, path: &str) -> PathBuf {
        match (path.strip_prefix("~/"), self.home()) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(path),
        }
    }

    /// The file named by `var`, else `$HOME/{default}`; `None` without either.
    pub(crate) fn file(&self, var: &str, default: &str) -> Option<PathBuf> {
        match self.var(var) {
            Some(path) => Some(self.expand_home(&path)),
            None => self.home().map(|h| h.join(default)),
        }
    }

    /// `AWS_ENDPOINT_URL_{SERVICE}`, else `AWS_ENDPOINT_URL`, checked like the Connect
    /// endpoint (https, or http to loopback).
    pub fn endpoint_override(
        &self,
        service: &str,
        allow_http: bool,
    ) -> Result<Option<String>, Error> {
        let specific = format!("AWS_ENDPOINT_URL_{service}");
        let found = self
            .var(&specific)
            .map(|u| (u, specific.clone()))
            .or_else(|| {
                self.var("AWS_ENDPOINT_URL")
                    .map(|u| (u, "AWS_ENDPOINT_URL".into()))
            });
        match found {
            None => Ok(None),
            Some((url, source)) => {
                let parsed = EndpointUrl::parse(&url, &source, allow_http)?;
                Ok(Some(parsed.url_for(&parsed.base_path)))
            }
        }
    }
}

pub(crate) fn parse_flag(value: &str, source: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::InvalidConfig(format!(
            "{source}: \"{value}\" is not true or false"
        ))),
    }
}
