//! The client: validates, signs, sends and retries one UpdateContact per call, safely shared
//! by any number of threads.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_smithy_types::date_time::{DateTime, Format};

use crate::config::{ClientConfig, Settings};
use crate::credentials::Credentials;
use crate::error::{Error, ResponseMetadata, ServiceError};
use crate::http::engine_for;
use crate::http::{Engine, HttpResponse, Limits, Request};
use crate::log::{emit, enabled, LogLevel};
use crate::model::validate::{validate, Checker};
use crate::model::UpdateContactRequest;
use crate::protocol::response::UpdateContactOutput;
use crate::protocol::rest_json::{parse_error, update_contact_path};
use crate::protocol::signing::Signer;
use crate::redact::{self, Redactor};
use crate::retry::adaptive::AdaptiveLimiter;
use crate::retry::{random_unit, FailureKind, RetryMode, RetryQuota};

/// Skew beyond which the signing clock is corrected (the service allows 5 minutes).
const SKEW_THRESHOLD_MS: i64 = 4 * 60 * 1000;
/// Error codes that can mean "your clock is off".
const SKEW_CODES: &[&str] = &[
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "RequestTimeTooSkewed",
    "AccessDeniedException",
];

/// An Amazon Connect client for UpdateContact. Cheap to share: `&Client` is `Sync`;
/// connections, the retry quota, the adaptive rate limiter and the clock correction are
/// shared by every thread using it.
pub struct Client {
    settings: Settings,
    signer: Signer,
    /// The HTTP engine for the endpoint, chosen when the client was built.
    engine: Box<dyn Engine>,
    quota: RetryQuota,
    limiter: Option<AdaptiveLimiter>,
    /// Milliseconds to add to the local clock when signing (clock-skew correction).
    clock_offset_ms: AtomicI64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .field("retry_quota", &self.quota.available())
            .field("clock_offset_ms", &self.clock_offset())
            .finish_non_exhaustive()
    }
}

/// Why a failed call stopped retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    NotRetryable,
    MaxAttempts,
    QuotaEmpty,
    Deadline,
}

impl Stop {
    fn describe(self, max_attempts: u32) -> String {
        match self {
            Stop::NotRetryable => "not retryable".into(),
            Stop::MaxAttempts => format!("max_attempts {max_attempts} reached"),
            Stop::QuotaEmpty => {
                "the client's retry quota is empty (too many recent failures)".into()
            }
            Stop::Deadline => "the call deadline would pass before another attempt".into(),
        }
    }
}

/// One attempt's result, with what the retry decision needs from the response.
struct Attempt {
    result: Result<UpdateContactOutput, Error>,
    response: Option<HttpResponse>,
    sent: SystemTime,
    received: SystemTime,
}

impl Client {
    /// Builds a client, resolving anything `config` leaves out from the environment.
    pub fn new(config: &ClientConfig) -> Result<Client, Error> {
        Ok(Client::with_settings(config.resolve()?))
    }

    /// Builds a client from the config JSON (see [`ClientConfig::from_json`]).
    pub fn from_json(config_json: &str) -> Result<Client, Error> {
        Client::new(&ClientConfig::from_json(config_json)?)
    }

    /// Builds a client from fully resolved settings.
    pub fn with_settings(settings: Settings) -> Client {
        Client {
            signer: Signer::new(&settings.region),
            engine: engine_for(
                &settings.network,
                settings.connect_timeout,
                &settings.endpoint.url_for(""),
            ),
            quota: RetryQuota::default(),
            limiter: (settings.retry.mode == RetryMode::Adaptive).then(AdaptiveLimiter::default),
            clock_offset_ms: AtomicI64::new(0),
            settings,
        }
    }

    /// The settings this client uses (credentials redacted in `Debug`).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Tokens left in the retry quota (500 when nothing has failed lately).
    pub fn retry_quota(&self) -> u32 {
        self.quota.available()
    }

