//! How an outbox paces, retries and leases: [`OutboxOptions`], read from JSON for the C ABI
//! and checked by name.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::OutboxCallback;
use crate::error::Error;

/// How an [`Outbox`](super::Outbox) paces, retries and leases. Start from `OutboxOptions::default()`.
#[derive(Clone)]
#[non_exhaustive]
pub struct OutboxOptions {
    /// Calls per second to start from (default 2, the service's default quota); adapts.
    pub rate: f64,
    /// Calls that may go at once after a quiet spell (default 5, the service's burst).
    pub burst: u32,
    /// How long a retryable failure is retried before the update becomes a dead letter
    /// (default 24 hours, counted from enqueue).
    pub max_age: Duration,
    /// Delivery threads in this process (default 4): calls in flight at once.
    pub workers: usize,
    /// Most pending updates of one contact merged into one call (default 50; 1 turns
    /// coalescing off).
    pub max_coalesce: usize,
    /// Longest wait between retries of one update (default 30 s).
    pub max_backoff: Duration,
    /// How long a delivery thread holds a contact's updates for one call before another
    /// thread or process may take them over (default `None`: the client's timeout + 30 s);
    /// at least the client's timeout + 1 s, so a call ends (and is recorded) inside its lease.
    /// A process that dies holding a lease is recovered sooner, by the next open.
    pub lease: Option<Duration>,
    /// Told of each delivery and dead letter.
    pub on_event: Option<OutboxCallback>,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            rate: 2.0,
            burst: 5,
            max_age: Duration::from_secs(24 * 3600),
            workers: 4,
            max_coalesce: 50,
            max_backoff: Duration::from_secs(30),
            lease: None,
            on_event: None,
        }
    }
}

impl fmt::Debug for OutboxOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxOptions")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .field("max_age", &self.max_age)
            .field("workers", &self.workers)
            .field("max_coalesce", &self.max_coalesce)
            .field("max_backoff", &self.max_backoff)
            .field("lease", &self.lease)
            .field("on_event", &self.on_event.is_some())
            .finish()
    }
}

/// The slowest `rate` accepted, calls per second: one call in about 17 minutes. Below it a
/// send's wait (1/rate, and 50 times that at the pacer's floor) stops meaning anything.
pub(crate) const MIN_RATE: f64 = 0.001;
/// The fastest `rate` accepted, calls per second.
pub(crate) const MAX_RATE: f64 = 100_000.0;

impl OutboxOptions {
    /// Reads options from JSON (`rate`, `burst`, `max_age_ms`, `workers`, `max_coalesce`,
    /// `max_backoff_ms`, `lease_ms`); unknown keys are refused.
    pub fn from_json(text: &str) -> Result<OutboxOptions, Error> {
        let mut o = OutboxOptions::default();
        if text.trim().is_empty() {
            return Ok(o);
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidJson(format!("outbox options: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "outbox options: must be a JSON object".into(),
            ));
        };
        let number = |key: &str, v: &Value| {
            v.as_f64().ok_or_else(|| {
                Error::InvalidConfig(format!("outbox option {key}: must be a number"))
            })
        };
        for (key, v) in &map {
            match key.as_str() {
                "rate" => o.rate = number(key, v)?,
                "burst" => o.burst = number(key, v)? as u32,
                "max_age_ms" => o.max_age = Duration::from_millis(number(key, v)? as u64),
                "workers" => o.workers = number(key, v)? as usize,
                "max_coalesce" => o.max_coalesce = number(key, v)? as usize,
                "max_backoff_ms" => o.max_backoff = Duration::from_millis(number(key, v)? as u64),
                "lease_ms" => o.lease = Some(Duration::from_millis(number(key, v)? as u64)),
                other => {
                    return Err(Error::InvalidConfig(format!(
                        "outbox option {other}: unknown (known: rate, burst, max_age_ms, workers, max_coalesce, max_backoff_ms, lease_ms)"
                    )))
                }
            }
        }
        o.check()?;
        Ok(o)
    }

    pub(super) fn check(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidConfig(format!("outbox option {what}")));
        if !(MIN_RATE..=MAX_RATE).contains(&self.rate) {
            return bad(&format!(
                "rate: must be a number of calls per second from {MIN_RATE} (one call in about {} minutes) to {MAX_RATE}",
                (1.0 / MIN_RATE / 60.0).round()
            ));
        }
        if !(1..=100_000).contains(&self.burst) {
            return bad("burst: must be 1..=100000");
        }
        if !(1..=64).contains(&self.workers) {
            return bad("workers: must be 1..=64");
        }
        if !(1..=1000).contains(&self.max_coalesce) {
            return bad("max_coalesce: must be 1..=1000");
        }
        if self.max_age.is_zero() {
            return bad("max_age: must be more than zero");
        }
        if self.max_backoff < Duration::from_millis(10) {
            return bad("max_backoff: must be at least 10 ms");
        }
        Ok(())
    }

    /// The lease of one call with a client whose calls end within `timeout`: `lease`, which
    /// must be at least `timeout` + 1 s, or `timeout` + 30 s.
    pub(super) fn lease_for(&self, timeout: Duration) -> Result<Duration, Error> {
        let least = timeout + Duration::from_secs(1);
        match self.lease {
            None => Ok(timeout + Duration::from_secs(30)),
            Some(lease) if lease >= least => Ok(lease),
            Some(lease) => Err(Error::InvalidConfig(format!(
                "outbox option lease: {} ms is less than the client's timeout + 1 s ({} ms): a call must end inside its lease",
                lease.as_millis(),
                least.as_millis()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn options_are_checked_by_name() {
        let e = OutboxOptions::from_json(r#"{"rate": 0}"#).unwrap_err();
        assert!(e.message().contains("rate"), "{e:?}");
        for tiny in ["1e-25", "0.0009"] {
            let e = OutboxOptions::from_json(&format!(r#"{{"rate": {tiny}}}"#)).unwrap_err();
            assert_eq!(e.status(), Status::InvalidConfig);
            assert!(
                e.message().contains("outbox option rate") && e.message().contains("from 0.001"),
                "{e:?}"
            );
        }
        let o = OutboxOptions::from_json(r#"{"rate": 0.001}"#).unwrap();
        assert_eq!(o.rate, MIN_RATE);
        let e = OutboxOptions::from_json(r#"{"speed": 1}"#).unwrap_err();
        assert!(e.message().contains("speed"), "{e:?}");
        let o = OutboxOptions::from_json(r#"{"rate": 200, "burst": 50}"#).unwrap();
        assert_eq!((o.rate, o.burst), (200.0, 50));
    }
}
