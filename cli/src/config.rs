//! `connect-contact config`: the configuration a call would use and where each value came
//! from, laid out as `aws configure list`. Secrets are never printed: the secret key shows
//! as asterisks only, the session token only as set or not.
//!
//! The library resolves everything; where a value came from is inferred here from the
//! options and the environment until the library reports its sources itself.

use connect_contact::{Error, Settings};

use crate::global::Global;
use crate::update::failure_of;
use crate::Failure;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn row(out: &mut String, name: &str, value: &str, kind: &str, location: &str) {
    out.push_str(&format!(
        "{name:>10} {value:>24} {kind:>16}    {location}\n"
    ));
}

fn masked_tail(value: &str) -> String {
    let tail: String = value
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****************{tail}")
}

/// The table, from resolved settings and the options and environment they came from.
pub fn table(global: &Global, settings: &Settings) -> Result<String, Error> {
    let mut out = String::new();
    row(&mut out, "Name", "Value", "Type", "Location");
    row(&mut out, "----", "-----", "----", "--------");
    match (&global.profile, env("AWS_PROFILE")) {
        (Some(p), _) => row(&mut out, "profile", p, "manual", "--profile"),
        (None, Some(p)) => row(&mut out, "profile", &p, "env", "AWS_PROFILE"),
        (None, None) => row(&mut out, "profile", "<not set>", "None", "None"),
    }
    let credentials = settings.credentials()?;
    let from_env = env("AWS_ACCESS_KEY_ID").as_deref() == Some(credentials.access_key_id());
    let (kind, location) = if from_env {
        ("env", "")
    } else {
        ("shared-config", "profile or credential chain")
    };
    row(
        &mut out,
        "access_key",
        &masked_tail(credentials.access_key_id()),
        kind,
        location,
    );
    row(&mut out, "secret_key", "****************", kind, location);
    if credentials.session_token().is_some() {
        row(&mut out, "token", "<set>", kind, location);
    } else {
        row(&mut out, "token", "<not set>", "None", "None");
    }
    let region = settings.region();
    if global.region.is_some() {
        row(&mut out, "region", region, "manual", "--region");
    } else if let Some(name) = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find(|n| env(n).is_some())
    {
        row(&mut out, "region", region, "env", name);
    } else {
        let file = env("AWS_CONFIG_FILE").unwrap_or_else(|| "~/.aws/config".into());
        row(&mut out, "region", region, "config-file", &file);
    }
    let endpoint = settings.endpoint_url();
    if global.endpoint_url.is_some() {
        row(&mut out, "endpoint", &endpoint, "manual", "--endpoint-url");
    } else if let Some(name) = ["AWS_ENDPOINT_URL_CONNECT", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find(|n| env(n).is_some())
    {
        row(&mut out, "endpoint", &endpoint, "env", name);
    } else {
        row(
            &mut out,
            "endpoint",
            &endpoint,
            "resolved",
            "profile or endpoint rules",
        );
    }
    Ok(out)
}

/// Prints the table, or the AWS CLI's message for what could not be resolved.
pub fn run(global: &Global) -> Result<(), Failure> {
    let settings = global
        .client_config()
        .resolve()
        .map_err(|e| failure_of(&e))?;
    print!("{}", table(global, &settings).map_err(|e| failure_of(&e))?);
    Ok(())
}