    /// The correction applied to the local clock when signing, in milliseconds.
    pub fn clock_offset(&self) -> i64 {
        self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// Sets the signing clock correction, e.g. to restore one learned earlier (or, in tests,
    /// to sign as a machine whose clock is off would).
    pub fn set_clock_offset(&self, milliseconds: i64) {
        self.clock_offset_ms.store(milliseconds, Ordering::Relaxed);
    }

    /// The checks [`Client::update_contact`] makes before sending (the outbox's enqueue
    /// makes the same ones).
    pub(crate) fn check(&self, request: &UpdateContactRequest) -> Result<(), Error> {
        validate(
            request,
            Checker {
                model_limits: self.settings.client_validation,
                strict_enums: self.settings.strict_enums,
            },
        )
    }

    /// A client like this one that makes a single attempt per call and has no adaptive
    /// limiter: the outbox paces and retries itself.
    pub(crate) fn single_attempt(&self) -> Client {
        let mut settings = self.settings.clone();
        settings.retry.max_attempts = 1;
        settings.retry.mode = RetryMode::Standard;
        let client = Client::with_settings(settings);
        client.set_clock_offset(self.clock_offset());
        client
    }

    /// Adds or updates the contact's information. Validates first (nothing is sent when the
    /// request breaks a rule), then sends, retrying throttling and transient failures while
    /// `max_attempts`, the retry quota and the call deadline allow.
    pub fn update_contact(
        &self,
        request: &UpdateContactRequest,
    ) -> Result<UpdateContactOutput, Error> {
        self.check(request)?;
        let path = update_contact_path(
            &self.settings.endpoint.base_path,
            &request.instance_id,
            &request.contact_id,
        );
        let url = self.settings.endpoint.url_for(&path);
        let body = request.to_body();
        let started = Instant::now();
        let deadline = started + self.settings.timeout;
        let policy = self.settings.retry;
        let mut attempt = 1;
        let mut last_retry_cost = None;
        let mut skew_corrected = false;
        loop {
            if let Some(limiter) = &self.limiter {
                let wait = limiter.acquire(limiter.now());
                if Instant::now() + wait >= deadline {
                    return Err(self.give_up(
                        deadline_error(self.settings.timeout),
                        attempt - 1,
                        Stop::Deadline,
                    ));
                }
                std::thread::sleep(wait);
            }
            let attempt_started = Instant::now();
            let Attempt {
                result,
                response,
                sent,
                received,
            } = self.attempt(&url, &body, deadline, request);
            let latency = attempt_started.elapsed();
            let kind = result.as_ref().err().map(FailureKind::of);
            if let Some(limiter) = &self.limiter {
                limiter.on_response(limiter.now(), kind == Some(FailureKind::Throttling));
            }
            let mut error = match result {
                Ok(mut output) => {
                    output.metadata.retry_attempts = attempt - 1;
                    output.metadata.max_attempts_reached = attempt >= policy.max_attempts;
                    self.quota.on_success(last_retry_cost);
                    self.log_attempt(&path, attempt, latency, &Ok(&output), "done");
                    return Ok(output);
                }
                Err(e) => e,
            };
            if let Some(m) = error.metadata_mut() {
                m.retry_attempts = attempt - 1;
                // As boto3's standard and adaptive modes: set whenever the limit is reached.
                m.max_attempts_reached = attempt >= policy.max_attempts;
                m.notes_mut().url = Some(url.clone());
            }
            // A skew-coded error with a server Date far from ours: fix the clock and retry once,
            // outside the retry budget (the request never reached the service's logic).
            if !skew_corrected && self.correct_clock_skew(&error, response.as_ref(), sent, received)
            {
                skew_corrected = true;
                self.log_attempt(
                    &path,
                    attempt,
                    latency,
                    &Err(&error),
                    "clock skew corrected; retrying at once",
                );
                attempt += 1;
                continue;
            }
            let kind = kind.unwrap_or(FailureKind::Final);
            let decision = if kind == FailureKind::Final {
                Err(Stop::NotRetryable)
            } else if attempt >= policy.max_attempts {
                Err(Stop::MaxAttempts)
            } else {
                let retry_after = response.as_ref().and_then(|r| r.retry_after.as_deref());
                let delay = policy.delay(kind, attempt, random_unit(), retry_after);
                let cost = policy.retry_cost(kind);
                if Instant::now() + delay >= deadline {
                    Err(Stop::Deadline)
                } else if !self.quota.try_acquire(cost) {
                    Err(Stop::QuotaEmpty)
                } else {
                    Ok((delay, cost))
                }
            };
            match decision {
                Ok((delay, cost)) => {
                    if enabled(LogLevel::Debug) {
                        let note = format!(
                            "retry {attempt} in {} ms ({kind:?}; quota {} left)",
                            delay.as_millis(),
                            self.quota.available()
                        );
                        self.log_attempt(&path, attempt, latency, &Err(&error), &note);
                    }
                    last_retry_cost = Some(cost);
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                Err(stop) => {
                    if enabled(LogLevel::Debug) {
                        self.log_attempt(
                            &path,
                            attempt,
                            latency,
                            &Err(&error),
                            &format!("stopping: {}", stop.describe(policy.max_attempts)),
                        );
                    }
                    // Say how the call ended when retries happened or the library declined
                    // one; a first-try final error (or max_attempts 1) speaks for itself.
                    if attempt > 1 || matches!(stop, Stop::QuotaEmpty | Stop::Deadline) {
                        error = self.give_up(error, attempt, stop);
                    }
                    return Err(error);
                }
            }
        }
    }

    fn give_up(&self, mut error: Error, attempts: u32, stop: Stop) -> Error {
        let plural = if attempts == 1 { "" } else { "s" };
        if let (Some(m), Stop::QuotaEmpty) = (error.metadata_mut(), stop) {
            m.retry_quota_reached = true;
        }
        error.set_stop_reason(format!(
            "gave up after {attempts} attempt{plural}: {}",
            stop.describe(self.settings.retry.max_attempts)
        ));
        emit(
            LogLevel::Info,
            format_args!(
                "UpdateContact failed: {} {}",
                error.status().name(),
                error.code()
            ),
        );
        error
    }

    fn attempt(
        &self,
        url: &str,
        body: &[u8],
        deadline: Instant,
        request: &UpdateContactRequest,
    ) -> Attempt {
        let sent = SystemTime::now();
        let mut response = None;
        let result = self.send(url, body, deadline, &mut response, request);
        Attempt {
            result,
            response,
            sent,
            received: SystemTime::now(),
        }
    }

    fn send(
        &self,
        url: &str,
        body: &[u8],
        deadline: Instant,
        response_out: &mut Option<HttpResponse>,
        request: &UpdateContactRequest,
    ) -> Result<UpdateContactOutput, Error> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(deadline_error(self.settings.timeout));
        }
        // Everything from here on may carry text from an endpoint (a provider's or the
        // service's): scrubbed before it is logged or returned. The request's sensitive values
        // are gathered only on failure (a success carries no message).
        let credentials = match self.settings.credentials.provide_by(deadline) {
            Ok(c) => c,
            Err(mut e) => {
                let sensitive = request.sensitive_values();
                Redactor::new([], sensitive.iter().map(String::as_str)).error(&mut e);
                return Err(e);
            }
        };
        let mut outcome = self.exchange(url, body, deadline, &credentials, response_out);
        match &mut outcome {
            Ok(output) => redact::request_id(&mut output.metadata, credentials.secrets()),
            Err(e) => {
                let sensitive = request.sensitive_values();
                Redactor::new(credentials.secrets(), sensitive.iter().map(String::as_str)).error(e);
            }
        }
        outcome
    }

