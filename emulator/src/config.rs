//! The emulator's settings, and the command line that sets them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::faults::Faults;
use crate::quota::Quota;

/// The access key the emulator accepts when none is configured.
pub const DEFAULT_ACCESS_KEY_ID: &str = "AKIDCONNECTEMULATOR";
/// The secret that goes with [`DEFAULT_ACCESS_KEY_ID`].
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "connect-emulator-secret";
/// The region requests must be signed for when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Where the binary listens when `--listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8977";

/// One accepted identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// When set, requests must carry exactly this `X-Amz-Security-Token`; when unset, none.
    pub session_token: Option<String>,
}

impl Credential {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Credential {
        Credential {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    pub fn with_session_token(mut self, token: impl Into<String>) -> Credential {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for Credential {
    // Secrets never reach logs or panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// Everything [`crate::Emulator::start`] needs.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The region requests must be signed for.
    pub region: String,
    /// The accepted identities.
    pub credentials: Vec<Credential>,
    /// A JSON file of instances and contacts to start with (see docs/emulator.md, "Seed file and state file").
    pub seed_file: Option<PathBuf>,
    /// Create unknown instances and contacts on their first UpdateContact instead of answering 404.
    pub auto_create: bool,
    /// Keep the store in this SQLite file (created from the seed if missing); each change is
    /// on disk before it is acknowledged. A JSON state file of an earlier version is converted.
    pub state_file: Option<PathBuf>,
    /// Faults injected from the start.
    pub faults: Faults,
    /// Who may call what on which contact (see `policy`); `None` allows every valid signer.
    pub policy_file: Option<PathBuf>,
    /// The service's request quota, shared by every API; `None` (the default) for none.
    pub quota: Option<Quota>,
    /// One line per request on stderr.
    pub log: bool,
}

impl Default for EmulatorConfig {
    /// 127.0.0.1 on a free port, the default credentials and region, an empty store.
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: DEFAULT_REGION.to_string(),
            credentials: vec![Credential::new(
                DEFAULT_ACCESS_KEY_ID,
                DEFAULT_SECRET_ACCESS_KEY,
            )],
            seed_file: None,
            auto_create: false,
            state_file: None,
            faults: Faults::default(),
            policy_file: None,
            quota: None,
            log: true,
        }
    }
}

pub const USAGE: &str = "\
Usage: connect-emulator [OPTIONS]

A local Amazon Connect endpoint for UpdateContact and DescribeContact.

Options:
  --listen ADDR             address to listen on [default: 127.0.0.1:8977]; port 0 picks a free one
  --region REGION           region requests must be signed for [default: us-east-1]
  --access-key-id KEY       accepted access key [default: AKIDCONNECTEMULATOR]
  --secret-access-key KEY   its secret [default: connect-emulator-secret]
  --session-token TOKEN     require this X-Amz-Security-Token
  --credential KEY:SECRET[:TOKEN]
                            accept this identity too (repeatable)
  --policy FILE             allow only what FILE's statements allow (docs/emulator.md: Permissions)
  --quota                   enforce the service's quota: 2 calls/s, burst 5, shared by all APIs
  --quota-rps N             quota rate (implies --quota)
  --quota-burst N           quota burst (implies --quota)
  --seed FILE               instances and contacts to start with (JSON)
  --auto-create             create unknown instances and contacts on their first update
  --state FILE              keep the store in FILE (SQLite), each change on disk before its answer
  --throttle-rps N          per-instance request rate above which requests get 429 ThrottlingException
                            (a fault; --quota is the service's own limit)
  --error-rate F            fraction (0..1) of requests answered with --error-code or --error-status
  --error-status N          400, 403, 404, 409, 429, 500 or 503 [default: 500]
  --error-code CODE         one of UpdateContact's modeled errors (e.g. ConflictException,
                            AccessDeniedException) or ServiceUnavailableException
  --fault-sequence LIST     comma-separated answers consumed in order, e.g.
                            500,ConflictException,drop,200
  --fault-instance ID       faults apply only to requests for this instance
  --fault-contact ID        faults apply only to requests for this contact
  --latency-ms N            delay every API response by N milliseconds
  --drop-rate F             fraction (0..1) of requests whose connection is closed without a response
  --outage-seconds N        an outage: every API request answers 503 for N seconds from start, then recovers
  --quiet                   no per-request log lines
  -h, --help                print this help
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<EmulatorConfig>),
    Help,
}

