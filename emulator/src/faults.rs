//! Fault injection: a per-instance throttle, a fraction or an exact sequence of 500/503
//! answers, dropped connections and added latency.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::reply::ApiError;

/// Statuses a fault may answer with.
const FAULT_STATUSES: &[u16] = &[429, 500, 503];
/// Bound on the throttle's table, so requests to ever new instance ids cannot grow it forever.
const MAX_THROTTLED_INSTANCES: usize = 10_000;
/// Bound on an injected sequence and on added latency.
const MAX_SEQUENCE: usize = 100_000;
const MAX_LATENCY_MS: u64 = 60_000;

/// One answer of a fault sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStep {
    /// Handle the request normally (written `200`).
    Pass,
    /// Answer with this status: 429 ThrottlingException, 500 InternalServiceException or
    /// 503 ServiceUnavailableException.
    Status(u16),
    /// Close the connection without answering (written `drop`).
    Drop,
}

impl FromStr for FaultStep {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "200" | "pass" => Ok(FaultStep::Pass),
            "drop" => Ok(FaultStep::Drop),
            _ => match s.parse::<u16>() {
                Ok(n) if FAULT_STATUSES.contains(&n) => Ok(FaultStep::Status(n)),
                _ => Err(format!(
                    "fault step {s:?} is not one of 200, 429, 500, 503, drop"
                )),
            },
        }
    }
}

impl fmt::Display for FaultStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultStep::Pass => f.write_str("200"),
            FaultStep::Status(n) => write!(f, "{n}"),
            FaultStep::Drop => f.write_str("drop"),
        }
    }
}

/// The fault settings. The default injects nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Requests per second allowed per instance (a token bucket holding one second's worth);
    /// more answer 429 ThrottlingException.
    pub throttle_rps: Option<f64>,
    /// Fraction (0..=1) of requests answered with `error_status`.
    pub error_rate: f64,
    /// 500 or 503 (or 429).
    pub error_status: u16,
    /// Answers consumed in order by the next requests, before any other fault applies.
    pub sequence: Vec<FaultStep>,
    /// Delay added to every API response.
    pub latency_ms: u64,
    /// Fraction (0..=1) of requests whose connection is closed without an answer.
    pub drop_rate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            throttle_rps: None,
            error_rate: 0.0,
            error_status: 500,
            sequence: Vec::new(),
            latency_ms: 0,
            drop_rate: 0.0,
        }
    }
}

impl Faults {
    /// Checks the ranges; the message names the setting.
    pub fn check(&self) -> Result<(), String> {
        if let Some(rps) = self.throttle_rps {
            if !(rps.is_finite() && rps > 0.0) {
                return Err(format!("throttle_rps must be a positive number, got {rps}"));
            }
        }
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if !FAULT_STATUSES.contains(&self.error_status) {
            return Err(format!(
                "error_status must be one of 429, 500, 503, got {}",
                self.error_status
            ));
        }
        if self.sequence.len() > MAX_SEQUENCE {
            return Err(format!(
                "sequence has {} steps; the limit is {MAX_SEQUENCE}",
                self.sequence.len()
            ));
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!(
                "latency_ms must be at most {MAX_LATENCY_MS}, got {}",
                self.latency_ms
            ));
        }
        Ok(())
    }

    /// The admin API's JSON form.
    pub fn to_json(&self) -> Value {
        let sequence: Vec<Value> = self
            .sequence
            .iter()
            .map(|s| match s {
                FaultStep::Drop => json!("drop"),
                FaultStep::Pass => json!(200),
                FaultStep::Status(n) => json!(n),
            })
            .collect();
        json!({
            "throttle_rps": self.throttle_rps,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "sequence": sequence,
            "latency_ms": self.latency_ms,
            "drop_rate": self.drop_rate,
        })
    }

    /// Reads the admin API's JSON form; members left out keep their defaults.
    pub fn from_json(value: &Value) -> Result<Faults, String> {
        let Value::Object(map) = value else {
            return Err("faults must be a JSON object".into());
        };
        const MEMBERS: &[&str] = &[
            "throttle_rps",
            "error_rate",
            "error_status",
            "sequence",
            "latency_ms",
            "drop_rate",
        ];
        if let Some(unknown) = map.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(format!(
                "{unknown}: unknown member; expected one of {}",
                MEMBERS.join(", ")
            ));
        }
        let mut faults = Faults::default();
        if let Some(v) = map.get("throttle_rps").filter(|v| !v.is_null()) {
            faults.throttle_rps = Some(v.as_f64().ok_or("throttle_rps must be a number or null")?);
        }
        faults.error_rate = float(map, "error_rate")?.unwrap_or(faults.error_rate);
        faults.drop_rate = float(map, "drop_rate")?.unwrap_or(faults.drop_rate);
        faults.error_status = whole(map, "error_status")?.map_or(Ok(faults.error_status), |n| {
            u16::try_from(n).map_err(|_| format!("error_status {n} is not an HTTP status"))
        })?;
        faults.latency_ms = whole(map, "latency_ms")?.unwrap_or(0);
        if let Some(v) = map.get("sequence") {
            let Value::Array(items) = v else {
                return Err("sequence must be an array such as [500, 503, \"drop\", 200]".into());
            };
            faults.sequence = items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => s.parse(),
                    Value::Number(n) => n.to_string().parse(),
                    _ => Err(format!("sequence[{i}] must be a status number or \"drop\"")),
                })
                .collect::<Result<_, _>>()?;
        }
        faults.check()?;
        Ok(faults)
    }
}

