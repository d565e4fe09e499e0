//! `connect-contact config`: the configuration a call would use and where each value came
//! from, laid out as `aws configure list`. Secrets are never printed: the secret key shows
//! as asterisks only, the session token only as set or not.
//!
//! The library resolves everything and says where each value came from
//! ([`Settings::source`]); this file only lays that out as the AWS CLI does (the CLI's
//! options are config keys: `--region` is `config key "region"`).

use connect_contact::{Error, Settings};

use crate::global::Global;
use crate::update::failure_of;
use crate::Failure;

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

/// The option that sets config key `key`.
fn option_of(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// The AWS CLI's "Type" and "Location" columns for a library source.
fn columns(source: &str) -> (String, String) {
    if let Some(key) = source
        .strip_prefix("config key \"")
        .and_then(|k| k.strip_suffix('"'))
    {
        return ("manual".into(), option_of(key));
    }
    if source.starts_with("config keys ") {
        return ("manual".into(), String::new());
    }
    if source.starts_with("environment variables ") {
        return ("env".into(), String::new());
    }
    let variable = !source.is_empty()
        && source
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if variable {
        return ("env".into(), source.into());
    }
    if source.starts_with("profile ") {
        return ("config-file".into(), source.into());
    }
    if source.starts_with("default") {
        return ("resolved".into(), source.into());
    }
    ("shared-config".into(), source.into())
}

/// The table, from the resolved settings and the sources the library recorded.
pub fn table(settings: &Settings) -> Result<String, Error> {
    let mut out = String::new();
    row(&mut out, "Name", "Value", "Type", "Location");
    row(&mut out, "----", "-----", "----", "--------");
    let source = |name: &str| settings.source(name).unwrap_or("default");
    match source("profile") {
        "default" => row(&mut out, "profile", "<not set>", "None", "None"),
        from => {
            let (kind, location) = columns(from);
            row(&mut out, "profile", settings.profile(), &kind, &location)
        }
    }
    let credentials = settings.credentials()?;
    let (kind, location) = columns(source("access_key_id"));
    row(
        &mut out,
        "access_key",
        &masked_tail(credentials.access_key_id()),
        &kind,
        &location,
    );
    row(&mut out, "secret_key", "****************", &kind, &location);
    if credentials.session_token().is_some() {
        row(&mut out, "token", "<set>", &kind, &location);
    } else {
        row(&mut out, "token", "<not set>", "None", "None");
    }
    let (kind, location) = columns(source("region"));
    row(&mut out, "region", settings.region(), &kind, &location);
    let (kind, location) = columns(source("endpoint_url"));
    row(
        &mut out,
        "endpoint",
        &settings.endpoint_url(),
        &kind,
        &location,
    );
    Ok(out)
}

/// Prints the table, or the AWS CLI's message for what could not be resolved.
pub fn run(global: &Global) -> Result<(), Failure> {
    let settings = global
        .client_config()
        .resolve()
        .map_err(|e| failure_of(&e))?;
    print!("{}", table(&settings).map_err(|e| failure_of(&e))?);
    Ok(())
}