    /// One signed request and its answer.
    fn exchange(
        &self,
        url: &str,
        body: &[u8],
        deadline: Instant,
        credentials: &Credentials,
        response_out: &mut Option<HttpResponse>,
    ) -> Result<UpdateContactOutput, Error> {
        const CONTENT_TYPE: (&str, &str) = ("content-type", "application/json");
        // What the credential lookup left of the deadline.
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(deadline_error(self.settings.timeout));
        }
        let signed = self.signer.sign(
            credentials,
            "POST",
            url,
            &[CONTENT_TYPE],
            body,
            self.signing_time(),
        )?;
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(signed.len() + 1);
        headers.push(CONTENT_TYPE);
        headers.extend(signed.iter().map(|(k, v)| (*k, v.as_str())));
        let request = Request {
            method: "POST",
            url,
            headers: &headers,
            body: Some(body),
        };
        let limits = Limits::total(remaining.min(self.settings.attempt_timeout));
        let response = response_out.insert(self.engine.send(&request, limits)?);
        if (200..300).contains(&response.status) {
            return Ok(UpdateContactOutput {
                metadata: response.take_metadata(),
            });
        }
        let document = parse_error(
            response.status,
            response.error_type.as_deref(),
            &response.body,
        );
        let mut metadata = response.take_metadata();
        if document.generic {
            // Not the service's answer (a proxy's or load balancer's): no request id, as botocore.
            metadata.request_id = None;
        }
        Err(Error::from(ServiceError {
            code: document.code,
            message: document.message,
            metadata,
            fields: document.fields.map(Box::new),
        }))
    }

    fn signing_time(&self) -> SystemTime {
        let offset = self.clock_offset();
        let magnitude = Duration::from_millis(offset.unsigned_abs());
        if offset >= 0 {
            SystemTime::now() + magnitude
        } else {
            SystemTime::now() - magnitude
        }
    }

    /// Skew = server `Date` − midpoint(sent, received). Acts only on a skew-coded error, a
    /// response not served from a cache (no `Age`), and a skew the current correction leaves
    /// above 4 minutes. Returns true when the correction changed.
    fn correct_clock_skew(
        &self,
        error: &Error,
        response: Option<&HttpResponse>,
        sent: SystemTime,
        received: SystemTime,
    ) -> bool {
        if !self.settings.clock_skew_correction || !SKEW_CODES.contains(&error.code()) {
            return false;
        }
        let Some(response) = response.filter(|r| !r.cached) else {
            return false;
        };
        let Some(server) = response
            .date
            .as_deref()
            .and_then(|d| DateTime::from_str(d, Format::HttpDate).ok())
        else {
            return false;
        };
        let Ok(server) = SystemTime::try_from(server) else {
            return false;
        };
        let midpoint = sent + received.duration_since(sent).unwrap_or_default() / 2;
        let skew_ms = match server.duration_since(midpoint) {
            Ok(ahead) => ahead.as_millis() as i64,
            Err(behind) => -(behind.duration().as_millis() as i64),
        };
        if (skew_ms - self.clock_offset()).abs() <= SKEW_THRESHOLD_MS {
            return false;
        }
        self.set_clock_offset(skew_ms);
        emit(
            LogLevel::Warn,
            format_args!("clock skew of {skew_ms} ms detected; signing with the server's time"),
        );
        true
    }

    fn log_attempt(
        &self,
        path: &str,
        attempt: u32,
        latency: Duration,
        outcome: &Result<&UpdateContactOutput, &Error>,
        decision: &str,
    ) {
        if !enabled(LogLevel::Debug) {
            return;
        }
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let max = self.settings.retry.max_attempts;
        match outcome {
            Ok(output) => emit(
                LogLevel::Debug,
                format_args!(
                    "POST {path} attempt {attempt}/{max}: HTTP {} request id {} in {latency_ms:.1} ms; {decision}",
                    output.metadata.http_status.unwrap_or_default(),
                    output.metadata.request_id.as_deref().unwrap_or("-"),
                ),
            ),
            Err(error) => {
                let metadata = error.metadata().cloned().unwrap_or_default();
                emit(
                    LogLevel::Debug,
                    format_args!(
                        "POST {path} attempt {attempt}/{max}: {} {} (HTTP {}, request id {}) in {latency_ms:.1} ms; {decision}",
                        error.status().name(),
                        error.code(),
                        metadata.http_status.map_or("-".into(), |s| s.to_string()),
                        metadata.request_id.as_deref().unwrap_or("-"),
                    ),
                )
            }
        }
    }
}

fn deadline_error(timeout: Duration) -> Error {
    Error::Timeout {
        message: format!("the call deadline of {} ms passed", timeout.as_millis()),
        metadata: ResponseMetadata::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Client>();
    }
}