fn float(map: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    map.get(name)
        .map(|v| v.as_f64().ok_or_else(|| format!("{name} must be a number")))
        .transpose()
}

fn whole(map: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    map.get(name)
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| format!("{name} must be a whole number"))
        })
        .transpose()
}

/// What a fault decides for one request.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Pass,
    Fail(ApiError),
    Drop,
}

/// The settings plus their running state: what is left of the sequence, the throttle's buckets.
pub struct FaultState {
    settings: Faults,
    remaining: VecDeque<FaultStep>,
    buckets: HashMap<String, Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl FaultState {
    pub fn new(settings: Faults) -> FaultState {
        let remaining = settings.sequence.iter().copied().collect();
        FaultState {
            settings,
            remaining,
            buckets: HashMap::new(),
        }
    }

    /// The settings, with `sequence` showing only the steps not yet consumed.
    pub fn settings(&self) -> Faults {
        Faults {
            sequence: self.remaining.iter().copied().collect(),
            ..self.settings.clone()
        }
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.settings.latency_ms)
    }

    /// Decides the fate of one API request to `instance`.
    pub fn decide(&mut self, instance: &str, now: Instant) -> Decision {
        if let Some(step) = self.remaining.pop_front() {
            return match step {
                FaultStep::Pass => Decision::Pass,
                FaultStep::Drop => Decision::Drop,
                FaultStep::Status(status) => Decision::Fail(injected(status)),
            };
        }
        if let Some(rps) = self.settings.throttle_rps {
            if !self.take_token(instance, rps, now) {
                return Decision::Fail(ApiError::throttling());
            }
        }
        if self.settings.drop_rate > 0.0 && fastrand::f64() < self.settings.drop_rate {
            return Decision::Drop;
        }
        if self.settings.error_rate > 0.0 && fastrand::f64() < self.settings.error_rate {
            return Decision::Fail(injected(self.settings.error_status));
        }
        Decision::Pass
    }

    fn take_token(&mut self, instance: &str, rps: f64, now: Instant) -> bool {
        if !self.buckets.contains_key(instance) && self.buckets.len() >= MAX_THROTTLED_INSTANCES {
            self.buckets.clear();
        }
        let bucket = self.buckets.entry(instance.to_string()).or_insert(Bucket {
            tokens: rps.max(1.0),
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rps).min(rps.max(1.0));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn injected(status: u16) -> ApiError {
    match status {
        429 => ApiError::throttling(),
        503 => ApiError::unavailable("Service unavailable (injected fault)"),
        _ => ApiError::internal("Internal service error (injected fault)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_is_consumed_in_order_then_passes() {
        let faults = Faults {
            sequence: vec![
                FaultStep::Status(500),
                FaultStep::Status(503),
                FaultStep::Drop,
                FaultStep::Pass,
            ],
            ..Faults::default()
        };
        let mut state = FaultState::new(faults);
        let now = Instant::now();
        let codes: Vec<String> = (0..5)
            .map(|_| match state.decide("i", now) {
                Decision::Pass => "pass".to_string(),
                Decision::Drop => "drop".to_string(),
                Decision::Fail(e) => format!("{} {}", e.status, e.code),
            })
            .collect();
        assert_eq!(
            codes,
            [
                "500 InternalServiceException",
                "503 ServiceUnavailableException",
                "drop",
                "pass",
                "pass"
            ]
        );
        assert!(state.settings().sequence.is_empty());
    }

    #[test]
    fn throttle_is_per_instance_and_refills() {
        let mut state = FaultState::new(Faults {
            throttle_rps: Some(2.0),
            ..Faults::default()
        });
        let t0 = Instant::now();
        assert_eq!(state.decide("a", t0), Decision::Pass);
        assert_eq!(state.decide("a", t0), Decision::Pass);
        assert_eq!(
            state.decide("a", t0),
            Decision::Fail(ApiError::throttling())
        );
        assert_eq!(
            state.decide("b", t0),
            Decision::Pass,
            "another instance has its own bucket"
        );
        assert_eq!(
            state.decide("a", t0 + Duration::from_millis(500)),
            Decision::Pass
        );
    }

    #[test]
    fn json_round_trip_and_errors() {
        let v = json!({"throttle_rps": 5, "error_rate": 0.5, "error_status": 503, "sequence": [500, "drop", 200], "latency_ms": 10});
        let f = Faults::from_json(&v).unwrap();
        assert_eq!(
            f.sequence,
            [FaultStep::Status(500), FaultStep::Drop, FaultStep::Pass]
        );
        assert_eq!(Faults::from_json(&f.to_json()).unwrap(), f);
        assert!(Faults::from_json(&json!({"eror_rate": 1}))
            .unwrap_err()
            .contains("eror_rate: unknown member"));
        assert!(Faults::from_json(&json!({"sequence": [404]}))
            .unwrap_err()
            .contains("404"));
        assert!(Faults::from_json(&json!({"drop_rate": 3}))
            .unwrap_err()
            .contains("drop_rate"));
    }
}
