//! Which failures are retried and how long to wait (AWS standard retry mode).
#![forbid(unsafe_code)]

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use crate::error::Error;

const BASE_DELAY: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(20);

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

/// True when another attempt may succeed: throttling and transient codes, 500/502/503/504,
/// connection failures and timeouts. Modeled 400/403/404/409 errors are final.
pub fn is_retryable(error: &Error) -> bool {
    match error {
        Error::Transport { .. } | Error::Timeout { .. } => true,
        Error::Service(e) => {
            THROTTLING_CODES.contains(&e.code.as_str())
                || TRANSIENT_CODES.contains(&e.code.as_str())
                || e.metadata
                    .http_status
                    .is_some_and(|s| TRANSIENT_STATUSES.contains(&s))
        }
        _ => false,
    }
}

/// Delay before retry `retry` (1 for the first retry): `rand(0,1) × min(base × 2^(retry−1), 20 s)`.
pub fn backoff(retry: u32, random_unit: f64) -> Duration {
    let exp = BASE_DELAY.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
    exp.min(MAX_BACKOFF).mul_f64(random_unit.clamp(0.0, 1.0))
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

    fn service(code: &str, status: u16) -> Error {
        Error::Service(ServiceError {
            code: code.into(),
            message: String::new(),
            metadata: ResponseMetadata {
                http_status: Some(status),
                ..Default::default()
            },
        })
    }

    #[test]
    fn classification() {
        assert!(is_retryable(&service("ThrottlingException", 429)));
        assert!(is_retryable(&service("SlowDown", 400)));
        assert!(is_retryable(&service("InternalServiceException", 500)));
        assert!(is_retryable(&service("502", 502)));
        for (code, status) in [
            ("InvalidRequestException", 400),
            ("AccessDeniedException", 403),
            ("ResourceNotFoundException", 404),
            ("ConflictException", 409),
        ] {
            assert!(!is_retryable(&service(code, status)), "{code}");
        }
        assert!(is_retryable(&Error::Timeout {
            message: String::new(),
            metadata: Default::default()
        }));
        assert!(!is_retryable(&Error::Validation(String::new())));
    }

    #[test]
    fn backoff_follows_the_formula() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(10, 1.0), Duration::from_secs(20), "capped at 20 s");
        assert_eq!(backoff(40, 1.0), Duration::from_secs(20), "no overflow");
        assert_eq!(backoff(2, 0.0), Duration::ZERO);
        let samples: Vec<f64> = (0..100).map(|_| random_unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(samples.iter().any(|x| *x != samples[0]), "jitter varies");
    }
}
