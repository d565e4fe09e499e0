//! Retry policy (the AWS SDKs' standard and adaptive modes): what is retried, how long to
//! wait, and the per-client retry quota that stops a brownout from becoming a retry storm.
#![forbid(unsafe_code)]

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod adaptive;

use crate::error::Error;

const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// Retry quota: tokens per client, and what a first-try success gives back.
pub const QUOTA_CAPACITY: u32 = 500;
const QUOTA_SUCCESS_INCREMENT: u32 = 1;
/// `x-amz-retry-after` may stretch a delay by at most this much (2026 behaviour).
const RETRY_AFTER_MAX_EXTRA: Duration = Duration::from_secs(5);

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
];
const TRANSIENT_STATUSES: &[u16] = &[500, 502, 503, 504];
/// Codes that mean the credentials need refreshing: not retried within a call (the same
/// credentials would be signed again), but a later call, with refreshed ones, may succeed.
const EXPIRED_CREDENTIAL_CODES: &[&str] = &[
    "ExpiredTokenException",
    "ExpiredToken",
    "RequestExpired",
    "TokenRefreshRequired",
];

/// `retry_mode`: how failures are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryMode {
    /// Backoff with jitter and a retry quota.
    Standard,
    /// Standard, plus a client-side rate limiter that switches on at the first throttle.
    Adaptive,
}

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    Throttling,
    Transient,
    Timeout,
    /// Never retried: modeled 400/403/404/409 errors, validation, configuration.
    Final,
}

impl FailureKind {
    pub fn of(error: &Error) -> FailureKind {
        match error {
            Error::Timeout { .. } => FailureKind::Timeout,
            Error::Transport { .. } => FailureKind::Transient,
            Error::Service(e) if THROTTLING_CODES.contains(&e.code.as_str()) => {
                FailureKind::Throttling
            }
            Error::Service(e)
                if TRANSIENT_CODES.contains(&e.code.as_str())
                    || e.metadata
                        .http_status
                        .is_some_and(|s| TRANSIENT_STATUSES.contains(&s)) =>
            {
                FailureKind::Transient
            }
            _ => FailureKind::Final,
        }
    }
}

/// Whether a later call, minutes on, may succeed where this one failed (the outbox's rule
/// for trying an update again until its max_age): whatever a call retries ([`FailureKind`]
/// other than `Final`), and what a call does not retry but time may mend — missing or
/// expired credentials, and any 5xx. Validation, not found, access denied, conflict and the
/// rest are final.
pub fn retry_later(error: &Error) -> bool {
    if FailureKind::of(error) != FailureKind::Final {
        return true;
    }
    match error {
        Error::NoCredentials(_) | Error::CredentialsProvider(_) => true,
        Error::Service(e) => {
            EXPIRED_CREDENTIAL_CODES.contains(&e.code.as_str())
                || e.metadata.http_status.is_some_and(|s| s >= 500)
        }
        _ => false,
    }
}

/// True when another attempt may succeed.
#[cfg(test)]
pub fn is_retryable(error: &Error) -> bool {
    FailureKind::of(error) != FailureKind::Final
}

/// The numbers of one retry behaviour: the long-standing one, or the 2026 one
/// (`AWS_NEW_RETRIES_2026=true`): short waits for transient errors, throttling priced lower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub mode: RetryMode,
    pub max_attempts: u32,
    pub new_2026: bool,
}

impl RetryPolicy {
    /// Base delay before the first retry.
    pub fn base_delay(&self, kind: FailureKind) -> Duration {
        match (self.new_2026, kind) {
            (true, FailureKind::Throttling) | (false, _) => Duration::from_secs(1),
            (true, _) => Duration::from_millis(50),
        }
    }

    /// Quota tokens a retry of this kind costs.
    pub fn retry_cost(&self, kind: FailureKind) -> u32 {
        match (self.new_2026, kind) {
            (true, FailureKind::Throttling) => 5,
            (true, _) => 14,
            (false, FailureKind::Timeout) => 10,
            (false, _) => 5,
        }
    }

    /// Delay before retry number `retry` (1 for the first): `rand × min(base × 2^(retry−1), 20 s)`;
    /// with the 2026 behaviour a valid `x-amz-retry-after` (milliseconds) is honoured, clamped
    /// to [that delay, that delay + 5 s].
    pub fn delay(
        &self,
        kind: FailureKind,
        retry: u32,
        random_unit: f64,
        retry_after: Option<&str>,
    ) -> Duration {
        let ceiling = self
            .base_delay(kind)
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(MAX_BACKOFF);
        let backoff = ceiling.mul_f64(random_unit.clamp(0.0, 1.0));
        match retry_after
            .and_then(parse_retry_after)
            .filter(|_| self.new_2026)
        {
            Some(asked) => asked.clamp(backoff, backoff + RETRY_AFTER_MAX_EXTRA),
            None => backoff,
        }
    }
}