/// Reads the binary's arguments (without the program name).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut config = EmulatorConfig {
        listen: DEFAULT_LISTEN
            .parse()
            .map_err(|e| format!("default listen address: {e}"))?,
        ..EmulatorConfig::default()
    };
    let mut access_key = DEFAULT_ACCESS_KEY_ID.to_string();
    let mut secret = DEFAULT_SECRET_ACCESS_KEY.to_string();
    let mut token = None;
    let mut extra = Vec::new();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--listen" => {
                let v = value()?;
                config.listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v}: {e} (expected e.g. 127.0.0.1:8977)"))?;
            }
            "--region" => config.region = value()?,
            "--access-key-id" => access_key = value()?,
            "--secret-access-key" => secret = value()?,
            "--session-token" => token = Some(value()?),
            "--credential" => {
                let v = value()?;
                let mut parts = v.splitn(3, ':');
                let (Some(key), Some(secret)) = (parts.next(), parts.next()) else {
                    return Err("--credential: expected KEY:SECRET or KEY:SECRET:TOKEN".into());
                };
                if key.is_empty() || secret.is_empty() {
                    return Err("--credential: KEY and SECRET must not be empty".into());
                }
                let mut credential = Credential::new(key, secret);
                credential.session_token = parts.next().map(str::to_string);
                extra.push(credential);
            }
            "--policy" => config.policy_file = Some(PathBuf::from(value()?)),
            "--quota" => {
                config.quota.get_or_insert_with(Quota::default);
            }
            "--quota-rps" => {
                config.quota.get_or_insert_with(Quota::default).rps = number(&flag, &value()?)?
            }
            "--quota-burst" => {
                config.quota.get_or_insert_with(Quota::default).burst = number(&flag, &value()?)?
            }
            "--seed" => config.seed_file = Some(PathBuf::from(value()?)),
            "--state" => config.state_file = Some(PathBuf::from(value()?)),
            "--auto-create" => config.auto_create = true,
            "--quiet" => config.log = false,
            "--throttle-rps" => config.faults.throttle_rps = Some(number(&flag, &value()?)?),
            "--error-rate" => config.faults.error_rate = number(&flag, &value()?)?,
            "--error-status" => config.faults.error_status = number(&flag, &value()?)?,
            "--error-code" => {
                let v = value()?;
                match v.parse()? {
                    crate::faults::FaultStep::Error(code) => config.faults.error_code = Some(code),
                    _ => return Err(format!("--error-code {v}: expected an error code")),
                }
            }
            "--fault-instance" => config.faults.instance_id = Some(value()?),
            "--fault-contact" => config.faults.contact_id = Some(value()?),
            "--latency-ms" => config.faults.latency_ms = number(&flag, &value()?)?,
            "--drop-rate" => config.faults.drop_rate = number(&flag, &value()?)?,
            "--outage-seconds" => config.faults.outage_seconds = number(&flag, &value()?)?,
            "--fault-sequence" => {
                config.faults.sequence = value()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--fault-sequence: {e}"))?;
            }
            other => return Err(format!("unknown argument {other}; see --help")),
        }
    }
    config.credentials = vec![Credential {
        access_key_id: access_key,
        secret_access_key: secret,
        session_token: token,
    }];
    config.credentials.extend(extra);
    config.faults.check().map_err(|e| format!("faults: {e}"))?;
    if let Some(quota) = &config.quota {
        quota.check().map_err(|e| format!("--quota: {e}"))?;
    }
    Ok(Command::Run(Box::new(config)))
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    v.parse().map_err(|e| format!("{flag} {v}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultStep;

    fn run(args: &[&str]) -> Result<EmulatorConfig, String> {
        match parse_args(args.iter().map(|s| s.to_string()))? {
            Command::Run(c) => Ok(*c),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let c = run(&[]).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            c.credentials,
            vec![Credential::new(
                DEFAULT_ACCESS_KEY_ID,
                DEFAULT_SECRET_ACCESS_KEY
            )]
        );
        let c = run(&[
            "--listen",
            "127.0.0.1:0",
            "--region",
            "eu-west-2",
            "--access-key-id",
            "AK",
            "--secret-access-key",
            "SK",
            "--session-token",
            "T",
            "--auto-create",
            "--fault-sequence",
            "500, 503,drop,200",
            "--throttle-rps",
            "2",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.region, "eu-west-2");
        assert_eq!(
            c.credentials,
            vec![Credential::new("AK", "SK").with_session_token("T")]
        );
        assert!(c.auto_create);
        assert_eq!(
            c.faults.sequence,
            [
                FaultStep::Status(500),
                FaultStep::Status(503),
                FaultStep::Drop,
                FaultStep::Pass
            ]
        );
        assert_eq!(c.faults.throttle_rps, Some(2.0));
    }

    #[test]
    fn access_quota_and_error_flags() {
        let c = run(&[
            "--credential",
            "AK2:SK2",
            "--credential",
            "ASIA:SK3:TOK",
            "--policy",
            "p.json",
            "--quota-burst",
            "7",
            "--error-code",
            "conflictexception",
            "--fault-instance",
            "i",
            "--fault-contact",
            "c",
        ])
        .unwrap();
        assert_eq!(c.credentials.len(), 3);
        assert_eq!(c.credentials[1], Credential::new("AK2", "SK2"));
        assert_eq!(
            c.credentials[2],
            Credential::new("ASIA", "SK3").with_session_token("TOK")
        );
        assert_eq!(
            c.policy_file.as_deref(),
            Some(std::path::Path::new("p.json"))
        );
        assert_eq!(
            c.quota,
            Some(Quota {
                rps: 2.0,
                burst: 7.0
            })
        );
        assert_eq!(c.faults.error_code, Some("ConflictException"));
        assert_eq!(
            (
                c.faults.instance_id.as_deref(),
                c.faults.contact_id.as_deref()
            ),
            (Some("i"), Some("c"))
        );
        assert_eq!(run(&["--quota"]).unwrap().quota, Some(Quota::default()));
        assert_eq!(run(&[]).unwrap().quota, None, "off by default");
        assert!(run(&["--quota-rps", "0"]).unwrap_err().contains("--quota"));
        assert!(run(&["--credential", "AK"])
            .unwrap_err()
            .contains("--credential"));
        assert!(run(&["--error-code", "Teapot"])
            .unwrap_err()
            .contains("Teapot"));
    }

    #[test]
    fn bad_flags_are_named() {
        assert!(run(&["--listen"])
            .unwrap_err()
            .contains("--listen needs a value"));
        assert!(run(&["--listen", "nowhere"])
            .unwrap_err()
            .contains("--listen nowhere"));
        assert!(run(&["--error-rate", "2"])
            .unwrap_err()
            .contains("error_rate"));
        assert!(run(&["--fault-sequence", "418"])
            .unwrap_err()
            .contains("418"));
        assert!(run(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert_eq!(run(&["--help"]).unwrap_err(), "help");
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!(
            "{:?}",
            Credential::new("AK", "very-secret").with_session_token("tok-secret")
        );
        assert!(
            !shown.contains("very-secret") && !shown.contains("tok-secret"),
            "{shown}"
        );
    }
}
