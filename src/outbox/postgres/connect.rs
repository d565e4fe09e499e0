//! Reaching the database: the URL read once (TLS mode and CA file taken out of it, the rest
//! given to the client), how messages name the database (never the password), connections
//! with the client's deadline, and the reasons PostgreSQL gives.

use std::collections::HashMap;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::Error;
use crate::http::network::Network;

/// How the connection is encrypted (`sslmode` in the URL, as libpq names them).
#[derive(Clone)]
enum Tls {
    Off,
    /// TLS, verified as the service's connections are (the chain and the host name), with
    /// the CA file's roots or the built-in ones. `require` and `verify-ca` verify as fully as
    /// `verify-full`: an unverified server is never accepted.
    Verified(MakeRustlsConnect),
}

/// Where a store's database is and how to reach it.
#[derive(Clone)]
pub(super) struct Target {
    config: postgres::Config,
    tls: Tls,
    /// `outbox database postgresql://user@host:port/db (queue q)`.
    pub(super) describe: String,
    timeout: Duration,
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query: the client reads the others.
fn split_query(url: &str) -> (String, HashMap<String, String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), HashMap::new());
    };
    let mut ours = HashMap::new();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "sslmode" || key == "sslrootcert" {
            ours.insert(key.to_string(), percent_decode(value));
        } else {
            rest.push(pair);
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, ours)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL without its user information, for messages: `postgresql://host:port/db`, with
/// the user but never the password.
fn shown(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) if h.contains(':') => format!("[{h}]"),
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("postgresql://{user}{host}:{port}/{db}")
}

impl Target {
    /// Reads `url` (`postgres://` or `postgresql://`); calls end within `timeout`.
    pub(super) fn parse(url: &str, queue: &str, timeout: Duration) -> Result<Target, Error> {
        let (rest, ours) = split_query(url);
        let bad = |what: String| {
            // The URL may hold a password: the message names the rule, not the URL.
            Error::InvalidConfig(format!("outbox database URL: {what}"))
        };
        let mut config: postgres::Config = rest.parse().map_err(|e: postgres::Error| {
            bad(format!(
                "not a PostgreSQL URL postgresql://user[:password]@host[:port]/database ({e})"
            ))
        })?;
        // As libpq does: a URL without a password takes `PGPASSWORD`, so the password need
        // not be in a command line (which other users of the machine can read).
        if config.get_password().is_none() {
            if let Some(password) = std::env::var_os("PGPASSWORD") {
                config.password(password.as_encoded_bytes());
            }
        }
        let describe = format!("outbox database {} (queue {queue})", shown(&config));
        let mode = ours.get("sslmode").map(String::as_str).unwrap_or("prefer");
        let tls = match mode {
            "disable" => Tls::Off,
            "prefer" | "require" | "verify-ca" | "verify-full" => {
                let roots = match ours.get("sslrootcert") {
                    Some(file) => Some(Network::ca_bundle(
                        std::path::Path::new(file),
                        "outbox database sslrootcert",
                    )?),
                    None => None,
                };
                let network = Network {
                    root_certs: roots,
                    ..Network::default()
                };
                let rustls = network.rustls_config().map_err(|e| {
                    Error::InvalidConfig(format!("{describe}: cannot set up TLS: {e}"))
                })?;
                Tls::Verified(MakeRustlsConnect::new((*rustls).clone()))
            }
            other => {
                return Err(bad(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        };
        config.ssl_mode(match (&tls, mode) {
            (Tls::Off, _) => SslMode::Disable,
            (_, "prefer") => SslMode::Prefer,
            _ => SslMode::Require,
        });
        config.connect_timeout(timeout);
        config.tcp_user_timeout(timeout);
        if config.get_application_name().is_none() {
            config.application_name("connect-contact outbox");
        }
        Ok(Target {
            config,
            tls,
            describe,
            timeout,
        })
    }

    /// A new session: synchronous commit (an acknowledged step is on the server's disk), a
    /// statement timeout of the client's deadline, and the same bound on a transaction left
    /// idle — a host stopped (SIGSTOP, a VM paused) inside a step would otherwise hold its row
    /// locks, the queue's pacer among them, and stall every other host.
    pub(super) fn connect(&self) -> Result<Client, Error> {
        let mut client = match &self.tls {
            Tls::Off => self.config.connect(NoTls),
            Tls::Verified(tls) => self.config.connect(tls.clone()),
        }
        .map_err(|e| self.failure(&e))?;
        client
            .batch_execute(&format!(
                "SET synchronous_commit = on; SET statement_timeout = {ms}; \
                 SET idle_in_transaction_session_timeout = {ms}",
                ms = self.timeout.as_millis().max(1)
            ))
            .map_err(|e| self.failure(&e))?;
        Ok(client)
    }

    /// CONNECT_STATUS_STORAGE naming the database and PostgreSQL's reason.
    pub(super) fn failure(&self, e: &postgres::Error) -> Error {
        let reason = match e.as_db_error() {
            Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
            None => {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    let more = s.to_string();
                    if !text.contains(&more) {
                        text = format!("{text}: {more}");
                    }
                    source = s.source();
                }
                text
            }
        };
        self.refused(&reason)
    }

    pub(super) fn refused(&self, reason: &str) -> Error {
        Error::Storage(format!("{}: {reason}", self.describe))
    }
}

/// One session and the statements prepared on it; reconnected when it broke.
pub(super) struct Session {
    pub(super) client: Option<Client>,
    pub(super) statements: HashMap<&'static str, Statement>,
}

impl Session {
    pub(super) fn new(client: Option<Client>) -> Session {
        Session {
            client,
            statements: HashMap::new(),
        }
    }

    /// The session's client, connecting again when there is none or the server closed it.
    pub(super) fn client(&mut self, target: &Target) -> Result<&mut Client, Error> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.statements.clear();
            self.client = Some(target.connect()?);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Forgets a session the server closed, so the next call connects again.
    pub(super) fn check(&mut self) {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
            self.statements.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_shown_without_its_password_and_tls_settings_are_ours() {
        let t = Target::parse(
            "postgresql://app:s3cret-pass@db.example:6432/fleet?sslmode=disable&connect_timeout=3",
            "q1",
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(
            t.describe,
            "outbox database postgresql://app@db.example:6432/fleet (queue q1)"
        );
        assert!(matches!(t.tls, Tls::Off));
        let e = Target::parse(
            "postgresql://app:s3cret-pass@h/db?sslmode=maybe",
            "q",
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(e.message().contains("sslmode \"maybe\""), "{e:?}");
        assert!(!e.message().contains("s3cret"), "{e:?}");
        let e = Target::parse(
            "postgresql://app:s3cret-pass@h/db?nonsense=1",
            "q",
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(!e.message().contains("s3cret"), "{e:?}");
        assert_eq!(e.status(), crate::error::Status::InvalidConfig);
        assert_eq!(percent_decode("%2Ftmp%2fca.pem"), "/tmp/ca.pem");
    }
}
