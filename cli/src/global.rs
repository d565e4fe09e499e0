//! The AWS CLI's global options that apply to UpdateContact, and the client configuration
//! they make.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use connect_contact::{ClientConfig, LogLevel, LogSink};

/// Global options, accepted before or after the command as the AWS CLI accepts them.
#[derive(Args, Debug, Default, Clone)]
pub struct Global {
    /// The region to sign for (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// The shared-config profile (else AWS_PROFILE, else default).
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Send to this URL instead of the region's endpoint (e.g. the emulator's).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Log each attempt (ids, statuses, timings; never secrets or sensitive values) to stderr.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Output format; UpdateContact prints nothing on success, as the AWS CLI does (table
    /// and prometheus: the outbox commands').
    #[arg(long, global = true, value_parser = ["json", "table", "prometheus"], value_name = "FORMAT")]
    pub output: Option<String>,
    /// Seconds one attempt may wait for the response (0: no limit) [default: 5].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub cli_read_timeout: Option<u64>,
    /// Seconds allowed to connect (0: no limit) [default: 2].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub cli_connect_timeout: Option<u64>,
}

/// "No limit" for a timeout of 0, as the AWS CLI means it: one day.
fn seconds(s: u64) -> Duration {
    Duration::from_secs(if s == 0 { 86_400 } else { s })
}

struct Stderr;

impl LogSink for Stderr {
    fn log(&self, level: LogLevel, message: &str) {
        eprintln!("connect-contact {}: {message}", level.name());
    }
}

impl Global {
    /// The client configuration: what the options say, everything else from the
    /// environment and the profile as the library resolves it.
    pub fn client_config(&self) -> ClientConfig {
        if self.debug {
            connect_contact::set_log_sink(LogLevel::Debug, Some(Arc::new(Stderr)));
        }
        let mut config = ClientConfig {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            ..ClientConfig::default()
        };
        if let Some(s) = self.cli_connect_timeout {
            config.connect_timeout = Some(seconds(s));
        }
        if let Some(s) = self.cli_read_timeout {
            let attempt = seconds(s);
            config.attempt_timeout = Some(attempt);
            // The call deadline must leave room for the attempts the read timeout allows.
            config.timeout = Some(
                (attempt * 3 + config.connect_timeout.unwrap_or(Duration::from_secs(2)) * 3)
                    .max(Duration::from_secs(10)),
            );
        }
        config
    }
}