/// Runs `attempt` (given its number, from 1) until it succeeds or fails for good, while
/// `policy.max_attempts` and `deadline` allow, sleeping the policy's backoff in between.
/// `classify` says what kind of failure an error is (usually [`FailureKind::of`]). Returns the
/// last result and the number of attempts made.
///
/// This is the standard policy the SDKs apply to their credential calls (STS, SSO, SSO OIDC);
/// UpdateContact's own loop (client.rs) uses the same classification and delays and adds the
/// retry quota, the adaptive rate limiter and clock-skew correction.
pub fn retry_call<T>(
    policy: &RetryPolicy,
    deadline: Instant,
    classify: impl Fn(&Error) -> FailureKind,
    mut attempt: impl FnMut(u32) -> Result<T, Error>,
) -> (Result<T, Error>, u32) {
    let mut number = 1;
    loop {
        let result = attempt(number);
        let kind = match &result {
            Ok(_) => return (result, number),
            Err(e) => classify(e),
        };
        if kind == FailureKind::Final || number >= policy.max_attempts {
            return (result, number);
        }
        let delay = policy.delay(kind, number, random_unit(), None);
        if Instant::now() + delay >= deadline {
            return (result, number);
        }
        std::thread::sleep(delay);
        number += 1;
    }
}

/// `x-amz-retry-after` is a whole number of milliseconds; anything else is ignored.
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_millis)
}

/// The per-client retry quota: retries spend tokens, successes earn them back; when a retry
/// cannot be paid for, the call fails fast instead of adding load to a struggling service.
/// Atomic, because every successful call of every thread sharing the client updates it.
#[derive(Debug)]
pub struct RetryQuota {
    tokens: AtomicU32,
}

impl Default for RetryQuota {
    fn default() -> Self {
        RetryQuota {
            tokens: AtomicU32::new(QUOTA_CAPACITY),
        }
    }
}

