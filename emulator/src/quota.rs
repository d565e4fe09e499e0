//! The service's request quota: a token bucket per account and region, shared by every API
//! the emulator serves (UpdateContact and DescribeContact). Each call takes a token; the
//! bucket holds at most `burst` tokens and refills at `rps` per second; a call that finds it
//! empty gets 429 ThrottlingException, as the service answers. The emulator has one account
//! ([`crate::policy::ACCOUNT`]) and one region, so in practice one bucket.
//!
//! Off unless asked for (`--quota`), since test suites send far more than 2 calls a second.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Value};

use crate::reply::ApiError;

/// The service's default rate for UpdateContact and DescribeContact (requests per second).
pub const DEFAULT_RPS: f64 = 2.0;
/// The service's default burst.
pub const DEFAULT_BURST: f64 = 5.0;

/// Rate and burst of the bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quota {
    pub rps: f64,
    pub burst: f64,
}

impl Default for Quota {
    /// The service's defaults: 2 per second, burst 5.
    fn default() -> Self {
        Quota {
            rps: DEFAULT_RPS,
            burst: DEFAULT_BURST,
        }
    }
}

impl Quota {
    /// The admin API's form: `{"rps": 2, "burst": 5}`, or `null` for no quota.
    pub fn to_json(quota: Option<Quota>) -> Value {
        quota.map_or(Value::Null, |q| json!({ "rps": q.rps, "burst": q.burst }))
    }

    /// Reads the admin API's form; a member left out takes the service's default.
    pub fn from_json(value: &Value) -> Result<Option<Quota>, String> {
        let map = match value {
            Value::Null => return Ok(None),
            Value::Object(map) => map,
            _ => return Err("quota must be {\"rps\": N, \"burst\": N} or null".into()),
        };
        if let Some(unknown) = map.keys().find(|k| *k != "rps" && *k != "burst") {
            return Err(format!("{unknown}: unknown member; expected rps, burst"));
        }
        let mut quota = Quota::default();
        for (name, slot) in [("rps", &mut quota.rps), ("burst", &mut quota.burst)] {
            if let Some(v) = map.get(name) {
                *slot = v
                    .as_f64()
                    .ok_or_else(|| format!("{name} must be a number"))?;
            }
        }
        quota.check()?;
        Ok(Some(quota))
    }

    pub fn check(&self) -> Result<(), String> {
        if !(self.rps.is_finite() && self.rps > 0.0) {
            return Err(format!(
                "quota rps must be a positive number, got {}",
                self.rps
            ));
        }
        if !(self.burst.is_finite() && self.burst >= 1.0) {
            return Err(format!(
                "quota burst must be at least 1, got {}",
                self.burst
            ));
        }
        Ok(())
    }
}

/// The buckets, by (account, region).
pub struct QuotaState {
    quota: Quota,
    buckets: HashMap<(String, String), (f64, Instant)>,
}

impl QuotaState {
    pub fn new(quota: Quota) -> QuotaState {
        QuotaState {
            quota,
            buckets: HashMap::new(),
        }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Takes a token for one call, or answers as the service does when none is left.
    pub fn take(&mut self, account: &str, region: &str, now: Instant) -> Result<(), ApiError> {
        let Quota { rps, burst } = self.quota;
        let (tokens, at) = self
            .buckets
            .entry((account.to_string(), region.to_string()))
            .or_insert((burst, now));
        let elapsed = now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + elapsed * rps).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(ApiError::throttling())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_of_five_then_two_per_second() {
        let mut q = QuotaState::new(Quota::default());
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(q.take("a", "r", t0).is_ok(), "call {i} of the burst");
        }
        let e = q.take("a", "r", t0).unwrap_err();
        assert_eq!((e.status, e.code), (429, "ThrottlingException"));
        assert!(
            q.take("a", "other-region", t0).is_ok(),
            "a bucket per region"
        );
        assert!(q.take("a", "r", t0 + Duration::from_millis(400)).is_err());
        assert!(
            q.take("a", "r", t0 + Duration::from_millis(500)).is_ok(),
            "refilled one"
        );
        assert!(q.take("a", "r", t0 + Duration::from_millis(500)).is_err());
        assert!(Quota {
            rps: 0.0,
            burst: 5.0
        }
        .check()
        .is_err());
        assert!(Quota {
            rps: 1.0,
            burst: 0.5
        }
        .check()
        .is_err());
    }
}
