//! Test helpers: start an emulator on 127.0.0.1:0, and send it requests signed in test code
//! with aws-sigv4 (the way the SDKs sign: path double-encoded) over ureq.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use connect_emulator::{
    Emulator, EmulatorConfig, DEFAULT_ACCESS_KEY_ID, DEFAULT_REGION, DEFAULT_SECRET_ACCESS_KEY,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

// The clean environment every subprocess starts from: the library's tests use the same file.
#[path = "../../../tests/support/env.rs"]
mod env;
#[allow(unused_imports)]
pub use env::command;

/// Starts the `connect-emulator` binary on 127.0.0.1:0 with `args` (plus `--quiet`) from a
/// clean environment, and returns it with the URL from its first line
/// (`listening on http://HOST:PORT`).
pub fn spawn_binary(args: &[&str]) -> (std::process::Child, String) {
    // Cargo names the binary for the emulator's tests; the bench example shares this file.
    let Some(exe) = option_env!("CARGO_BIN_EXE_connect-emulator") else {
        panic!("spawn_binary serves the emulator's tests only (cargo names the binary for them)");
    };
    connect_test_support::spawn_emulator(
        command(exe)
            .args(["--listen", "127.0.0.1:0", "--quiet"])
            .args(args)
            .stderr(std::process::Stdio::null()),
    )
}

/// URI label encoding: everything but `A-Z a-z 0-9 - . _ ~`.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An emulator with request logging off (the concurrency test sends thousands).
pub fn start(configure: impl FnOnce(&mut EmulatorConfig)) -> Emulator {
    let mut config = EmulatorConfig {
        log: false,
        ..EmulatorConfig::default()
    };
    configure(&mut config);
    Emulator::start(config).expect("emulator starts")
}

/// Who signs, for which region, at what time.
#[derive(Clone)]
pub struct Signer {
    pub access_key: String,
    pub secret: String,
    pub token: Option<String>,
    pub region: String,
    pub time: Option<SystemTime>,
}

impl Default for Signer {
    fn default() -> Self {
        Signer {
            access_key: DEFAULT_ACCESS_KEY_ID.into(),
            secret: DEFAULT_SECRET_ACCESS_KEY.into(),
            token: None,
            region: DEFAULT_REGION.into(),
            time: None,
        }
    }
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub error_type: Option<String>,
    pub request_id: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts an error answer: status and `x-amzn-ErrorType`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_type.as_deref()),
            (status, Some(code)),
            "{self:?}"
        );
    }

    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(20)))
        .build();
    ureq::Agent::new_with_config(config)
}

pub fn contact_path(instance: &str, contact: &str) -> String {
    format!(
        "/contacts/{}/{}",
        utf8_percent_encode(instance, LABEL),
        utf8_percent_encode(contact, LABEL)
    )
}

/// Sends a signed request; `Err` when the connection failed (e.g. was dropped).
pub fn send(
    agent: &ureq::Agent,
    emulator: &Emulator,
    signer: &Signer,
    method: &str,
    path: &str,
    body: &str,
) -> Result<Answer, ureq::Error> {
    send_to(
        agent,
        &emulator.addr().to_string(),
        signer,
        method,
        path,
        body,
    )
}

/// [`send`] to an emulator at `host` (`127.0.0.1:PORT`), e.g. one running as a process.
pub fn send_to(
    agent: &ureq::Agent,
    host: &str,
    signer: &Signer,
    method: &str,
    path: &str,
    body: &str,
) -> Result<Answer, ureq::Error> {
    let host = host.to_string();
    let mut headers = vec![("host".to_string(), host.clone())];
    if method == "POST" {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let identity: Identity = Credentials::new(
        &signer.access_key,
        &signer.secret,
        signer.token.clone(),
        None,
        "test",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(&signer.region)
        .name("connect")
        .time(signer.time.unwrap_or_else(SystemTime::now))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        path.to_string(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{host}{path}"));
    for (n, v) in headers.iter().filter(|(n, _)| n != "host") {
        request = request.header(n, v);
    }
    for (n, v) in instructions.headers() {
        request = request.header(n, v);
    }
    let mut response = agent.run(request.body(body.as_bytes().to_vec()).unwrap())?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (status, error_type, request_id) = (
        response.status().as_u16(),
        header("x-amzn-ErrorType"),
        header("x-amzn-RequestId"),
    );
    let body = response.body_mut().read_to_string()?;
    Ok(Answer {
        status,
        error_type,
        request_id,
        body,
    })
}

pub fn update(
    emulator: &Emulator,
    signer: &Signer,
    instance: &str,
    contact: &str,
    body: &str,
) -> Answer {
    send(
        &agent(),
        emulator,
        signer,
        "POST",
        &contact_path(instance, contact),
        body,
    )
    .expect("a response")
}

pub fn describe(emulator: &Emulator, instance: &str, contact: &str) -> Answer {
    send(
        &agent(),
        emulator,
        &Signer::default(),
        "GET",
        &contact_path(instance, contact),
        "",
    )
    .expect("a response")
}

/// An unsigned request to the admin API.
pub fn admin(emulator: &Emulator, method: &str, route: &str, body: &str) -> Answer {
    let url = format!("{}/_emulator/{route}", emulator.endpoint_url());
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .body(body.as_bytes().to_vec())
        .unwrap();
    let mut response = agent().run(request).expect("a response");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    Answer {
        status,
        error_type: None,
        request_id: None,
        body,
    }
}