impl RetryQuota {
    /// Takes `cost` tokens if there are that many.
    pub fn try_acquire(&self, cost: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// After a success: a first-try success earns one token; a success after retries returns
    /// what the last retry cost.
    pub fn on_success(&self, last_retry_cost: Option<u32>) {
        let earned = last_retry_cost.unwrap_or(QUOTA_SUCCESS_INCREMENT);
        // Full most of the time: skip the write (and the cache-line traffic) then.
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                (t < QUOTA_CAPACITY).then(|| (t + earned).min(QUOTA_CAPACITY))
            });
    }

    pub fn available(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

/// A uniform number in [0, 1) from the standard library's per-process random keys; jitter
/// needs spread between clients, not cryptographic quality.
pub fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ResponseMetadata, ServiceError};

    #[test]
    fn retry_call_stops_on_success_final_errors_and_max_attempts() {
        let policy = RetryPolicy {
            mode: RetryMode::Standard,
            max_attempts: 3,
            new_2026: true, // 50 ms base for transient errors: a quick test
        };
        let far = Instant::now() + Duration::from_secs(30);
        let (r, n) = retry_call(&policy, far, FailureKind::of, |n| {
            if n < 2 {
                Err(service("ServiceUnavailable", 503))
            } else {
                Ok(n)
            }
        });
        assert_eq!((r.unwrap(), n), (2, 2));
        let (r, n) = retry_call(&policy, far, FailureKind::of, |_| {
            Err::<(), _>(service("AccessDenied", 403))
        });
        assert!(r.is_err());
        assert_eq!(n, 1, "a final error is not retried");
        let (r, n) = retry_call(&policy, far, FailureKind::of, |_| {
            Err::<(), _>(service("ServiceUnavailable", 503))
        });
        assert!(r.is_err());
        assert_eq!(n, 3, "max_attempts");
        let (_, n) = retry_call(&policy, Instant::now(), FailureKind::of, |_| {
            Err::<(), _>(service("ServiceUnavailable", 503))
        });
        assert_eq!(n, 1, "no retry past the deadline");
    }

    fn service(code: &str, status: u16) -> Error {
        Error::from(ServiceError {
            code: code.into(),
            message: String::new(),
            metadata: ResponseMetadata {
                http_status: Some(status),
                ..Default::default()
            },
            fields: None,
        })
    }

    const STANDARD: RetryPolicy = RetryPolicy {
        mode: RetryMode::Standard,
        max_attempts: 3,
        new_2026: false,
    };
    const NEW: RetryPolicy = RetryPolicy {
        mode: RetryMode::Standard,
        max_attempts: 3,
        new_2026: true,
    };

    #[test]
    fn classification() {
        for code in THROTTLING_CODES {
            assert_eq!(
                FailureKind::of(&service(code, 400)),
                FailureKind::Throttling,
                "{code}"
            );
        }
        assert_eq!(
            FailureKind::of(&service("RequestTimeout", 400)),
            FailureKind::Transient
        );
        assert_eq!(
            FailureKind::of(&service("InternalServiceException", 500)),
            FailureKind::Transient
        );
        assert_eq!(
            FailureKind::of(&service("502", 502)),
            FailureKind::Transient
        );
        for (code, status) in [
            ("InvalidRequestException", 400),
            ("AccessDeniedException", 403),
            ("ResourceNotFoundException", 404),
            ("ConflictException", 409),
        ] {
            assert!(!is_retryable(&service(code, status)), "{code}");
        }
        let timeout = Error::Timeout {
            message: String::new(),
            metadata: Default::default(),
        };
        assert_eq!(FailureKind::of(&timeout), FailureKind::Timeout);
        assert!(!is_retryable(&Error::Validation(String::new())));
    }

    #[test]
    fn a_later_call_is_tried_for_what_time_may_mend() {
        // What a call retries, a later call tries too.
        assert!(retry_later(&service("ThrottlingException", 400)));
        assert!(retry_later(&service("InternalServiceException", 500)));
        // Not retried within a call, tried again later.
        for code in EXPIRED_CREDENTIAL_CODES {
            assert!(!is_retryable(&service(code, 400)), "{code}");
            assert!(retry_later(&service(code, 400)), "{code}");
        }
        assert!(retry_later(&service("NotImplemented", 501)));
        assert!(retry_later(&Error::NoCredentials(String::new())));
        assert!(retry_later(&Error::CredentialsProvider(String::new())));
        // Final for good.
        for (code, status) in [
            ("InvalidRequestException", 400),
            ("AccessDeniedException", 403),
            ("ResourceNotFoundException", 404),
            ("ConflictException", 409),
        ] {
            assert!(!retry_later(&service(code, status)), "{code}");
        }
        assert!(!retry_later(&Error::Validation(String::new())));
    }

    #[test]
    fn standard_backoff_follows_the_formula() {
        let t = FailureKind::Transient;
        assert_eq!(STANDARD.delay(t, 1, 1.0, None), Duration::from_secs(1));
        assert_eq!(STANDARD.delay(t, 3, 0.5, None), Duration::from_secs(2));
        assert_eq!(
            STANDARD.delay(t, 10, 1.0, None),
            Duration::from_secs(20),
            "capped at 20 s"
        );
        assert_eq!(
            STANDARD.delay(t, 40, 1.0, None),
            Duration::from_secs(20),
            "no overflow"
        );
        assert_eq!(STANDARD.delay(t, 2, 0.0, None), Duration::ZERO);
        assert_eq!(
            STANDARD.delay(t, 1, 1.0, Some("3000")),
            Duration::from_secs(1),
            "retry-after is a 2026 behaviour"
        );
        assert_eq!(
            (
                STANDARD.retry_cost(t),
                STANDARD.retry_cost(FailureKind::Timeout)
            ),
            (5, 10)
        );
    }

    #[test]
    fn new_2026_behaviour() {
        assert_eq!(
            NEW.delay(FailureKind::Transient, 1, 1.0, None),
            Duration::from_millis(50)
        );
        assert_eq!(
            NEW.delay(FailureKind::Transient, 3, 1.0, None),
            Duration::from_millis(200)
        );
        assert_eq!(
            NEW.delay(FailureKind::Throttling, 2, 1.0, None),
            Duration::from_secs(2)
        );
        assert_eq!(
            (
                NEW.retry_cost(FailureKind::Transient),
                NEW.retry_cost(FailureKind::Throttling)
            ),
            (14, 5)
        );
        let t = FailureKind::Transient;
        // retry-after within [t, t + 5 s], where t = 25 ms here.
        assert_eq!(
            NEW.delay(t, 1, 0.5, Some("1500")),
            Duration::from_millis(1500)
        );
        assert_eq!(
            NEW.delay(t, 1, 0.5, Some("10")),
            Duration::from_millis(25),
            "never shorter than the backoff"
        );
        assert_eq!(
            NEW.delay(t, 1, 0.5, Some("60000")),
            Duration::from_millis(5025),
            "at most 5 s longer"
        );
        for ignored in ["-5", "soon", "", "1.5", "99999999999999999999999"] {
            assert_eq!(
                NEW.delay(t, 1, 0.5, Some(ignored)),
                Duration::from_millis(25),
                "{ignored:?}"
            );
        }
    }

    #[test]
    fn quota_drains_fails_fast_and_refills() {
        let quota = RetryQuota::default();
        let mut retries = 0;
        while quota.try_acquire(5) {
            retries += 1;
        }
        assert_eq!(retries, 100);
        assert_eq!(quota.available(), 0);
        quota.on_success(None);
        assert_eq!(quota.available(), 1);
        quota.on_success(Some(10));
        assert_eq!(quota.available(), 11);
        for _ in 0..1000 {
            quota.on_success(None);
        }
        assert_eq!(quota.available(), QUOTA_CAPACITY);
    }

    #[test]
    fn jitter_is_uniform_enough() {
        let samples: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }
}
